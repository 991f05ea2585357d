package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
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

// reportFinding is what tests read of a finding in safebuild's JSON report.
type reportFinding struct {
	RuleID   string `json:"rule_id"`
	Path     string `json:"path"`
	Line     int    `json:"line"`
	Redacted string `json:"redacted"`
}

// scanLayoutRefused runs `safebuild scan --format json oci:LAYOUT`, which must exit 1 (secrets
// found), and returns the report's findings and the command's whole output.
func scanLayoutRefused(t *testing.T, s *stack.Stack, layout string) ([]reportFinding, string) {
	t.Helper()
	stdout, stderr, err := safebuildCLI(t, s, "scan", "--format", "json", "oci:"+layout)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("scan: want exit 1, got %v\n%s\n%s", err, stdout, stderr)
	}
	var rep struct {
		Findings []reportFinding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("scan report: %v\n%s", err, stdout)
	}
	return rep.Findings, stdout + stderr
}
