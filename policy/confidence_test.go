package policy

import (
	"encoding/json"
	"regexp/syntax"
	"strings"
	"testing"
)

// TestDefaultConfidence: a rule without a Confidence gets the default of its kind.
func TestDefaultConfidence(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want Confidence
	}{
		{Rule{ID: "p12", Path: `\.p12$`}, ConfidenceLow},
		{Rule{ID: "generic-api-key", Regex: `(?i)api_?key\s*=\s*"(AKIA[A-Z0-9]{16})"`}, ConfidenceMedium},
		{Rule{ID: "github-pat", Regex: `ghp_[0-9a-zA-Z]{36}`}, ConfidenceHigh},
		{Rule{ID: "aws", Regex: `\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`}, ConfidenceHigh},
		{Rule{ID: "stripe", Regex: `\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})(?:[\x60'"\s;]|$)`}, ConfidenceHigh},
		{Rule{ID: "key", Regex: `(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY-----[\s\S-]{64,}?KEY-----`}, ConfidenceHigh},
		// keyword + a value without a prefix
		{Rule{ID: "facebook-secret", Regex: `(?i)[\w.-]{0,50}?(?:facebook)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|:)[\x60'"\s=]{0,5}([a-f0-9]{32})`}, ConfidenceMedium},
		// the secret group, not the match, decides: a fixed keyword before it is context
		{Rule{ID: "named", Regex: `password=([a-z0-9]{12})`}, ConfidenceMedium},
		{Rule{ID: "second-group", Regex: `(user)=(tok_[a-z0-9]{12})`, SecretGroup: 2}, ConfidenceHigh},
		// two fixed characters are not a provider prefix
		{Rule{ID: "jwt", Regex: `\b(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9_-]{17,})`}, ConfidenceMedium},
		// set on the rule: kept
		{Rule{ID: "p12-set", Path: `\.p12$`, Confidence: ConfidenceHigh}, ConfidenceHigh},
	} {
		rs, err := NewRuleset([]Rule{tc.rule}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.rule.ID, err)
		}
		if got := rs.Rules()[0].Confidence; got != tc.want {
			t.Errorf("%s: confidence %s, want %s", tc.rule.ID, got, tc.want)
		}
	}
	if _, err := NewRuleset([]Rule{{ID: "bad", Regex: "x", Confidence: 7}}, nil); err == nil || !strings.Contains(err.Error(), "confidence") {
		t.Errorf("confidence 7 accepted or unnamed: %v", err)
	}
}

// TestFixedPrefix pins the prefix analysis on the shapes gitleaks' rules use.
func TestFixedPrefix(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want int
	}{
		{`ghp_[0-9a-zA-Z]{36}`, 4},
		{`(?:ghp|gho)_x`, 5}, // parsed as gh[op]_x
		{`(?i)xoxb-[0-9]+`, 5},
		{`\bAKIA[A-Z]{16}`, 4},
		{`(?:hvs\.[a-z]{10}|s\.[a-z]{24})`, 2},
		{`[a-f0-9]{32}`, 0},
		{`(?:ab){2}c`, 5},
		{`x*abc`, 0},
	} {
		tree, err := syntax.Parse(tc.re, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := fixedPrefix(tree.Simplify()); got != tc.want {
			t.Errorf("fixedPrefix(%s) = %d, want %d", tc.re, got, tc.want)
		}
	}
}

// TestDefaultRulesConfidence: every default rule is graded, and the grades follow the kinds the
// README documents.
func TestDefaultRulesConfidence(t *testing.T) {
	rs := defaultRules(t)
	want := map[string]Confidence{
		"generic-api-key": ConfidenceMedium, "pkcs12-file": ConfidenceLow, "github-pat": ConfidenceHigh,
		"aws-access-token": ConfidenceHigh, "private-key": ConfidenceHigh, "npm-access-token": ConfidenceHigh,
		"private-key-header": ConfidenceHigh, "env-file-secret": ConfidenceMedium, "url-credentials": ConfidenceMedium,
	}
	n := map[Confidence]int{}
	for _, r := range rs.Rules() {
		n[r.Confidence]++
		if r.Confidence == ConfidenceUnset {
			t.Errorf("%s: no confidence", r.ID)
		}
		if w, ok := want[r.ID]; ok && r.Confidence != w {
			t.Errorf("%s: confidence %s, want %s", r.ID, r.Confidence, w)
		}
	}
	t.Logf("default rules by confidence: high %d, medium %d, low %d", n[ConfidenceHigh], n[ConfidenceMedium], n[ConfidenceLow])
}

// TestConfidenceText: names round-trip, an unset confidence counts (and encodes) as high.
func TestConfidenceText(t *testing.T) {
	for _, c := range []Confidence{ConfidenceLow, ConfidenceMedium, ConfidenceHigh} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Confidence
		if err := json.Unmarshal(b, &back); err != nil || back != c {
			t.Errorf("%s: round trip gave %s, %v", c, back, err)
		}
	}
	if b, _ := json.Marshal(ConfidenceUnset); string(b) != `"high"` {
		t.Errorf("unset encodes as %s, want \"high\"", b)
	}
	if !ConfidenceUnset.AtLeast(ConfidenceHigh) || ConfidenceLow.AtLeast(ConfidenceMedium) || !ConfidenceMedium.AtLeast(ConfidenceMedium) {
		t.Error("AtLeast is wrong")
	}
	if _, err := ParseConfidence("certain"); err == nil {
		t.Error("ParseConfidence accepted certain")
	}
	var c Confidence
	if err := json.Unmarshal([]byte(`"sure"`), &c); err == nil {
		t.Error("decoded an unknown confidence")
	}
}
