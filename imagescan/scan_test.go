package imagescan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/internal/testimage"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
	"github.com/safebuild/safebuild/policy/config"
)

// withDefaultRules is WithRules(config.Default()), or stops the test.
func withDefaultRules(t testing.TB) policy.Option {
	t.Helper()
	rs, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	return policy.WithRules(rs)
}

const (
	ghToken  = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
	npmToken = "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"
	canary   = "canary-value-only-vault-knows-0123456789"
)

func tarLayer(t *testing.T, files map[string]string) v1.Layer { return testimage.Layer(t, files) }

// leakyImage: a token in the ENV, an npm token in a layer file, a canary copied into a file and
// whited out in the next layer.
func leakyImage(t *testing.T) string {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"app/.npmrc": "//registry.npmjs.org/:_authToken=" + npmToken + "\n", "app/main.js": "console.log(1)\n"}), History: v1.History{CreatedBy: "COPY app/ /app/"}},
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"tmp/leak": canary}), History: v1.History{CreatedBy: "RUN cp /run/secrets/x /tmp/leak"}},
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"tmp/.wh.leak": ""}), History: v1.History{CreatedBy: "RUN rm /tmp/leak"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Layout(t, testimage.WithEnv(t, img, []string{"PATH=/bin", "GITHUB_TOKEN=" + ghToken}))
}

func TestScanFindsEverythingWithLocations(t *testing.T) {
	dir := leakyImage(t)
	set, err := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: dir}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	sc, err := policy.NewScanner(withDefaultRules(t), policy.WithCanaries(policy.Canary{Name: "vault:secret/ci/x#token", Value: []byte(canary)}))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var got []Finding
	if _, err := Scan(context.Background(), sc, set.Images[0], Options{}, func(f Finding) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got {
		s := f.RuleID + " " + f.Origin.Kind + " " + f.Origin.Path
		if f.Layer != nil {
			s += " layer " + string(rune('0'+f.Layer.Index)) + " by " + f.Layer.CreatedBy
			if f.Layer.RemovedInLayer != nil {
				s += " removed in " + string(rune('0'+*f.Layer.RemovedInLayer))
			}
		}
		lines = append(lines, s)
		for _, secret := range []string{ghToken, npmToken, canary} {
			if strings.Contains(f.Redacted, secret) || strings.Contains(f.Description, secret) {
				t.Errorf("finding %s holds a secret", s)
			}
		}
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{
		"github-pat config Env[1]",
		"npm-access-token layer app/.npmrc layer 0 by COPY app/ /app/",
		"canary layer tmp/leak layer 1 by RUN cp /run/secrets/x /tmp/leak removed in 2",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in\n%s", want, joined)
		}
	}
}

func TestScanOpensArchivesInLayers(t *testing.T) {
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	w, _ := zw.Create("BOOT-INF/classes/application.properties")
	w.Write([]byte("github.token=" + ghToken + "\n"))
	zw.Close()
	var envTar bytes.Buffer
	tw := tar.NewWriter(&envTar)
	env := "NPM_TOKEN=" + npmToken + "\n"
	tw.WriteHeader(&tar.Header{Name: "app/.env", Mode: 0o644, Size: int64(len(env)), Typeflag: tar.TypeReg})
	tw.Write([]byte(env))
	tw.Close()
	var tgz bytes.Buffer
	gw := gzip.NewWriter(&tgz)
	gw.Write(envTar.Bytes())
	gw.Close()
	var bomb bytes.Buffer
	bw := gzip.NewWriter(&bomb)
	bw.Write(make([]byte, 4<<20))
	bw.Close()

	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: tarLayer(t, map[string]string{
		"opt/app/app.jar":   jar.String(),
		"srv/config.tar.gz": tgz.String(),
		"var/bomb.gz":       bomb.String(),
	}), History: v1.History{CreatedBy: "COPY . /"}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: testimage.Layout(t, img)}, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := policy.NewScanner(withDefaultRules(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var got []string
	_, err = Scan(context.Background(), sc, set.Images[0], Options{Archives: archive.Options{MaxBytes: 1 << 20}}, func(f Finding) error {
		got = append(got, f.RuleID+" "+f.Origin.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		"github-pat opt/app/app.jar!BOOT-INF/classes/application.properties",
		"npm-access-token srv/config.tar.gz!app/.env",
		"incomplete-scan var/bomb.gz",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in\n%s", want, joined)
		}
	}
}

// TestCache: a second scan with the same key replays each layer without reading its blob and
// reports exactly what the first did (removed_in_layer included); a different salt or different
// limits miss, so a cached result can never stand in for a scan that would differ.
func TestCache(t *testing.T) {
	dir := leakyImage(t)
	cacheDir := t.TempDir()
	scan := func(salt string, o Options) ([]Finding, error) {
		set, err := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: dir}, image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		sc, err := policy.NewScanner(withDefaultRules(t))
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		if o.Cache, err = NewCache(cacheDir, salt); err != nil {
			t.Fatal(err)
		}
		var got []Finding
		_, err = Scan(context.Background(), sc, set.Images[0], o, func(f Finding) error { got = append(got, f); return nil })
		return got, err
	}
	first, err := scan("engine-a", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Fatal("no findings to cache")
	}
	// Take the layer blobs away: only the cache can answer now.
	set, _ := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: dir}, image.Options{})
	ls, _ := set.Images[0].Layers()
	for _, l := range ls {
		alg, hx, _ := strings.Cut(l.Digest, ":")
		if err := os.Remove(filepath.Join(dir, "blobs", alg, hx)); err != nil {
			t.Fatal(err)
		}
	}
	second, err := scan("engine-a", Options{})
	if err != nil {
		t.Fatalf("cached scan read a blob: %v", err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("cached scan differs:\n%+v\nwant\n%+v", second, first)
	}
	if _, err := scan("engine-b", Options{}); err == nil {
		t.Error("another salt was answered from the cache")
	}
	if _, err := scan("engine-a", Options{Archives: archive.Options{MaxDepth: 1}}); err == nil {
		t.Error("other archive limits were answered from the cache")
	}
}
