package policy

import "testing"

func TestSecretVarNameSamples(t *testing.T) {
	r := SecretVarName
	for _, n := range r.Match {
		if !r.Matches(n) {
			t.Errorf("%s: %q should match", r.ID, n)
		}
	}
	for _, n := range r.NoMatch {
		if r.Matches(n) {
			t.Errorf("%s: %q should not match", r.ID, n)
		}
	}
}
