package policy

import (
	"regexp/syntax"
	"strings"
)

// minFixedPrefix is how many fixed characters a secret must start with for its rule to be
// graded ConfidenceHigh by default: "ghp_", "AKIA", "xoxb-", "hvs.", "-----BEGIN". Two are not
// enough ("sk", "ey" start ordinary words and base64 runs alike).
const minFixedPrefix = 3

// defaultConfidence grades a rule that sets no Confidence, by its kind: a path-only rule is
// ConfidenceLow (only a name suggests a secret); a generic rule (gitleaks' convention: an ID
// containing "generic") is ConfidenceMedium; a rule whose secret starts with a fixed prefix of
// minFixedPrefix or more characters (a provider format) is ConfidenceHigh; any other rule — a
// keyword near a value with enough entropy — is ConfidenceMedium. tree is the parsed regex, nil
// for a path-only rule.
func defaultConfidence(r *Rule, tree *syntax.Regexp) Confidence {
	switch {
	case tree == nil:
		return ConfidenceLow
	case strings.Contains(strings.ToLower(r.ID), "generic"):
		return ConfidenceMedium
	}
	secret := secretExpr(tree, r.SecretGroup)
	if secret != nil && fixedPrefix(secret.Simplify()) >= minFixedPrefix {
		return ConfidenceHigh
	}
	return ConfidenceMedium
}

// secretExpr returns the part of re that matches the secret: capture group n, or for n == 0
// the first capture group (gitleaks takes the first non-empty one; the first is what the rule's
// author meant), or re itself when it has none.
func secretExpr(re *syntax.Regexp, n int) *syntax.Regexp {
	if re.MaxCap() == 0 {
		return re
	}
	if n == 0 {
		n = 1
	}
	var found *syntax.Regexp
	var walk func(*syntax.Regexp)
	walk = func(x *syntax.Regexp) {
		if found != nil {
			return
		}
		if x.Op == syntax.OpCapture && x.Cap == n {
			found = x.Sub[0]
			return
		}
		for _, s := range x.Sub {
			walk(s)
		}
	}
	walk(re)
	return found
}

// fixedPrefix returns how many characters every match of re starts with that the regex fixes:
// literals (in any case) and small classes such as [op] (the parser's factoring of ghp|gho), or
// the shortest of the alternatives' fixed prefixes. Leading assertions (^, \b) are skipped.
func fixedPrefix(re *syntax.Regexp) int {
	n, _ := fixed(re)
	return n
}

// maxFixedClass is the largest character class counted as a fixed character.
const maxFixedClass = 4

// fixed returns the length of re's fixed prefix and whether that prefix is the whole of re.
func fixed(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune), true
	case syntax.OpCharClass:
		size := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			size += int(re.Rune[i+1]-re.Rune[i]) + 1
		}
		if size <= maxFixedClass {
			return 1, true
		}
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		return 0, true
	case syntax.OpCapture:
		return fixed(re.Sub[0])
	case syntax.OpPlus:
		n, _ := fixed(re.Sub[0])
		return n, false
	case syntax.OpRepeat:
		if re.Min > 0 {
			n, whole := fixed(re.Sub[0])
			if whole && re.Min == re.Max {
				return n * re.Min, true
			}
			return n, false
		}
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			k, whole := fixed(s)
			n += k
			if !whole {
				return n, false
			}
		}
		return n, true
	case syntax.OpAlternate:
		// Alternatives that are all wholly fixed and of one length leave what follows fixed too.
		m, same := -1, true
		for i, s := range re.Sub {
			k, whole := fixed(s)
			same = same && whole && (i == 0 || k == m)
			if m < 0 || k < m {
				m = k
			}
		}
		return max(m, 0), same
	}
	return 0, false
}
