package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

type file struct{ name, body string }

func zipOf(t *testing.T, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	zw.Close()
	return buf.Bytes()
}

func tarOf(t *testing.T, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zst(t *testing.T, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(b, nil)
}

func walk(t *testing.T, name string, dt []byte, o Options) ([]string, bool, error) {
	t.Helper()
	var got []string
	ok, err := Walk(context.Background(), name, bytes.NewReader(dt), o, func(m Member) error {
		b, err := io.ReadAll(m.Content)
		if err != nil {
			return err
		}
		got = append(got, m.Path+"="+string(b))
		return nil
	})
	return got, ok, err
}

func TestWalk(t *testing.T) {
	jar := zipOf(t, file{"BOOT-INF/classes/application.properties", "db.password=hunter2"}, file{"META-INF/MANIFEST.MF", "x"})
	envTgz := gz(t, tarOf(t, file{"./app/.env", "TOKEN=abc"}))
	for _, tc := range []struct {
		name string
		dt   []byte
		want []string
	}{
		{"opt/app/app.jar", jar, []string{"opt/app/app.jar!BOOT-INF/classes/application.properties=db.password=hunter2", "opt/app/app.jar!META-INF/MANIFEST.MF=x"}},
		{"srv/config.tar.gz", envTgz, []string{"srv/config.tar.gz!app/.env=TOKEN=abc"}},
		{"srv/config.tgz", envTgz, []string{"srv/config.tgz!app/.env=TOKEN=abc"}},
		{"x.tar.zst", zst(t, tarOf(t, file{"k", "v"})), []string{"x.tar.zst!k=v"}},
		{"notes.txt.gz", gz(t, []byte("plain")), []string{"notes.txt.gz!notes.txt=plain"}},
		{"a.tar", tarOf(t, file{"inner.jar", string(jar)}), []string{"a.tar!inner.jar!BOOT-INF/classes/application.properties=db.password=hunter2", "a.tar!inner.jar!META-INF/MANIFEST.MF=x"}},
		{"evil.zip", zipOf(t, file{"../../etc/passwd", "root"}), []string{"evil.zip!etc/passwd=root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := walk(t, tc.name, tc.dt, Options{})
			if err != nil || !ok {
				t.Fatalf("ok=%v err=%v", ok, err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestNotArchives(t *testing.T) {
	for name, dt := range map[string][]byte{
		"app.jar":   []byte("not a zip at all"),
		"README.md": []byte("# hi"),
		"x.gz":      []byte("no magic"),
	} {
		if _, ok, err := walk(t, name, dt, Options{}); ok || err != nil {
			t.Errorf("%s: ok=%v err=%v", name, ok, err)
		}
	}
}

func TestLimits(t *testing.T) {
	// Depth: a zip in a zip in a zip in a zip; the default depth 3 yields the fourth as a member.
	z := zipOf(t, file{"secret.txt", "s"})
	for i := 0; i < 3; i++ {
		z = zipOf(t, file{"n.zip", string(z)})
	}
	got, _, err := walk(t, "top.zip", z, Options{})
	if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "top.zip!n.zip!n.zip!n.zip=PK") {
		t.Errorf("depth: %v %v", got, err)
	}
	got, _, err = walk(t, "top.zip", z, Options{MaxDepth: 4})
	if err != nil || len(got) != 1 || got[0] != "top.zip!n.zip!n.zip!n.zip!secret.txt=s" {
		t.Errorf("depth 4: %v %v", got, err)
	}

	// Budget: a gzip bomb (10 MiB of zeros) against a 1 MiB budget.
	bomb := gz(t, tarOf(t, file{"zeros", string(make([]byte, 10<<20))}))
	_, _, err = walk(t, "bomb.tar.gz", bomb, Options{MaxBytes: 1 << 20})
	var le *LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "more than 1 MiB decompressed") {
		t.Errorf("bomb: %v", err)
	}

	// Entries.
	many := make([]file, 20)
	for i := range many {
		many[i] = file{name: "f" + string(rune('a'+i)), body: "x"}
	}
	_, _, err = walk(t, "many.zip", zipOf(t, many...), Options{MaxEntries: 10})
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "more than 10 members") {
		t.Errorf("entries: %v", err)
	}

	// A zip too large for memory.
	_, _, err = walk(t, "big.jar", zipOf(t, file{"a", strings.Repeat("x", 4096)}), Options{MaxZipBytes: 100})
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "zip larger than") {
		t.Errorf("zip size: %v", err)
	}

	// Corrupt gzip names the archive.
	_, ok, err := walk(t, "broken.tar.gz", []byte{0x1f, 0x8b, 8, 0, 0, 0}, Options{})
	if !ok || err == nil || !strings.Contains(err.Error(), "broken.tar.gz") {
		t.Errorf("corrupt: ok=%v %v", ok, err)
	}
}

func FuzzWalk(f *testing.F) {
	f.Add("a.zip", []byte("PK\x03\x04garbage"))
	f.Add("a.tar.gz", []byte{0x1f, 0x8b, 8, 0})
	f.Add("a.tar", make([]byte, 1024))
	f.Fuzz(func(t *testing.T, name string, dt []byte) {
		Walk(context.Background(), name, bytes.NewReader(dt), Options{MaxBytes: 1 << 20, MaxZipBytes: 1 << 20, MaxEntries: 100}, func(m Member) error {
			_, err := io.Copy(io.Discard, m.Content)
			return err
		})
	})
}
