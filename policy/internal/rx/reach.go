package rx

import (
	"regexp/syntax"
	"strings"
	"unicode"

	"github.com/safebuild/safebuild/policy/internal/kwset"
)

// Spread says how far a match of a rule's regex may extend around the keyword hit that anchors
// it: from before bytes before the hit's start to after bytes after its end.
type Spread struct{ Before, After int }

// RuleSpread returns the Spread of expr for keywords. When every match of expr must contain one
// of the keywords at a position the regex's structure pins down (gitleaks' rules mostly have the
// shape prefix{0,50} (kw1|kw2|…) suffix), the Spread is asymmetric and tight; otherwise it is
// Reach on both sides. An unbounded side is ReachCap.
func RuleSpread(re *syntax.Regexp, keywords []string) Spread {
	r := Reach(re)
	sym := Spread{r, r}
	if len(keywords) == 0 {
		return sym
	}
	a, ok := anchored(re, keywords)
	if !ok || a.Before < 0 {
		return sym
	}
	if a.After < 0 || a.After > ReachCap {
		a.After = ReachCap
	}
	return Spread{min(a.Before, r), min(a.After, r)}
}

// anchored returns, for a node whose every match contains a keyword, the largest distance from
// the match start to that keyword's start and from the keyword's end to the match end (-1 when
// unbounded).
func anchored(re *syntax.Regexp, kws []string) (Spread, bool) {
	if set, ok := literalSet(re, 64); ok {
		sp := Spread{}
		for _, s := range set {
			i, k := firstKeyword(s, kws)
			if i < 0 {
				return Spread{}, false
			}
			sp.Before = max(sp.Before, i)
			sp.After = max(sp.After, len(s)-i-len(k))
		}
		return sp, true
	}
	switch re.Op {
	case syntax.OpCapture:
		return anchored(re.Sub[0], kws)
	case syntax.OpConcat:
		for i, sub := range re.Sub {
			a, ok := anchored(sub, kws)
			if !ok {
				continue
			}
			pre, bounded := widthOf(re.Sub[:i])
			if !bounded {
				return Spread{}, false
			}
			post, bounded := widthOf(re.Sub[i+1:])
			sp := Spread{Before: pre + a.Before, After: -1}
			if bounded && a.After >= 0 {
				sp.After = a.After + post
			}
			return sp, true
		}
	case syntax.OpAlternate:
		sp := Spread{}
		for _, sub := range re.Sub {
			a, ok := anchored(sub, kws)
			if !ok || a.Before < 0 {
				return Spread{}, false
			}
			sp.Before = max(sp.Before, a.Before)
			if a.After < 0 || sp.After < 0 {
				sp.After = -1
			} else {
				sp.After = max(sp.After, a.After)
			}
		}
		return sp, true
	}
	return Spread{}, false
}

// widthOf returns the summed maximum width of subs and whether it is bounded.
func widthOf(subs []*syntax.Regexp) (int, bool) {
	sum := 0
	for _, s := range subs {
		w, ok := boundedWidth(s)
		if !ok {
			return 0, false
		}
		sum += w
	}
	return sum, true
}

// boundedWidth returns the maximum byte width of re, or false when it is unbounded.
func boundedWidth(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus:
		return 0, false
	case syntax.OpRepeat:
		if re.Max < 0 {
			return 0, false
		}
		w, ok := boundedWidth(re.Sub[0])
		return w * re.Max, ok
	case syntax.OpConcat:
		return widthOf(re.Sub)
	case syntax.OpAlternate:
		mx := 0
		for _, s := range re.Sub {
			w, ok := boundedWidth(s)
			if !ok {
				return 0, false
			}
			mx = max(mx, w)
		}
		return mx, true
	case syntax.OpCapture, syntax.OpQuest:
		return boundedWidth(re.Sub[0])
	}
	w, _ := width(re)
	return w, true
}

