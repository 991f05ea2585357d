package policy

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/coregx/ahocorasick"
)

// TestAhoCorasickOverlaps pins the property the keyword pass relies on: the automaton reports
// every keyword at every position, also when keywords overlap or contain each other.
func TestAhoCorasickOverlaps(t *testing.T) {
	kws := []string{"api", "apikey", "key", "pik", "ikey", "k", "api_key", "secret", "secretkey", "tkey", "s."}
	ac, err := ahocorasick.NewBuilder().AddStrings(kws).Build()
	if err != nil {
		t.Fatal(err)
	}
	in := "my apikey= secretkey api_key s.x"
	var got []string
	for _, m := range ac.FindAllOverlapping([]byte(in)) {
		got = append(got, kws[m.PatternID]+"@"+strconv.Itoa(m.Start))
	}
	var want []string
	for _, k := range kws {
		for i := 0; ; {
			j := strings.Index(in[i:], k)
			if j < 0 {
				break
			}
			want = append(want, k+"@"+strconv.Itoa(i+j))
			i += j + 1
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("automaton reports\n  %v\nwant every occurrence\n  %v", got, want)
	}
}

// TestDefaultRuleKeywordsReachable checks that every default rule with keywords gets its spans:
// each keyword of each rule, embedded in text, makes the automaton report it.
func TestDefaultRuleKeywordsReachable(t *testing.T) {
	rs, err := DefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range rs.keywords {
		text := []byte("xx " + strings.ToUpper(k[:1]) + k[1:] + " yy")
		lower := make([]byte, len(text))
		asciiLower(lower, text)
		found := false
		for _, m := range rs.ac.FindAllOverlapping(lower) {
			if m.PatternID == i {
				found = true
			}
		}
		if !found {
			t.Errorf("keyword %q not reported", k)
		}
	}
}

// TestFollowChecks: keyword hits that cannot start a match are dropped before any regex runs,
// and hits that can are kept.
func TestFollowChecks(t *testing.T) {
	fs := ruleFollows(`\b((?:hvs\.[\w-]{90,120}|s\.(?i:[a-z0-9]{24})))(?:[\x60'"\s;]|\\[nr]|$)`, []string{"hvs.", "s."})
	if len(fs) != 2 {
		t.Fatalf("follows = %+v, want hvs. and s.", fs)
	}
	check := func(text, kw string, want bool) {
		t.Helper()
		buf := []byte(text)
		lower := []byte(strings.ToLower(text))
		at := strings.Index(string(lower), kw)
		if got := anyFollow(fs, buf, lower, kw, at); got != want {
			t.Errorf("%q at %q: allowed=%v, want %v", kw, text, got, want)
		}
	}
	check("x := s.Field(1)", "s.", false)
	check("VAULT_TOKEN=s.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf", "s.", true)
	check("t=hvs."+strings.Repeat("a", 95), "s.", true) // "s." inside "hvs." checked as hvs.
	check("t=hvs.short; more text follows", "hvs.", false)
	check("end s.Zr7Q", "s.", true) // too close to the end to tell: kept

	// Optional parts, then a required byte: gitleaks' semi-generic shape.
	gen := ruleFollows(`(?i)[\w.-]{0,50}?(?:key|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:{1,3}=|,)([a-z]{10})`, []string{"key", "token"})
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
		buf := []byte(text)
		lower := []byte(strings.ToLower(text))
		at := strings.Index(string(lower), "key")
		if got := anyFollow(gen, buf, lower, "key", at); got != want {
			t.Errorf("generic %q: allowed=%v, want %v", text, got, want)
		}
	}
	if ruleFollows(`(?i)(?:key|token)\s*`, []string{"key", "token"}) != nil {
		t.Error("a rule with nothing required after its keyword got follow checks")
	}
}

func TestASCIILower(t *testing.T) {
	src := make([]byte, 1000)
	for i := range src {
		src[i] = byte(i*7 + i/256)
	}
	for _, n := range []int{0, 1, 7, 8, 9, 255, 256, 999, 1000} {
		got := make([]byte, n)
		asciiLower(got, src[:n])
		for i, c := range src[:n] {
			if got[i] != lowerTable[c] {
				t.Fatalf("n=%d: byte %d: %#x -> %#x, want %#x", n, i, c, got[i], lowerTable[c])
			}
		}
	}
}
