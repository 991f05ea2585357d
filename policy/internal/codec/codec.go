package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"unicode/utf16"
	"unicode/utf8"
)

// Encoded text: base64 (standard or URL alphabet), hex, percent-encoded and unicode-escaped runs are decoded and the result scanned
// again with the rules, to a bounded depth, as gitleaks' --max-decode-depth does. Findings in
// decoded text are reported at the encoded run's position, tagged "decoded:<encoding>".

// Minimum run lengths, as in gitleaks: shorter runs are mostly identifiers.
const (
	minBase64Run = 16
	minHexRun    = 32
)

// maxNonText bounds the share of a decoded run that may be non-text: decoded binary (keys in
// DER, compressed data, identifiers that happen to be valid base64) is not rescanned.
const maxNonText = 0.1

// Segment is an encoded run and what it decodes to.
type Segment struct {
	Start, End int    // the encoded run: buf[Start:End] of the buf Segments was given
	Enc        string // how it was encoded: "base64" (either alphabet), "hex", "percent", "unicode"
	Data       []byte // the decoded text
}

// Byte classes for finding encoded runs.
const (
	clsHex    = 1 << iota // 0-9 a-f A-F
	clsB64                // A-Z a-z 0-9
	clsB64Std             // + /
	clsB64URL             // - _
)

// ByteClass says which bytes encoded runs are made of: ByteClass[c] is nonzero for a letter or
// digit (hex and base64), + and / (standard base64), - and _ (URL-safe base64), and zero for
// every other byte. It must not be changed.
var ByteClass = func() (t [256]uint8) {
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

// Segments finds the encoded runs that start in buf[from:to] and decode to text (a run may go on
// past to; one that starts before from is left to the window that owns it): base64 runs of 16 or
// more characters, hex runs of 32 or more, each line's stretch of percent escapes and of unicode
// escapes. A run that decodes to more than 10% non-text bytes (binary, identifiers) is left out.
func Segments(buf []byte, from, to int) []Segment {
	var out []Segment
	cls := &ByteClass
	// A run of at least minBase64Run (16) characters covers a probe position, probes being 16
	// apart: only runs under a probe are looked at, most bytes never are. A run of 16 that covers
	// probe k also covers k-8 or k+8, so a probe that lands in an identifier shorter than that is
	// dropped after two more lookups. Probes go on past to: a run starting in the last 15 bytes of
	// the own part may cover no probe before it.
	lastEnd := 0
	end := min(len(buf), to+minBase64Run-1)
	for k := from; k < end; {
		if cls[buf[k]] == 0 || (k < 8 || cls[buf[k-8]] == 0) && (k+8 >= len(buf) || cls[buf[k+8]] == 0) {
			k += minBase64Run
			continue
		}
		i := k
		for i > lastEnd && cls[buf[i-1]] != 0 {
			i--
		}
		j := k + 1
		for j < len(buf) && cls[buf[j]] != 0 {
			j++
		}
		lastEnd = j
		k = j + minBase64Run
		if i < from {
			continue // the run started in the previous window's own part: already decoded there
		}
		if i >= to {
			break
		}
		start := i
		run := buf[i:j]
		if len(run) < minBase64Run {
			continue
		}
		if !peekText(run) {
			continue // most runs are identifiers: their first characters decode to non-text
		}
		var seen uint8
		for _, c := range run {
			seen |= cls[c]
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
			out = append(out, Segment{Start: start, End: pad, Enc: enc, Data: data})
		}
	}
	out = append(out, percentSegments(buf, from, to)...)
	return append(out, unicodeSegments(buf, from, to)...)
}

// percentSegments finds, as gitleaks does, each line's stretch from its first %XX escape to its
// last, and decodes it.
func percentSegments(buf []byte, from, to int) []Segment {
	var out []Segment
	for i := from; i < to; {
		k := bytes.IndexByte(buf[i:to], '%')
		if k < 0 {
			break
		}
		i += k
		if !isEscape(buf, i) {
			i++
			continue
		}
		end := len(buf)
		if nl := bytes.IndexByte(buf[i:], '\n'); nl >= 0 {
			end = i + nl
		}
		last := i
		for j := i + 1; j < end; j++ {
			if buf[j] == '%' && isEscape(buf, j) {
				last = j
			}
		}
		seg := buf[i : last+3]
		data := make([]byte, 0, len(seg))
		for j := 0; j < len(seg); j++ {
			if seg[j] == '%' && isEscape(seg, j) {
				data = append(data, unhex(seg[j+1])<<4|unhex(seg[j+2]))
				j += 2
				continue
			}
			data = append(data, seg[j])
		}
		if isText(data) {
			out = append(out, Segment{Start: i, End: last + 3, Enc: "percent", Data: data})
		}
		i = last + 3
	}
	return out
}

// unicodeSegments finds, as gitleaks does, unicode escapes — \uXXXX (also \\uXXXX and \UXXXX,
// as JSON, JavaScript, Java and doubly-escaped strings write them) and U+XXXX code points
// (separated by whitespace) — and decodes each line's stretch from its first escape to its last,
// text between them kept. Surrogate pairs (\uD83D\uDE00) become one character.
func unicodeSegments(buf []byte, from, to int) []Segment {
	var out []Segment
	for i := from; i < to; {
		k := indexUnicodeEscape(buf[i:to])
		if k < 0 {
			break
		}
		i += k
		end := len(buf)
		if nl := bytes.IndexByte(buf[i:], '\n'); nl >= 0 {
			end = i + nl
		}
		var data []byte
		last := i
		for j := i; j < end; {
			r, n := unicodeEscapeAt(buf[:end], j)
			if n == 0 {
				data = append(data, buf[j])
				j++
				continue
			}
			if utf16.IsSurrogate(r) {
				if r2, n2 := unicodeEscapeAt(buf[:end], j+n); n2 > 0 {
					if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
						r, n = pair, n+n2
					}
				}
			}
			data = utf8.AppendRune(data, r)
			j += n
			last = j
			// U+XXXX code points are separated by one whitespace character, which goes with them.
			if buf[j-n] == 'U' && j < end && isSpace(buf[j]) && j+1 < end && buf[j+1] == 'U' {
				if _, n3 := unicodeEscapeAt(buf[:end], j+1); n3 > 0 {
					j++
				}
			}
		}
		data = data[:len(data)-(end-last)] // drop the plain text after the last escape
		if isText(data) {
			out = append(out, Segment{Start: i, End: last, Enc: "unicode", Data: data})
		}
		i = max(last, i+1)
	}
	return out
}

