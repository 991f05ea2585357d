package integration

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/integration/stack"
)

// TestBuildCacheFrom: `safebuild build --cache-from` reuses layers from a registry cache (here
// written by plain BuildKit) after buildkitd's own cache was emptied: the RUN step does not run
// again — the image holds the random id the first build's step wrote — and the image is still
// gated.
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

}

// TestBuildCacheTo: `safebuild build --cache-to` exports the cache only through the gate. A clean
// multi-stage build's cache (mode=max) is pushed and serves a later --cache-from build after
// buildkitd's cache was emptied. A build whose final image is clean but whose builder stage
// copied an .npmrc token is built and exported without --cache-to — the builder stage never
// leaves buildkitd — but refused with --cache-to mode=max, which would have published that
// layer: exit 1, the finding named, no output and no cache in the registry.
func TestBuildCacheTo(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	write := func(files map[string]string) string {
		dir := t.TempDir()
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	const multi = "ARG BASE\nFROM ${BASE} AS builder\nCOPY . /src\nRUN wc -c /src/* > /artifact\n" +
		"FROM ${BASE}\nCOPY --from=builder /artifact /artifact\nRUN cat /proc/sys/kernel/random/uuid > /run-id\n"
	build := func(dir string, args ...string) (string, string, string, error) {
		out := filepath.Join(t.TempDir(), "img.tar")
		stdout, stderr, err := safebuildCLI(t, s, append(append([]string{"build", "--progress", "plain",
			"--build-arg", "BASE=" + s.BaseImage, "-o", out}, args...), dir)...)
		return out, stdout, stderr, err
	}

	clean := write(map[string]string{"Dockerfile": multi, "main.go": "package main\n// " + randHex(t, 8) + "\n"})
	cacheRef := s.Registry.Host + "/cache/clean:" + randHex(t, 4)
	out, stdout, stderr, err := build(clean, "--cache-to", "type=registry,ref="+cacheRef+",mode=max")
	if err != nil {
		t.Fatalf("--cache-to: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "wrote cache:"+cacheRef) {
		t.Errorf("stdout does not report the cache:\n%s", stdout)
	}
	want := readImageFile(t, "oci-archive:"+out, "run-id")
	if err := s.BuildKit.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	out, stdout, stderr, err = build(clean, "--cache-from", "type=registry,ref="+cacheRef)
	if err != nil {
		t.Fatalf("--cache-from the exported cache: %v\n%s\n%s", err, stdout, stderr)
	}
	if got := readImageFile(t, "oci-archive:"+out, "run-id"); got != want {
		t.Errorf("the exported cache was not used: run-id %q, want %q", got, want)
	}

	const token = "npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"
	leaky := write(map[string]string{"Dockerfile": multi, ".npmrc": "//registry.npmjs.org/:_authToken=" + token + "\n"})
	if _, stdout, stderr, err := build(leaky); err != nil {
		t.Fatalf("without --cache-to the builder stage stays in buildkitd and the image is clean: %v\n%s\n%s", err, stdout, stderr)
	}
	leakyRef := s.Registry.Host + "/cache/leaky:" + randHex(t, 4)
	out, stdout, stderr, err = build(leaky, "--no-cache", "--cache-to", "type=registry,ref="+leakyRef+",mode=max")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("--cache-to mode=max with a leaky builder stage: want exit 1, got %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "build cache") || !strings.Contains(stderr, "npm-access-token") || strings.Contains(stdout+stderr, token) {
		t.Errorf("the refusal does not name the cache and the finding (or prints the token):\n%s", stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the refused build wrote its output")
	}
	if _, err := remote.Head(mustRef(t, leakyRef)); err == nil {
		t.Error("the refused cache is in the registry")
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
