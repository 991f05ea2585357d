package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecretRotationBustsCache: BuildKit's cache key for a RUN step holds its secret mount's id,
// never the value (moby/buildkit#2547), so a plain BuildKit build reuses a layer made with a
// secret that has since been rotated. `safebuild build` pins each KV v2 reference to the version
// it reads and puts that into the LLB's secret id: the same version reuses the cache; a new
// version runs the step again.
func TestSecretRotationBustsCache(t *testing.T) {
	s := needStack(t)
	dir := t.TempDir()
	df := "ARG BASE\nFROM ${BASE}\n" +
		"RUN --mount=type=secret,id=tok,env=TOK,required=true test -n \"$TOK\" && cat /proc/sys/kernel/random/uuid > /run-id\n"
	cfg := "vault:\n  auth:\n    method: jwt\n    role: github\n    audience: https://vault.safebuild.test\n" +
		"secrets:\n  tok: vault:secret/ci/rotate#token\n"
	for name, body := range map[string]string{"Dockerfile": df, "safebuild.yaml": cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := func() (cached bool) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "img.tar")
		stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "plain", "--build-arg", "BASE="+s.BaseImage, "-o", "type=oci,dest="+out, dir)
		if err != nil {
			t.Fatalf("safebuild build: %v\n%s\n%s", err, stdout, stderr)
		}
		// "#7 [2/2] RUN --mount=…" then "#7 CACHED" when the step was not run.
		m := regexp.MustCompile(`(?m)^(#\d+) \[[^\]]*\] RUN --mount=type=secret`).FindStringSubmatch(stderr)
		if m == nil {
			t.Fatalf("no RUN step in the progress output:\n%s", stderr)
		}
		if strings.Contains(stderr, "rotate#token") && !strings.Contains(stderr, "version=") {
			t.Errorf("the progress output names the secret unpinned:\n%s", stderr)
		}
		return strings.Contains(stderr, m[1]+" CACHED")
	}

	putSecret(t, s, "ci/rotate", map[string]any{"token": "rotate-v1-" + randHex(t, 16)})
	build()
	if !build() {
		t.Error("an unchanged secret did not reuse the cached step")
	}
	putSecret(t, s, "ci/rotate", map[string]any{"token": "rotate-v2-" + randHex(t, 16)})
	if build() {
		t.Error("the step was reused from the cache after its secret rotated (moby/buildkit#2547)")
	}
	if !build() {
		t.Error("the rotated secret's step was not cached on the next build")
	}
}