// indexUnicodeEscape returns the offset of the first unicode escape in b, or -1. It looks for
// the two bytes an escape starts with separately, each with a vectorized IndexByte.
func indexUnicodeEscape(b []byte) int {
	next := func(from int, c byte) int {
		if k := bytes.IndexByte(b[from:], c); k >= 0 {
			return from + k
		}
		return len(b)
	}
	bs, u := next(0, '\\'), next(0, 'U')
	for {
		i := min(bs, u)
		if i == len(b) {
			return -1
		}
		if _, n := unicodeEscapeAt(b, i); n > 0 {
			return i
		}
		if i == bs {
			bs = next(i+1, '\\')
		} else {
			u = next(i+1, 'U')
		}
	}
}

// unicodeEscapeAt decodes the escape at b[i:]: \uXXXX, \\uXXXX (u in either case) or U+XXXX.
// n is 0 when there is none.
func unicodeEscapeAt(b []byte, i int) (r rune, n int) {
	j := i
	switch {
	case j+1 < len(b) && b[j] == 'U' && b[j+1] == '+':
		j += 2
	case j < len(b) && b[j] == '\\':
		j++
		if j < len(b) && b[j] == '\\' {
			j++
		}
		if j >= len(b) || b[j]|0x20 != 'u' {
			return 0, 0
		}
		j++
	default:
		return 0, 0
	}
	if j+4 > len(b) {
		return 0, 0
	}
	for _, c := range b[j : j+4] {
		if !isHexChar(c) {
			return 0, 0
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, j + 4 - i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'
}

func isEscape(b []byte, i int) bool {
	return i+2 < len(b) && b[i] == '%' && isHexChar(b[i+1]) && isHexChar(b[i+2])
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// peekText reports whether the first characters of run decode to text as hex or as base64
// (either alphabet): a cheap test before looking at the whole run.
func peekText(run []byte) bool {
	if len(run) >= minHexRun && allHex(run[:16]) && isText(hexPeek(run)) {
		return true
	}
	var peek [9]byte
	m, err := base64.RawStdEncoding.Decode(peek[:], run[:12])
	if err != nil {
		m, err = base64.RawURLEncoding.Decode(peek[:], run[:12])
	}
	return err == nil && isText(peek[:m])
}

func allHex(b []byte) bool {
	for _, c := range b {
		if ByteClass[c]&clsHex == 0 {
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
