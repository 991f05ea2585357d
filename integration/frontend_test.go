package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/tonistiigi/fsutil"

	"github.com/safebuild/safebuild/frontend"
	"github.com/safebuild/safebuild/integration/stack"
)

// TestFrontendImageAndInProcess builds the repository's Dockerfile into the frontend image,
// pushes it to the stack's registry, and builds examples/clean through it as a gateway frontend;
// then builds the same example with frontend.Build run in-process, as `safebuild build` does.
func TestFrontendImageAndInProcess(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root := moduleRoot(t)
	vc, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	// Token-shaped (a GitHub PAT), so that rules find it where no canary is known (the frontend
	// image mode).
	token := "ghp_" + randHex(t, 18)
	if _, err := vc.KVv2("secret").Put(ctx, "ci/npm", map[string]any{"token": token}); err != nil {
		t.Fatal(err)
	}
	store := stack.KVSecrets(vc, "secret", map[string]stack.KVRef{"npm_token": {Path: "ci/npm", Field: "token"}})
	// examples/clean with a `# syntax=` line naming a frontend that does not exist: BuildKit's
	// own Dockerfile frontend would forward to it and fail; safebuild must build and warn.
	example := t.TempDir()
	if err := os.CopyFS(example, os.DirFS(filepath.Join(root, "examples", "clean"))); err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile(filepath.Join(example, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	const syntax = "127.0.0.1:1/nowhere/frontend:none"
	if err := os.WriteFile(filepath.Join(example, "Dockerfile"), append([]byte("# syntax="+syntax+"\n"), df...), 0o600); err != nil {
		t.Fatal(err)
	}

	frontendRef := frontendImage(t, s)

	solve := func(t *testing.T, opt client.SolveOpt, inProcess bool) {
		t.Helper()
		ctxFS, err := fsutil.NewFS(example)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "oci")
		opt.LocalMounts = map[string]fsutil.FS{"context": ctxFS, "dockerfile": ctxFS}
		opt.Session = []session.Attachable{secretsprovider.NewSecretProvider(store)}
		opt.Exports = []client.ExportEntry{{Type: client.ExporterOCI, Attrs: map[string]string{"tar": "false"}, OutputDir: out}}
		if opt.FrontendAttrs == nil {
			opt.FrontendAttrs = map[string]string{}
		}
		opt.FrontendAttrs["build-arg:BASE"] = s.BaseImage
		c, err := s.BuildKit.Client(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ch := make(chan *client.SolveStatus)
		warnings := make(chan []string, 1)
		go func() {
			var w []string
			for st := range ch {
				for _, v := range st.Warnings {
					w = append(w, string(v.Short))
				}
			}
			warnings <- w
		}()
		if inProcess {
			_, err = c.Build(ctx, opt, "safebuild", frontend.Build, ch)
		} else {
			_, err = c.Solve(ctx, nil, opt, ch)
		}
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		ws := <-warnings
		if !slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(w, "safebuild ignores # syntax="+syntax) }) {
			t.Errorf("no warning that # syntax= was ignored; warnings: %q", ws)
		}
		hits, err := searchLayout(out, [][]byte{[]byte(token)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) > 0 {
			t.Fatalf("the Vault-served token is in the image: %v", hits)
		}
	}
	t.Run("gateway image", func(t *testing.T) {
		solve(t, client.SolveOpt{Frontend: "gateway.v0", FrontendAttrs: map[string]string{"source": frontendRef}}, false)
	})
	t.Run("in-process", func(t *testing.T) {
		solve(t, client.SolveOpt{}, true)
	})

	// examples/sneaky passes the Dockerfile checks; the frontend must find its leaks in the
	// layers it built and fail before BuildKit exports anything.
	for _, tc := range []struct {
		name      string
		inProcess bool
	}{{"gateway image refuses leaky layers", false}, {"in-process refuses leaky layers", true}} {
		t.Run(tc.name, func(t *testing.T) {
			sneaky := filepath.Join(root, "examples", "sneaky")
			fs, err := fsutil.NewFS(sneaky)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "oci")
			opt := client.SolveOpt{
				// no-cache: other tests build examples/sneaky with other secret values, and a
				// secret's value is not part of BuildKit's cache key (moby/buildkit#2547).
				FrontendAttrs: map[string]string{"build-arg:BASE": s.BaseImage, "no-cache": ""},
				LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
				Session:       []session.Attachable{secretsprovider.NewSecretProvider(store)},
				Exports:       []client.ExportEntry{{Type: client.ExporterOCI, Attrs: map[string]string{"tar": "false"}, OutputDir: out}},
			}
			c, err := s.BuildKit.Client(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.inProcess {
				_, err = c.Build(ctx, opt, "safebuild", frontend.Build, nil)
			} else {
				opt.Frontend = "gateway.v0"
				opt.FrontendAttrs["source"] = frontendRef
				_, err = c.Solve(ctx, nil, opt, nil)
			}
			if err == nil {
				t.Fatal("the sneaky build was not refused")
			}
			msg := err.Error()
			for _, want := range []string{"build refused", "app/.npmrc", "app/deploy_key", "root/.ssh/id_ed25519", "root/.npm-token"} {
				if !strings.Contains(msg, want) {
					t.Errorf("refusal lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, token) {
				t.Error("the refusal holds the Vault value")
			}
			if _, err := os.Stat(filepath.Join(out, "index.json")); err == nil {
				t.Error("a refused build exported an image")
			}
		})
	}
}

// TestMissingSecretFailsTheStep: with BuildKit's own frontend a secret mount the client cannot
// serve is optional and the step runs with an empty file; safebuild's frontend makes every secret
// mount required, so the step fails and says which secret is missing.
func TestMissingSecretFailsTheStep(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	dir := t.TempDir()
	df := "ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=nope --mount=type=secret,id=nope_env,env=NOPE echo ran > /ran\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	opt := func() client.SolveOpt {
		return client.SolveOpt{
			FrontendAttrs: map[string]string{"build-arg:BASE": s.BaseImage},
			LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
			Session:       []session.Attachable{secretsprovider.NewSecretProvider(stack.KVSecrets(nil, "secret", nil))},
		}
	}
	c, err := s.BuildKit.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The baseline: BuildKit's Dockerfile frontend runs the step without the secret.
	o := opt()
	o.Frontend = "dockerfile.v0"
	if _, err := c.Solve(ctx, nil, o, nil); err != nil {
		t.Fatalf("BuildKit's own frontend failed (the test's premise is that it runs the step): %v", err)
	}
	_, err = c.Build(ctx, opt(), "safebuild", frontend.Build, nil)
	if err == nil {
		t.Fatal("safebuild's frontend ran a step whose secret is missing")
	}
	if !strings.Contains(err.Error(), "nope") {
		t.Errorf("the error does not name the missing secret: %v", err)
	}
}

// TestFrontendScansArchivesInLayers: the in-build scan opens archives too — a Stripe key inside
// a jar's application.properties fails the build.
func TestFrontendScansArchivesInLayers(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	dir := t.TempDir()
	jar, err := os.ReadFile(filepath.Join(moduleRoot(t), "examples", "leaky", "app", "lib", "app.jar"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.jar"), jar, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("ARG BASE\nFROM ${BASE}\nCOPY app.jar /opt/app.jar\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.BuildKit.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Build(ctx, client.SolveOpt{
		FrontendAttrs: map[string]string{"build-arg:BASE": s.BaseImage},
		LocalMounts:   map[string]fsutil.FS{"context": fs, "dockerfile": fs},
	}, "safebuild", frontend.Build, nil)
	if err == nil || !strings.Contains(err.Error(), "opt/app.jar!BOOT-INF/classes/application.properties") {
		t.Fatalf("want a refusal naming the jar member, got %v", err)
	}
}
