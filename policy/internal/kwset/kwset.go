package kwset

import (
	"fmt"
	"slices"
	"strings"
)

// Set finds every occurrence of a set of keywords in text, ASCII case-insensitively,
// overlapping ones included (api, apikey and key all in "APIKEY"). It is the engine's hottest
// loop — one pass over every byte scanned — so it is written for that: an Aho-Corasick automaton
// compiled to a full DFA over byte classes, with ASCII case folding built into the class table
// (no lower-cased copy of the text), state numbers premultiplied by the class count (one load
// per byte), and states with output numbered last (one compare per byte to know there is none).
// Replacing github.com/coregx/ahocorasick over a lower-cased copy, it made the keyword pass about
// twice as fast (BenchmarkKeywordSet, in package policy).
type Set struct {
	class  [256]uint8 // byte -> class; 0 for bytes in no keyword
	nclass uint32
	trans  []uint32 // trans[state+class] = next state; states are premultiplied by nclass
	// States at or above firstOut have output; outs[(state-firstOut)/nclass] lists the keywords
	// ending there, longest first.
	firstOut uint32
	outs     [][]int32 // pattern ids
	lens     []int32   // pattern lengths in bytes
	orig     []int32   // pattern -> keyword
	maxLen   int32
}

// kelvin is U+212A KELVIN SIGN in UTF-8. It is the one character outside ASCII that both
// Unicode lower-casing (gitleaks' keyword test: strings.ToLower) and RE2's (?i) fold to an ASCII
// letter, k: "api_Key" (with it) has the keyword "api_key" for gitleaks and matches its regexes.
// Keywords with a k get variants spelled with it. (İ lower-cases to i, but RE2 does not fold it,
// so no match can hold it in place of a keyword's i.)
const kelvin = "\u212a"

// Hit is one keyword occurrence: text[Start:End] is keyword Keyword (an index into the keywords
// New was given). A hit spelled with the Kelvin sign is longer than its keyword.
type Hit struct {
	Keyword    int32
	Start, End int
}

// maxKeywordStates bounds the automaton (a keyword set of ~100k bytes), so a config with a huge
// keyword list fails with an error instead of exhausting memory.
const maxKeywordStates = 1 << 17

