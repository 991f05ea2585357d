package rx

import (
	"regexp/syntax"
	"slices"
	"unicode/utf8"
)

// LeadRepeat is a regex's leading lazy repetition of a character class, class{0,max}?, as in
// gitleaks' rules ([\w.-]{0,50}?…). Such a lead makes RE2's DFA for the whole regex large and
// slow to build: in a one-shot scan of Go's source tree, building it cost more than all the
// searching. The rest of the regex (the prefilter, whose DFA is built anyway) finds the same
// matches, and the lead's extent follows from the text alone:
//
// With leftmost-first semantics, re = lead·rest matches text from the leftmost start s from
// which rest matches after 0..max class characters. Let p be the leftmost position (at or after
// the search position pos) where rest matches. Every start s ≤ p from which the class run
// reaches p (at most max characters back, not before pos) is a start of a match, and no start
// before these is (it would need rest to match before p). So s is the leftmost of them, the lazy
// lead then takes exactly p-s, and the match ends where rest's match from p ends. FindAll then
// resumes at that end for both. Only rests that cannot match empty qualify (an empty match would
// change where FindAll resumes).
type LeadRepeat struct {
	class []rune // sorted [lo, hi] pairs, U+FFFD excluded
	max   int    // characters; -1: unbounded
}

// NewLeadRepeat returns the lead of re when re is a concatenation of a lazy class{0,max}? and a
// rest that cannot match empty; else nil.
func NewLeadRepeat(re *syntax.Regexp) *LeadRepeat {
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil
	}
	first := re.Sub[0]
	if first.Flags&syntax.NonGreedy == 0 || len(first.Sub) != 1 || first.Sub[0].Op != syntax.OpCharClass {
		return nil
	}
	max := 0
	switch first.Op {
	case syntax.OpRepeat:
		if first.Min != 0 {
			return nil
		}
		max = first.Max
	case syntax.OpStar:
		max = -1
	default:
		return nil
	}
	rest := 0
	for _, sub := range re.Sub[1:] {
		rest += minWidth(sub)
	}
	if rest == 0 {
		return nil
	}
	class := first.Sub[0].Rune
	if inClass(utf8.RuneError, class) {
		return nil // invalid UTF-8 would then be a class character: keep the regex engine's view
	}
	return &LeadRepeat{class: slices.Clone(class), max: max}
}

// Start returns where the match whose rest begins at p starts: back over class characters from
// p, at most max of them, not before pos.
func (l *LeadRepeat) Start(text []byte, pos, p int) int {
	s := p
	for n := 0; (l.max < 0 || n < l.max) && s > pos; n++ {
		r, size := utf8.DecodeLastRune(text[pos:s])
		if !inClass(r, l.class) {
			break
		}
		s -= size
	}
	return s
}

// FindAll is FindAllIndex(text, -1) of the whole regex, computed from rest's matches.
func (l *LeadRepeat) FindAll(rest Regex, text []byte, out [][2]int) [][2]int {
	pos := 0
	for _, m := range rest.FindAllIndex(text, -1) {
		out = append(out, [2]int{l.Start(text, pos, m[0]), m[1]})
		pos = m[1]
	}
	return out
}

func inClass(r rune, class []rune) bool {
	for i := 0; i+1 < len(class); i += 2 {
		if r < class[i] {
			return false
		}
		if r <= class[i+1] {
			return true
		}
	}
	return false
}

// minWidth returns a lower bound of the length of re's matches (0 when re may match empty).
func minWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture:
		return minWidth(re.Sub[0])
	case syntax.OpPlus:
		return minWidth(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minWidth(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, sub := range re.Sub {
			n += minWidth(sub)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, sub := range re.Sub {
			if w := minWidth(sub); n < 0 || w < n {
				n = w
			}
		}
		return max(n, 0)
	}
	return 0
}

// KeywordAtStart reports whether every match of re begins with one of keywords (lower-cased;
// matched ASCII case-insensitively), with nothing before it, not even an empty-width
// assertion: then the keyword pass reports every position a match of re can start at.
func KeywordAtStart(re *syntax.Regexp, keywords []string) bool {
	if set, ok := literalSet(re, 64); ok {
		return allStartWithKeyword(set, keywords)
	}
	switch re.Op {
	case syntax.OpCapture:
		return KeywordAtStart(re.Sub[0], keywords)
	case syntax.OpConcat:
		return len(re.Sub) > 0 && KeywordAtStart(re.Sub[0], keywords)
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !KeywordAtStart(sub, keywords) {
				return false
			}
		}
		return len(re.Sub) > 0
	}
	return false
}

// allStartWithKeyword reports whether every string of set starts with one of keywords.
func allStartWithKeyword(set, keywords []string) bool {
	if len(set) == 0 {
		return false
	}
	for _, s := range set {
		if i, _ := firstKeyword(s, keywords); i != 0 {
			return false
		}
	}
	return true
}
