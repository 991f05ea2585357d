package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigExtendDefault(t *testing.T) {
	rs, err := LoadConfigFile("testdata/config/extend-default.toml")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]Rule{}
	for _, r := range rs.Rules() {
		rules[r.ID] = r
	}
	if _, ok := rules["generic-api-key"]; ok {
		t.Error("disabledRules: generic-api-key still loaded")
	}
	if r, ok := rules["acme-token"]; !ok || r.Severity != SeverityCritical || r.SecretGroup != 1 {
		t.Errorf("acme-token = %+v", r)
	}
	if r := rules["github-pat"]; r.Entropy != 1.0 || r.Regex == "" {
		t.Errorf("github-pat override: entropy %v regex %q (want 1.0 and the default regex kept)", r.Entropy, r.Regex)
	}
	if _, ok := rules["private-key-header"]; !ok {
		t.Error("useDefault does not include safebuild's build rules")
	}
	s := newTestScanner(t, WithRules(rs))
	cases := []struct {
		path, content string
		want          bool
	}{
		{"app/x.go", "tok := \"acme_abcdefghijklmnopqrstuvwx\"", true},
		{"app/x.go", "tok := \"acme_abcdefghijklmnopqrstuvwx\" // ACME_EXAMPLE", false}, // rule allowlist, target line
		{"app/x.go", "tok := \"acme_deadbeefghijklmnopqrstuv\"", false},                 // targetRules stopword
		{"fixtures/x.go", "tok := \"acme_abcdefghijklmnopqrstuvwx\"", false},            // global path allowlist
	}
	for _, c := range cases {
		if got := hasRule(scanText(t, s, c.path, c.content), "acme-token"); got != c.want {
			t.Errorf("%s %q: fired=%v, want %v", c.path, c.content, got, c.want)
		}
	}
}

func TestLoadConfigExtendPath(t *testing.T) {
	rs, err := LoadConfigFile("testdata/config/extend-path.toml")
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Join(ruleIDsOf(rs), " ")
	for _, id := range []string{"acme-legacy", "acme-token", "aws-access-token"} {
		if !strings.Contains(ids, id) {
			t.Errorf("extend path: %s missing", id)
		}
	}
}

func ruleIDsOf(rs *Ruleset) []string {
	var ids []string
	for _, r := range rs.Rules() {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestLoadConfigInvalid(t *testing.T) {
	want := map[string][]string{
		"bad-regex.toml":           {`rule "broken"`, "regex", "(unclosed"},
		"bad-target.toml":          {`rule "t"`, "regexTarget", "everything", "secret, match, line"},
		"bad-group.toml":           {`rule "g"`, "secretGroup", "0..2"},
		"both-extends.toml":        {"path and useDefault"},
		"empty-allowlist.toml":     {`rule "e"`, "at least one of"},
		"unknown-target-rule.toml": {"targetRules", `"nope"`},
		"syntax.toml":              {"line 1"},
	}
	files, _ := filepath.Glob("testdata/config/invalid/*.toml")
	if len(files) != len(want) {
		t.Errorf("%d invalid configs, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := LoadConfigFile(f)
		if err == nil {
			t.Errorf("%s: accepted", f)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %T is not a *ConfigError", f, err)
		}
		for _, w := range want[filepath.Base(f)] {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", f, err, w)
			}
		}
	}
}

func TestDefaultConfigRoundTrip(t *testing.T) {
	// The gitleaks default config loads through the same path as users' configs.
	data, err := os.ReadFile("testdata/config/extend-default.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(strings.NewReader(string(data)), "inline"); err != nil {
		t.Fatal(err)
	}
}
