package rx

import (
	"regexp/syntax"
	"strings"
	"testing"
)

// TestFollowChecks: keyword hits that cannot start a match are dropped before any regex runs,
// and hits that can are kept.
func TestFollowChecks(t *testing.T) {
	fs := RuleFollows(mustParse(t, `\b((?:hvs\.[\w-]{90,120}|s\.(?i:[a-z0-9]{24})))(?:[\x60'"\s;]|\\[nr]|$)`), []string{"hvs.", "s."})
	if len(fs) != 2 {
		t.Fatalf("follows = %+v, want hvs. and s.", fs)
	}
	check := func(text, kw string, want bool) {
		t.Helper()
		at := strings.Index(strings.ToLower(text), kw)
		if got := AnyFollow(fs, []byte(text), kw, at); got != want {
			t.Errorf("%q at %q: allowed=%v, want %v", kw, text, got, want)
		}
	}
	check("x := s.Field(1)", "s.", false)
	check("VAULT_TOKEN=s.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf", "s.", true)
	check("t=hvs."+strings.Repeat("a", 95), "s.", true) // "s." inside "hvs." checked as hvs.
	check("t=hvs.short; more text follows", "hvs.", false)
	check("end s.Zr7Q", "s.", true) // too close to the end to tell: kept

	// Optional parts, then a required byte: gitleaks' semi-generic shape.
	gen := RuleFollows(mustParse(t, `(?i)[\w.-]{0,50}?(?:key|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:{1,3}=|,)([a-z]{10})`), []string{"key", "token"})
	if len(gen) != 2 {
		t.Fatalf("generic follows = %+v", gen)
	}
	for text, want := range map[string]bool{
		"api_key = 'x'":                                true,
		"  apiKey: x := 1\n":                           true, // "key" then ":", one of the operator's first bytes
		"for key, value := range m":                    true, // "," is an operator in gitleaks' generic rule
		"func (k *key) String() {}":                    false,
		"the key to success is patience and hard work": false,
	} {
		at := strings.Index(strings.ToLower(text), "key")
		if got := AnyFollow(gen, []byte(text), "key", at); got != want {
			t.Errorf("generic %q: allowed=%v, want %v", text, got, want)
		}
	}
	if RuleFollows(mustParse(t, `(?i)(?:key|token)\s*`), []string{"key", "token"}) != nil {
		t.Error("a rule with nothing required after its keyword got follow checks")
	}
}

func mustParse(t testing.TB, expr string) *syntax.Regexp {
	t.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
