package policy

import (
	"context"
	"strings"
	"testing"
)

// testDefaultRules gives this package's tests the default rules. Package policy/config owns them
// and imports policy, so tests inside the package cannot import it; TestMain (main_test.go, in
// the external test package) hands config.Default in through SetTestDefaultRules.
var testDefaultRules func() (*Ruleset, error)

// SetTestDefaultRules sets what defaultRules returns; only this package's TestMain calls it.
func SetTestDefaultRules(f func() (*Ruleset, error)) { testDefaultRules = f }

// defaultRules returns the default rules (config.Default) or stops the test.
func defaultRules(t testing.TB) *Ruleset {
	t.Helper()
	if testDefaultRules == nil {
		t.Fatal("no default rules: TestMain (main_test.go) did not run")
	}
	rs, err := testDefaultRules()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// scanText scans one sample and returns its findings.
func scanText(t testing.TB, s *Scanner, path, content string) []Finding {
	t.Helper()
	if path == "" {
		path = "sample.txt"
	}
	var out []Finding
	_, err := s.ScanReader(context.Background(), Origin{Kind: OriginFile, Path: path}, strings.NewReader(content),
		func(f Finding) error { out = append(out, f); return nil })
	if err != nil {
		t.Fatalf("scanning %s: %v", path, err)
	}
	return out
}

func hasRule(fs []Finding, id string) bool {
	for _, f := range fs {
		if f.RuleID == id {
			return true
		}
	}
	return false
}

func ruleIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}
