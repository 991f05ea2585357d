package policy

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/coregx/ahocorasick"

	"github.com/safebuild/safebuild/policy/internal/kwset"
)

// TestDefaultRuleKeywordsReachable checks that every default rule with keywords gets its spans:
// each keyword of each rule, embedded in text, makes the automaton report it.
func TestDefaultRuleKeywordsReachable(t *testing.T) {
	rs := defaultRules(t)
	for i, k := range rs.keywords {
		text := []byte("xx " + strings.ToUpper(k[:1]) + k[1:] + " yy")
		found := false
		for _, m := range rs.ac.Find(text, nil) {
			if int(m.Keyword) == i {
				found = true
			}
		}
		if !found {
			t.Errorf("keyword %q not reported", k)
		}
	}
}

// BenchmarkKeywordSet runs the keyword pass over Go's source tree read into memory, with the
// default rules' keywords: kwset.Set on the raw text, and for comparison the library it replaced
// (github.com/coregx/ahocorasick, overlapping matches) on a lower-cased copy, as the engine used it.
func BenchmarkKeywordSet(b *testing.B) {
	rs := defaultRules(b)
	corpus := readCorpus(b, 32<<20)
	b.Run("keywordSet", func(b *testing.B) {
		b.SetBytes(int64(len(corpus)))
		var hits []kwset.Hit
		for b.Loop() {
			hits = rs.ac.Find(corpus, hits[:0])
		}
		b.ReportMetric(float64(len(hits)), "hits")
	})
	b.Run("coregx-lowercased", func(b *testing.B) {
		ac, err := ahocorasick.NewBuilder().AddStrings(rs.keywords).Build()
		if err != nil {
			b.Fatal(err)
		}
		lower := make([]byte, len(corpus))
		b.SetBytes(int64(len(corpus)))
		n := 0
		for b.Loop() {
			for i, c := range corpus {
				lower[i] = kwset.Lower[c]
			}
			n = len(ac.FindAllOverlapping(lower))
		}
		b.ReportMetric(float64(n), "hits")
	})
}

// readCorpus reads up to limit bytes of text files under GOROOT/src.
func readCorpus(b *testing.B, limit int) []byte {
	root := filepath.Join(runtime.GOROOT(), "src")
	var corpus []byte
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(corpus) >= limit {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil && !bytes.Contains(data[:min(len(data), 8192)], []byte{0}) {
			corpus = append(corpus, data...)
		}
		return nil
	})
	if err != nil || len(corpus) == 0 {
		b.Skipf("no corpus under %s: %v", root, err)
	}
	return corpus
}
