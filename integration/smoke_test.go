package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestSmokeHarnessSeesLeaks is the yardstick the detection issues build on: a value served from
// Vault to RUN --mount=type=secret is in no blob of the exported image, and the same value copied
// into a file is found in a layer blob.
func TestSmokeHarnessSeesLeaks(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	vc, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	value := "smoke-" + hex.EncodeToString(raw)
	if _, err := vc.KVv2("secret").Put(ctx, "ci/smoke", map[string]any{"token": value}); err != nil {
		t.Fatal(err)
	}
	store := stack.KVSecrets(vc, "secret", map[string]stack.KVRef{"smoke": {Path: "ci/smoke", Field: "token"}})
	needles := [][]byte{[]byte(value), []byte(base64.StdEncoding.EncodeToString([]byte(value)))}

	build := func(t *testing.T, dockerfile string) []string {
		t.Helper()
		dir := t.TempDir()
		df := strings.ReplaceAll(dockerfile, "BASE", s.BaseImage)
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "oci")
		var progress strings.Builder
		if err := s.BuildKit.Build(ctx, stackBuild(dir, out, store, &progress)); err != nil {
			t.Fatalf("%v\nprogress:\n%s", err, progress.String())
		}
		for i, n := range needles {
			if strings.Contains(progress.String(), string(n)) {
				t.Errorf("progress output holds the secret (form %d)", i)
			}
		}
		hits, err := searchLayout(out, needles)
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}

	t.Run("mounted secret leaves no trace", func(t *testing.T) {
		hits := build(t, `FROM BASE
RUN --mount=type=secret,id=smoke,required=true test "$(cat /run/secrets/smoke | wc -c)" -gt 8 && echo used > /used
RUN --mount=type=secret,id=smoke,env=SMOKE,required=true test -n "$SMOKE" && echo used-env > /used-env
`)
		if len(hits) > 0 {
			t.Fatalf("the secret is in the image: %v", hits)
		}
	})
	t.Run("copied secret is found in a layer", func(t *testing.T) {
		hits := build(t, `FROM BASE
RUN --mount=type=secret,id=smoke,required=true cp /run/secrets/smoke /leaked
RUN rm /leaked
`)
		if len(hits) == 0 {
			t.Fatal("the secret copied into /leaked was not found in any layer blob")
		}
		if !strings.HasSuffix(hits[0], ":leaked") {
			t.Errorf("hit %q: want the tar entry leaked", hits[0])
		}
	})
}
