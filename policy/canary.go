package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// MinCanaryLen is the shortest canary value accepted: shorter values would match by chance.
const MinCanaryLen = 8

// CanaryRuleID is the RuleID of canary findings.
const CanaryRuleID = "canary"

// Canary is a known secret value (one a build fetched from Vault) to find wherever it appears:
// raw, base64 (standard and URL alphabets, at any byte offset), hex, percent-encoded or
// JSON-escaped. Findings name the canary by Name and never carry its value.
type Canary struct {
	// Name identifies the canary in findings, e.g. "vault:secret/data/npm#token". It must not
	// contain the value.
	Name string
	// Value is the secret. The scanner copies it; the caller should wipe its own copy.
	Value []byte
}

// encodings a canary is looked for in.
const (
	encRaw = iota
	encJSON
	encHex
	encPercent
	encBase64Std
	encBase64URL
)

var encNames = [...]string{"raw", "json-escaped", "hex", "percent-encoded", "base64", "base64url"}

type canaryPat struct {
	canary int // index into names
	enc    int
	offset int // base64: byte offset of the value in the encoded stream (0..2)
	start  int // pattern bytes in arena
	end    int
}

// canarySet finds every encoding of every canary in one pass: each 8-byte prefix of a pattern is
// a key in a sorted table, guarded by a bitmap so most positions cost one load and one test.
type canarySet struct {
	names  []string
	hashes []string // sha256 of each name (findings de-duplicate on it)
	values [][]byte // copies, sub-slices of arena
	arena  []byte   // all values and patterns; wiped by wipe
	pats   []canaryPat
	keys   []uint64 // sorted 8-byte prefixes, parallel to keyPat
	keyPat []int32
	bloom  []uint64
}

const bloomBits = 1 << 16

func bloomHash(k uint64) uint32 { return uint32((k * 0x9E3779B97F4A7C15) >> 48) }

func newCanarySet(cs []Canary) (*canarySet, error) {
	s := &canarySet{bloom: make([]uint64, bloomBits/64)}
	seen := map[string]bool{}
	for i, c := range cs {
		if c.Name == "" {
			return nil, fmt.Errorf("canary %d: empty name", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("canary %q: duplicate name", c.Name)
		}
		seen[c.Name] = true
		if len(c.Value) < MinCanaryLen {
			return nil, fmt.Errorf("canary %q: value is %d bytes, shorter than the minimum of %d", c.Name, len(c.Value), MinCanaryLen)
		}
		if bytes.Contains([]byte(c.Name), c.Value) {
			return nil, fmt.Errorf("canary %q: the name contains the value", strings.Repeat("*", len(c.Name)))
		}
	}
	type pat struct {
		canary, enc, offset int
		b                   []byte
	}
	var pats []pat
	size := 0
	for i, c := range cs {
		v := c.Value
		add := func(enc, off int, b []byte) {
			for _, p := range pats {
				if p.canary == i && p.offset == off && bytes.Equal(p.b, b) {
					return
				}
			}
			pats = append(pats, pat{i, enc, off, b})
			size += len(b)
		}
		add(encRaw, 0, bytes.Clone(v))
		for _, j := range jsonEscapes(v) {
			add(encJSON, 0, j)
		}
		add(encHex, 0, []byte(hex.EncodeToString(v)))
		add(encHex, 0, bytes.ToUpper([]byte(hex.EncodeToString(v))))
		for _, p := range percentEncodings(v) {
			add(encPercent, 0, p)
		}
		for off := range 3 {
			add(encBase64Std, off, base64Core(base64.StdEncoding, v, off))
			add(encBase64URL, off, base64Core(base64.URLEncoding, v, off))
		}
		s.names = append(s.names, c.Name)
		s.hashes = append(s.hashes, sha256Hex([]byte(c.Name)))
		size += len(v)
	}
	s.arena = make([]byte, 0, size)
	for i, c := range cs {
		start := len(s.arena)
		s.arena = append(s.arena, c.Value...)
		s.values = append(s.values, s.arena[start:len(s.arena):len(s.arena)])
		_ = i
	}
	for _, p := range pats {
		start := len(s.arena)
		s.arena = append(s.arena, p.b...)
		clear(p.b)
		s.pats = append(s.pats, canaryPat{canary: p.canary, enc: p.enc, offset: p.offset, start: start, end: len(s.arena)})
	}
	order := make([]int32, len(s.pats))
	for i := range order {
		order[i] = int32(i)
	}
	key := func(i int32) uint64 { p := s.pats[i]; return binary.LittleEndian.Uint64(s.arena[p.start:]) }
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return int(a - b)
	})
	for _, i := range order {
		k := key(i)
		s.keys = append(s.keys, k)
		s.keyPat = append(s.keyPat, i)
		h := bloomHash(k)
		s.bloom[h/64] |= 1 << (h % 64)
	}
	return s, nil
}

// jsonEscapes returns the ways a JSON encoder may write v inside a string literal, when they
// differ from v.
func jsonEscapes(v []byte) [][]byte {
	var out [][]byte
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(string(v)); err != nil {
			continue
		}
		e := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		e = e[1 : len(e)-1]
		if !bytes.Equal(e, v) {
			out = append(out, e)
		}
		if slashed := bytes.ReplaceAll(e, []byte("/"), []byte(`\/`)); !bytes.Equal(slashed, e) {
			out = append(out, slashed)
		}
	}
	return out
}

