package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/safebuild/safebuild/integration/stack"
)

var (
	safebuildOnce sync.Once
	safebuildBin  string
	safebuildErr  error
)

// safebuildBinary builds cmd/safebuild once per test run.
func safebuildBinary(t *testing.T) string {
	t.Helper()
	safebuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "safebuild-bin-")
		if err != nil {
			safebuildErr = err
			return
		}
		safebuildBin, safebuildErr = stack.BuildSafebuild(context.Background(), dir)
	})
	if safebuildErr != nil {
		t.Fatal(safebuildErr)
	}
	return safebuildBin
}

// ciEnv is the environment of a GitHub Actions job using the stack: BUILDKIT_HOST and VAULT_ADDR
// point at it, and the job's OIDC endpoint is a loopback fake minting tokens for the github role.
func ciEnv(t *testing.T, s *stack.Stack) []string {
	t.Helper()
	getenv := fakeGitHubOIDC(t, func() (string, error) { return s.Vault.SignJWT(stack.GitHubClaims(time.Now())) })
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(),
		"BUILDKIT_HOST=" + s.BuildKit.Address, "VAULT_ADDR=" + s.Vault.Address}
	for _, k := range []string{"GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"} {
		env = append(env, k+"="+getenv(k))
	}
	return env
}

// safebuildCLI runs the safebuild binary in ciEnv and returns its output.
func safebuildCLI(t *testing.T, s *stack.Stack, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := ciEnv(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, safebuildBinary(t), args...)
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// liveCITokens counts the tokens with the CI policy that Vault still holds.
func liveCITokens(t *testing.T, s *stack.Stack) int {
	t.Helper()
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	list, err := root.Logical().List("auth/token/accessors")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	keys, _ := list.Data["keys"].([]any)
	for _, k := range keys {
		info, err := root.Auth().Token().LookupAccessor(k.(string))
		if err != nil {
			continue // revoked meanwhile
		}
		pols, _ := info.TokenPolicies()
		for _, p := range pols {
			if p == stack.CIPolicy {
				n++
			}
		}
	}
	return n
}

// TestBuildCommand runs `safebuild build` on examples/clean with the npm token served from Vault
// after a JWT login, writes an OCI archive, and checks the token is in neither the archive nor
// the progress output and the login token is revoked; then a build that echoes the secret and
// fails shows it masked, writes no output and also revokes its token.
func TestBuildCommand(t *testing.T) {
	s := needStack(t)
	root := moduleRoot(t)
	token := "npm_" + randHex(t, 18)
	putSecret(t, s, "ci/npm", map[string]any{"token": token})
	before := liveCITokens(t, s)

	t.Run("clean build writes its output", func(t *testing.T) {
		dir := t.TempDir()
		out, iid, md := filepath.Join(dir, "clean.tar"), filepath.Join(dir, "iid"), filepath.Join(dir, "metadata.json")
		stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "plain", "--build-arg", "BASE="+s.BaseImage,
			"-o", "type=oci,dest="+out, "--iidfile", iid, "--metadata-file", md, filepath.Join(root, "examples", "clean"))
		if err != nil {
			t.Fatalf("safebuild build: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !strings.Contains(stdout, "wrote oci-archive:"+out) {
			t.Errorf("stdout does not report the output:\n%s", stdout)
		}
		// docker build's --iidfile and --metadata-file, as CI actions read them.
		if id, err := os.ReadFile(iid); err != nil || !strings.HasPrefix(string(id), "sha256:") || len(id) != 71 {
			t.Errorf("--iidfile: %q, %v", id, err)
		}
		var meta map[string]any
		if dt, err := os.ReadFile(md); err != nil || json.Unmarshal(dt, &meta) != nil {
			t.Errorf("--metadata-file: %s, %v", dt, err)
		} else if d, _ := meta["containerimage.digest"].(string); d == "" || !strings.Contains(stdout, "built "+d) {
			t.Errorf("--metadata-file digest %q; stdout:\n%s", d, stdout)
		}
		layout := filepath.Join(t.TempDir(), "layout")
		untar(t, out, layout)
		if hits, err := searchLayout(layout, [][]byte{[]byte(token)}); err != nil || len(hits) > 0 {
			t.Errorf("token in the archive: %v %v", hits, err)
		}
		if strings.Contains(stderr+stdout, token) {
			t.Error("the token is in the command's output")
		}
		if n := liveCITokens(t, s); n != before {
			t.Errorf("%d CI tokens alive after the build, %d before: the login token was not revoked", n, before)
		}
	})

	t.Run("failed build is masked and writes nothing", func(t *testing.T) {
		dir := t.TempDir()
		df := "ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=npm_token,env=T,required=true echo \"token is $T\" && false\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "never.tar")
		stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "plain", "--build-arg", "BASE="+s.BaseImage,
			"--config", filepath.Join(root, "examples", "clean", "safebuild.yaml"), "-o", out,
			"--iidfile", filepath.Join(filepath.Dir(out), "iid"), dir)
		if err == nil {
			t.Fatal("the failing build succeeded")
		}
		if strings.Contains(stderr+stdout, token) {
			t.Errorf("the token is in the output:\n%s", stderr)
		}
		if !strings.Contains(stderr, "token is ****") {
			t.Errorf("the echoed secret is not shown masked:\n%s", stderr)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed build left %s behind", out)
		}
		entries, _ := os.ReadDir(filepath.Dir(out))
		if len(entries) > 0 {
			t.Errorf("a failed build left files in the output directory: %v", entries)
		}
		if n := liveCITokens(t, s); n != before {
			t.Errorf("%d CI tokens alive after the failed build, %d before", n, before)
		}
	})

	t.Run("non-vault secret sources are refused", func(t *testing.T) {
		_, stderr, err := safebuildCLI(t, s, "build", "--secret", "id=x,src=/etc/hostname", filepath.Join(root, "examples", "clean"))
		if err == nil || !strings.Contains(stderr, "only vault: sources are served") {
			t.Fatalf("err %v, stderr:\n%s", err, stderr)
		}
		if strings.Contains(stderr, "/etc/hostname") {
			t.Error("the refused source path is echoed")
		}
	})
}