// literalSet returns the lower-cased strings re matches, when there are at most limit of them.
func literalSet(re *syntax.Regexp, limit int) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}, true
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpCharClass:
		var out []string
		seen := map[rune]bool{}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i+1]-re.Rune[i] > 8 {
				return nil, false
			}
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				l := unicode.ToLower(r)
				if !seen[l] {
					seen[l] = true
					out = append(out, string(l))
				}
			}
		}
		return out, len(out) <= limit
	case syntax.OpCapture:
		return literalSet(re.Sub[0], limit)
	case syntax.OpQuest:
		s, ok := literalSet(re.Sub[0], limit-1)
		return append(s, ""), ok
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			s, ok := literalSet(sub, limit-len(out))
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, len(out) <= limit
	case syntax.OpConcat:
		out := []string{""}
		for _, sub := range re.Sub {
			s, ok := literalSet(sub, limit)
			if !ok || len(out)*len(s) > limit {
				return nil, false
			}
			next := make([]string, 0, len(out)*len(s))
			for _, a := range out {
				for _, b := range s {
					next = append(next, a+b)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// firstKeyword returns the position and keyword of the first keyword occurrence in s.
func firstKeyword(s string, kws []string) (int, string) {
	best, kw := -1, ""
	for _, k := range kws {
		if i := strings.Index(s, k); i >= 0 && (best < 0 || i < best) {
			best, kw = i, k
		}
	}
	return best, kw
}

// Prefilter returns a cheaper regex that matches wherever expr matches, for a yes/no test
// before the full search: expr's top-level concatenation without its leading repetitions.
// gitleaks' rules mostly start with [\w.-]{0,50}?, which makes RE2 and Go's regexp slow; any
// suffix of a concatenation matches inside every match of the whole, so a span where the
// prefilter finds nothing cannot hold a match. ok is false when expr has no such leading part.
// (Also cutting the secret part, e.g. [\w.=-]{10,150}, was measured: the prefilter then passes
// so often that the full searches cost more than they save.)
// rest is that concatenation; cut is the number of leading elements left out.
func Prefilter(re *syntax.Regexp) (rest *syntax.Regexp, cut int, ok bool) {
	if re.Op != syntax.OpConcat {
		return nil, 0, false
	}
	i := 0
	for i < len(re.Sub)-1 && isRepeat(re.Sub[i]) {
		i++
	}
	if i == 0 {
		return nil, 0, false
	}
	return &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: re.Sub[i:]}, i, true
}

func isRepeat(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return true
	}
	return false
}

// requiredLiterals returns lower-cased strings one of which appears (case-insensitively) in every
// match of expr, when it can tell and each is at least minLen bytes long. Path regexes use it to skip
// the regex engine for paths that cannot match.
func requiredLiterals(re *syntax.Regexp, minLen int) ([]string, bool) {
	set, ok := required(re)
	if !ok || len(set) == 0 || len(set) > 64 {
		return nil, false
	}
	for _, s := range set {
		if len(s) < minLen {
			return nil, false
		}
	}
	return set, true
}

func required(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{strings.ToLower(string(re.Rune))}, true
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		bestLen := 0
		for _, sub := range re.Sub {
			set, ok := required(sub)
			if !ok || len(set) == 0 {
				continue
			}
			m := len(set[0])
			for _, s := range set {
				m = min(m, len(s))
			}
			if m > bestLen {
				best, bestLen = set, m
			}
		}
		return best, best != nil
	case syntax.OpAlternate:
		var out []string
		for _, sub := range re.Sub {
			set, ok := required(sub)
			if !ok {
				return nil, false
			}
			out = append(out, set...)
		}
		return out, true
	}
	return nil, false
}

// Follow says what must come right after a literal for a rule to match: a sequence of steps,
// each some bytes of a class. A keyword hit inside lit that is not followed so is dropped before
// any regex runs: vault-service-token's keyword "s." is in nearly every Go file, and "s.Field"
// cannot be "s." + 24 alphanumerics; generic-api-key's "key" must be followed, within 23 bytes
// of name characters and quotes, by an assignment operator.
type Follow struct {
	lit   string // lower-cased
	steps []step
}

// step is min..max bytes of class.
type step struct {
	class    [256]bool
	min, max int
}

// maxStep bounds how many bytes one step looks at; unbounded repetitions stop the sequence.
const maxStep = 64

// RuleFollows returns the Follow checks of expr: one per way for a match to contain a keyword,
// or nil when some way has none (then every hit opens a span).
func RuleFollows(re *syntax.Regexp, keywords []string) []Follow {
	fs, ok := follows(re, keywords)
	if !ok {
		return nil
	}
	return fs
}

func follows(re *syntax.Regexp, kws []string) ([]Follow, bool) {
	switch re.Op {
	case syntax.OpCapture:
		return follows(re.Sub[0], kws)
	case syntax.OpAlternate:
		var out []Follow
		for _, sub := range re.Sub {
			fs, ok := follows(sub, kws)
			if !ok {
				return nil, false
			}
			out = append(out, fs...)
		}
		return out, true
	case syntax.OpConcat:
		for i, sub := range re.Sub {
			lits, ok := literalSet(sub, 64)
			if ok && allHaveKeyword(lits, kws) {
				steps := stepsOf(re.Sub[i+1:])
				if !selective(steps) {
					return nil, false
				}
				out := make([]Follow, len(lits))
				for j, l := range lits {
					out[j] = Follow{lit: l, steps: steps}
				}
				return out, true
			}
			if _, ok := anchored(sub, kws); ok {
				return follows(sub, kws)
			}
		}
	}
	return nil, false
}

func allHaveKeyword(lits []string, kws []string) bool {
	for _, l := range lits {
		if i, _ := firstKeyword(l, kws); i < 0 {
			return false
		}
	}
	return len(lits) > 0
}

// selective reports whether steps demand anything at all.
func selective(steps []step) bool {
	sum := 0
	for _, s := range steps {
		sum += s.min
	}
	return sum > 0
}

