package policy

import (
	"encoding/base64"
	"encoding/hex"
)

// Encoded text: base64 (standard or URL alphabet) and hex runs are decoded and the result scanned
// again with the rules, to a bounded depth, as gitleaks' --max-decode-depth does. Findings in
// decoded text are reported at the encoded run's position, tagged "decoded:<encoding>".

// Minimum run lengths, as in gitleaks: shorter runs are mostly identifiers.
const (
	minBase64Run = 16
	minHexRun    = 32
)

// maxDecodedShare bounds how much of a decoded run may be non-text: decoded binary (keys in
// DER, compressed data) is not rescanned.
const maxNonText = 0.1

type decodedSeg struct {
	start, end int // the encoded run in the window
	enc        string
	data       []byte
}

// Byte classes for finding encoded runs.
const (
	clsHex    = 1 << iota // 0-9 a-f A-F
	clsB64                // A-Z a-z 0-9
	clsB64Std             // + /
	clsB64URL             // - _
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case '0' <= c && c <= '9':
			t[c] = clsHex | clsB64
		case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			t[c] = clsHex | clsB64
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			t[c] = clsB64
		case c == '+' || c == '/':
			t[c] = clsB64Std
		case c == '-' || c == '_':
			t[c] = clsB64URL
		}
	}
	return t
}()

// decodeSegments finds encoded runs that start in buf[from:to] and decode to text.
func decodeSegments(buf []byte, from, to int) []decodedSeg {
	var out []decodedSeg
	for i := from; i < to; {
		if byteClass[buf[i]] == 0 {
			i++
			continue
		}
		j := i
		var seen uint8
		for j < len(buf) && byteClass[buf[j]] != 0 {
			seen |= byteClass[buf[j]]
			j++
		}
		run := buf[i:j]
		start := i
		i = j
		if len(run) < minBase64Run {
			continue
		}
		pad := j
		for pad < len(buf) && pad-j < 2 && buf[pad] == '=' {
			pad++
		}
		var data []byte
		enc := ""
		switch {
		case seen&^clsHex == clsB64 && seen&clsHex != 0 && allHex(run) && len(run) >= minHexRun:
			n := len(run) &^ 1
			if !isText(hexPeek(run)) {
				continue
			}
			data = make([]byte, n/2)
			if _, err := hex.Decode(data, run[:n]); err == nil {
				enc = "hex"
			}
		case seen&clsB64Std == 0 || seen&clsB64URL == 0:
			e := base64.RawStdEncoding
			if seen&clsB64URL != 0 {
				e = base64.RawURLEncoding
			}
			// Most runs are identifiers: look at the first 12 characters before decoding all.
			var peek [9]byte
			if m, _ := e.Decode(peek[:], run[:12]); !isText(peek[:m]) {
				continue
			}
			n := len(run)
			if n%4 == 1 {
				n--
			}
			data = make([]byte, e.DecodedLen(n))
			m, err := e.Decode(data, run[:n])
			if err == nil {
				enc = "base64"
			}
			data = data[:m]
		}
		if enc != "" && isText(data) {
			out = append(out, decodedSeg{start: start, end: pad, enc: enc, data: data})
		}
	}
	return out
}

func allHex(b []byte) bool {
	for _, c := range b {
		if byteClass[c]&clsHex == 0 {
			return false
		}
	}
	return true
}

func hexPeek(run []byte) []byte {
	var b [8]byte
	n, _ := hex.Decode(b[:], run[:16])
	return b[:n]
}

func isHexChar(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isText reports whether b is mostly printable ASCII and whitespace.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	bad := 0
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f || c >= 0x80 {
			bad++
		}
	}
	return float64(bad) <= maxNonText*float64(len(b))
}
