package policy

import "testing"

// BenchmarkNewScanner measures start-up: loading and compiling the default rules.
func BenchmarkNewScanner(b *testing.B) {
	for b.Loop() {
		s, err := NewScanner()
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
