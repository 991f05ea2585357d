package integration

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/integration/stack"
	"github.com/safebuild/safebuild/policy/image"
)

// TestBuildCacheFrom: `safebuild build --cache-from` reuses layers from a registry cache (here
// written by plain BuildKit) after buildkitd's own cache was emptied: the RUN step does not run
// again — the image holds the random id the first build's step wrote — and the image is still
// gated. --cache-to is refused with the reason.
func TestBuildCacheFrom(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	dir := t.TempDir()
	df := "ARG BASE\nFROM ${BASE}\nCOPY notes.txt /notes.txt\nRUN cat /proc/sys/kernel/random/uuid > /run-id && wc -c /notes.txt > /size\n"
	for name, body := range map[string]string{"Dockerfile": df, "notes.txt": "cache me " + randHex(t, 8) + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cacheRef := s.Registry.Host + "/cache/notes:" + randHex(t, 4)
	first := filepath.Join(t.TempDir(), "first")
	if err := s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: dir, BuildArgs: map[string]string{"BASE": s.BaseImage},
		CacheExport: cacheRef, OCILayout: first}); err != nil {
		t.Fatal(err)
	}
	want := readImageFile(t, "oci:"+first, "run-id")
	if err := s.BuildKit.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "img.tar")
	stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "plain", "--build-arg", "BASE="+s.BaseImage,
		"--cache-from", "type=registry,ref="+cacheRef, "-o", out, dir)
	if err != nil {
		t.Fatalf("safebuild build --cache-from: %v\n%s\n%s", err, stdout, stderr)
	}
	if got := readImageFile(t, "oci-archive:"+out, "run-id"); got != want {
		t.Errorf("the RUN step ran again (run-id %q, the cached build's %q):\n%s", got, want, stderr)
	}
	if !strings.Contains(stdout, "wrote oci-archive:"+out) {
		t.Errorf("no output written:\n%s", stdout)
	}

	_, stderr, err = safebuildCLI(t, s, "build", "--cache-to", "type=registry,ref="+cacheRef, dir)
	if err == nil || !strings.Contains(stderr, "--cache-to is not supported") {
		t.Errorf("--cache-to: %v\n%s", err, stderr)
	}
}

// readImageFile returns the content of path in the image ref names (the topmost layer holding it).
func readImageFile(t *testing.T, ref, path string) string {
	t.Helper()
	r, err := image.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	set, err := image.Open(context.Background(), r, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	layers, err := set.Images[0].Layers()
	if err != nil {
		t.Fatal(err)
	}
	var content string
	found := false
	for _, l := range layers {
		err := image.WalkLayer(context.Background(), l, image.NewWhiteouts(), image.Limits{}, func(e image.Entry) error {
			if e.Path == path && e.Content != nil {
				dt, err := io.ReadAll(e.Content)
				content, found = string(dt), true
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("%s: no %s", ref, path)
	}
	return content
}
