package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestPromote builds examples/leaky and examples/clean with the real buildkitd, pushes both to a
// staging repository of the stack's registry (Debian's docker-registry) and runs
// `safebuild promote` to a production repository: the leaky image is refused and its tag never
// appears in production; the clean one arrives with the very digest that was scanned.
func TestPromote(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root := moduleRoot(t)
	reg := s.Registry.Host
	putSecret(t, s, "ci/promote-npm", map[string]any{"token": "npm_PROMOTEtestTokenValue0123456789abcd"})
	vc, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	store := stack.KVSecrets(vc, "secret", map[string]stack.KVRef{"npm_token": {Path: "ci/promote-npm", Field: "token"}})
	const leakyArg = "npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"
	for _, b := range []struct {
		example string
		args    map[string]string
	}{{"leaky", map[string]string{"NPM_TOKEN": leakyArg}}, {"clean", nil}} {
		args := map[string]string{"BASE": s.BaseImage}
		for k, v := range b.args {
			args[k] = v
		}
		err := s.BuildKit.Build(ctx, stack.BuildOptions{
			ContextDir: filepath.Join(root, "examples", b.example), BuildArgs: args, Secrets: store,
			Push: reg + "/staging/" + b.example + ":1",
		})
		if err != nil {
			t.Fatalf("building examples/%s: %v", b.example, err)
		}
	}

	stdout, stderr, err := safebuildCLI(t, s, "promote", "--format", "json", reg+"/staging/leaky:1", reg+"/prod/leaky:1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("promote leaky: want exit 1, got %v\n%s", err, stderr)
	}
	var rep struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Path   string `json:"path"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(rep.Findings) < 8 {
		t.Errorf("%d findings in examples/leaky, want its planted leaks: %+v", len(rep.Findings), rep.Findings)
	}
	for _, v := range append(leakyValues, leakyArg) {
		if strings.Contains(stdout+stderr, v) {
			t.Errorf("promote prints a planted value (%.6s…)", v)
		}
	}
	if !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "@sha256:") {
		t.Errorf("stderr does not say what was refused:\n%s", stderr)
	}
	if _, err := remote.Head(mustRef(t, reg+"/prod/leaky:1")); err == nil {
		t.Error("the refused image is in production")
	}

	stdout, stderr, err = safebuildCLI(t, s, "promote", reg+"/staging/clean:1", "registry:"+reg+"/prod/clean:1")
	if err != nil {
		t.Fatalf("promote clean: %v\n%s\n%s", err, stdout, stderr)
	}
	want, err := remote.Head(mustRef(t, reg+"/staging/clean:1"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Head(mustRef(t, reg+"/prod/clean:1"))
	if err != nil {
		t.Fatalf("production after promotion: %v", err)
	}
	if got.Digest != want.Digest {
		t.Errorf("production has %s, staging %s", got.Digest, want.Digest)
	}
	if !strings.Contains(stderr, "promoted "+reg+"/staging/clean@"+want.Digest.String()) {
		t.Errorf("stderr: %s", stderr)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
