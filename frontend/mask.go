package frontend

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/safebuild/safebuild/policy"
)

// minGlobalMask is the length from which a value is masked wherever it occurs, in the
// Dockerfile and in text; a shorter one, or one made of letters only (a default password such
// as "nagios" that also names paths), only where a rule found it.
const minGlobalMask = 8

// maskEverywhere reports whether v is masked wherever it occurs: long enough, and with a digit
// or a symbol, so that it is not a word the rest of the Dockerfile uses.
func maskEverywhere(v string) bool {
	if len(v) < minGlobalMask {
		return false
	}
	for _, c := range v {
		if !unicode.IsLetter(c) {
			return true
		}
	}
	return false
}

// masker builds a copy of a Dockerfile with every detected secret replaced by '*'s of the same
// length, and remembers the values to mask them in text. The values never leave it but through
// the text function's closure.
type masker struct {
	orig, dt  []byte
	lineStart []int
	values    []string
}

func newMasker(dt []byte) *masker {
	m := &masker{orig: dt, dt: bytes.Clone(dt), lineStart: []int{0}}
	for i, c := range dt {
		if c == '\n' {
			m.lineStart = append(m.lineStart, i+1)
		}
	}
	return m
}

// source returns the masked Dockerfile.
func (m *masker) source() []byte { return m.dt }

// text returns a function that masks every remembered value in a string, longest first.
func (m *masker) text() func(string) string {
	vs := slices.Clone(m.values)
	slices.SortFunc(vs, func(a, b string) int { return len(b) - len(a) })
	vs = slices.Compact(vs)
	return func(s string) string {
		for _, v := range vs {
			if maskEverywhere(v) && strings.Contains(s, v) {
				s = strings.ReplaceAll(s, v, strings.Repeat("*", len(v)))
			}
		}
		return s
	}
}

func (m *masker) span(off, n int) {
	for i := max(off, 0); i < off+n && i < len(m.dt); i++ {
		if m.dt[i] != '\n' {
			m.dt[i] = '*'
		}
	}
}

// value remembers v for text and masks it wherever it occurs in the Dockerfile (see
// maskEverywhere).
func (m *masker) value(v string) {
	if strings.TrimSpace(v) == "" {
		return
	}
	m.values = append(m.values, v)
	if !maskEverywhere(v) {
		return
	}
	for off := 0; ; {
		i := bytes.Index(m.orig[off:], []byte(v))
		if i < 0 {
			return
		}
		m.span(off+i, len(v))
		off += i + len(v)
	}
}

// offset is the byte offset of a 1-based line and byte column, and the end of that line.
func (m *masker) offset(line, col int) (off, lineEnd int, ok bool) {
	if line < 1 || line > len(m.lineStart) {
		return 0, 0, false
	}
	lineEnd = len(m.orig)
	if line < len(m.lineStart) {
		lineEnd = m.lineStart[line] - 1
	}
	off = m.lineStart[line-1] + max(col, 1) - 1
	return min(off, lineEnd), lineEnd, true
}

// finding masks what an engine finding found: its secret where the finding points and
// elsewhere, or, for a secret found decoded (base64 of a key), the encoded run it points at.
func (m *masker) finding(f policy.Finding) {
	if f.Secret == "" {
		return
	}
	m.value(f.Secret)
	off, end, ok := m.offset(f.Line, f.Column)
	if !ok {
		return
	}
	if i := bytes.Index(m.orig[off:end], []byte(f.Secret)); i >= 0 {
		m.span(off+i, len(f.Secret))
		return
	}
	m.token(off)
}

// tokenEnd ends an unquoted shell word.
const tokenEnd = " \t\r\n\"'`;|&<>()"

// token masks the word starting at off.
func (m *masker) token(off int) {
	end := off
	for end < len(m.orig) && !strings.ContainsRune(tokenEnd, rune(m.orig[end])) {
		end++
	}
	m.span(off, end-off)
}

// assignment masks the value assigned to key (raw, as written: quotes kept) in the
// instruction at loc, and remembers it for text.
func (m *masker) assignment(loc []parser.Range, key, raw string) {
	unquoted := strings.Trim(raw, `"'`)
	m.value(raw)
	m.value(unquoted)
	if len(loc) == 0 {
		return
	}
	start, _, ok := m.offset(loc[0].Start.Line, 1)
	_, end, ok2 := m.offset(loc[len(loc)-1].End.Line, 1)
	if !ok || !ok2 {
		return
	}
	region := m.orig[start:end]
	re := regexp.MustCompile(`(?:^|[\s\\])` + regexp.QuoteMeta(key) + `(?:=|[ \t]+)`)
	for _, at := range re.FindAllIndex(region, -1) {
		rest := region[at[1]:]
		for _, v := range []string{raw, unquoted} {
			if v != "" && bytes.HasPrefix(rest, []byte(v)) {
				m.span(start+at[1], len(v))
				return
			}
		}
		if bytes.HasPrefix(rest, []byte("\\\n")) || len(rest) == 0 {
			continue
		}
		m.quotedToken(start + at[1])
		return
	}
}

// quotedToken masks the shell word at off, quotes included, up to the end of its line.
func (m *masker) quotedToken(off int) {
	var quote byte
	end := off
	for ; end < len(m.orig) && m.orig[end] != '\n'; end++ {
		c := m.orig[end]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && (c == ' ' || c == '\t'):
			m.span(off, end-off)
			return
		}
	}
	m.span(off, end-off)
}
