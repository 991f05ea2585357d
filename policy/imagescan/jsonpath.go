package imagescan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
)

// jsonDoc maps byte offsets of a JSON document to the path of the value there, so that a
// finding in an attestation says `predicate.buildDefinition.externalParameters.request.args
// ["build-arg:NPM_TOKEN"]` rather than a column on a 40 kB line.
type jsonDoc struct {
	// nodes are every value (and its key, in an object) in document order: a node that comes
	// later and contains an offset is deeper than one that came before.
	nodes []jsonNode
}

type jsonNode struct {
	parent int // -1 for the root
	// key is the member name in an object; index the position in an array (-1 in an object).
	key   string
	index int
	// keyStart is where the member's key starts (-1 for array elements and the root); start and
	// end span the value.
	keyStart, start, end int
}

// maxJSONNodes bounds the index of one document (about 40 bytes a node).
const maxJSONNodes = 4 << 20

// indexJSON tokenizes doc once and records each value's span.
func indexJSON(doc []byte) (*jsonDoc, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	d := &jsonDoc{}
	type frame struct {
		node   int
		object bool
		next   int    // next array index
		key    string // pending member name
		keyAt  int
		hasKey bool
	}
	var stack []frame
	for {
		prev := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		start := prev
		for start < end && bytes.IndexByte([]byte(" \t\r\n:,"), doc[start]) >= 0 {
			start++
		}
		if delim, ok := tok.(json.Delim); ok && (delim == '}' || delim == ']') {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			d.nodes[top.node].end = end
			continue
		}
		if len(stack) > 0 {
			if top := &stack[len(stack)-1]; top.object && !top.hasKey {
				top.key, top.keyAt, top.hasKey = tok.(string), start, true
				continue
			}
		}
		if len(d.nodes) >= maxJSONNodes {
			return nil, errors.New("too many JSON values to map")
		}
		n := jsonNode{parent: -1, index: -1, keyStart: -1, start: start, end: end}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			n.parent = top.node
			if top.object {
				n.key, n.keyStart = top.key, top.keyAt
				top.hasKey = false
			} else {
				n.index = top.next
				top.next++
			}
		}
		d.nodes = append(d.nodes, n)
		if delim, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{node: len(d.nodes) - 1, object: delim == '{'})
		}
	}
	return d, nil
}

// at returns the deepest node whose key or value holds offset, -1 for none.
func (d *jsonDoc) at(offset int) int {
	best := -1
	for i, n := range d.nodes {
		from := n.start
		if n.keyStart >= 0 {
			from = n.keyStart
		}
		if from <= offset && offset < n.end {
			best = i
		}
	}
	return best
}

// path is node i's JSON path: `a.b["c-d"][2]`. A key that itself holds a finding (masked says
// which key offsets do) is written `["***"]`: a path must never spell a secret.
func (d *jsonDoc) path(i int, masked func(keyStart, keyEnd int) bool) string {
	var parts []string
	for ; i >= 0 && d.nodes[i].parent >= 0; i = d.nodes[i].parent {
		n := d.nodes[i]
		switch {
		case n.index >= 0:
			parts = append(parts, "["+strconv.Itoa(n.index)+"]")
		case masked(n.keyStart, n.start):
			parts = append(parts, `["***"]`)
		case isIdentifier(n.key):
			parts = append(parts, "."+n.key)
		default:
			parts = append(parts, "["+strconv.Quote(n.key)+"]")
		}
	}
	var b bytes.Buffer
	for j := len(parts) - 1; j >= 0; j-- {
		b.WriteString(parts[j])
	}
	s := b.String()
	if len(s) > 0 && s[0] == '.' {
		s = s[1:]
	}
	return s
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

// relocateJSON gives each finding in doc the JSON path of the value it is in (findings in no
// value keep their path) and recomputes its fingerprint.
func relocateJSON(doc []byte, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	d, err := indexJSON(doc)
	if err != nil {
		return
	}
	lo := newLineOffsets(doc)
	var starts []int
	for _, f := range fs {
		if off := lo.offset(f.Line, f.Column); off >= 0 {
			starts = append(starts, off)
		}
	}
	sort.Ints(starts)
	masked := func(from, to int) bool {
		if from < 0 {
			return false
		}
		i := sort.SearchInts(starts, from)
		return i < len(starts) && starts[i] < to
	}
	for i := range fs {
		off := lo.offset(fs[i].Line, fs[i].Column)
		if off < 0 {
			continue
		}
		if n := d.at(off); n >= 0 {
			if p := d.path(n, masked); p != "" {
				fs[i].Relocate(p)
			}
		}
	}
}
