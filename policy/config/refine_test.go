package config

import (
	"slices"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// TestGitleaksRefinements: each refined gitleaks rule still fires on its Matches, and no longer
// fires on its NonMatches, which gitleaks' own detector does fire on (so each is a false alarm
// of gitleaks' that the refinement removes, not a sample that never fired).
func TestGitleaksRefinements(t *testing.T) {
	s := newTestScanner(t)
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range GitleaksRefinements() {
		t.Run(ref.RuleID, func(t *testing.T) {
			if len(ref.Matches) == 0 || len(ref.NonMatches) == 0 {
				t.Fatal("a refinement needs samples it keeps and samples it drops")
			}
			for _, smp := range ref.Matches {
				if fs := scanText(t, s, smp.Path, smp.Content); !hasRule(fs, ref.RuleID) {
					t.Errorf("refined rule does not fire on %q (findings %v)", smp.Content, ruleIDs(fs))
				}
			}
			for _, smp := range ref.NonMatches {
				if fs := scanText(t, s, smp.Path, smp.Content); hasRule(fs, ref.RuleID) {
					t.Errorf("refined rule fires on %q", smp.Content)
				}
				var theirs []string
				for _, f := range gl.DetectString(smp.Content) {
					theirs = append(theirs, f.RuleID)
				}
				if !slices.Contains(theirs, ref.RuleID) {
					t.Errorf("gitleaks does not fire %s on %q either (found %v): not a refinement's sample", ref.RuleID, smp.Content, theirs)
				}
			}
		})
	}
}
