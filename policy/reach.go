package policy

import (
	"regexp/syntax"
	"strings"
	"unicode"
)

// spread says how far a match of a rule's regex may extend around the keyword hit that anchors
// it: from before bytes before the hit's start to after bytes after its end.
type spread struct{ before, after int }

// ruleSpread returns the spread of expr for keywords. When every match of expr must contain one
// of the keywords at a position the regex's structure pins down (gitleaks' rules mostly have the
// shape prefix{0,50} (kw1|kw2|…) suffix), the spread is asymmetric and tight; otherwise it is
// regexReach on both sides. An unbounded side is reachCap.
func ruleSpread(expr string, keywords []string) spread {
	r := regexReach(expr)
	sym := spread{r, r}
	if len(keywords) == 0 {
		return sym
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return sym
	}
	a, ok := anchored(re, keywords)
	if !ok || a.before < 0 {
		return sym
	}
	if a.after < 0 || a.after > reachCap {
		a.after = reachCap
	}
	return spread{min(a.before, r), min(a.after, r)}
}

// anchored returns, for a node whose every match contains a keyword, the largest distance from
// the match start to that keyword's start and from the keyword's end to the match end (-1 when
// unbounded).
func anchored(re *syntax.Regexp, kws []string) (spread, bool) {
	if set, ok := literalSet(re, 64); ok {
		sp := spread{}
		for _, s := range set {
			i, k := firstKeyword(s, kws)
			if i < 0 {
				return spread{}, false
			}
			sp.before = max(sp.before, i)
			sp.after = max(sp.after, len(s)-i-len(k))
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
				return spread{}, false
			}
			post, bounded := widthOf(re.Sub[i+1:])
			sp := spread{before: pre + a.before, after: -1}
			if bounded && a.after >= 0 {
				sp.after = a.after + post
			}
			return sp, true
		}
	case syntax.OpAlternate:
		sp := spread{}
		for _, sub := range re.Sub {
			a, ok := anchored(sub, kws)
			if !ok || a.before < 0 {
				return spread{}, false
			}
			sp.before = max(sp.before, a.before)
			if a.after < 0 || sp.after < 0 {
				sp.after = -1
			} else {
				sp.after = max(sp.after, a.after)
			}
		}
		return sp, true
	}
	return spread{}, false
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

// prefilterExpr returns a cheaper regex that matches wherever expr matches, for a yes/no test
// before the full search: expr's top-level concatenation without its leading repetitions.
// gitleaks' rules mostly start with [\w.-]{0,50}?, which makes RE2 and Go's regexp slow; any
// suffix of a concatenation matches inside every match of the whole, so a span where the
// prefilter finds nothing cannot hold a match. ok is false when expr has no such leading part.
// (Also cutting the secret part, e.g. [\w.=-]{10,150}, was measured: the prefilter then passes
// so often that the full searches cost more than they save.)
func prefilterExpr(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat {
		return "", false
	}
	i := 0
	for i < len(re.Sub)-1 && isRepeat(re.Sub[i]) {
		i++
	}
	if i == 0 {
		return "", false
	}
	rest := &syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: re.Sub[i:]}
	return rest.String(), true
}

func isRepeat(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		return true
	}
	return false
}
