package policy

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/safebuild/safebuild/policy/archive"
)

// countingReaderAt counts the bytes read from an archive, at random or in sequence.
type countingReaderAt struct {
	*bytes.Reader
	n *atomic.Int64
}

func (c countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.Reader.ReadAt(b, off)
	c.n.Add(int64(n))
	return n, err
}

func (c countingReaderAt) Read(b []byte) (int, error) {
	n, err := c.Reader.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// TestArchiveMemo: the same archive bytes at a second path are not walked again when every
// member is judged alike there; the findings come under the new path with their own
// fingerprints and the ignore list applied at the new path. Judged differently, it is walked.
func TestArchiveMemo(t *testing.T) {
	rs, err := NewRuleset([]Rule{
		{ID: "any-token", Regex: `SECRET=(\w{20,})`, Keywords: []string{"secret"}},
		{ID: "p12-file", Path: `\.p12$`},
	}, []Allowlist{{Paths: []string{`(?:^|/)third_party/`}}})
	if err != nil {
		t.Fatal(err)
	}
	zip := zipBytes(t, map[string][]byte{"conf/app.env": []byte("SECRET=abcdefghijklmnopqrstuvwxyz\n"), "cert.p12": []byte("x")})
	s := newTestScanner(t, WithRules(rs), WithIgnore("opt/c.zip!conf/app.env:any-token:1"))
	scan := func(path string) ([]string, int64) {
		n := &atomic.Int64{}
		var got []string
		_, err := s.ScanFile(t.Context(), Origin{Kind: "layer", Path: path}, countingReaderAt{bytes.NewReader(zip), n}, archive.Options{},
			func(f Finding) error { got = append(got, f.RuleID+" "+f.Origin.Path+" "+f.Fingerprint[:6]); return nil })
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got, n.Load()
	}
	first, read1 := scan("opt/a.zip")
	second, read2 := scan("srv/b.zip")
	if len(first) != 2 || len(second) != 2 || first[0][:len("any-token")] != "any-token" || first[0][len(first[0])-6:] == second[0][len(second[0])-6:] {
		t.Errorf("first %v, second %v", first, second)
	}
	// The first window and the hash read every byte once each; a walk reads more.
	if read2 != 2*int64(len(zip)) || read1 <= read2 {
		t.Errorf("read %d then %d bytes: the second copy was walked again (window and hash alone read %d)", read1, read2, 2*len(zip))
	}
	if got, _ := scan("opt/c.zip"); len(got) != 1 || got[0][:8] != "p12-file" {
		t.Errorf("ignored at the new path: %v", got)
	}
	if got, n := scan("third_party/d.zip"); len(got) != 0 || n <= 2*int64(len(zip)) {
		t.Errorf("judged differently: %v, read %d", got, n)
	}
	// Many copies at once: each waits for the first walk, none is lost.
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var fs []Finding
			_, err := s.ScanFile(t.Context(), Origin{Kind: "layer", Path: fmt.Sprintf("copy%d/x.zip", i)}, bytes.NewReader(zipBytes(t, map[string][]byte{"k.env": []byte("SECRET=zyxwvutsrqponmlkjihgfedcba\n")})),
				archive.Options{}, func(f Finding) error { fs = append(fs, f); return nil })
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(fs)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 16 {
		t.Errorf("%d findings from 16 copies", total)
	}
}
