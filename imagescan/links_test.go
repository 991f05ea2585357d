package imagescan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
)

// entry is one tar entry of a test layer: a file (body), or a hard link (link set).
type entry struct{ path, body, link string }

// countedLayer returns a layer of entries, in order, and a count of how often its stream is
// opened.
func countedLayer(t *testing.T, entries ...entry) (v1.Layer, *atomic.Int32) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.path, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h = &tar.Header{Name: e.path, Mode: 0o644, Linkname: e.link, Typeflag: tar.TypeLink}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	dt := buf.Bytes()
	opens := &atomic.Int32{}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		opens.Add(1)
		return io.NopCloser(bytes.NewReader(dt)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, opens
}

// linkRules: a rule that fires only at paths ending in .env, a path-only rule for .p12, and a
// global allowlist for third_party/ — three ways a path changes what is found.
func linkRules(t *testing.T, opts ...policy.Option) *policy.Scanner {
	t.Helper()
	rs, err := policy.NewRuleset([]policy.Rule{
		{ID: "env-token", Regex: `TOKEN=(\w{20,})`, Path: `\.env$`, Keywords: []string{"token"}},
		{ID: "any-token", Regex: `SECRET=(\w{20,})`, Keywords: []string{"secret"}},
		{ID: "p12-file", Path: `\.p12$`},
	}, []policy.Allowlist{{Paths: []string{`(?:^|/)third_party/`}}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.NewScanner(append([]policy.Option{policy.WithRules(rs)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

func zipOf(t *testing.T, name, body string) string {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(name)
	w.Write([]byte(body))
	zw.Close()
	return buf.String()
}

func TestHardLinks(t *testing.T) {
	const tok = "TOKEN=abcdefghijklmnopqrstuvwxyz\n"
	const sec = "SECRET=abcdefghijklmnopqrstuvwxyz\n"
	for _, tc := range []struct {
		name   string
		layers [][]entry
		want   []string // rule path layer
		opens  int32    // times the top layer's stream is opened: 1 when no bytes are read again
		notice string
	}{
		{
			name:   "target allowlisted, link not: read again under the link's path",
			layers: [][]entry{{{path: "third_party/cfg/.env", body: tok}, {path: "app/.env", link: "third_party/cfg/.env"}}},
			want:   []string{"env-token app/.env 0"},
			opens:  2,
		},
		{
			name:   "rule path matches the link only",
			layers: [][]entry{{{path: "cfg/token.txt", body: tok}, {path: "srv/.env", link: "cfg/token.txt"}}},
			want:   []string{"env-token srv/.env 0"},
			opens:  2,
		},
		{
			name:   "link allowlisted, target not",
			layers: [][]entry{{{path: "app/.env", body: tok}, {path: "third_party/x/.env", link: "app/.env"}}},
			want:   []string{"env-token app/.env 0"},
			opens:  2,
		},
		{
			name:   "judged alike: the target's findings, nothing read again",
			layers: [][]entry{{{path: "a/config", body: "x\n" + sec}, {path: "b/config", link: "a/config"}, {path: "c/config", link: "a/config"}}},
			want:   []string{"any-token a/config 0", "any-token b/config 0", "any-token c/config 0"},
			opens:  1,
		},
		{
			name:   "judged alike but the link path fires a path-only rule",
			layers: [][]entry{{{path: "a/cert.bin", body: sec}, {path: "a/cert.p12", link: "a/cert.bin"}}},
			want:   []string{"any-token a/cert.bin 0", "p12-file a/cert.p12 0", "any-token a/cert.p12 0"},
			opens:  2,
		},
		{
			name:   "several links to one allowlisted target, read once",
			layers: [][]entry{{{path: "third_party/t.env", body: tok}, {path: "app/a.env", link: "third_party/t.env"}, {path: "srv/b.env", link: "third_party/t.env"}}},
			want:   []string{"env-token app/a.env 0", "env-token srv/b.env 0"},
			opens:  2,
		},
		{
			name: "links judged differently from each other: one pass each",
			layers: [][]entry{{{path: "third_party/t", body: tok}, {path: "app/a.env", link: "third_party/t"},
				{path: "srv/b.txt", link: "third_party/t"}}},
			want:  []string{"env-token app/a.env 0"},
			opens: 3,
		},
		{
			name:   "archive target: members under the link's path",
			layers: [][]entry{{{path: "dist/release.zip", body: zipOf(t, "conf/app.env", tok)}, {path: "opt/release.pkg", link: "dist/release.zip"}}},
			want:   []string{"env-token dist/release.zip!conf/app.env 0", "env-token opt/release.pkg!conf/app.env 0"},
			opens:  2,
		},
		{
			name:   "target in a lower layer",
			layers: [][]entry{{{path: "third_party/x.env", body: tok}}, {{path: "app/.env", link: "third_party/x.env"}}},
			want:   []string{"env-token app/.env 1"},
			opens:  1,
		},
		{
			name:   "target nowhere: a notice",
			layers: [][]entry{{{path: "app/.env", link: "gone/.env"}}},
			opens:  1,
			notice: "layer 0 (sha256:",
		},
		{
			name:   "target only after the link: a notice",
			layers: [][]entry{{{path: "app/.env", link: "later/.env"}, {path: "later/.env", body: tok}}},
			want:   []string{"env-token later/.env 0"},
			opens:  1,
			notice: "app/.env is a hard link to later/.env",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := linkRules(t)
			var adds []mutate.Addendum
			var opens *atomic.Int32
			for _, es := range tc.layers {
				var l v1.Layer
				l, opens = countedLayer(t, es...)
				adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "COPY . /"}})
			}
			got, notices := scanLinks(t, sc, adds, func() { opens.Store(0) })
			if !slices.Equal(got, tc.want) {
				t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if n := opens.Load(); n != tc.opens {
				t.Errorf("top layer opened %d times, want %d", n, tc.opens)
			}
			if tc.notice == "" && len(notices) > 0 || tc.notice != "" && (len(notices) != 1 || !strings.Contains(notices[0], tc.notice)) {
				t.Errorf("notices %q, want one holding %q", notices, tc.notice)
			}
		})
	}
}

// TestHardLinkIgnoreAndFingerprint: a finding re-used for a link has the link's own fingerprint,
// and the ignore list judges it at the link's path.
func TestHardLinkIgnoreAndFingerprint(t *testing.T) {
	const sec = "SECRET=abcdefghijklmnopqrstuvwxyz\n"
	l, _ := countedLayer(t, entry{path: "a/config", body: sec}, entry{path: "b/config", link: "a/config"}, entry{path: "c/config", link: "a/config"})
	adds := []mutate.Addendum{{Layer: l, History: v1.History{CreatedBy: "COPY . /"}}}
	var fps []string
	for _, f := range scanFindings(t, linkRules(t), adds, nil, nil) {
		fps = append(fps, f.Fingerprint)
	}
	if slices.Sort(fps); len(slices.Compact(fps)) != 3 {
		t.Errorf("fingerprints %v: want three distinct", fps)
	}
	got, _ := scanLinks(t, linkRules(t, policy.WithIgnore("b/config:any-token:1")), adds, nil)
	if !slices.Equal(got, []string{"any-token a/config 0", "any-token c/config 0"}) {
		t.Errorf("with b/config ignored: %v", got)
	}
}

func scanLinks(t *testing.T, sc *policy.Scanner, adds []mutate.Addendum, reset func()) ([]string, []string) {
	t.Helper()
	var (
		mu      sync.Mutex
		notices []string
	)
	var got []string
	for _, f := range scanFindings(t, sc, adds, func(s string) { mu.Lock(); notices = append(notices, s); mu.Unlock() }, reset) {
		got = append(got, f.RuleID+" "+f.Origin.Path+" "+string(rune('0'+f.Layer.Index)))
	}
	return got, notices
}

func scanFindings(t *testing.T, sc *policy.Scanner, adds []mutate.Addendum, notice func(string), reset func()) []Finding {
	t.Helper()
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	if reset != nil {
		// Digests are computed once, from the streams, before the scan.
		ls, _ := img.Layers()
		for _, l := range ls {
			l.Digest()
			l.DiffID()
			l.Size()
		}
		reset()
	}
	var got []Finding
	_, problems, notices, err := scanImage(context.Background(), sc, image.FromV1(img, "test"), Options{},
		func(f Finding) error { got = append(got, f); return nil })
	if err != nil || len(problems) > 0 {
		t.Fatal(err, problems)
	}
	for _, n := range notices {
		if notice == nil || n.Layer == nil {
			t.Errorf("notice %+v", n)
			continue
		}
		notice(n.Message)
	}
	return got
}

// BenchmarkHardLinks: a layer of 2,000 small files, each with a hard link. Judged alike (the
// common case: links next to their targets) the links cost a path hash per file and a
// relocation per finding; judged differently (targets under an allowlisted path) the layer is
// read a second time. "none" is the same layer without links.
func BenchmarkHardLinks(b *testing.B) {
	const n = 2000
	body := strings.Repeat("some ordinary configuration text\n", 30) + "SECRET=abcdefghijklmnopqrstuvwxyz\n"
	for _, tc := range []struct{ name, dir, linkDir string }{
		{"none", "app/a", ""},
		{"alike", "app/a", "app/b"},
		{"reread", "third_party/a", "app/b"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var es []entry
			for i := range n {
				es = append(es, entry{path: fmt.Sprintf("%s/f%d.conf", tc.dir, i), body: body})
				if tc.linkDir != "" {
					es = append(es, entry{path: fmt.Sprintf("%s/f%d.conf", tc.linkDir, i), link: fmt.Sprintf("%s/f%d.conf", tc.dir, i)})
				}
			}
			l, _ := countedLayer(&testing.T{}, es...)
			img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "COPY . /"}})
			if err != nil {
				b.Fatal(err)
			}
			rs, _ := policy.NewRuleset([]policy.Rule{{ID: "any-token", Regex: `SECRET=(\w{20,})`, Keywords: []string{"secret"}}},
				[]policy.Allowlist{{Paths: []string{`(?:^|/)third_party/`}}})
			sc, _ := policy.NewScanner(policy.WithRules(rs))
			defer sc.Close()
			b.ResetTimer()
			for b.Loop() {
				found := 0
				_, err := Scan(context.Background(), sc, image.FromV1(img, "bench"), Options{}, func(Finding) error { found++; return nil })
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(found), "findings")
			}
		})
	}
}
