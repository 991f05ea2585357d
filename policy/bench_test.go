package policy

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkScanGoroot scans Go's own source tree (the integration/bench corpus) with the default
// rules: b.SetBytes makes `go test -bench` print MB/s.
func BenchmarkScanGoroot(b *testing.B) {
	root := filepath.Join(runtime.GOROOT(), "src")
	if _, err := os.Stat(root); err != nil {
		b.Skip("no GOROOT/src")
	}
	s, err := NewScanner()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		st, err := s.Scan(context.Background(), &FS{Root: root}, func(Finding) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Bytes)
		b.ReportMetric(float64(n), "findings")
	}
}
