package integration

import (
	"context"
	"io"
	"testing"

	"github.com/moby/buildkit/session/secrets"

	"github.com/safebuild/safebuild/integration/stack"
)

func stackBuild(contextDir, ociOut string, store secrets.SecretStore, progress io.Writer) stack.BuildOptions {
	return stack.BuildOptions{ContextDir: contextDir, OCILayout: ociOut, Secrets: store, Progress: progress}
}

// searchLayout returns where the needles are in the layout, as "blob" or "blob:entry" strings.
func searchLayout(dir string, needles [][]byte) ([]string, error) {
	hits, err := stack.SearchLayout(dir, needles...)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.String()
	}
	return out, nil
}

// putSecret writes data as the KV v2 secret at path under the stack's secret/ mount.
func putSecret(t *testing.T, s *stack.Stack, path string, data map[string]any) {
	t.Helper()
	vc, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vc.KVv2("secret").Put(context.Background(), path, data); err != nil {
		t.Fatalf("writing secret/%s: %v", path, err)
	}
}

// moduleRoot is the repository root, for examples and the Dockerfile.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := stack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}