func untar(t *testing.T, file, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xf", file, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("untar %s: %v\n%s", file, err, out)
	}
}

// TestBuildRefusesLeaks: `safebuild build` refuses examples/leaky before it runs (secret-named
// ENV and ARG, a secret build-arg value), and examples/sneaky — whose Dockerfile is clean — after
// it ran, from its layers: the COPY'd .npmrc, the deploy key "removed" in a later layer, and the
// Vault-served value copied into a file, which only the canary can find. Exit code 1, a report
// that names each place and never a value, and no output.
func TestBuildRefusesLeaks(t *testing.T) {
	s := needStack(t)
	root := moduleRoot(t)
	const npmArg = "npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"
	// A value with no recognisable shape: only the canary can find it.
	vaultValue := "plainwords-" + randHex(t, 10)
	putSecret(t, s, "ci/npm", map[string]any{"token": vaultValue})
	secrets := []string{npmArg, vaultValue, "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7",
		"npm_Zq7pRfW2nXs9LkT4yVb8HcM1gJdE6aUo3iNr", "MC4CAQAwBQYDK2VwBCIEIO2EqEKjiJHAb5bN9Hn7TppqPOQYTKLz1BzmPteZfBXm"}

	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"examples/leaky", []string{"--build-arg", "NPM_TOKEN=" + npmArg, "--config", filepath.Join(root, "examples", "clean", "safebuild.yaml")}, []string{
			"build refused before it ran",
			"Dockerfile:7: ENV GITHUB_TOKEN",    // secret-named ENV, and its value
			"Dockerfile:11: ARG NPM_TOKEN",      // secret-named ARG
			"Dockerfile:8: a secret is written", // the AWS key in a LABEL
			"--build-arg NPM_TOKEN holds a secret",
		}},
		{"examples/sneaky", nil, []string{
			"build refused", "nothing was exported",
			"app/.npmrc",           // COPY'd token
			"app/deploy_key",       // the key, copied in
			"root/.ssh/id_ed25519", // moved, then removed later
			"removed in layer",
			"root/.npm-token", "canary", // the Vault value, found as a canary
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image.tar")
			args := append([]string{"build", "--progress", "quiet", "--build-arg", "BASE=" + s.BaseImage, "-o", out}, tc.args...)
			stdout, stderr, err := safebuildCLI(t, s, append(args, filepath.Join(root, tc.name))...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("want exit code 1, got %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused build wrote %s", out)
			}
			for _, want := range tc.wants {
				if !strings.Contains(stderr, want) {
					t.Errorf("report lacks %q:\n%s", want, stderr)
				}
			}
			for _, secret := range secrets {
				for _, line := range strings.Split(stderr+stdout, "\n") {
					if strings.Contains(line, secret) {
						t.Errorf("the report prints a secret: %s", strings.ReplaceAll(line, secret, "<SECRET>"))
					}
				}
			}
		})
	}
}

// TestBuildInterrupted: SIGTERM (or Ctrl-C) during `safebuild build` ends the build, writes no
// output and still revokes the Vault login token.
func TestBuildInterrupted(t *testing.T) {
	s := needStack(t)
	root := moduleRoot(t)
	putSecret(t, s, "ci/npm", map[string]any{"token": "npm_" + randHex(t, 18)})
	before := liveCITokens(t, s)
	dir := t.TempDir()
	df := "ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=npm_token,required=true test -s /run/secrets/npm_token && sleep 120\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "never.tar")
			cmd := exec.Command(safebuildBinary(t), "build", "--progress", "plain", "--no-cache", "--build-arg", "BASE="+s.BaseImage,
				"--config", filepath.Join(root, "examples", "clean", "safebuild.yaml"), "-o", out, dir)
			cmd.Env = ciEnv(t, s)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the step runs (a login token exists), then interrupt.
			deadline := time.Now().Add(60 * time.Second)
			for liveCITokens(t, s) == before && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(2 * time.Second)
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("the interrupted build exited 0")
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("safebuild did not exit within 30s of %s\n%s", sig, stderr.String())
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("an interrupted build wrote %s", out)
			}
			if n := liveCITokens(t, s); n != before {
				t.Errorf("%d CI tokens alive after %s, %d before: the login token was not revoked", n, sig, before)
			}
		})
	}
}
