// Command demo shows safebuild's main job on the real stack: `safebuild build` refuses
// examples/leaky before it runs and examples/sneaky after it ran (its layers leak), exporting
// nothing, then builds examples/clean — whose npm token is served from Vault after a CI-style
// OIDC login — and writes the image. Run it with `make demo`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/safebuild/safebuild/integration/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) (retErr error) {
	stack.QuietClientLogs()
	root, err := stack.ModuleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "safebuild-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintln(w, "building safebuild, starting the stack (buildkitd, registry, Vault)…")
	bin, err := stack.BuildSafebuild(ctx, work)
	if err != nil {
		return err
	}
	s, err := stack.Start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(retErr != nil); err != nil && retErr == nil {
			retErr = err
		}
	}()

	// A stand-in for GitHub Actions' OIDC endpoint: it hands the job an ID token that the
	// stack's Vault trusts for the role "github".
	oidc := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tok, err := s.Vault.SignJWT(stack.GitHubClaims(time.Now()))
		if err != nil {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(rw).Encode(map[string]string{"value": tok})
	}))
	defer oidc.Close()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + work,
		"BUILDKIT_HOST=" + s.BuildKit.Address, "VAULT_ADDR=" + s.Vault.Address,
		"GITHUB_ACTIONS=true", "ACTIONS_ID_TOKEN_REQUEST_URL=" + oidc.URL + "/token", "ACTIONS_ID_TOKEN_REQUEST_TOKEN=demo",
	}
	vc, err := s.Vault.Client()
	if err != nil {
		return err
	}
	if _, err := vc.KVv2("secret").Put(ctx, "ci/npm", map[string]any{"token": "npm_vAu1tServedT0kenNeverInTheImage0001"}); err != nil {
		return fmt.Errorf("writing secret/ci/npm: %w", err)
	}

	safebuild := func(args ...string) error {
		fmt.Fprintf(w, "\n$ safebuild %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env, cmd.Dir = env, root
		cmd.Stdout, cmd.Stderr = w, w
		return cmd.Run()
	}
	base := "BASE=" + s.BaseImage

	refused := func(name string, args ...string) error {
		out := filepath.Join(work, filepath.Base(name)+".tar")
		err := safebuild(append(append([]string{"build", "--progress", "quiet", "--build-arg", base, "-o", out}, args...), name)...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			return fmt.Errorf("%s was not refused (%v)", name, err)
		}
		if _, err := os.Stat(out); err == nil {
			return fmt.Errorf("the refused build of %s wrote its output", name)
		}
		fmt.Fprintf(w, "(exit code 1; %s was not written)\n", filepath.Base(out))
		return nil
	}

	fmt.Fprintf(w, "\n== 1. examples/leaky: a token in ENV, a secret-named ARG, a token passed as a build-arg ==\n")
	fmt.Fprintf(w, "   refused before anything runs, with the Dockerfile lines:\n")
	if err := refused("examples/leaky", "--build-arg", "NPM_TOKEN=npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n== 2. examples/sneaky: a clean Dockerfile whose layers leak ==\n")
	fmt.Fprintf(w, "   a COPY'd .npmrc, a key rm'd in a later layer, the Vault token copied into a file;\n")
	fmt.Fprintf(w, "   built, then refused before export by the layer scan (the Vault value is a canary):\n")
	if err := refused("examples/sneaky"); err != nil {
		return err
	}

	fmt.Fprintf(w, "\n== 3. examples/clean: the npm token is mounted from Vault (secret/ci/npm#token) for one step ==\n")
	out := filepath.Join(work, "clean.tar")
	reg := s.Registry.Host
	if err := safebuild("build", "--progress", "quiet", "--build-arg", base, "-o", out,
		"-t", reg+"/staging/app:1", "--push", "examples/clean"); err != nil {
		return fmt.Errorf("the clean build failed: %w", err)
	}
	fmt.Fprintf(w, "(exit code 0; the Vault login token was revoked when the build ended)\n")

	fmt.Fprintf(w, "\n== 4. promotion from staging to production ==\n")
	fmt.Fprintf(w, "   examples/sneaky built by plain BuildKit (no gate) and pushed to staging is refused;\n")
	fmt.Fprintf(w, "   the clean image is copied by the digest that was scanned:\n")
	store := stack.KVSecrets(vc, "secret", map[string]stack.KVRef{"npm_token": {Path: "ci/npm", Field: "token"}})
	if err := s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: filepath.Join(root, "examples", "sneaky"),
		BuildArgs: map[string]string{"BASE": s.BaseImage}, Secrets: store, Push: reg + "/staging/legacy:1"}); err != nil {
		return fmt.Errorf("building examples/sneaky with plain BuildKit: %w", err)
	}
	err = safebuild("promote", reg+"/staging/legacy:1", reg+"/prod/legacy:1")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		return fmt.Errorf("the leaky image was not refused (%v)", err)
	}
	fmt.Fprintf(w, "(exit code 1; nothing was written to prod)\n")
	if err := safebuild("promote", reg+"/staging/app:1", reg+"/prod/app:1"); err != nil {
		return fmt.Errorf("promoting the clean image failed: %w", err)
	}
	fmt.Fprintf(w, "(exit code 0)\n")
	return nil
}
