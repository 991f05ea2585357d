package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.yaml.in/yaml/v3"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestCIExamples runs the CI configs in examples/ci as written — every `run:` step of the GitHub
// Actions workflow and every `script:` line of the GitLab pipeline — with the job environment
// each CI would give them (GitHub's OIDC endpoint, GitLab's id_token), against the real
// buildkitd, registry and Vault: the image is built with the token from Vault, pushed to
// staging, scanned, and promoted to production with the same digest.
func TestCIExamples(t *testing.T) {
	s := needStack(t)
	root := moduleRoot(t)
	binDir := filepath.Dir(safebuildBinary(t))
	putSecret(t, s, "ci/npm", map[string]any{"token": "npm_" + randHex(t, 18)})
	reg := s.Registry.Host
	vars := map[string]string{
		"BUILDKIT_HOST": s.BuildKit.Address, "VAULT_ADDR": s.Vault.Address, "BASE_IMAGE": s.BaseImage,
		"STAGING_REGISTRY": reg + "/staging", "PRODUCTION_REGISTRY": reg + "/prod",
	}

	t.Run("github-actions", func(t *testing.T) {
		var wf struct {
			Env  map[string]string
			Jobs map[string]struct {
				Steps []struct{ Name, Uses, Run string }
			}
		}
		readYAML(t, filepath.Join(root, "examples", "ci", "github-actions.yml"), &wf)
		sha := randHex(t, 20)
		env := append(ciEnv(t, s), "GITHUB_SHA="+sha)
		// The workflow's env reads repository variables (${{ vars.NAME }}): give them.
		varRef := regexp.MustCompile(`^\$\{\{ vars\.(\w+) \}\}$`)
		for k, v := range wf.Env {
			m := varRef.FindStringSubmatch(v)
			if m == nil {
				t.Fatalf("env %s = %q: expected ${{ vars.NAME }}", k, v)
			}
			val, ok := vars[m[1]]
			if !ok {
				val, ok = vars[k]
			}
			if !ok {
				t.Fatalf("env %s: no test value for vars.%s", k, m[1])
			}
			env = append(env, k+"="+val)
		}
		var steps []string
		for _, j := range wf.Jobs {
			for _, st := range j.Steps {
				if st.Run != "" {
					steps = append(steps, st.Run)
				}
			}
		}
		runCI(t, root, binDir, env, steps)
		checkPromoted(t, reg+"/staging/app:"+sha, reg+"/prod/app:"+sha)
	})

	t.Run("gitlab-ci", func(t *testing.T) {
		var pl map[string]yaml.Node
		readYAML(t, filepath.Join(root, "examples", "ci", "gitlab-ci.yml"), &pl)
		var variables map[string]string
		if n, ok := pl["variables"]; ok {
			if err := n.Decode(&variables); err != nil {
				t.Fatal(err)
			}
		}
		var job struct {
			IDTokens map[string]struct{ Aud string } `yaml:"id_tokens"`
			Script   []string
		}
		n := pl["image-build"]
		if err := n.Decode(&job); err != nil {
			t.Fatal(err)
		}
		tok, ok := job.IDTokens["VAULT_ID_TOKEN"]
		if !ok || tok.Aud != stack.VaultAudience {
			t.Fatalf("id_tokens %+v: want VAULT_ID_TOKEN with aud %s", job.IDTokens, stack.VaultAudience)
		}
		jwt, err := s.Vault.SignJWT(stack.GitLabClaims(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		sha := randHex(t, 20)
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(),
			"GITLAB_CI=true", "CI_COMMIT_SHA=" + sha, "VAULT_ID_TOKEN=" + jwt,
			"BUILDKIT_HOST=" + s.BuildKit.Address, "VAULT_ADDR=" + s.Vault.Address, "BASE_IMAGE=" + s.BaseImage}
		for k, v := range vars {
			env = append(env, k+"="+v)
		}
		for k, v := range variables { // GitLab expands $NAME in variables from the project's
			env = append(env, k+"="+os.Expand(v, func(n string) string { return vars[n] }))
		}
		runCI(t, root, binDir, env, job.Script)
		checkPromoted(t, reg+"/staging/app:"+sha, reg+"/prod/app:"+sha)
	})
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	dt, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(dt, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// runCI runs each script with bash -e in a fresh checkout-like directory (examples/ linked in),
// with the test-built safebuild first on PATH; `go install` of safebuild is what put it there.
func runCI(t *testing.T, root, binDir string, env, scripts []string) {
	t.Helper()
	work := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "examples"), filepath.Join(work, "examples")); err != nil {
		t.Fatal(err)
	}
	env = append(env, "PATH="+binDir+":"+os.Getenv("PATH"))
	ran := 0
	for _, script := range scripts {
		if strings.HasPrefix(strings.TrimSpace(script), "go install github.com/safebuild/safebuild/cmd/safebuild@") {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = work, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("step %q: %v\n%s", script, err, out.String())
		}
		ran++
	}
	if ran < 2 {
		t.Fatalf("ran %d safebuild steps", ran)
	}
}

// checkPromoted: production serves the digest staging has.
func checkPromoted(t *testing.T, staging, prod string) {
	t.Helper()
	want, err := remote.Head(mustRef(t, staging))
	if err != nil {
		t.Fatalf("staging: %v", err)
	}
	got, err := remote.Head(mustRef(t, prod))
	if err != nil {
		t.Fatalf("production: %v", err)
	}
	if got.Digest != want.Digest {
		t.Errorf("production %s, staging %s", got.Digest, want.Digest)
	}
}
