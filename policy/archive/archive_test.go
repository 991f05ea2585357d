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
	"github.com/ulikunitz/xz"
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

func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Made with `tar --format=ustar -c app/.env | bzip2 -9` (app/.env holds "TOKEN=abc") and
// `printf plain | bzip2`: the standard library reads bzip2 but cannot write it.
const (
	envTarBz2 = "\x42\x5a\x68\x39\x31\x41\x59\x26\x53\x59\xbe\x19\x75\xf9\x00\x00\x7f\x7f\x90\xca\x00\x00\x60\x40\x01\xff\x82\x02\x09\x84\x40\x7a\x01\xdf\x00\x04\x00\x00\x08\x20\x00\x75\x11\x4d\x3c\x44\x00\x0d\x07\xa6\xa3\x40\x04\x94\xa6\xd3\x53\x4c\x9a\x3d\x11\x82\x62\x0f\x4d\xaa\x7e\x1a\x76\x53\x42\x10\x6f\x04\x84\x8f\x0f\xb9\xc4\xa8\x8d\x50\x40\x87\x21\xc1\x19\x45\xe2\x0d\x8e\xe6\x48\x19\x14\xd7\xd0\x22\x75\xca\xd7\x98\x93\xf3\x17\x31\xc4\x89\x08\x2f\xd3\x86\xea\xb1\xe6\x3d\x28\x78\x0a\xd0\x4c\x9a\x91\xa6\xd1\x49\x07\xf1\x77\x24\x53\x85\x09\x0b\xe1\x97\x5f\x90"
	plainBz2  = "\x42\x5a\x68\x39\x31\x41\x59\x26\x53\x59\x65\x0e\xe9\xeb\x00\x00\x02\x01\x80\x20\x25\x40\x00\x20\x00\x21\x83\x41\x9a\x0b\x0c\x71\x77\x24\x53\x85\x09\x06\x50\xee\x9e\xb0"
)

// stream hides a reader's ReaderAt, as a layer's tar stream does.
type stream struct{ io.Reader }

func walk(t *testing.T, name string, dt []byte, o Options) ([]string, bool, error) {
	t.Helper()
	return walkReader(t, name, bytes.NewReader(dt), o)
}

func walkReader(t *testing.T, name string, r io.Reader, o Options) ([]string, bool, error) {
	t.Helper()
	var got []string
	ok, err := Walk(context.Background(), name, r, o, func(m Member) error {
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
		// By content, whatever the name says.
		{"opt/release.pkg", jar, []string{"opt/release.pkg!BOOT-INF/classes/application.properties=db.password=hunter2", "opt/release.pkg!META-INF/MANIFEST.MF=x"}},
		{"blobs/sha256/0a1b", envTgz, []string{"blobs/sha256/0a1b!app/.env=TOKEN=abc"}},
		{"backup.dat", tarOf(t, file{"etc/app.conf", "k=v"}), []string{"backup.dat!etc/app.conf=k=v"}},
		{"x.tar.xz", xzOf(t, tarOf(t, file{"k", "v"})), []string{"x.tar.xz!k=v"}},
		{"notes.txt.xz", xzOf(t, []byte("plain")), []string{"notes.txt.xz!notes.txt=plain"}},
		{"x.tar.bz2", []byte(envTarBz2), []string{"x.tar.bz2!app/.env=TOKEN=abc"}},
		{"notes.bz2", []byte(plainBz2), []string{"notes.bz2!notes=plain"}},
		{"noext", []byte(plainBz2), []string{"noext!noext=plain"}},
		{"nested.zip", zipOf(t, file{"lib/inner.bin", string(gz(t, []byte("deep")))}), []string{"nested.zip!lib/inner.bin!inner.bin=deep"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Read at random (a file, a buffer) and as a stream (a layer's tar entry) alike.
			for _, r := range []io.Reader{bytes.NewReader(tc.dt), stream{bytes.NewReader(tc.dt)}} {
				got, ok, err := walkReader(t, tc.name, r, Options{})
				if err != nil || !ok {
					t.Fatalf("ok=%v err=%v", ok, err)
				}
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("%T: got\n%s\nwant\n%s", r, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}

func TestNotArchives(t *testing.T) {
	for name, dt := range map[string][]byte{
		"app.jar":   []byte("not a zip at all"),
		"README.md": []byte("# hi"),
		"x.gz":      []byte("no magic"),
		"BZh.txt":   []byte("BZh9 is text here, not bzip2"),
		"PK.txt":    []byte("PK\x03"),
		"empty":     nil,
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

	// A zip too large for memory, from a stream; read in place, it needs no memory.
	big := zipOf(t, file{"a", strings.Repeat("x", 4096)})
	_, _, err = walkReader(t, "big.jar", stream{bytes.NewReader(big)}, Options{MaxZipBytes: 100})
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "zip larger than") {
		t.Errorf("zip size: %v", err)
	}
	if got, _, err := walk(t, "big.jar", big, Options{MaxZipBytes: 100}); err != nil || len(got) != 1 {
		t.Errorf("zip in place: %v %v", got, err)
	}
	// Off.
	if _, ok, err := walk(t, "a.zip", z, Options{MaxDepth: -1}); ok || err != nil {
		t.Errorf("off: ok=%v err=%v", ok, err)
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
	f.Add("a.bz2", []byte(plainBz2))
	f.Add("a.xz", []byte("\xfd7zXZ\x00\x00\x04"))
	f.Fuzz(func(t *testing.T, name string, dt []byte) {
		Walk(context.Background(), name, bytes.NewReader(dt), Options{MaxBytes: 1 << 20, MaxZipBytes: 1 << 20, MaxEntries: 100}, func(m Member) error {
			_, err := io.Copy(io.Discard, m.Content)
			return err
		})
	})
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		head string
		want Kind
	}{
		{"PK\x03\x04rest", Zip}, {"PK\x05\x06\x00\x00", Zip}, {"PK\x07\x08PK\x03\x04", Zip},
		{"\x1f\x8b\x08\x00", Gzip}, {"\x1f\x8b\x07\x00", None},
		{"\x28\xb5\x2f\xfd\x00", Zstd},
		{"\xfd7zXZ\x00\x00", Xz},
		{plainBz2, Bzip2}, {"BZh9 text here", None}, {"BZh0\x31\x41\x59\x26\x53\x59", None},
		{strings.Repeat("\x00", 257) + "ustar\x0000", Tar},
		{"hello world", None}, {"", None}, {"PK", None},
	} {
		if got := Detect([]byte(tc.head)); got != tc.want {
			t.Errorf("Detect(%q) = %v, want %v", tc.head, got, tc.want)
		}
	}
}