// stepsOf turns the start of a concatenation into steps: class repetitions exactly, then the
// first byte of the next element, and stops at anything else (a necessary condition only).
func stepsOf(elems []*syntax.Regexp) []step {
	var steps []step
	for _, e := range elems {
		for e.Op == syntax.OpCapture {
			e = e.Sub[0]
		}
		switch e.Op {
		case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
			cls, ok := byteClassOf(e.Sub[0])
			if !ok {
				break
			}
			mn, mx := repeatBounds(e)
			if mx < 0 || mx > maxStep {
				if mn > 0 {
					steps = append(steps, step{class: cls, min: min(mn, maxStep), max: min(mn, maxStep)})
				}
				return steps
			}
			steps = append(steps, step{class: cls, min: mn, max: mx})
			continue
		case syntax.OpCharClass, syntax.OpLiteral:
			if cls, ok := byteClassOf(e); ok {
				steps = append(steps, step{class: cls, min: 1, max: 1})
				continue
			}
		}
		if cls, ok := firstBytes(e); ok {
			steps = append(steps, step{class: cls, min: 1, max: 1})
		}
		return steps
	}
	return steps
}

func repeatBounds(e *syntax.Regexp) (int, int) {
	switch e.Op {
	case syntax.OpStar:
		return 0, -1
	case syntax.OpPlus:
		return 1, -1
	case syntax.OpQuest:
		return 0, 1
	}
	return e.Min, e.Max
}

// byteClassOf returns the bytes a one-character node can match: a character class, or a
// one-rune literal. Any non-ASCII member allows every byte >= 0x80 (UTF-8 sequences).
func byteClassOf(re *syntax.Regexp) (cls [256]bool, ok bool) {
	var runes []rune
	switch re.Op {
	case syntax.OpCharClass:
		runes = re.Rune
	case syntax.OpLiteral:
		if len(re.Rune) != 1 {
			return cls, false
		}
		r := re.Rune[0]
		runes = []rune{r, r}
		if re.Flags&syntax.FoldCase != 0 {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				runes = append(runes, f, f)
			}
		}
	default:
		return cls, false
	}
	for i := 0; i+1 < len(runes); i += 2 {
		for r := runes[i]; r <= runes[i+1] && r < 0x80; r++ {
			cls[r] = true
		}
		if runes[i+1] >= 0x80 {
			for b := 0x80; b < 256; b++ {
				cls[b] = true
			}
		}
	}
	return cls, true
}

// firstBytes returns the bytes a match of re can start with, when re cannot match empty.
func firstBytes(re *syntax.Regexp) (cls [256]bool, ok bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return cls, false
		}
		return byteClassOf(&syntax.Regexp{Op: syntax.OpLiteral, Rune: re.Rune[:1], Flags: re.Flags})
	case syntax.OpCharClass:
		return byteClassOf(re)
	case syntax.OpCapture:
		return firstBytes(re.Sub[0])
	case syntax.OpPlus:
		return firstBytes(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return firstBytes(re.Sub[0])
		}
	case syntax.OpConcat:
		if len(re.Sub) > 0 {
			return firstBytes(re.Sub[0])
		}
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			c, ok := firstBytes(sub)
			if !ok {
				return cls, false
			}
			for i := range cls {
				cls[i] = cls[i] || c[i]
			}
		}
		return cls, true
	}
	return cls, false
}

// AnyFollow reports whether a keyword hit at buf[start:] of keyword kw (lower-cased) passes
// one of fs, the follow checks of a rule (RuleFollows): whether it can be part of a match.
func AnyFollow(fs []Follow, buf []byte, kw string, start int) bool {
	for i := range fs {
		if fs[i].allows(buf, kw, start) {
			return true
		}
	}
	return false
}

// allows reports whether a keyword hit at buf[start:] can be part of a match per f: the text
// around the hit spells f.lit (ASCII case-insensitively), and the bytes after it pass f.steps. A
// hit too close to the end of the text to tell is allowed.
func (f *Follow) allows(buf []byte, kw string, start int) bool {
	for o := strings.Index(f.lit, kw); o >= 0; {
		ls := start - o
		if ls >= 0 && ls+len(f.lit) <= len(buf) && equalLower(buf[ls:ls+len(f.lit)], f.lit) &&
			stepsMatch(buf, ls+len(f.lit), f.steps) {
			return true
		}
		next := strings.Index(f.lit[o+1:], kw)
		if next < 0 {
			break
		}
		o += 1 + next
	}
	return false
}

// equalLower reports whether b, ASCII lower-cased, equals lower.
func equalLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(lower) {
		if kwset.Lower[b[i]] != lower[i] {
			return false
		}
	}
	return true
}

// stepsMatch reports whether buf[p:] starts with bytes that pass steps, trying every split.
func stepsMatch(buf []byte, p int, steps []step) bool {
	if len(steps) == 0 {
		return true
	}
	s := &steps[0]
	n := 0
	for n < s.max && p+n < len(buf) && s.class[buf[p+n]] {
		n++
	}
	if p+n == len(buf) {
		return true // the text ends before the question is settled
	}
	for k := n; k >= s.min; k-- {
		if stepsMatch(buf, p+k, steps[1:]) {
			return true
		}
	}
	return false
}
