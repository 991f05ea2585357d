package integration

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestBuildCacheFrom: `safebuild build --cache-from` reuses layers from a registry cache (here
// written by plain BuildKit) after buildkitd's own cache was emptied — the step shows as CACHED
// and does not run — and the image is still gated. --cache-to is refused with the reason.
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
	if err := s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: dir, BuildArgs: map[string]string{"BASE": s.BaseImage}, CacheExport: cacheRef}); err != nil {
		t.Fatal(err)
	}
	if err := s.BuildKit.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "img.tar")
	stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "plain", "--build-arg", "BASE="+s.BaseImage,
		"--cache-from", "type=registry,ref="+cacheRef, "-o", out, dir)
	if err != nil {
		t.Fatalf("safebuild build --cache-from: %v\n%s\n%s", err, stdout, stderr)
	}
	m := regexp.MustCompile(`(?m)^(#\d+) \[[^\]]*\] RUN cat /proc`).FindStringSubmatch(stderr)
	if m == nil || !strings.Contains(stderr, m[1]+" CACHED") {
		t.Errorf("the RUN step did not come from the imported cache:\n%s", stderr)
	}
	if !strings.Contains(stdout, "wrote oci-archive:"+out) {
		t.Errorf("no output written:\n%s", stdout)
	}

	_, stderr, err = safebuildCLI(t, s, "build", "--cache-to", "type=registry,ref="+cacheRef, dir)
	if err == nil || !strings.Contains(stderr, "--cache-to is not supported") {
		t.Errorf("--cache-to: %v\n%s", err, stderr)
	}
}
