package imagescan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
)

// jsonPaths finds, in one pass over a JSON document and with memory for its nesting depth only,
// the path of the value at each of offsets (byte offsets into doc): `predicate.buildDefinition.
// externalParameters.request.args["build-arg:NPM_TOKEN"]`, so that a finding in an attestation
// says where it is rather than a column on a 40 kB line. An offset in a key gets the member's
// path; one between values, the path of the object or array around it; none at all ("") when
// it is outside the document. A key that holds one of the offsets itself (a secret used as a
// key) is written `["***"]` in every path through it: a path must never spell a secret.
func jsonPaths(doc []byte, offsets []int) (map[int]string, error) {
	sorted := append([]int(nil), offsets...)
	sort.Ints(sorted)
	out := map[int]string{}
	// in returns the offsets in [from, to) that have no path yet.
	in := func(from, to int) []int {
		var hits []int
		for i := sort.SearchInts(sorted, from); i < len(sorted) && sorted[i] < to; i++ {
			if _, done := out[sorted[i]]; !done {
				hits = append(hits, sorted[i])
			}
		}
		return hits
	}
	var stack []jsonFrame
	path := func(leaf string) string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteString(f.member)
		}
		b.WriteString(leaf)
		return strings.TrimPrefix(b.String(), ".")
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for {
		prev := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		end := int(dec.InputOffset())
		start := prev
		for start < end && strings.IndexByte(" \t\r\n:,", doc[start]) >= 0 {
			start++
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			// What lies between a container's values is the container's: its parent's member
			// still names it.
			for _, o := range in(top.start, end) {
				out[o] = path("")
			}
			advance(stack)
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object && !stack[n-1].hasKey {
			top := &stack[n-1]
			top.key, top.hasKey = tok.(string), true
			hits := in(start, end)
			top.keyMasked = len(hits) > 0
			for _, o := range hits {
				out[o] = path(top.component())
			}
			continue
		}
		leaf := ""
		if n := len(stack); n > 0 {
			leaf = stack[n-1].component()
		}
		if d, ok := tok.(json.Delim); ok {
			if n := len(stack); n > 0 {
				stack[n-1].member = leaf
			}
			stack = append(stack, jsonFrame{object: d == '{', start: start})
			continue
		}
		for _, o := range in(start, end) {
			out[o] = path(leaf)
		}
		advance(stack)
	}
}

// jsonFrame is an object or array jsonPaths is inside.
type jsonFrame struct {
	object bool
	start  int
	next   int // an array's next index
	// key is an object's current member name; keyMasked says it holds an offset.
	key               string
	hasKey, keyMasked bool
	// member is how this frame's member that is an open container is written, while it is.
	member string
}

// component is how the frame's current member is written: [3], .name, ["build-arg:X"], ["***"].
func (f *jsonFrame) component() string {
	switch {
	case !f.object:
		return "[" + strconv.Itoa(f.next) + "]"
	case f.keyMasked:
		return `["***"]`
	case isIdentifier(f.key):
		return "." + f.key
	}
	return "[" + strconv.Quote(f.key) + "]"
}

// advance moves the innermost frame past the value that just ended.
func advance(stack []jsonFrame) {
	if len(stack) == 0 {
		return
	}
	f := &stack[len(stack)-1]
	if f.object {
		f.hasKey, f.keyMasked = false, false
	} else {
		f.next++
	}
	f.member = ""
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// lineOffsets turns 1-based (line, byte column) positions in doc into byte offsets.
type lineOffsets []int

func newLineOffsets(doc []byte) lineOffsets {
	lo := lineOffsets{0}
	for i, c := range doc {
		if c == '\n' {
			lo = append(lo, i+1)
		}
	}
	return lo
}

func (lo lineOffsets) offset(line, column int) int {
	if line < 1 || line > len(lo) {
		return -1
	}
	return lo[line-1] + column - 1
}

// relocateJSON gives each finding in doc the JSON path of the value it is in and recomputes its
// fingerprint; a finding in no value, or in a document that is not JSON, keeps its path.
func relocateJSON(doc []byte, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	lo := newLineOffsets(doc)
	offsets := make([]int, len(fs))
	for i, f := range fs {
		offsets[i] = lo.offset(f.Line, f.Column)
	}
	paths, err := jsonPaths(doc, offsets)
	if err != nil {
		return
	}
	for i := range fs {
		if p := paths[offsets[i]]; p != "" {
			fs[i].Relocate(p)
		}
	}
}
