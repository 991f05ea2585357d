package policy

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp/syntax"
	"runtime"
	"strings"
	"testing"

	"github.com/coregx/ahocorasick"

	"github.com/safebuild/safebuild/policy/internal/kwset"
)

// TestDefaultRuleKeywordsReachable checks that every default rule with keywords gets its spans:
// each keyword of each rule, embedded in text, makes the automaton report it.
func TestDefaultRuleKeywordsReachable(t *testing.T) {
	rs := defaultRules(t)
	for i, k := range rs.keywords {
		text := []byte("xx " + strings.ToUpper(k[:1]) + k[1:] + " yy")
		found := false
		for _, m := range rs.ac.Find(text, nil) {
			if int(m.Keyword) == i {
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
	fs := ruleFollows(mustParse(t, `\b((?:hvs\.[\w-]{90,120}|s\.(?i:[a-z0-9]{24})))(?:[\x60'"\s;]|\\[nr]|$)`), []string{"hvs.", "s."})
	if len(fs) != 2 {
		t.Fatalf("follows = %+v, want hvs. and s.", fs)
	}
	check := func(text, kw string, want bool) {
		t.Helper()
		at := strings.Index(strings.ToLower(text), kw)
		if got := anyFollow(fs, []byte(text), kw, at); got != want {
			t.Errorf("%q at %q: allowed=%v, want %v", kw, text, got, want)
		}
	}
	check("x := s.Field(1)", "s.", false)
	check("VAULT_TOKEN=s.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf", "s.", true)
	check("t=hvs."+strings.Repeat("a", 95), "s.", true) // "s." inside "hvs." checked as hvs.
	check("t=hvs.short; more text follows", "hvs.", false)
	check("end s.Zr7Q", "s.", true) // too close to the end to tell: kept

	// Optional parts, then a required byte: gitleaks' semi-generic shape.
	gen := ruleFollows(mustParse(t, `(?i)[\w.-]{0,50}?(?:key|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:{1,3}=|,)([a-z]{10})`), []string{"key", "token"})
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
		if got := anyFollow(gen, []byte(text), "key", at); got != want {
			t.Errorf("generic %q: allowed=%v, want %v", text, got, want)
		}
	}
	if ruleFollows(mustParse(t, `(?i)(?:key|token)\s*`), []string{"key", "token"}) != nil {
		t.Error("a rule with nothing required after its keyword got follow checks")
	}
}

// BenchmarkKeywordSet runs the keyword pass over Go's source tree read into memory, with the
// default rules' keywords: kwset.Set on the raw text, and for comparison the library it replaced
// (github.com/coregx/ahocorasick, overlapping matches) on a lower-cased copy, as the engine used it.
func BenchmarkKeywordSet(b *testing.B) {
	rs := defaultRules(b)
	corpus := readCorpus(b, 32<<20)
	b.Run("keywordSet", func(b *testing.B) {
		b.SetBytes(int64(len(corpus)))
		var hits []kwset.Hit
		for b.Loop() {
			hits = rs.ac.Find(corpus, hits[:0])
		}
		b.ReportMetric(float64(len(hits)), "hits")
	})
	b.Run("coregx-lowercased", func(b *testing.B) {
		ac, err := ahocorasick.NewBuilder().AddStrings(rs.keywords).Build()
		if err != nil {
			b.Fatal(err)
		}
		lower := make([]byte, len(corpus))
		b.SetBytes(int64(len(corpus)))
		n := 0
		for b.Loop() {
			for i, c := range corpus {
				lower[i] = kwset.Lower[c]
			}
			n = len(ac.FindAllOverlapping(lower))
		}
		b.ReportMetric(float64(n), "hits")
	})
}

// readCorpus reads up to limit bytes of text files under GOROOT/src.
func readCorpus(b *testing.B, limit int) []byte {
	root := filepath.Join(runtime.GOROOT(), "src")
	var corpus []byte
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(corpus) >= limit {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil && !bytes.Contains(data[:min(len(data), 8192)], []byte{0}) {
			corpus = append(corpus, data...)
		}
		return nil
	})
	if err != nil || len(corpus) == 0 {
		b.Skipf("no corpus under %s: %v", root, err)
	}
	return corpus
}

func mustParse(t testing.TB, expr string) *syntax.Regexp {
	t.Helper()
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
