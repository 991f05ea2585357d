package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy/internal/rx"
)

// TestLeadRepeatMatchesRegex checks the rx.LeadRepeat shortcut against the regex engine for every
// default rule it applies to: on generated text dense in the rule's keywords, operators, class
// characters (also ſ and K, which (?i)\w matches) and invalid UTF-8, the matches found from the
// rest of the regex are the whole regex's matches, and re-running the rest on a match yields the
// same capture groups as re-running the whole regex.
func TestLeadRepeatMatchesRegex(t *testing.T) {
	rs := defaultRules(t)
	texts := 150
	if testing.Short() {
		texts = 30
	}
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	for _, r := range rs.rules {
		if r.lead == nil {
			continue
		}
		n++
		for range texts {
			text := leadText(rng, r.Keywords)
			checkLead(t, r, text)
		}
	}
	if n < 80 {
		t.Errorf("only %d default rules have a lead; the shortcut is meant for gitleaks' [\\w.-]{0,50}? rules", n)
	}
}

func checkLead(t *testing.T, r *compiledRule, text []byte) {
	t.Helper()
	var want [][2]int
	for _, m := range r.re.Get().FindAllIndex(text, -1) {
		want = append(want, [2]int{m[0], m[1]})
	}
	got := r.lead.FindAll(r.pre.Get(), text, nil)
	if !slices.Equal(got, want) {
		t.Fatalf("%s on %q:\n lead %v\n regex %v", r.ID, text, got, want)
	}
	for _, m := range got {
		match := text[m[0]:m[1]]
		g, w := r.pre.Get().FindSubmatchIndex(match), r.re.Get().FindSubmatchIndex(match)
		if len(g) != len(w) || len(g) < 2 || !slices.Equal(g[2:], w[2:]) {
			t.Fatalf("%s: groups of %q: rest %v, regex %v", r.ID, match, g, w)
		}
	}
}

// leadText generates a line-rich text of tokens that exercise gitleaks-shaped rules.
func leadText(rng *rand.Rand, keywords []string) []byte {
	tokens := []string{"=", ":", ":=", "=>", "'", "\"", " ", "  ", "\t", "\n", "_", "-", ".", "`", ";",
		"/", "+", "==", ",", "\\n", "ſ", "K", "\xff", "é", "x-", "_KEY", "Token"}
	var b strings.Builder
	for range 10 + rng.IntN(30) {
		switch k := rng.IntN(10); {
		case k < 3 && len(keywords) > 0:
			kw := keywords[rng.IntN(len(keywords))]
			if rng.IntN(2) == 0 {
				kw = strings.ToUpper(kw)
			}
			b.WriteString(kw)
		case k < 6:
			const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			for range 1 + rng.IntN(60) {
				b.WriteByte(alnum[rng.IntN(len(alnum))])
			}
		default:
			b.WriteString(tokens[rng.IntN(len(tokens))])
		}
	}
	return []byte(b.String())
}

func FuzzLeadRepeat(f *testing.F) {
	rs := defaultRules(f)
	var rules []*compiledRule
	for _, r := range rs.rules {
		if r.lead != nil {
			rules = append(rules, r)
		}
	}
	f.Add(uint16(0), "api_key = 'abcdefghijklmnop1234'")
	f.Add(uint16(7), "ſecret_token: Kq8w9e7r6t5y4u3i2o1p\n")
	f.Fuzz(func(t *testing.T, rule uint16, text string) {
		checkLead(t, rules[int(rule)%len(rules)], []byte(text))
	})
}

// TestAnchoredRunMatchesSpanSearch: for every default rule that runRule replaces with
// runAnchored, the engine finds the same findings either way on generated text dense in the
// rule's keywords and operators, across window boundaries too. (Texts leave out ſ: under (?i)
// RE2 matches "ſecret", which no keyword pass reports — gitleaks' strings.ToLower does not fold
// it either — so only a span opened by another hit could find it. The Kelvin sign K, which
// both fold to k, is in: the keyword pass reports it.)
func TestAnchoredRunMatchesSpanSearch(t *testing.T) {
	with := defaultRules(t)
	without, err := NewRuleset(with.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var kws []string
	n := 0
	for i, r := range without.rules {
		if with.rules[i].anch != nil {
			n++
			kws = append(kws, r.Keywords...)
		}
		r.anch = nil
	}
	if n < 50 {
		t.Fatalf("only %d rules run anchored", n)
	}
	// The global allowlists of the defaults are not in Rules(); give both the same (none).
	with2, err := NewRuleset(with.Rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := NewScanner(WithRules(with2), WithWindow(rx.ReachCap))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := NewScanner(WithRules(without), WithWindow(rx.ReachCap))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	total := 0
	for range rounds {
		var b strings.Builder
		for b.Len() < 2000 {
			if rng.IntN(2) == 0 {
				b.Write(leadText(rng, kws))
			} else {
				b.WriteString(assignText(rng, kws))
			}
		}
		text := strings.ReplaceAll(b.String(), "ſ", "s")
		if rng.IntN(10) == 0 {
			text = strings.Repeat("x ", rx.ReachCap/2-rng.IntN(200)) + text // across a window cut
		}
		fa := findingKeys(scanText(t, sa, "f.txt", text))
		total += len(fa)
		fb := findingKeys(scanText(t, sb, "f.txt", text))
		if !slices.Equal(fa, fb) {
			t.Fatalf("anchored and span search differ on %q:\n anchored %v\n span     %v", text, fa, fb)
		}
	}
	if total < rounds/5 {
		t.Errorf("%d findings in %d texts: the texts do not exercise the rules", total, rounds)
	}
	t.Logf("%d findings in %d texts", total, rounds)
}

func findingKeys(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%d:%d:%s", f.RuleID, f.Line, f.Column, f.SecretSHA256[:8]))
	}
	slices.Sort(out)
	return out
}

// assignText generates gitleaks-shaped assignments around keywords, at and past the limits of
// the generic shape: a name prefix, the keyword, filler, quotes, an operator, a value and a
// terminator, each part sometimes too long or missing.
func assignText(rng *rand.Rand, kws []string) string {
	const word = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
	const valueAlpha = word + "="
	pick := func(alpha string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alpha[rng.IntN(len(alpha))]
		}
		return string(b)
	}
	one := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	kw := kws[rng.IntN(len(kws))]
	switch rng.IntN(3) {
	case 0:
		kw = strings.ToUpper(kw)
	case 1:
		kw = strings.ToUpper(kw[:1]) + kw[1:]
	}
	value := valueAlpha
	if rng.IntN(4) == 0 {
		value += "+/"
	}
	short := func(n, long int) int { // mostly small, sometimes at the limit and past it
		if rng.IntN(4) == 0 {
			return long - 2 + rng.IntN(5)
		}
		return rng.IntN(n)
	}
	return pick(word, short(8, 50)) + kw + pick(" \t"+word, short(4, 20)) + pick(" '\"", short(2, 3)) +
		one("=", ":", ":=", "::=", "=>", "?=", ",", "||", ">", " ", "") + pick("`'\" =", short(2, 5)) +
		pick(value, 8+short(30, 150)) + one("'", "\"", "\n", ";", " ", "\\n", "", "`") + one("\n", " ", "")
}
