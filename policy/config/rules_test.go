package config

import (
	"context"
	"strings"
	"testing"

	. "github.com/safebuild/safebuild/policy" // these tests moved here from policy/
)

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

// TestDefaultRulesCompile loads gitleaks' default config plus the build rules: every rule
// compiles, IDs are unique, and the gitleaks rules are all there.
func TestDefaultRulesCompile(t *testing.T) {
	rs, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range rs.Rules() {
		ids[r.ID] = true
	}
	for _, id := range []string{"generic-api-key", "private-key", "aws-access-token", "pkcs12-file", "vault-service-token"} {
		if !ids[id] {
			t.Errorf("default rules lack gitleaks rule %q", id)
		}
	}
	if n := len(BuildRules()); rs.Len() < 200+n {
		t.Errorf("default rules: %d, want gitleaks' 222 + %d build rules", rs.Len(), n)
	}
}

// TestBuildRuleSamples checks every build rule against its own samples, scanned with the full
// default ruleset (so precedence between rules is part of the proof).
func TestBuildRuleSamples(t *testing.T) {
	s, err := NewScanner(WithRules(defaultRules(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range BuildRules() {
		t.Run(r.ID, func(t *testing.T) {
			if len(r.Matches) == 0 || len(r.NonMatches) == 0 {
				t.Fatalf("rule %s needs matching and non-matching samples", r.ID)
			}
			if r.SkipReport {
				return // proven alone (TestBuildRuleSamplesAlone): its findings are never reported
			}
			for i, smp := range r.Matches {
				fs := scanText(t, s, smp.Path, smp.Content)
				if !hasRule(fs, r.ID) && !(r.Fallback && len(fs) > 0) {
					t.Errorf("match sample %d (%s): rule did not fire; findings: %v", i, smp.Path, ruleIDs(fs))
				}
			}
			for i, smp := range r.NonMatches {
				if fs := scanText(t, s, smp.Path, smp.Content); hasRule(fs, r.ID) {
					t.Errorf("non-match sample %d (%s): rule fired", i, smp.Path)
				}
			}
		})
	}
}

// TestBuildRuleSamplesAlone checks each build rule's samples with only that rule (and the rules
// it requires) loaded, so a fallback rule is proven to fire on its own. A SkipReport rule, which
// only serves as another's requirement, is proven with SkipReport off.
func TestBuildRuleSamplesAlone(t *testing.T) {
	all := map[string]Rule{}
	for _, r := range BuildRules() {
		all[r.ID] = r
	}
	for _, r := range BuildRules() {
		t.Run(r.ID, func(t *testing.T) {
			r.SkipReport = false
			rules := []Rule{r}
			for _, q := range r.Required {
				rules = append(rules, all[q.RuleID])
			}
			rs, err := NewRuleset(rules, nil)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewScanner(WithRules(rs))
			if err != nil {
				t.Fatal(err)
			}
			for i, smp := range r.Matches {
				if fs := scanText(t, s, smp.Path, smp.Content); !hasRule(fs, r.ID) {
					t.Errorf("match sample %d (%s): rule did not fire", i, smp.Path)
				}
			}
			for i, smp := range r.NonMatches {
				if fs := scanText(t, s, smp.Path, smp.Content); hasRule(fs, r.ID) {
					t.Errorf("non-match sample %d (%s): rule fired", i, smp.Path)
				}
			}
		})
	}
}

func ruleIDs(fs []Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.RuleID)
	}
	return ids
}
