package integration

import (
	"io"

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
