package promote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/safebuild/safebuild/internal/testimage"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
)

const ghToken = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"

// newRegistry starts an in-memory registry on loopback (ggcr's; plain HTTP, as for 127.0.0.1).
func newRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func head(ref string) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := remote.Head(r)
	if err != nil {
		return v1.Hash{}, err
	}
	return d.Digest, nil
}

func scanner(t *testing.T) *policy.Scanner {
	t.Helper()
	rs, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := policy.NewScanner(policy.WithRules(rs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPromote(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	clean := testimage.Image(t, []string{"PATH=/bin"}, map[string]string{"app/main.js": "console.log(1)\n"})
	leaky := testimage.Image(t, []string{"PATH=/bin"},
		map[string]string{"app/.npmrc": "//registry.npmjs.org/:_authToken=npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7\n"},
		map[string]string{"app/.wh..npmrc": ""})
	envLeak := testimage.Image(t, []string{"GITHUB_TOKEN=" + ghToken}, map[string]string{"a": "b\n"})
	cleanDigest := push(t, reg+"/staging/app:clean", clean)
	push(t, reg+"/staging/app:leaky", leaky)
	push(t, reg+"/staging/app:env", envLeak)

	t.Run("clean image is copied by digest", func(t *testing.T) {
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:clean", reg+"/prod/app:1.0", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Promoted || len(res.Findings) != 0 || res.Digest != cleanDigest.String() {
			t.Fatalf("result %+v", res)
		}
		if !strings.HasSuffix(res.Source, "@"+cleanDigest.String()) {
			t.Errorf("source %q not pinned to %s", res.Source, cleanDigest)
		}
		if got, err := head(reg + "/prod/app:1.0"); err != nil || got != cleanDigest {
			t.Errorf("prod/app:1.0 = %v, %v; want %s", got, err, cleanDigest)
		}
	})
	for _, c := range []struct{ tag, rule string }{{"leaky", "npm-access-token"}, {"env", "github-pat"}} {
		t.Run(c.tag+" image is refused and nothing is written", func(t *testing.T) {
			res, err := Promote(ctx, scanner(t), reg+"/staging/app:"+c.tag, reg+"/prod/app:"+c.tag, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Promoted || len(res.Findings) == 0 || res.Findings[0].RuleID != c.rule {
				t.Fatalf("result %+v", res)
			}
			if _, err := head(reg + "/prod/app:" + c.tag); err == nil {
				t.Error("the destination tag exists after a refused promotion")
			}
		})
	}
	t.Run("baseline allows accepted findings", func(t *testing.T) {
		first, err := Promote(ctx, scanner(t), reg+"/staging/app:env", reg+"/prod/app:env", Options{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		allow := map[string]bool{}
		for _, f := range first.Findings {
			allow[f.Fingerprint] = true
		}
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:env", reg+"/prod/app:env", Options{Allow: allow})
		if err != nil || !res.Promoted {
			t.Fatalf("with the findings allowed: %+v, %v", res, err)
		}
	})
	t.Run("--min-confidence: a low finding blocks only at low", func(t *testing.T) {
		p12 := testimage.Image(t, []string{"PATH=/bin"}, map[string]string{"app/certs/client.p12": "\x30\x82not really"})
		push(t, reg+"/staging/app:p12", p12)
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:p12", reg+"/prod/app:p12", Options{})
		if err != nil || res.Promoted || len(res.Findings) != 1 || res.Findings[0].Confidence != policy.ConfidenceLow {
			t.Fatalf("default (every finding blocks): %+v, %v", res, err)
		}
		res, err = Promote(ctx, scanner(t), reg+"/staging/app:p12", reg+"/prod/app:p12", Options{MinConfidence: policy.ConfidenceMedium})
		if err != nil || !res.Promoted || len(res.Findings) != 0 || len(res.Below) != 1 {
			t.Fatalf("at medium the low finding is reported, not blocking: %+v, %v", res, err)
		}
		res, err = Promote(ctx, scanner(t), reg+"/staging/app:env", reg+"/prod/app:env-high", Options{MinConfidence: policy.ConfidenceHigh})
		if err != nil || res.Promoted || len(res.Findings) == 0 {
			t.Fatalf("a high finding blocks at high: %+v, %v", res, err)
		}
	})
	t.Run("dry run writes nothing", func(t *testing.T) {
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:clean", reg+"/prod/app:dry", Options{DryRun: true})
		if err != nil || res.Promoted {
			t.Fatalf("%+v, %v", res, err)
		}
		if _, err := head(reg + "/prod/app:dry"); err == nil {
			t.Error("a dry run wrote the destination")
		}
	})
	t.Run("an index with one leaky platform is refused", func(t *testing.T) {
		idx := mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: clean, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: envLeak, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
		r, _ := name.ParseReference(reg + "/staging/multi:1")
		if err := remote.WriteIndex(r, idx); err != nil {
			t.Fatal(err)
		}
		res, err := Promote(ctx, scanner(t), reg+"/staging/multi:1", reg+"/prod/multi:1", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Promoted || len(res.Findings) == 0 || res.Findings[0].Platform != "linux/arm64" {
			t.Fatalf("result %+v", res)
		}
		cleanIdx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: clean, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
		if err := remote.WriteIndex(r, cleanIdx); err != nil {
			t.Fatal(err)
		}
		res, err = Promote(ctx, scanner(t), reg+"/staging/multi:1", reg+"/prod/multi:1", Options{})
		if err != nil || !res.Promoted {
			t.Fatalf("clean index: %+v, %v", res, err)
		}
		want, _ := cleanIdx.Digest()
		if got, err := head(reg + "/prod/multi:1"); err != nil || got != want {
			t.Errorf("prod/multi:1 = %v, %v; want the index %s", got, err, want)
		}
	})
	t.Run("errors name what was wrong", func(t *testing.T) {
		for _, c := range []struct{ src, dst, want string }{
			{"UPPER/case:x", reg + "/prod/a:1", `source "UPPER/case:x"`},
			{reg + "/staging/app:clean", "bad ref!", `destination "bad ref!"`},
			{reg + "/staging/app:missing", reg + "/prod/a:1", "staging/app:missing"},
			{reg + "/staging/app:clean", reg + "/prod/app@sha256:" + strings.Repeat("0", 64), "names digest sha256:000"},
		} {
			_, err := Promote(ctx, scanner(t), c.src, c.dst, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Promote(%s, %s) = %v, want an error with %q", c.src, c.dst, err, c.want)
			}
		}
	})
}

// TestPromoteIndexWithAttestations: an index as buildx pushes it (an image and its provenance
// attestation, whose config is the empty descriptor) is promoted whole — the attestation
// manifest is at the destination too; one whose attestation records a secret build-arg is
// refused; one the scan could not read whole (a layer blob gone, a listed manifest gone) is
// refused and nothing is written.
func TestPromoteIndexWithAttestations(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	img := testimage.Image(t, []string{"PATH=/bin"}, map[string]string{"app/main.js": "console.log(1)\n"})
	d := testimage.Digest(t, img)
	stmt := func(arg string) []byte {
		return []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"externalParameters":{"request":{"args":{"build-arg:TOKEN":"` + arg + `"}}}}}}`)
	}
	write := func(tag string, idx v1.ImageIndex) {
		r, _ := name.ParseReference(reg + "/staging/" + tag)
		if err := remote.WriteIndex(r, idx); err != nil {
			t.Fatal(err)
		}
	}
	clean := testimage.Attestation(t, "https://slsa.dev/provenance/v1", stmt("1.4.2"))
	leaky := testimage.Attestation(t, "https://slsa.dev/provenance/v1", stmt("glpat-TPSIAoCLrZ3aWZkSBvrj"))
	write("app:clean", testimage.Index(t, testimage.Entry{Image: img, Platform: amd64}, testimage.AttestationFor(clean, d)))
	write("app:leaky", testimage.Index(t, testimage.Entry{Image: img, Platform: amd64}, testimage.AttestationFor(leaky, d)))

	t.Run("clean index is copied with its attestation", func(t *testing.T) {
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:clean", reg+"/prod/app:1", Options{})
		if err != nil || !res.Promoted || len(res.Findings)+len(res.Errors) != 0 {
			t.Fatalf("%+v, %v", res, err)
		}
		for _, h := range []v1.Hash{d, testimage.Digest(t, clean)} {
			if _, err := head(reg + "/prod/app@" + h.String()); err != nil {
				t.Errorf("prod/app lacks %s: %v", h, err)
			}
		}
	})
	t.Run("a secret build-arg in the attestation is refused", func(t *testing.T) {
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:leaky", reg+"/prod/app:leaky", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Promoted || len(res.Findings) != 1 || res.Findings[0].Origin.Kind != "attestation" || res.Findings[0].Artifact.Subject != d.String() {
			t.Fatalf("%+v", res)
		}
		if _, err := head(reg + "/prod/app:leaky"); err == nil {
			t.Error("the destination tag exists after a refused promotion")
		}
	})
	t.Run("what could not be scanned is refused", func(t *testing.T) {
		gone := testimage.Image(t, nil, map[string]string{"srv/x": "y\n"})
		write("app:gone", testimage.Index(t, testimage.Entry{Image: img, Platform: amd64}, testimage.Entry{Image: gone, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}))
		r, _ := name.ParseReference(reg + "/staging/app@" + testimage.Digest(t, gone).String())
		if err := remote.Delete(r); err != nil {
			t.Fatal(err)
		}
		res, err := Promote(ctx, scanner(t), reg+"/staging/app:gone", reg+"/prod/app:gone", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Promoted || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "not present") {
			t.Fatalf("%+v", res)
		}
		if _, err := head(reg + "/prod/app:gone"); err == nil {
			t.Error("the destination tag exists after a refused promotion")
		}

		// A layer blob the registry no longer serves (404).
		broken := testimage.Image(t, nil, map[string]string{"srv/a": "1\n"}, map[string]string{"srv/b": "2\n"})
		push(t, reg+"/staging/broken:1", broken)
		m, _ := broken.Manifest()
		req, _ := http.NewRequest(http.MethodDelete, "http://"+reg+"/v2/staging/broken/blobs/"+m.Layers[1].Digest.String(), nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("deleting the blob: %v %v", resp, err)
		}
		res, err = Promote(ctx, scanner(t), reg+"/staging/broken:1", reg+"/prod/broken:1", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Promoted || len(res.Errors) != 1 || res.Errors[0].Layer == nil || res.Errors[0].Layer.Index != 1 {
			t.Fatalf("%+v", res)
		}
	})
}