// New compiles keywords (each non-empty; at most about 100 KB of them, else an error). Keywords are matched ASCII
// case-insensitively, a k also as the Kelvin sign; other bytes >= 0x80 must match exactly.
func New(keywords []string) (*Set, error) {
	ks := &Set{}
	var patterns []string
	for ki, k := range keywords {
		if k == "" {
			return nil, fmt.Errorf("empty keyword")
		}
		for _, p := range kelvinVariants(k) {
			patterns = append(patterns, p)
			ks.orig = append(ks.orig, int32(ki))
			ks.lens = append(ks.lens, int32(len(p)))
		}
	}
	// Byte classes: one per distinct case-folded byte appearing in a pattern, 0 for the rest.
	n := uint8(0)
	for _, k := range patterns {
		for i := 0; i < len(k); i++ {
			b := Lower[k[i]]
			if ks.class[b] == 0 {
				if n == 255 {
					return nil, fmt.Errorf("keywords use more than 255 distinct bytes")
				}
				n++
				ks.class[b] = n
			}
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		ks.class[b] = ks.class[b+'a'-'A']
	}
	nc := int(n) + 1
	ks.nclass = uint32(nc)

	// The trie, with goto transitions in a dense table (state*nc + class, not premultiplied yet).
	type node struct {
		fail int
		out  []int32
	}
	nodes := []node{{}}
	next := make([]int32, nc) // -1 = no goto transition
	for i := range next {
		next[i] = -1
	}
	for ki, k := range patterns {
		ks.maxLen = max(ks.maxLen, int32(len(k)))
		s := 0
		for i := 0; i < len(k); i++ {
			c := int(ks.class[k[i]])
			if t := next[s*nc+c]; t >= 0 {
				s = int(t)
				continue
			}
			if len(nodes) >= maxKeywordStates {
				return nil, fmt.Errorf("%d keywords make more than %d automaton states", len(keywords), maxKeywordStates)
			}
			nodes = append(nodes, node{})
			for range nc {
				next = append(next, -1)
			}
			next[s*nc+c] = int32(len(nodes) - 1)
			s = len(nodes) - 1
		}
		if !slices.Contains(nodes[s].out, int32(ki)) {
			nodes[s].out = append(nodes[s].out, int32(ki))
		}
	}

	// Breadth-first: failure links, inherited outputs, and the full DFA (every missing goto
	// becomes the failure state's transition).
	queue := make([]int, 0, len(nodes))
	for c := range nc {
		if t := next[c]; t >= 0 {
			nodes[t].fail = 0
			queue = append(queue, int(t))
		} else {
			next[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		nodes[s].out = append(nodes[s].out, nodes[nodes[s].fail].out...)
		for c := range nc {
			t := next[s*nc+c]
			if t >= 0 {
				nodes[t].fail = int(next[nodes[s].fail*nc+c])
				queue = append(queue, int(t))
			} else {
				next[s*nc+c] = next[nodes[s].fail*nc+c]
			}
		}
	}

	// Renumber: states without output first, then those with; premultiply.
	order := make([]int, 0, len(nodes))
	for s := range nodes {
		if len(nodes[s].out) == 0 {
			order = append(order, s)
		}
	}
	firstOut := len(order)
	for s := range nodes {
		if len(nodes[s].out) > 0 {
			order = append(order, s)
		}
	}
	if order[0] != 0 {
		return nil, fmt.Errorf("the empty keyword matches everywhere")
	}
	id := make([]uint32, len(nodes))
	for i, s := range order {
		id[s] = uint32(i * nc)
	}
	ks.trans = make([]uint32, len(nodes)*nc)
	for i, s := range order {
		for c := range nc {
			ks.trans[i*nc+c] = id[next[s*nc+c]]
		}
	}
	ks.firstOut = uint32(firstOut * nc)
	ks.outs = make([][]int32, len(nodes)-firstOut)
	for i, s := range order[firstOut:] {
		out := nodes[s].out
		slices.SortFunc(out, func(a, b int32) int { return int(ks.lens[b] - ks.lens[a]) })
		ks.outs[i] = out
	}
	return ks, nil
}

// kelvinVariants returns k and, when k has one to three k's, its spellings with the Kelvin sign
// in place of any of them.
func kelvinVariants(k string) []string {
	var at []int
	for i := 0; i < len(k); i++ {
		if Lower[k[i]] == 'k' {
			at = append(at, i)
		}
	}
	out := []string{k}
	if len(at) == 0 || len(at) > 3 {
		return out
	}
	for mask := 1; mask < 1<<len(at); mask++ {
		var b strings.Builder
		last := 0
		for j, i := range at {
			if mask&(1<<j) != 0 {
				b.WriteString(k[last:i])
				b.WriteString(kelvin)
				last = i + 1
			}
		}
		b.WriteString(k[last:])
		out = append(out, b.String())
	}
	return out
}

// interleaveMin is the text length from which Find runs two interleaved passes.
const interleaveMin = 1024

// Find appends every keyword occurrence in text to hits, in order of end position.
//
// A DFA pass is bound by the latency of its one load per byte: each step needs the previous
// state. So text is cut in two halves scanned in one loop, two independent chains the CPU runs in
// parallel; the second half starts maxLen-1 bytes early, so a keyword straddling the cut is seen
// whole, and reports only hits that end past the cut.
func (ks *Set) Find(text []byte, hits []Hit) []Hit {
	if len(text) < interleaveMin {
		return ks.findFrom(text, 0, 0, 0, hits)
	}
	trans, class, firstOut := ks.trans, &ks.class, ks.firstOut
	mid := len(text) / 2
	a := text[:mid]
	bStart := mid - int(ks.maxLen) + 1
	b := text[bStart:]
	first := len(hits)
	sa, sb := uint32(0), uint32(0)
	i := 0
	for ; i < len(a); i++ {
		sa = trans[sa+uint32(class[a[i]])]
		sb = trans[sb+uint32(class[b[i]])]
		if sa >= firstOut || sb >= firstOut {
			if sa >= firstOut {
				hits = ks.emit(sa, i, hits)
			}
			if sb >= firstOut && bStart+i+1 > mid {
				hits = ks.emit(sb, bStart+i, hits)
			}
		}
	}
	hits = ks.findFrom(b, i, sb, bStart, hits)
	// Each half's hits are in order; restore the order across the two.
	slices.SortStableFunc(hits[first:], func(x, y Hit) int { return x.End - y.End })
	return hits
}

// findFrom continues a pass over text[i:] from state s; base is text[0]'s offset in the caller's
// text.
func (ks *Set) findFrom(text []byte, i int, s uint32, base int, hits []Hit) []Hit {
	trans, class, firstOut := ks.trans, &ks.class, ks.firstOut
	for ; i < len(text); i++ {
		s = trans[s+uint32(class[text[i]])]
		if s >= firstOut {
			hits = ks.emit(s, base+i, hits)
		}
	}
	return hits
}

// emit appends the keywords of output state s ending at text[i].
func (ks *Set) emit(s uint32, i int, hits []Hit) []Hit {
	for _, p := range ks.outs[(s-ks.firstOut)/ks.nclass] {
		hits = append(hits, Hit{Keyword: ks.orig[p], Start: i + 1 - int(ks.lens[p]), End: i + 1})
	}
	return hits
}

// Contains reports whether text holds any keyword.
func (ks *Set) Contains(text []byte) bool {
	trans, class, firstOut := ks.trans, &ks.class, ks.firstOut
	s := uint32(0)
	for _, b := range text {
		s = trans[s+uint32(class[b])]
		if s >= firstOut {
			return true
		}
	}
	return false
}

// Lower maps each byte to its ASCII lower case (A-Z to a-z, every other byte to itself): the
// folding the automaton matches keywords with.
var Lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()
