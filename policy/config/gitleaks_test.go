package config

import (
	"math/rand/v2"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/zricethezav/gitleaks/v8/detect"

	. "github.com/safebuild/safebuild/policy" // these tests moved here from policy/
)

// gitleaksSamples are true and false positives for the gitleaks rules that matter most in
// images, in the style of gitleaks' own rule generators (which keep their samples in Go code, not
// in the TOML this package loads). Values are fake but have the right shape.
var gitleaksSamples = []struct {
	rule    string
	content string
	match   bool
}{
	{"aws-access-token", `aws_access_key_id = AKIAQ3EGRTW7LYN5S7DX`, true},
	{"aws-access-token", `aws_access_key_id = AKIAIOSFODNN7EXAMPLE`, false}, // AWS's documented example
	{"github-pat", `GITHUB_TOKEN=ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x`, true},
	{"github-pat", `GITHUB_TOKEN=ghp_short`, false},
	{"gitlab-pat", `CI_TOKEN: glpat-7pX2kQ9mVn4RtY8wZs3L`, true},
	{"slack-bot-token", `SLACK=xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx`, true},
	{"stripe-access-token", `stripe.api_key = "sk_live_51HxQ2vLp7wZr4Tb8Nc1Wd6Ys0"`, true},
	{"stripe-access-token", `stripe.api_key = "sk_test_"`, false},
	{"npm-access-token", `//registry.npmjs.org/:_authToken=npm_q8Xb2kLmN4pR7sT1vW3yZ5aC9dE0fG6hJ2kL`, true},
	{"private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----", true},
	{"private-key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRge\n-----END PUBLIC KEY-----", false},
	{"jwt", `Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`, true},
	{"generic-api-key", `api_key = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2"`, true},
	{"generic-api-key", `api_key = "${API_KEY}"`, false},
	{"generic-api-key", `key := "some-identifier-name"`, false},
	{"generic-api-key", "my_\u212aey = \"Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2\"", true}, // a Kelvin sign for the k: gitleaks finds it too
	{"gcp-api-key", `GOOGLE_API_KEY=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q`, true},
	{"vault-service-token", `VAULT_TOKEN=hvs.CAESIJ4kq2Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9MqGh4KHGh2cy5XWnI3UXAyTHg5Vm00VGI4TmMxV2Q2WXMwSGY1SnUyR2E3S2U5TXE`, true},
}

// TestGitleaksSamples checks the samples against safebuild, and checks that gitleaks' own
// detector (the module's detect package, default config) agrees on every rule ID found: the
// engine is a reimplementation and must not drift from it.
func TestGitleaksSamples(t *testing.T) {
	s := newTestScanner(t)
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gitleaksSamples {
		fs := scanText(t, s, "app/config.txt", c.content)
		if got := hasRule(fs, c.rule); got != c.match {
			t.Errorf("%s on %q: fired=%v, want %v (findings %v)", c.rule, c.content, got, c.match, ruleIDs(fs))
		}
		var ours, theirs []string
		for _, f := range fs {
			if !strings.Contains(strings.Join(f.Tags, " "), "build") {
				ours = append(ours, f.RuleID)
			}
		}
		for _, f := range gl.DetectString(c.content) {
			theirs = append(theirs, f.RuleID)
		}
		sort.Strings(ours)
		sort.Strings(theirs)
		if strings.Join(ours, ",") != strings.Join(theirs, ",") {
			t.Errorf("%q: safebuild found %v, gitleaks %v", c.content, ours, theirs)
		}
	}
}