// percentEncodings returns v as query- and path-escaped, and with every byte escaped (upper
// and lower case hex).
func percentEncodings(v []byte) [][]byte {
	out := [][]byte{[]byte(url.QueryEscape(string(v))), []byte(url.PathEscape(string(v)))}
	var up, low strings.Builder
	for _, c := range v {
		fmt.Fprintf(&up, "%%%02X", c)
		fmt.Fprintf(&low, "%%%02x", c)
	}
	return append(out, []byte(up.String()), []byte(low.String()))
}

// base64Core returns the base64 characters of v placed at byte offset off of an encoded stream
// that depend on v alone: whole 3-byte groups, without the first group when off > 0.
func base64Core(enc *base64.Encoding, v []byte, off int) []byte {
	buf := make([]byte, off+len(v))
	copy(buf[off:], v)
	e := []byte(enc.EncodeToString(buf))
	clear(buf)
	from := 0
	if off > 0 {
		from = 4
	}
	to := 4 * ((off + len(v)) / 3)
	out := append([]byte(nil), e[from:to]...)
	clear(e)
	return out
}

// find reports every canary occurrence that starts in the window's own part.
func (s *canarySet) find(o Origin, w *window, emit func(Finding) error) error {
	buf := w.buf
	if len(buf) < 8 {
		return nil
	}
	bloom := s.bloom
	var reported map[int]bool
	cur := newLineCursor(w)
	end := min(len(buf)-8, w.ownEnd-1)
	for i := w.ownStart; i <= end; i++ {
		k := binary.LittleEndian.Uint64(buf[i:])
		h := bloomHash(k)
		if bloom[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		j, _ := slices.BinarySearch(s.keys, k)
		for ; j < len(s.keys) && s.keys[j] == k; j++ {
			p := s.pats[s.keyPat[j]]
			pat := s.arena[p.start:p.end]
			if !bytes.HasPrefix(buf[i:], pat) || !s.verify(p, buf, i) {
				continue
			}
			key := i*len(s.names) + p.canary
			if reported[key] {
				continue
			}
			if reported == nil {
				reported = map[int]bool{}
			}
			reported[key] = true
			line, col := cur.at(i)
			if err := emit(s.finding(p, o, line, col)); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// verify confirms a base64 hit by decoding the surrounding characters and comparing the whole
// value; other encodings match exactly already.
func (s *canarySet) verify(p canaryPat, buf []byte, i int) bool {
	switch p.enc {
	case encBase64Std, encBase64URL:
		// A core without '+', '/', '-' or '_' is shared by both alphabets: try both.
		return s.verifyBase64(p, buf, i, false) || s.verifyBase64(p, buf, i, true)
	}
	return true
}

func (s *canarySet) verifyBase64(p canaryPat, buf []byte, i int, urlSafe bool) bool {
	enc := base64.RawStdEncoding
	if urlSafe {
		enc = base64.RawURLEncoding
	}
	v := s.values[p.canary]
	from := i
	if p.offset > 0 {
		from = i - 4
	}
	if from < 0 {
		return false
	}
	to := min(len(buf), i+(p.end-p.start)+4)
	chunk := buf[from:to]
	// Cut at the first character outside the alphabet (padding included).
	for k, c := range chunk {
		if !isBase64Char(c, urlSafe) {
			chunk = chunk[:k]
			break
		}
	}
	if len(chunk)%4 == 1 {
		chunk = chunk[:len(chunk)-1]
	}
	dec := make([]byte, enc.DecodedLen(len(chunk)))
	n, err := enc.Decode(dec, chunk)
	if err != nil {
		var ce base64.CorruptInputError
		if !errors.As(err, &ce) {
			return false
		}
	}
	dec = dec[:n]
	ok := len(dec) >= p.offset+len(v) && bytes.Equal(dec[p.offset:p.offset+len(v)], v)
	clear(dec)
	return ok
}

func isBase64Char(c byte, urlSafe bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case urlSafe:
		return c == '-' || c == '_'
	default:
		return c == '+' || c == '/'
	}
}

func (s *canarySet) finding(p canaryPat, o Origin, line, col int) Finding {
	h := s.hashes[p.canary]
	return Finding{
		RuleID:       CanaryRuleID,
		Description:  fmt.Sprintf("Exact value of canary %q (%s)", s.names[p.canary], encNames[p.enc]),
		Origin:       o,
		Line:         line,
		Column:       col,
		Severity:     SeverityCritical,
		Confidence:   ConfidenceHigh,
		Tags:         []string{"canary", encNames[p.enc]},
		SecretSHA256: h,
		Fingerprint:  fingerprint(CanaryRuleID, o, h),
	}
}

// wipe zeroes every copy of the canary values and their encodings.
func (s *canarySet) wipe() {
	clear(s.arena)
	clear(s.keys)
	clear(s.bloom)
	for i := range s.values {
		s.values[i] = nil
	}
	s.pats = nil
}
