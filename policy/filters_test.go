package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSecretFilters checks every filter on its samples.
func TestSecretFilters(t *testing.T) {
	for _, f := range secretFilters {
		if len(f.Matches) == 0 || len(f.NonMatches) == 0 || f.Description == "" {
			t.Errorf("filter %s needs a description and samples of both kinds", f.Name)
		}
		for _, m := range f.Matches {
			if !f.Match([]byte(m)) {
				t.Errorf("filter %s does not match %q", f.Name, m)
			}
		}
		for _, m := range f.NonMatches {
			if f.Match([]byte(m)) {
				t.Errorf("filter %s matches %q", f.Name, m)
			}
		}
	}
}

// TestFilterUnknown: an allowlist naming no filter is refused with the names accepted.
func TestFilterUnknown(t *testing.T) {
	_, err := NewRuleset([]Rule{{ID: "r", Regex: "x", Allowlists: []Allowlist{{Filters: []string{"uuid"}}}}}, nil)
	if err == nil {
		t.Fatal("unknown filter accepted")
	}
	if want := "identifier, base64-text"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not list %q", err, want)
	}
}

// TestSecretFiltersRandom bounds the recall the filters cost on random secrets: random base-62
// and base-64 strings, as generated tokens and keys are, almost never read as words or as
// base64 of text (measured: 0.4% at 10 characters, 0.1% at 16, none from 32).
func TestSecretFiltersRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 20000
	for _, tc := range []struct {
		length int
		max    float64 // fraction
	}{{10, 0.008}, {16, 0.002}, {24, 0.0005}, {40, 0.0001}} {
		for _, alpha := range []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"} {
			hits := 0
			b := make([]byte, tc.length)
			for range n {
				for i := range b {
					b[i] = alpha[rng.IntN(len(alpha))]
				}
				if isIdentifier(b) || isBase64Text(b) {
					hits++
				}
			}
			if got := float64(hits) / n; got > tc.max {
				t.Errorf("length %d, alphabet of %d: the filters match %.3f%% of random strings, want at most %.3f%%", tc.length, len(alpha), 100*got, 100*tc.max)
			}
		}
	}
}