// TestEveryGitleaksRuleSamples gives every gitleaks default rule generated samples: strings its
// own regex generates (genMatch), and mutations of them (cut short, letters and digits replaced).
// Each sample is scanned by safebuild and by gitleaks' own detector (decoding off on both, which
// decode differently), and the two must report the same rules. Each rule must get at least one
// sample it fires on and one it does not.
func TestEveryGitleaksRuleSamples(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	s := newTestScanner(t, WithDecodeDepth(0))
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	gl.MaxDecodeDepth = 0
	rng := rand.New(rand.NewPCG(9, 10))
	attempts := 30
	if testing.Short() {
		attempts = 8
	}
	var noMatch, noNonMatch []string
	rules := 0
	for _, r := range rs.Rules() {
		if r.Regex == "" || slices.Contains(r.Tags, "build") {
			continue
		}
		rules++
		tree, err := syntax.Parse(r.Regex, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		path := "sample.txt"
		if r.Path != "" {
			pt, err := syntax.Parse(r.Path, syntax.Perl)
			if err != nil {
				t.Fatal(err)
			}
			path = "app/" + strings.TrimLeft(genMatch(pt, rng), "/")
		}
		match, nonMatch := false, false
		for range attempts {
			if match && nonMatch {
				break
			}
			m := genMatch(tree, rng)
			// Some rules' keywords are context, not part of the match (facebook, airtable).
			kw := ""
			if len(r.Keywords) > 0 {
				kw = r.Keywords[rng.IntN(len(r.Keywords))]
			}
			for _, sample := range []string{m, kw + " = " + m, m[:len(m)/2], xify(m)} {
				text := sample + "\n"
				var ours, theirs []string
				for _, f := range scanText(t, s, path, text) {
					if !slices.Contains(f.Tags, "build") {
						ours = append(ours, f.RuleID)
					}
				}
				for _, f := range gl.Detect(detect.Fragment{Raw: text, FilePath: path}) {
					theirs = append(theirs, f.RuleID)
				}
				slices.Sort(ours)
				slices.Sort(theirs)
				if !slices.Equal(ours, theirs) {
					t.Errorf("%s sample %q: safebuild found %v, gitleaks %v", r.ID, text, ours, theirs)
				}
				if slices.Contains(theirs, r.ID) {
					match = true
				} else {
					nonMatch = true
				}
			}
		}
		if !match {
			noMatch = append(noMatch, r.ID)
		}
		if !nonMatch {
			noNonMatch = append(noNonMatch, r.ID)
		}
	}
	if len(noMatch)+len(noNonMatch) > 0 {
		t.Errorf("%d gitleaks rules; no sample found that fires for %v; none that does not fire for %v", rules, noMatch, noNonMatch)
	}
	if rules < 200 {
		t.Errorf("%d gitleaks rules, want the ~220 of the default config", rules)
	}
}

// genMatch returns a string re matches (most of the time: assertions such as \b are not
// arranged for), choosing branches, repetition counts and characters at random, printable ASCII
// where the regex allows it.
func genMatch(re *syntax.Regexp, rng *rand.Rand) string {
	var b strings.Builder
	var gen func(re *syntax.Regexp)
	repeat := func(sub *syntax.Regexp, lo, hi int) {
		if hi < 0 {
			hi = lo + 4
		}
		n := lo
		if hi > lo {
			n += rng.IntN(min(hi-lo, 12) + 1)
		}
		for range n {
			gen(sub)
		}
	}
	gen = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			for _, r := range re.Rune {
				if re.Flags&syntax.FoldCase != 0 && r < 0x80 && rng.IntN(2) == 0 {
					r = unicode.SimpleFold(r)
					if r >= 0x80 {
						r = unicode.SimpleFold(r)
					}
				}
				b.WriteRune(r)
			}
		case syntax.OpCharClass:
			b.WriteRune(pickRune(re.Rune, rng))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			if rng.IntN(2) == 0 {
				b.WriteByte('.') // mostly an unescaped dot in a host name
			} else {
				b.WriteByte(byte(0x21 + rng.IntN(0x5e)))
			}
		case syntax.OpCapture:
			gen(re.Sub[0])
		case syntax.OpStar:
			repeat(re.Sub[0], 0, -1)
		case syntax.OpPlus:
			repeat(re.Sub[0], 1, -1)
		case syntax.OpQuest:
			repeat(re.Sub[0], 0, 1)
		case syntax.OpRepeat:
			repeat(re.Sub[0], re.Min, re.Max)
		case syntax.OpConcat:
			for _, sub := range re.Sub {
				gen(sub)
			}
		case syntax.OpAlternate:
			gen(re.Sub[rng.IntN(len(re.Sub))])
		}
	}
	gen(re)
	return b.String()
}

// pickRune picks a rune from class ranges, printable ASCII when the class has any.
func pickRune(class []rune, rng *rand.Rand) rune {
	var ascii []rune
	for i := 0; i+1 < len(class); i += 2 {
		lo, hi := max(class[i], 0x21), min(class[i+1], 0x7e)
		if lo <= hi {
			ascii = append(ascii, lo, hi)
		}
	}
	if len(ascii) == 0 {
		if len(class) == 0 {
			return 'x'
		}
		ascii = class[:2]
	}
	i := 2 * rng.IntN(len(ascii)/2)
	return ascii[i] + rune(rng.IntN(int(ascii[i+1]-ascii[i])+1))
}

// xify replaces the letters and digits of the second half of s with 'x': a low-entropy or
// malformed secret after the same prefix.
func xify(s string) string {
	b := []byte(s)
	for i := len(b) / 2; i < len(b); i++ {
		if c := b[i] | 0x20; 'a' <= c && c <= 'z' || '0' <= b[i] && b[i] <= '9' {
			b[i] = 'x'
		}
	}
	return string(b)
}
