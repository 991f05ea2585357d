package imagescan

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/internal/testimage"
	"github.com/safebuild/safebuild/policy"
)

const (
	slackToken = "xoxb-959310341316-475255341928-UpkDyr7OSJoRu1XXdo0cZuzr"
	glToken    = "glpat-TPSIAoCLrZ3aWZkSBvrj"
)

// truncatedLayer is a layer whose tar stream stops in the middle of its second file: the first
// file (holding a GitHub token) is whole.
func truncatedLayer(t *testing.T) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	first := "token=" + ghToken + "\n"
	tw.WriteHeader(&tar.Header{Name: "srv/first.env", Mode: 0o644, Size: int64(len(first)), Typeflag: tar.TypeReg})
	tw.Write([]byte(first))
	second := strings.Repeat("x", 4096)
	tw.WriteHeader(&tar.Header{Name: "srv/second.bin", Mode: 0o644, Size: int64(len(second)), Typeflag: tar.TypeReg})
	tw.Write([]byte(second))
	tw.Close()
	dt := buf.Bytes()[:512+512+512+1000] // two headers, the first file, part of the second
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func openLayout(t *testing.T, dir string, o image.Options) *image.Set {
	t.Helper()
	set, err := image.Open(context.Background(), image.Ref{Kind: image.OCILayout, Target: dir}, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

func scanSet(t *testing.T, set *image.Set) ([]Finding, *Result) {
	t.Helper()
	sc, err := policy.NewScanner(withDefaultRules(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var got []Finding
	res, err := ScanSet(context.Background(), sc, set, Options{}, func(f Finding) error { got = append(got, f); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return got, res
}

// TestBrokenLayerDoesNotHideOthers: of three layers, the middle one truncated mid-tar, both
// other layers' findings are reported (and what the broken layer held before it broke), the
// broken layer is named with what broke, and the scan says it is incomplete.
func TestBrokenLayerDoesNotHideOthers(t *testing.T) {
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"app/.npmrc": "//registry.npmjs.org/:_authToken=" + npmToken + "\n"}), History: v1.History{CreatedBy: "COPY .npmrc /app/"}},
		mutate.Addendum{Layer: truncatedLayer(t), History: v1.History{CreatedBy: "COPY srv/ /srv/"}},
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"etc/slack.conf": "token: " + slackToken + "\n"}), History: v1.History{CreatedBy: "COPY slack.conf /etc/"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	set := openLayout(t, testimage.Layout(t, img), image.Options{})
	got, res := scanSet(t, set)
	var lines []string
	for _, f := range got {
		lines = append(lines, f.RuleID+" "+f.Origin.Path+" layer "+string(rune('0'+f.Layer.Index)))
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{"npm-access-token app/.npmrc layer 0", "github-pat srv/first.env layer 1", "slack-bot-token etc/slack.conf layer 2"} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in\n%s", want, joined)
		}
	}
	if len(res.Errors) != 1 || res.Complete() {
		t.Fatalf("errors %+v, want one", res.Errors)
	}
	e := res.Errors[0]
	ls, _ := set.Images[0].Layers()
	if e.Layer == nil || e.Layer.Index != 1 || e.Layer.Digest != ls[1].Digest || e.Image != set.Images[0].Source ||
		!strings.Contains(e.Message, "layer 1 (sha256:") || !strings.Contains(e.Message, "unexpected EOF") {
		t.Errorf("error %+v (layer %+v), want one naming layer 1 and the truncation", e, e.Layer)
	}

	// Scan of the one image says the same, as an *IncompleteError after every finding.
	sc, _ := policy.NewScanner(withDefaultRules(t))
	defer sc.Close()
	n := 0
	_, err = Scan(context.Background(), sc, set.Images[0], Options{}, func(Finding) error { n++; return nil })
	var ie *IncompleteError
	if n != len(got) || !errorsAs(err, &ie) || len(ie.Problems) != 1 {
		t.Errorf("Scan: %d findings, err %v", n, err)
	}
}

// TestUnreadableParts: a config blob and a layer blob that the store no longer holds are each
// named; what can be read (annotations, the other layer) is still scanned.
func TestUnreadableParts(t *testing.T) {
	img := testimage.Image(t, []string{"PATH=/bin"},
		map[string]string{"a/one.env": "SLACK=" + slackToken + "\n"},
		map[string]string{"b/two.env": "NPM=" + npmToken + "\n"})
	dir := testimage.Layout(t, img)
	m, _ := img.Manifest()
	for _, h := range []v1.Hash{m.Config.Digest, m.Layers[1].Digest} {
		os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	}
	got, res := scanSet(t, openLayout(t, dir, image.Options{}))
	if len(got) != 1 || got[0].RuleID != "slack-bot-token" {
		t.Errorf("findings %+v, want the layer 0 token", got)
	}
	var msgs []string
	for _, e := range res.Errors {
		msgs = append(msgs, e.Message)
	}
	joined := strings.Join(msgs, "\n")
	if len(res.Errors) != 2 || !strings.Contains(joined, "reading the config") || !strings.Contains(joined, m.Layers[1].Digest.String()) {
		t.Errorf("errors:\n%s\nwant the config's and layer 1's", joined)
	}
}

// provenance is a SLSA v1 statement as BuildKit writes it with mode=max: the build-args'
// values in externalParameters.
func provenance(args map[string]string) []byte {
	stmt := map[string]any{
		"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v1",
		"subject": []any{map[string]any{"name": "pkg:docker/app@1", "digest": map[string]string{"sha256": strings.Repeat("a", 64)}}},
		"predicate": map[string]any{"buildDefinition": map[string]any{
			"buildType":          "https://mobyproject.org/buildkit@v1",
			"externalParameters": map[string]any{"request": map[string]any{"frontend": "dockerfile.v0", "args": args}},
		}},
	}
	dt, _ := json.MarshalIndent(stmt, "", "  ")
	return dt
}

// TestAttestationsAndArtifacts: every artifact in an index is scanned by media type and never
// read as a tar: a BuildKit provenance attestation (findings with origin attestation, the JSON
// path of the build-arg, the predicate type and the image it is about), a cosign attestation
// (a DSSE envelope, its payload decoded), an attestation that is not JSON (an error, its bytes
// still scanned), a Helm chart (its archive opened), an opaque binary blob (a notice).
func TestAttestationsAndArtifacts(t *testing.T) {
	img := testimage.Image(t, []string{"PATH=/bin"}, map[string]string{"app/main.js": "console.log(1)\n"})
	imgDigest := testimage.Digest(t, img)
	prov := testimage.Attestation(t, "https://slsa.dev/provenance/v1", provenance(map[string]string{"build-arg:GITLAB_TOKEN": glToken, "build-arg:VERSION": "1.4.2"}))
	dsseStmt := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://cosign.sigstore.dev/attestation/v1","predicate":{"Data":"SLACK_TOKEN=` + slackToken + `"}}`
	envelope, _ := json.Marshal(map[string]any{"payloadType": "application/vnd.in-toto+json", "payload": base64.StdEncoding.EncodeToString([]byte(dsseStmt)),
		"signatures": []any{map[string]string{"keyid": "", "sig": "MEUCIQ"}}})
	subject := &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: imgDigest, Size: 1}
	cosign := testimage.Artifact(t, testimage.Blob{MediaType: string(types.OCIConfigJSON), Data: []byte(`{"architecture":"","os":""}`)},
		[]testimage.Blob{{MediaType: image.MediaTypeDSSE, Data: envelope, Annotations: map[string]string{"predicateType": "https://cosign.sigstore.dev/attestation/v1"}}}, "", subject)
	broken := testimage.Attestation(t, "https://spdx.dev/Document", []byte("NPM_TOKEN="+npmToken+"\n{not json"))

	var chart bytes.Buffer
	gz := gzip.NewWriter(&chart)
	tw := tar.NewWriter(gz)
	secret := "GITHUB_TOKEN=" + ghToken + "\n"
	tw.WriteHeader(&tar.Header{Name: "web/files/app.env", Mode: 0o644, Size: int64(len(secret)), Typeflag: tar.TypeReg})
	tw.Write([]byte(secret))
	tw.Close()
	gz.Close()
	helm := testimage.Artifact(t, testimage.Blob{MediaType: "application/vnd.cncf.helm.config.v1+json", Data: []byte(`{"name":"web","version":"1.0.0"}`)},
		[]testimage.Blob{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Data: chart.Bytes(), Annotations: map[string]string{"org.opencontainers.image.title": "web-1.0.0.tgz"}}}, "", nil)
	wasm := testimage.Artifact(t, testimage.EmptyConfig, []testimage.Blob{{MediaType: "application/vnd.wasm.content.layer.v1+wasm", Data: []byte("\x00asm\x01\x00\x00\x00")}}, "application/vnd.wasm.config.v0+json", nil)

	idx := testimage.Index(t,
		testimage.Entry{Image: img, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
		testimage.AttestationFor(prov, imgDigest),
		testimage.Entry{Image: cosign},
		testimage.AttestationFor(broken, imgDigest),
		testimage.Entry{Image: helm},
		testimage.Entry{Image: wasm},
	)
	set := openLayout(t, testimage.Layout(t, idx), image.Options{})
	got, res := scanSet(t, set)

	type want struct{ rule, origin, path, predicate, blob string }
	var lines []string
	for _, f := range got {
		for _, v := range []string{glToken, slackToken, ghToken, npmToken} {
			if strings.Contains(f.Redacted+f.Origin.Path+f.Description, v) {
				t.Errorf("finding %s at %s holds a secret", f.RuleID, f.Origin.Path)
			}
		}
		if f.Artifact == nil {
			t.Errorf("finding %s %s has no artifact location", f.RuleID, f.Origin.Path)
			continue
		}
		if f.Artifact.Subject == imgDigest.String() && f.Platform != "linux/amd64" {
			t.Errorf("finding %s about the amd64 image has platform %q", f.RuleID, f.Platform)
		}
		lines = append(lines, strings.Join([]string{f.RuleID, f.Origin.Kind, f.Origin.Path, f.Artifact.PredicateType, f.Artifact.Blob}, " | "))
	}
	joined := strings.Join(lines, "\n")
	for _, w := range []want{
		{"gitlab-pat", "attestation", `predicate.buildDefinition.externalParameters.request.args["build-arg:GITLAB_TOKEN"]`, "https://slsa.dev/provenance/v1", "layers[0]"},
		{"slack-bot-token", "attestation", "predicate.Data", "https://cosign.sigstore.dev/attestation/v1", "layers[0]"},
		{"npm-access-token", "attestation", "layers[0]", "https://spdx.dev/Document", "layers[0]"},
		{"github-pat", "artifact", "web-1.0.0.tgz!web/files/app.env", "", "layers[0]"},
	} {
		s := strings.Join([]string{w.rule, w.origin, w.path, w.predicate, w.blob}, " | ")
		if !strings.Contains(joined, s) {
			t.Errorf("missing %q in\n%s", s, joined)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d findings, want 4:\n%s", len(got), joined)
	}
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "not JSON") || res.Errors[0].Artifact == nil || res.Errors[0].Artifact.Subject != imgDigest.String() {
		t.Errorf("errors %+v, want the attestation that is not JSON", res.Errors)
	}
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0].Message, "binary content, not scanned") || !strings.Contains(res.Notices[0].Message, "wasm") {
		t.Errorf("notices %+v, want the wasm blob", res.Notices)
	}

	// The same provenance is found with the fingerprint of its path, whatever the digests.
	var fp string
	for _, f := range got {
		if f.RuleID == "gitlab-pat" {
			fp = f.Fingerprint
		}
	}
	again := testimage.Attestation(t, "https://slsa.dev/provenance/v1", provenance(map[string]string{"build-arg:GITLAB_TOKEN": glToken, "build-arg:VERSION": "1.4.3"}))
	got2, _ := scanSet(t, openLayout(t, testimage.Layout(t, testimage.Index(t, testimage.Entry{Image: img}, testimage.AttestationFor(again, imgDigest))), image.Options{}))
	if len(got2) != 1 || got2[0].Fingerprint != fp {
		t.Errorf("rebuilt attestation: %+v, want one finding with fingerprint %s", got2, fp)
	}

	// --platform keeps the attestations about the chosen image.
	p, _ := v1.ParsePlatform("linux/amd64")
	gotP, _ := scanSet(t, openLayout(t, testimage.Layout(t, idx), image.Options{Platform: p}))
	if len(gotP) != len(got) {
		t.Errorf("--platform linux/amd64: %d findings, want %d", len(gotP), len(got))
	}
}

// TestRequireAll: for gates, an index entry the store does not hold is an error.
func TestRequireAll(t *testing.T) {
	a := testimage.Image(t, nil, map[string]string{"a": "1\n"})
	b := testimage.Image(t, nil, map[string]string{"b": "2\n"})
	dir := testimage.Layout(t, testimage.Index(t, testimage.Entry{Image: a, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}},
		testimage.Entry{Image: b, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}))
	h := testimage.Digest(t, b)
	os.Remove(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
	sc, _ := policy.NewScanner(withDefaultRules(t))
	defer sc.Close()
	for _, strict := range []bool{false, true} {
		res, err := ScanSet(context.Background(), sc, openLayout(t, dir, image.Options{}), Options{RequireAll: strict}, func(Finding) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		errs, notices := len(res.Errors), len(res.Notices)
		if strict && (errs != 1 || notices != 0) || !strict && (errs != 0 || notices != 1) {
			t.Errorf("RequireAll %v: errors %+v notices %+v", strict, res.Errors, res.Notices)
		}
		if all := append(res.Errors, res.Notices...); !strings.Contains(all[0].Message, "not present") || all[0].Platform != "linux/arm64" {
			t.Errorf("RequireAll %v: %+v", strict, all[0])
		}
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
