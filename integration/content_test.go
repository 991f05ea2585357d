package integration

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/integration/stack"
)

// What is inside layers (issue 9): one image, built by the stack's buildkitd on its busybox
// base, holding a PowerShell script saved as UTF-16LE, a zip named release.pkg, a token behind a
// hard link whose target sits at an allowlisted path (a .png), and an application installed
// into site-packages. `safebuild scan` and `safebuild build` must find each.
const (
	contentPAT    = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
	contentGitLab = "glpat-Zx8qLm3nVb5cTr7wKp2s"
	contentStripe = "sk_live_51HqLyjWDarjtT1zdp7dcXq9Zt"
	contentSlack  = "xoxb-959310341316-475255341928-UpkDyr7OSJoRu1XXdo0cZuzr"
)

// contentWant is where each planted secret must be reported.
var contentWant = []struct{ rule, path string }{
	{"github-pat", "opt/tools/deploy.ps1"},
	{"gitlab-pat", "opt/release.pkg!config/settings.env"},
	{"stripe-access-token", "usr/local/lib/python3.12/site-packages/orders_service/settings.py"},
	{"slack-bot-token", "srv/app/.env"},
}

func contentContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ps1 := "# deploy helper\r\n$env:GITHUB_TOKEN = \"" + contentPAT + "\"\r\n"
	u := []byte{0xff, 0xfe}
	for _, c := range utf16.Encode([]rune(ps1)) {
		u = append(u, byte(c), byte(c>>8))
	}
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("config/settings.env")
	w.Write([]byte("APP_ENV=prod\nGITLAB_TOKEN=" + contentGitLab + "\n"))
	zw.Close()
	files := map[string][]byte{
		"deploy.ps1":  u,
		"release.pkg": z.Bytes(),
		"settings.py": []byte("STRIPE_API_KEY = \"" + contentStripe + "\"\n"),
		"slack.txt":   []byte("SLACK_BOT_TOKEN=" + contentSlack + "\n"),
		// The link's target sorts before the link, so the layer's tar stores the bytes under
		// the allowlisted name and a hard link, with no bytes, under srv/app/.env.
		"Dockerfile": []byte(`ARG BASE
FROM ${BASE}
COPY deploy.ps1 /opt/tools/deploy.ps1
COPY release.pkg /opt/release.pkg
COPY settings.py /usr/local/lib/python3.12/site-packages/orders_service/settings.py
RUN --mount=type=bind,source=slack.txt,target=/mnt/slack.txt mkdir -p /app/assets /srv/app && cp /mnt/slack.txt /app/assets/logo.png && ln /app/assets/logo.png /srv/app/.env
`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestContentInLayers builds the image with plain BuildKit and scans it, then builds it with
// `safebuild build`, which must refuse it for the same four findings.
func TestContentInLayers(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	bctx := contentContext(t)
	layout := filepath.Join(t.TempDir(), "layout")
	if err := s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: bctx, BuildArgs: map[string]string{"BASE": s.BaseImage}, OCILayout: layout}); err != nil {
		t.Fatal(err)
	}
	assertHardLinkInLayers(t, layout, "srv/app/.env")

	findings, _ := scanLayoutRefused(t, s, layout)
	for _, w := range contentWant {
		found := false
		for _, f := range findings {
			found = found || f.RuleID == w.rule && f.Path == w.path && f.Line > 0
		}
		if !found {
			t.Errorf("scan: no %s at %s in %+v", w.rule, w.path, findings)
		}
	}

	out := filepath.Join(t.TempDir(), "image.tar")
	stdout, stderr, err := safebuildCLI(t, s, "build", "--progress", "quiet", "--build-arg", "BASE="+s.BaseImage, "-o", out, bctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("build: want exit 1 (refused), got %v\n%s\n%s", err, stdout, stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused build wrote %s", out)
	}
	for _, w := range contentWant {
		if !strings.Contains(stderr, w.path) {
			t.Errorf("build refusal does not name %s:\n%s", w.path, stderr)
		}
	}
	for _, secret := range []string{contentPAT, contentGitLab, contentStripe, contentSlack} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("the output prints a secret")
		}
	}
}

// assertHardLinkInLayers checks that the built image really stores p as a hard link: the test is
// about links, and a builder that wrote the bytes twice would pass it without one.
func assertHardLinkInLayers(t *testing.T, layout, p string) {
	t.Helper()
	set, err := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: layout}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ls, err := set.Images[0].Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		found := false
		err := image.WalkLayer(context.Background(), l, nil, image.Limits{}, func(e image.Entry) error {
			found = found || e.Path == p && e.Link != ""
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found {
			return
		}
	}
	t.Fatalf("no layer stores %s as a hard link", p)
}
