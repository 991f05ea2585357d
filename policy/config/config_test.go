package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gitleaks "github.com/zricethezav/gitleaks/v8/config"

	. "github.com/safebuild/safebuild/policy" // these tests moved here from policy/
)

// defaultRules returns Default's rules or stops the test.
func defaultRules(t testing.TB) *Ruleset {
	t.Helper()
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// newTestScanner returns a Scanner with the default rules and opts (a WithRules among opts wins),
// closed when the test ends.
func newTestScanner(t testing.TB, opts ...Option) *Scanner {
	t.Helper()
	s, err := NewScanner(append([]Option{WithRules(defaultRules(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestEmbeddedGitleaksConfig: gitleaks.toml is, after its header, the default config of the
// gitleaks module go.mod requires (its config.DefaultConfig) byte for byte, and the header names
// that module's version.
func TestEmbeddedGitleaksConfig(t *testing.T) {
	header, body, ok := strings.Cut(gitleaksDefault, "\n\n")
	if !ok || !strings.HasPrefix(header, "# safebuild:") {
		t.Fatalf("gitleaks.toml does not start with safebuild's header (then a blank line)")
	}
	if body != gitleaks.DefaultConfig {
		t.Errorf("gitleaks.toml (%d bytes after the header) differs from the module's config.DefaultConfig (%d bytes): copy the module's config/gitleaks.toml after the header", len(body), len(gitleaks.DefaultConfig))
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	const mod = "\tgithub.com/zricethezav/gitleaks/v8 "
	i := strings.Index(string(gomod), mod)
	if i < 0 {
		t.Fatal("go.mod does not require github.com/zricethezav/gitleaks/v8")
	}
	version, _, _ := strings.Cut(string(gomod[i+len(mod):]), "\n")
	if !strings.Contains(header, " "+version+",") {
		t.Errorf("gitleaks.toml's header does not name the version go.mod requires, %s:\n%s", version, header)
	}
}

func TestLoadConfigExtendDefault(t *testing.T) {
	rs, err := LoadFile("testdata/extend-default.toml")
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
	rs, err := LoadFile("testdata/extend-path.toml")
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
		"unknown-required.toml":    {`rule "c"`, "required[0].id", `"missing-rule"`, "no such rule"},
		"negative-within.toml":     {`rule "c"`, "required[0].withinLines", "-1"},
	}
	files, _ := filepath.Glob("testdata/invalid/*.toml")
	if len(files) != len(want) {
		t.Errorf("%d invalid configs, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := LoadFile(f)
		if err == nil {
			t.Errorf("%s: accepted", f)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: %T is not a *config.Error", f, err)
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
	data, err := os.ReadFile("testdata/extend-default.toml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(strings.NewReader(string(data)), "inline"); err != nil {
		t.Fatal(err)
	}
}

// TestCompositeRules: gitleaks' [[rules.required]] and skipReport. gitleaks' own composite test
// (its config unchanged, its fragment and expectations), then distances, and a required rule
// that is missing or too far.
func TestCompositeRules(t *testing.T) {
	rs, err := LoadFile("testdata/composite.toml")
	if err != nil {
		t.Fatal(err)
	}
	s := newTestScanner(t, WithRules(rs))
	// gitleaks detect_test.go "fragment level composite": one finding, primary-rule, with the
	// required username-rule 4 lines above; username-rule (skipReport) not reported on its own.
	// (gitleaks' in-memory fragment test counts the leading newline's line as 0: its 5 and 1
	// are lines 6 and 2 here, as they are for gitleaks scanning a file.)
	fs := scanText(t, s, "", "\nusername = \"admin\"\n\n\n\n\t\t\tpassword = \"secret123\"\n")
	if len(fs) != 1 || fs[0].RuleID != "primary-rule" || fs[0].Line != 6 || fs[0].Column != 4 {
		t.Fatalf("findings %+v, want primary-rule at 6:4", fs)
	}
	if r := fs[0].Required; len(r) != 1 || r[0].RuleID != "username-rule" || r[0].Line != 2 {
		t.Errorf("required %+v, want username-rule at line 2", r)
	}
	if fs := scanText(t, s, "", "password = \"secret123\"\n"); len(fs) != 0 {
		t.Errorf("without its required rule: %v", ruleIDs(fs))
	}

	rs, err = LoadFile("testdata/composite-near.toml")
	if err != nil {
		t.Fatal(err)
	}
	s = newTestScanner(t, WithRules(rs))
	const id, key = "AKIAZ7Q4ERTY5UIOP3AS", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKY"
	for _, c := range []struct {
		name, text string
		rule       string
		want       bool
	}{
		{"pair within 2 lines", "id = " + id + "\nregion = x\naws_secret_access_key = " + key + "\n", "aws-key-pair", true},
		{"pair 4 lines apart", "id = " + id + "\n\n\n\naws_secret_access_key = " + key + "\n", "aws-key-pair", false},
		{"no secret key", "id = " + id + "\n", "aws-key-pair", false},
		{"host on the line", "DB_HOST=db.internal DB_PASS=Zq8#kLm2vR\n", "db-password", true},
		{"host on the next line", "DB_HOST=db.internal\nDB_PASS=Zq8#kLm2vR\n", "db-password", false},
		{"host too far right", "DB_PASS=Zq8#kLm2vR" + strings.Repeat(" ", 60) + "DB_HOST=db.internal\n", "db-password", false},
	} {
		fs := scanText(t, s, "app/.env", c.text)
		if got := hasRule(fs, c.rule); got != c.want {
			t.Errorf("%s: %s fired=%v, want %v (%v)", c.name, c.rule, got, c.want, ruleIDs(fs))
		}
		if hasRule(fs, "aws-secret-key") || hasRule(fs, "db-host") {
			t.Errorf("%s: a skipReport rule was reported: %v", c.name, ruleIDs(fs))
		}
	}
}

// TestConfigConfidence: a TOML rule sets its confidence, and an override of a default rule
// changes it.
func TestConfigConfidence(t *testing.T) {
	cfg := `
[extend]
useDefault = true

[[rules]]
id = "generic-api-key"
confidence = "low"

[[rules]]
id = "corp-token"
regex = '''corp_[a-z0-9]{20}'''
keywords = ["corp_"]
`
	rs, err := Load(strings.NewReader(cfg), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules() {
		switch r.ID {
		case "generic-api-key":
			if r.Confidence != ConfidenceLow {
				t.Errorf("generic-api-key override: %s, want low", r.Confidence)
			}
		case "corp-token":
			if r.Confidence != ConfidenceHigh {
				t.Errorf("corp-token: %s, want high (fixed prefix corp_)", r.Confidence)
			}
		}
	}
	if _, err := Load(strings.NewReader("[[rules]]\nid = \"x\"\nregex = 'x'\nconfidence = \"sure\"\n"), "bad.toml"); err == nil || !strings.Contains(err.Error(), "confidence") {
		t.Errorf("confidence = sure accepted or unnamed: %v", err)
	}
}

// FuzzLoadConfig feeds arbitrary TOML to the config loader: it must return an error or a ruleset
// that scans without panicking.
func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("[[rules]]\nid = \"a\"\nregex = '''a-[0-9]+'''\nkeywords = [\"a-\"]\n"))
	f.Add([]byte("[extend]\nuseDefault = true\n[[allowlists]]\nregexes = ['''x''']\n"))
	f.Add([]byte("[[rules]]\nid = \"p\"\npath = '''\\.pem$'''\n[[rules.allowlists]]\ncondition = \"AND\"\npaths = ['''x''']\nstopwords = [\"y\"]\n"))
	f.Add([]byte("[[rules]]\nid = \"c\"\nregex = 'token=(\\w+)'\n[[rules.required]]\nid = \"u\"\nwithinLines = 1\n[[rules]]\nid = \"u\"\nregex = 'a-\\d'\nskipReport = true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Load(bytes.NewReader(data), "fuzz.toml")
		if err != nil {
			return
		}
		s, err := NewScanner(WithRules(rs))
		if err != nil {
			t.Fatal(err)
		}
		scanText(t, s, "x.pem", "a-123 token=abcdef0123456789 -----BEGIN PRIVATE KEY-----\n")
	})
}
