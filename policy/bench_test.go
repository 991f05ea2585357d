package policy

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/safebuild/safebuild/policy/archive"
)

// BenchmarkScanGoroot scans Go's own source tree (the integration/bench corpus) with the default
// rules: b.SetBytes makes `go test -bench` print MB/s. Archives stay closed, as in bench.sh's
// comparison with gitleaks; BenchmarkScanGorootArchives opens them (the CLI's default), which
// adds Go's compressed test data (73 MB more text).
func BenchmarkScanGoroot(b *testing.B) {
	benchGoroot(b, archive.Options{MaxDepth: -1})
}

func BenchmarkScanGorootArchives(b *testing.B) {
	benchGoroot(b, archive.Options{})
}

func benchGoroot(b *testing.B, arch archive.Options) {
	root := filepath.Join(runtime.GOROOT(), "src")
	if _, err := os.Stat(root); err != nil {
		b.Skip("no GOROOT/src")
	}
	s, err := NewScanner(WithRules(defaultRules(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		st, err := s.Scan(context.Background(), &FS{Root: root, Archives: arch}, func(Finding) error { n++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(st.Bytes)
		b.ReportMetric(float64(n), "findings")
	}
}
