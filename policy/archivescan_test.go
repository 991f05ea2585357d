package policy

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy/archive"
	"github.com/safebuild/safebuild/policy/internal/textenc/textenctest"
)

func zipBytes(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func findingPaths(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+" "+f.Origin.Path)
	}
	slices.Sort(out)
	return out
}

// TestArchivesInPathScans: `scan PATH` opens archives by their bytes, whatever their names,
// judges members by their own paths, reads a zip on disk in place, and reports a corrupt or
// oversized archive as incomplete.
func TestArchivesInPathScans(t *testing.T) {
	token := "GITHUB_TOKEN=" + testPAT + "\n"
	release := zipBytes(t, map[string][]byte{
		"config/settings.env":             []byte(token),
		"node_modules/dep/index.js":       []byte(token), // allowlisted member path (source tree)
		"docs/readme.ps1":                 textenctest.UTF16(token, false, true),
		"nested/inner.gz":                 gzipBytes([]byte(token)),
		"logo.png":                        []byte(token), // allowlisted by content type
		"deep/a.zip":                      zipBytes(t, map[string][]byte{"b.env": []byte(token)}),
		"deep/not-an-archive-named-x.zip": []byte(token),
	})
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"release.pkg":         release,
		"release.zip":         release,
		"plain.env":           []byte(token),
		"broken.dat":          []byte("PK\x03\x04 this is not really a zip"),
		"logs/app.log.gz":     gzipBytes([]byte(token)),
		"vendor/github.com/x": zipBytes(t, map[string][]byte{"a.env": []byte(token)}), // allowlisted archive path
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := newTestScanner(t)
	fs, _ := scanSource(t, s, &FS{Root: dir})
	var got []string
	for _, p := range findingPaths(fs) {
		got = append(got, strings.ReplaceAll(p, filepath.ToSlash(dir)+"/", ""))
	}
	want := []string{
		"github-pat logs/app.log.gz!app.log",
		"github-pat plain.env",
		"github-pat release.pkg!config/settings.env",
		"github-pat release.pkg!deep/a.zip!b.env",
		"github-pat release.pkg!deep/not-an-archive-named-x.zip",
		"github-pat release.pkg!docs/readme.ps1",
		"github-pat release.pkg!nested/inner.gz!inner",
		"github-pat release.zip!config/settings.env",
		"github-pat release.zip!deep/a.zip!b.env",
		"github-pat release.zip!deep/not-an-archive-named-x.zip",
		"github-pat release.zip!docs/readme.ps1",
		"github-pat release.zip!nested/inner.gz!inner",
		"incomplete-scan broken.dat",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Archives off: the zip is binary, skipped; the gzip too.
	fs, _ = scanSource(t, s, &FS{Root: dir, Archives: archive.Options{MaxDepth: -1}})
	if got := findingPaths(fs); len(got) != 1 || !strings.HasSuffix(got[0], "plain.env") {
		t.Errorf("archives off: %v", got)
	}
	// One level: nested archives are members, binary, skipped.
	fs, _ = scanSource(t, s, &FS{Root: filepath.Join(dir, "release.pkg"), Archives: archive.Options{MaxDepth: 1}})
	if got := findingPaths(fs); len(got) != 3 {
		t.Errorf("depth 1: %v", got)
	}
	// A byte budget: reported as incomplete, what came before stays reported.
	fs, _ = scanSource(t, s, &FS{Root: filepath.Join(dir, "release.pkg"), Archives: archive.Options{MaxBytes: 60}})
	inc := 0
	for _, f := range fs {
		if f.RuleID == RuleIncomplete {
			inc++
			if !strings.Contains(f.Description, "decompressed") {
				t.Errorf("budget finding: %+v", f)
			}
		}
	}
	if inc != 1 {
		t.Errorf("byte budget: %v", findingPaths(fs))
	}
}

// TestArchiveInImageKeepsMemberJudgement: image content (Kind "layer") opens archives too, and
// members are judged by the image allowlist: an app under node_modules inside a jar is scanned,
// and an archive is opened even where its own name is allowlisted as a content type (.bin).
func TestArchiveInImageKeepsMemberJudgement(t *testing.T) {
	token := "GITHUB_TOKEN=" + testPAT + "\n"
	jar := zipBytes(t, map[string][]byte{"app/node_modules/@corp/cfg/index.js": []byte(token), "img/x.png": []byte(token)})
	s := newTestScanner(t)
	var fs []Finding
	_, err := s.ScanFile(t.Context(), Origin{Kind: "layer", Path: "opt/firmware.bin"}, struct{ *bytes.Reader }{bytes.NewReader(jar)},
		archive.Options{}, func(f Finding) error { fs = append(fs, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := findingPaths(fs); len(got) != 1 || got[0] != "github-pat opt/firmware.bin!app/node_modules/@corp/cfg/index.js" {
		t.Errorf("got %v", got)
	}
}
