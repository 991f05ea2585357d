package rx

import (
	"regexp/syntax"
	"unicode/utf8"
)

// ReachCap bounds how far from a keyword hit a match may reach: it is also the overlap between
// the windows a large fragment is read in.
const ReachCap = 64 << 10

// Reach returns how many bytes a match of re may span: the sum of the widths of its
// parts, where a repetition without upper bound of something that cannot match a newline adds
// nothing (windows are widened to whole lines), and one that can match a newline makes the reach
// ReachCap.
func Reach(re *syntax.Regexp) int {
	w, multi := width(re.Simplify())
	if multi || w > ReachCap {
		return ReachCap
	}
	return w
}

// width returns the maximum byte width of re (unbounded repetitions of single-line content count
// as zero) and whether re can match unboundedly many newlines.
func width(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n, false
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return runeWidth(re), false
	case syntax.OpCapture, syntax.OpQuest:
		return width(re.Sub[0])
	case syntax.OpConcat:
		sum, multi := 0, false
		for _, s := range re.Sub {
			w, m := width(s)
			sum += w
			multi = multi || m
		}
		return sum, multi
	case syntax.OpAlternate:
		mx, multi := 0, false
		for _, s := range re.Sub {
			w, m := width(s)
			mx = max(mx, w)
			multi = multi || m
		}
		return mx, multi
	case syntax.OpStar, syntax.OpPlus:
		_, m := width(re.Sub[0])
		return 0, m || matchesNewline(re.Sub[0])
	case syntax.OpRepeat:
		w, m := width(re.Sub[0])
		if re.Max < 0 {
			return w * re.Min, m || matchesNewline(re.Sub[0])
		}
		return w * re.Max, m
	default:
		return 0, false
	}
}

func runeWidth(re *syntax.Regexp) int {
	if re.Op != syntax.OpCharClass {
		return utf8.UTFMax
	}
	hi := rune(0)
	for i := 0; i+1 < len(re.Rune); i += 2 {
		lo, top := re.Rune[i], re.Rune[i+1]
		// (?i) adds the case-fold partners of k and s (KELVIN SIGN, LONG S) to ASCII classes;
		// counting them would triple every window for text that never holds them.
		if lo == top && (lo == '\u017f' || lo == '\u212a') {
			continue
		}
		hi = max(hi, top)
	}
	if hi > utf8.MaxRune {
		hi = utf8.MaxRune
	}
	return max(1, utf8.RuneLen(hi))
}

// matchesNewline reports whether re can consume a '\n' anywhere.
func matchesNewline(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpAnyChar:
		return true
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r == '\n' {
				return true
			}
		}
		return false
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			if re.Rune[i] <= '\n' && '\n' <= re.Rune[i+1] {
				return true
			}
		}
		return false
	}
	for _, s := range re.Sub {
		if matchesNewline(s) {
			return true
		}
	}
	return false
}
