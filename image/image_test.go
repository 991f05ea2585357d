package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/safebuild/safebuild/internal/testimage"
)

type file struct{ name, body string }

func tarLayer(t testing.TB, files ...file) v1.Layer {
	t.Helper()
	pairs := make([]string, 0, 2*len(files))
	for _, f := range files {
		pairs = append(pairs, f.name, f.body)
	}
	return testimage.LayerOf(t, pairs...)
}

// fixture is a four-layer image: a key added in layer 1 and whited out in layer 2, a directory
// made opaque in layer 3, and an ENV in the history between layers.
func fixture(t testing.TB) v1.Image {
	t.Helper()
	layers := []struct {
		l         v1.Layer
		createdBy string
	}{
		{tarLayer(t, file{"etc/os-release", "ID=test\n"}, file{"app/.npmrc", "//registry.npmjs.org/:_authToken=npm_x\n"}), "COPY . /"},
		{tarLayer(t, file{"./root/.ssh/id_ed25519", "KEY"}), "RUN cp key /root/.ssh/id_ed25519"},
		{tarLayer(t, file{"root/.ssh/.wh.id_ed25519", ""}), "RUN rm /root/.ssh/id_ed25519"},
		{tarLayer(t, file{"app/.wh..wh..opq", ""}, file{"app/new.txt", "new"}), "RUN rm -rf /app && mkdir /app"},
	}
	img := empty.Image
	var err error
	for i, l := range layers {
		img, err = mutate.Append(img, mutate.Addendum{Layer: l.l, History: v1.History{CreatedBy: l.createdBy}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// An instruction that made no layer (ENV) leaves an empty history entry.
			cfg, cerr := img.ConfigFile()
			if cerr != nil {
				t.Fatal(cerr)
			}
			cfg = cfg.DeepCopy()
			cfg.History = append(cfg.History, v1.History{CreatedBy: "ENV A=b", EmptyLayer: true})
			if img, err = mutate.ConfigFile(img, cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	return img
}

type summary struct {
	Digest, DiffID, CreatedBy string
	Entries                   []string // path[=content][ removed in N]
}

func summarize(t *testing.T, img *Image) []summary {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	w := NewWhiteouts()
	type hit struct {
		layer int
		path  string
		body  string
	}
	var hits []hit
	for _, l := range ls {
		err := WalkLayer(context.Background(), l, w, Limits{}, func(e Entry) error {
			var body []byte
			if e.Content != nil {
				var err error
				if body, err = io.ReadAll(e.Content); err != nil {
					return err
				}
			}
			hits = append(hits, hit{l.Index, e.Path, string(body)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]summary, len(ls))
	for i, l := range ls {
		out[i] = summary{Digest: l.Digest, DiffID: l.DiffID, CreatedBy: l.CreatedBy}
	}
	for _, h := range hits {
		s := h.path + "=" + h.body
		if r, ok := w.RemovedIn(h.path, h.layer); ok {
			s += " removed in " + string(rune('0'+r))
		}
		out[h.layer].Entries = append(out[h.layer].Entries, s)
	}
	return out
}

// TestSourcesAgree writes one image to every file and registry source and checks each reads
// back the same layers, history, entries and whiteouts.
func TestSourcesAgree(t *testing.T) {
	ctx := context.Background()
	img := fixture(t)
	dir := t.TempDir()

	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.test/app:1")
	if err := tarball.WriteToFile(filepath.Join(dir, "docker.tar"), tag, img); err != nil {
		t.Fatal(err)
	}
	tarDir(t, filepath.Join(dir, "layout"), filepath.Join(dir, "oci.tar"))
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rref, _ := name.ParseReference(host + "/app:1")
	if err := remote.Write(rref, img); err != nil {
		t.Fatal(err)
	}

	want := []summary{
		{CreatedBy: "COPY . /", Entries: []string{"etc/os-release=ID=test\n", "app/.npmrc=//registry.npmjs.org/:_authToken=npm_x\n removed in 3"}},
		{CreatedBy: "RUN cp key /root/.ssh/id_ed25519", Entries: []string{"root/.ssh/id_ed25519=KEY removed in 2"}},
		{CreatedBy: "RUN rm /root/.ssh/id_ed25519"},
		{CreatedBy: "RUN rm -rf /app && mkdir /app", Entries: []string{"app/new.txt=new"}},
	}
	ls, _ := img.Layers()
	for i, l := range ls {
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		want[i].Digest, want[i].DiffID = d.String(), diff.String()
	}
	for _, arg := range []string{
		filepath.Join(dir, "layout"),
		"oci:" + filepath.Join(dir, "layout"),
		filepath.Join(dir, "docker.tar"),
		filepath.Join(dir, "oci.tar"),
		"registry:" + host + "/app:1",
	} {
		t.Run(arg, func(t *testing.T) {
			ref, err := ParseRef(arg)
			if err != nil {
				t.Fatal(err)
			}
			set, err := Open(ctx, ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			if len(set.Images) != 1 {
				t.Fatalf("%d images, want 1", len(set.Images))
			}
			got := summarize(t, set.Images[0])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
			cfg, raw, err := set.Images[0].Config()
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.History) != 5 || !bytes.Contains(raw, []byte("ENV A=b")) {
				t.Errorf("history %+v", cfg.History)
			}
		})
	}
}

func TestIndexPlatforms(t *testing.T) {
	img := fixture(t)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Annotations: map[string]string{"a": "1"}}},
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rref, _ := name.ParseReference(host + "/multi:1")
	if err := remote.WriteIndex(rref, idx); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"oci:" + dir, "registry:" + host + "/multi:1"} {
		ref, err := ParseRef(arg)
		if err != nil {
			t.Fatal(err)
		}
		all, err := Open(context.Background(), ref, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Images) != 2 || all.Images[0].PlatformString() != "linux/amd64" || all.Images[0].Annotations["a"] != "1" {
			t.Errorf("%s: images %d, first %s %v", arg, len(all.Images), all.Images[0].PlatformString(), all.Images[0].Annotations)
		}
		one, err := Open(context.Background(), ref, Options{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(one.Images) != 1 || one.Images[0].PlatformString() != "linux/arm64" {
			t.Errorf("%s --platform linux/arm64: %d images", arg, len(one.Images))
		}
		if _, err := Open(context.Background(), ref, Options{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}); err == nil || !strings.Contains(err.Error(), "no image for platform linux/s390x") {
			t.Errorf("%s: missing platform: %v", arg, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.Mkdir(plain, 0o700)
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, []byte("hello"), 0o600)
	for _, tc := range []struct {
		in, want, err string
	}{
		{"registry:alpine:3.20", "registry:alpine:3.20", ""},
		{"containerd:docker.io/library/alpine:3.20", "containerd:docker.io/library/alpine:3.20", ""},
		{"127.0.0.1:5000/app:1", "registry:127.0.0.1:5000/app:1", ""},
		{"oci:", "", "nothing after"},
		{"registry:UPPER/Case", "", "not an image reference"},
		{plain, "", "not an image"},
		{notTar, "", "not an image"},
		{"./missing", "", "no such file"},
	} {
		got, err := ParseRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseRef(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseRef(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"./a/b": "a/b", "/etc/x": "etc/x", "../../x": "x", "a/../../b": "b", "a/": "a"} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// tarDir writes dir as a tar file, the way `tar -cf out -C dir .` does.
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestHostileLayers: a layer past the byte or entry bound, a truncated gzip stream and a tar
// header that lies about its size each end the walk with an error naming the layer.
func TestHostileLayers(t *testing.T) {
	big := tarLayer(t, file{"a", strings.Repeat("x", 8192)}, file{"b", "y"})
	many := tarLayer(t, file{"1", "a"}, file{"2", "b"}, file{"3", "c"})
	// A header claiming 1 MiB followed by 10 bytes.
	var lying bytes.Buffer
	tw := tar.NewWriter(&lying)
	tw.WriteHeader(&tar.Header{Name: "liar", Mode: 0o644, Size: 1 << 20, Typeflag: tar.TypeReg})
	tw.Write([]byte("0123456789"))
	lyingDt := lying.Bytes()[:512+10]
	liar, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(lyingDt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		layer v1.Layer
		lim   Limits
		want  string
	}{
		{"bytes", big, Limits{MaxBytes: 4096}, "decompressed size exceeds the 4096-byte limit"},
		{"entries", many, Limits{MaxEntries: 2}, "more than 2 entries"},
		{"lying header", liar, Limits{}, "reading the tar stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := mutate.AppendLayers(empty.Image, tc.layer)
			if err != nil {
				t.Fatal(err)
			}
			i := newImage("test", img, nil, nil)
			ls, err := i.Layers()
			if err != nil {
				t.Fatal(err)
			}
			err = WalkLayer(context.Background(), ls[0], NewWhiteouts(), tc.lim, func(e Entry) error {
				if e.Content != nil {
					_, err := io.Copy(io.Discard, e.Content)
					return err
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "layer 0 (sha256:") {
				t.Errorf("err = %v, want one naming layer 0 and %q", err, tc.want)
			}
		})
	}
}

// FuzzWalkLayer feeds arbitrary bytes to the layer walker as an uncompressed and as a gzip
// layer: it must end with an error or nil, never a panic or a hang.
func FuzzWalkLayer(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a/.wh.b", Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "../../etc/x", Size: 3, Mode: 0o644, Typeflag: tar.TypeReg})
	tw.Write([]byte("abc"))
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, dt []byte) {
		ls := []*Layer{{Index: 0, Digest: "sha256:fuzz", layer: rawLayer(dt)}}
		w := NewWhiteouts()
		WalkLayer(context.Background(), ls[0], w, Limits{MaxBytes: 1 << 20, MaxEntries: 1000}, func(e Entry) error {
			if e.Content != nil {
				io.Copy(io.Discard, e.Content)
			}
			return nil
		})
		w.RemovedIn("a/b", 0)
	})
}

// rawLayer is a v1.Layer whose uncompressed stream is the bytes themselves (gzip detected as
// go-containerregistry does, by magic), without hashing: the fuzzer's fast path.
type rawLayer []byte

func (r rawLayer) Digest() (v1.Hash, error)            { return v1.Hash{Algorithm: "sha256", Hex: "00"}, nil }
func (r rawLayer) DiffID() (v1.Hash, error)            { return r.Digest() }
func (r rawLayer) Compressed() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(r)), nil }
func (r rawLayer) Size() (int64, error)                { return int64(len(r)), nil }
func (r rawLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (r rawLayer) Uncompressed() (io.ReadCloser, error) {
	if bytes.HasPrefix(r, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(r))
		if err != nil {
			return nil, err
		}
		return zr, nil
	}
	return io.NopCloser(bytes.NewReader(r)), nil
}

// TestManyEntriesAndLinks: a 100k-entry layer is walked with flat memory (and stopped at a lower
// entry limit with an error naming the layer); symlinks and hard links — a loop among them —
// are reported as entries without content and never followed.
func TestManyEntriesAndLinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "loop/a", Linkname: "b", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "loop/b", Linkname: "a", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "loop/c", Linkname: "/etc/shadow", Typeflag: tar.TypeSymlink})
	tw.WriteHeader(&tar.Header{Name: "hard", Linkname: "loop/a", Typeflag: tar.TypeLink})
	for i := 0; i < 100_000; i++ {
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/f%06d", i), Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte{'x'})
	}
	tw.Close()
	l := &Layer{Index: 0, Digest: "sha256:many", layer: rawLayer(buf.Bytes())}

	var files, links int
	err := WalkLayer(context.Background(), l, NewWhiteouts(), Limits{}, func(e Entry) error {
		switch {
		case e.Content != nil:
			files++
		case e.Header.Typeflag == tar.TypeSymlink || e.Header.Typeflag == tar.TypeLink:
			links++
		}
		return nil
	})
	if err != nil || files != 100_000 || links != 4 {
		t.Errorf("files %d links %d err %v; want 100000, 4, nil", files, links, err)
	}
	err = WalkLayer(context.Background(), l, NewWhiteouts(), Limits{MaxEntries: 50_000}, func(Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "layer 0 (sha256:many): more than 50000 entries") {
		t.Errorf("entry limit: %v", err)
	}
}
