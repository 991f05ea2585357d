package policy

import "testing"

// BenchmarkNewScanner measures start-up: a Scanner over the default rules (compiled once per
// process by config.Default).
func BenchmarkNewScanner(b *testing.B) {
	rs := defaultRules(b)
	for b.Loop() {
		s, err := NewScanner(WithRules(rs))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
