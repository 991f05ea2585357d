package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/image/containerd"
	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/integration/stack"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
)

// layerView is what every image source must agree on for one layer.
type layerView struct {
	Digest, DiffID, CreatedBy string
	Entries                   []string // regular files: "path" or "path (removed in layer N)"
}

func viewImage(t *testing.T, img *image.Image) []layerView {
	t.Helper()
	ctx := context.Background()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	w := image.NewWhiteouts()
	type file struct {
		layer int
		path  string
	}
	var files []file
	for _, l := range ls {
		err := image.WalkLayer(ctx, l, w, image.Limits{}, func(e image.Entry) error {
			if e.Content != nil {
				files = append(files, file{l.Index, e.Path})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out := make([]layerView, len(ls))
	for i, l := range ls {
		out[i] = layerView{Digest: l.Digest, DiffID: l.DiffID, CreatedBy: l.CreatedBy}
	}
	for _, f := range files {
		s := f.path
		if r, ok := w.RemovedIn(f.path, f.layer); ok {
			s += fmt.Sprintf(" (removed in layer %d)", r)
		}
		out[f.layer].Entries = append(out[f.layer].Entries, s)
	}
	return out
}

// TestImageSourcesAgree builds examples/leaky once with the real buildkitd, exports it as an OCI
// layout, an OCI archive and a docker-archive, pushes it to the stack's registry and imports it
// into a real containerd; all five sources must show the same layers, history, files and
// whiteouts — including the key copied in one layer and removed in the next.
func TestImageSourcesAgree(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root := moduleRoot(t)
	dir := t.TempDir()
	layoutDir, ociTar, dockerTar := filepath.Join(dir, "layout"), filepath.Join(dir, "oci.tar"), filepath.Join(dir, "docker.tar")
	pushed := s.Registry.Host + "/examples/leaky:test"
	const npmArg = "npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"
	err := s.BuildKit.Build(ctx, stack.BuildOptions{
		ContextDir: filepath.Join(root, "examples", "leaky"),
		BuildArgs:  map[string]string{"BASE": s.BaseImage, "NPM_TOKEN": npmArg},
		OCILayout:  layoutDir, OCIArchive: ociTar, DockerArchive: dockerTar, Name: pushed, Push: pushed,
	})
	if err != nil {
		t.Fatal(err)
	}

	cd, err := s.StartContainerd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cd.Stop()
	cc, err := client.New(cd.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	f, err := os.Open(ociTar)
	if err != nil {
		t.Fatal(err)
	}
	const ns, imported = "safebuild-test", "safebuild.test/examples/leaky:imported"
	_, err = cc.Import(namespaces.WithNamespace(ctx, ns), f, client.WithIndexName(imported))
	f.Close()
	if err != nil {
		t.Fatalf("importing into containerd: %v", err)
	}

	var want []layerView
	var wantFound []string
	var wantCLI string
	for _, arg := range []string{
		"oci:" + layoutDir,
		"oci-archive:" + ociTar,
		"docker-archive:" + dockerTar,
		"registry:" + pushed,
		"containerd:" + imported,
	} {
		t.Run(strings.SplitN(arg, ":", 2)[0], func(t *testing.T) {
			ref, err := image.ParseRef(arg)
			if err != nil {
				t.Fatal(err)
			}
			set, err := image.Open(ctx, ref, image.Options{Containerd: containerd.Opener(cd.Address, ns)})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			if len(set.Images) != 1 {
				t.Fatalf("%d images, want 1", len(set.Images))
			}
			cli := scanCLI(t, s, arg, "--containerd-address", cd.Address, "--namespace", ns)
			for _, v := range append(leakyValues, npmArg) {
				if strings.Contains(cli, v) {
					t.Errorf("safebuild scan %s prints a planted value (%.6s…)", arg, v)
				}
			}
			if wantCLI == "" {
				wantCLI = cli
			} else if cli != wantCLI {
				t.Errorf("safebuild scan %s differs from the OCI layout's report:\n%s\nwant\n%s", arg, cli, wantCLI)
			}
			got := viewImage(t, set.Images[0])
			found := scanView(t, set.Images[0])
			if want == nil {
				want, wantFound = got, found
				checkLeakyLayers(t, got)
				checkLeakyFindings(t, found)
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s differs from the OCI layout:\n%+v\nwant\n%+v", arg, got, want)
			}
			if !reflect.DeepEqual(found, wantFound) {
				t.Errorf("%s: findings differ from the OCI layout's:\n%s\nwant\n%s", arg, strings.Join(found, "\n"), strings.Join(wantFound, "\n"))
			}
		})
	}
}

// leakyValues are the credentials examples/leaky plants (fakes), which no report may print.
var leakyValues = []string{
	"ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "AKIAHBRPOIGF3CBFNOBM", "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7",
	"MC4CAQAwBQYDK2VwBCIEIO2EqEKjiJHAb5bN9Hn7TppqPOQYTKLz1BzmPteZfBXm", "ghp_en68K4TunPFz46PDjqipVJIqVLB5LzxoiGFf",
	"sk_live_n9Wvgfygw2wMqZcUDIh7yfJs", "glpat-TPSIAoCLrZ3aWZkSBvrj", "xoxb-959310341316-475255341928-UpkDyr7OSJoRu1XXdo0cZuzr",
}

// checkLeakyLayers pins what examples/leaky must look like, so that agreement is not agreement
// on nothing.
func checkLeakyLayers(t *testing.T, ls []layerView) {
	t.Helper()
	var all []string
	for i, l := range ls {
		for _, e := range l.Entries {
			all = append(all, fmt.Sprintf("%d:%s", i, e))
		}
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"app/.npmrc", "app/deploy_key (removed in layer", "root/.ssh/id_ed25519 (removed in layer"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no file entry %q among\n%s", want, joined)
		}
	}
	found := false
	for _, l := range ls {
		if strings.Contains(l.CreatedBy, "NPM_TOKEN=") {
			found = true
		}
	}
	if !found {
		t.Errorf("no layer's created_by records the NPM_TOKEN build-arg")
	}
}

// scanView scans img with the default rules and returns each finding as
// "rule kind path[:line] [layer N] [removed in M]".
func scanView(t *testing.T, img *image.Image) []string {
	t.Helper()
	rs, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.NewScanner(policy.WithRules(rs))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var out []string
	_, err = imagescan.Scan(context.Background(), sc, img, imagescan.Options{}, func(f imagescan.Finding) error {
		s := fmt.Sprintf("%s %s %s:%d", f.RuleID, f.Origin.Kind, f.Origin.Path, f.Line)
		if f.Layer != nil {
			s += fmt.Sprintf(" layer %d", f.Layer.Index)
			if f.Layer.RemovedInLayer != nil {
				s += fmt.Sprintf(" removed in %d", *f.Layer.RemovedInLayer)
			}
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLeakyFindings: every credential examples/leaky plants is reported, where it is.
func checkLeakyFindings(t *testing.T, found []string) {
	t.Helper()
	joined := strings.Join(found, "\n")
	for _, want := range []string{
		"github-pat config Env[",                                           // ENV GITHUB_TOKEN
		"aws-access-token config Labels[",                                  // LABEL with an AWS key
		"npm-access-token config History[",                                 // the build-arg, in history
		" layer app/.npmrc:",                                               // COPY'd .npmrc
		"private-key layer app/deploy_key:1",                               // the key, removed later
		"private-key layer root/.ssh/id_ed25519:1",                         // ... copied and removed
		" layer opt/deploy_key.b64:",                                       // its base64 form
		" layer app/.git-credentials:1",                                    // https://user:token@host
		" layer app/lib/app.jar!BOOT-INF/classes/application.properties:2", // token in a jar
		" layer app/config.tar.gz!config/.env:1",                           // .env in a .tar.gz
		" layer var/log/app/app.log:",                                      // last line of an 18 MiB log
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no finding %q among\n%s", want, joined)
		}
	}
	if !strings.Contains(joined, "removed in") {
		t.Errorf("no finding says its file was removed in a later layer:\n%s", joined)
	}
}

// scanCLI runs `safebuild scan --format json` and returns its findings without the "image"
// field (which names the source), one JSON object per line, so that sources can be compared.
func scanCLI(t *testing.T, s *stack.Stack, args ...string) string {
	t.Helper()
	stdout, stderr, err := safebuildCLI(t, s, append([]string{"scan", "--format", "json"}, args...)...)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("safebuild scan %v: want exit code 1 (findings), got %v\n%s", args, err, stderr)
	}
	var rep struct {
		Findings []map[string]any `json:"findings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("safebuild scan %v: %v\n%s", args, err, stdout)
	}
	var lines []string
	for _, f := range rep.Findings {
		delete(f, "image")
		dt, _ := json.Marshal(f)
		lines = append(lines, string(dt))
	}
	if len(lines) == 0 {
		t.Fatalf("safebuild scan %v: no findings", args)
	}
	return strings.Join(lines, "\n")
}
