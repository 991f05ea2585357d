package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// ociWithSecret writes a two-layer OCI layout: a token in a file, whited out by the next layer.
func ociWithSecret(t *testing.T) string {
	t.Helper()
	layer := func(name, body string) v1.Layer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		tw.Close()
		dt := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: layer("app/env.sh", "export GITHUB_TOKEN="+cmdTestPAT+"\n"), History: v1.History{CreatedBy: "COPY . /app"}},
		mutate.Addendum{Layer: layer("app/.wh.env.sh", ""), History: v1.History{CreatedBy: "RUN rm /app/env.sh"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: mustConfig(t, img).RootFS, History: mustConfig(t, img).History})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustConfig(t *testing.T, img v1.Image) *v1.ConfigFile {
	t.Helper()
	c, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestScanImage(t *testing.T) {
	dir := ociWithSecret(t)
	out, code := runCLI(t, "scan", "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	if strings.Contains(out, cmdTestPAT) {
		t.Error("the report holds the token")
	}
	var rep struct {
		Findings []struct {
			Origin, Path, Image, Platform, Fingerprint string
			Layer                                      *struct {
				Index          int  `json:"index"`
				RemovedInLayer *int `json:"removed_in_layer"`
			}
		}
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\nerror:", 2)[0]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("findings %+v", rep.Findings)
	}
	f := rep.Findings[0]
	if f.Origin != "layer" || f.Path != "app/env.sh" || f.Image != "oci:"+dir || f.Platform != "linux/amd64" ||
		f.Layer == nil || f.Layer.Index != 0 || f.Layer.RemovedInLayer == nil || *f.Layer.RemovedInLayer != 1 {
		t.Errorf("finding %+v, layer %+v", f, f.Layer)
	}

	// The JSON report is itself a baseline.
	base := filepath.Join(t.TempDir(), "baseline.json")
	os.WriteFile(base, []byte(strings.SplitN(out, "\nerror:", 2)[0]), 0o600)
	if out, code := runCLI(t, "scan", "--baseline", base, "oci:"+dir); code != 0 {
		t.Errorf("with the baseline: exit %d\n%s", code, out)
	}
	fp := filepath.Join(t.TempDir(), "fingerprints")
	os.WriteFile(fp, []byte("# accepted\n"+f.Fingerprint+"\n"), 0o600)
	if out, code := runCLI(t, "scan", "--baseline", fp, "oci:"+dir); code != 0 {
		t.Errorf("with a fingerprint list: exit %d\n%s", code, out)
	}
	os.WriteFile(fp, []byte("not-a-fingerprint\n"), 0o600)
	if out, code := runCLI(t, "scan", "--baseline", fp, dir); code != 2 || !strings.Contains(out, ":1:") {
		t.Errorf("bad baseline: exit %d\n%s", code, out)
	}
	if _, code := runCLI(t, "scan", "--exit-code", "0", dir); code != 0 {
		t.Errorf("--exit-code 0: exit %d", code)
	}
	if out, code := runCLI(t, "scan", "--platform", "linux/s390x", dir); code != 2 || !strings.Contains(out, "no image for platform linux/s390x") {
		t.Errorf("--platform: exit %d\n%s", code, out)
	}
	if out, code := runCLI(t, "scan", "--cache-dir", t.TempDir(), "--no-redact", "--show-secrets", dir); code != 2 || !strings.Contains(out, "--cache-dir") {
		t.Errorf("--cache-dir with --no-redact: exit %d\n%s", code, out)
	}
	cache := t.TempDir()
	first, _ := runCLI(t, "scan", "--format", "json", "--cache-dir", cache, dir)
	second, _ := runCLI(t, "scan", "--format", "json", "--cache-dir", cache, dir)
	strip := func(s string) string { // duration_ms differs between runs
		var m map[string]any
		json.Unmarshal([]byte(strings.SplitN(s, "\nerror:", 2)[0]), &m)
		delete(m["stats"].(map[string]any), "duration_ms")
		dt, _ := json.Marshal(m)
		return string(dt)
	}
	if strip(first) != strip(second) {
		t.Errorf("cached scan differs:\n%s\n%s", first, second)
	}
	if entries, _ := os.ReadDir(cache); len(entries) == 0 {
		t.Error("nothing cached")
	}
}

// TestScanBrokenLayer: the case issue 9 names. Of three layers the middle one is truncated
// mid-tar: both other layers' findings are in the report, the broken layer is named in its
// "errors" array (image, platform, layer index and digest, what broke), and the exit status is
// 2 (scan incomplete). promote of the same image refuses it and writes nothing.
func TestScanBrokenLayer(t *testing.T) {
	layer := func(files ...string) []byte {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i := 0; i < len(files); i += 2 {
			tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
			tw.Write([]byte(files[i+1]))
		}
		tw.Close()
		return buf.Bytes()
	}
	const npmToken = "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"
	const slackToken = "xoxb-959310341316-475255341928-UpkDyr7OSJoRu1XXdo0cZuzr"
	middle := layer("srv/big.bin", strings.Repeat("x", 8192))
	blobs := [][]byte{
		layer("app/.npmrc", "//registry.npmjs.org/:_authToken="+npmToken+"\n"),
		middle[:512+3000], // the header and part of the file
		layer("etc/slack.conf", "token: "+slackToken+"\n"),
	}
	adds := make([]mutate.Addendum, len(blobs))
	for i, dt := range blobs {
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
		if err != nil {
			t.Fatal(err)
		}
		adds[i] = mutate.Addendum{Layer: l, History: v1.History{CreatedBy: fmt.Sprintf("COPY layer%d /", i)}}
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "oci")
	p, _ := layout.Write(dir, empty.Index)
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	out, code := runCLI(t, "scan", "--format", "json", "oci:"+dir)
	if code != 2 || !strings.Contains(out, "scan incomplete (2 findings reported): layer 1 (sha256:") {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
	var rep struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Layer  struct{ Index int }
		}
		Errors []struct {
			Image, Message string
			Layer          *struct {
				Index  int
				Digest string
			}
		}
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\nerror:", 2)[0]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ls, _ := img.Layers()
	broken, _ := ls[1].Digest()
	if len(rep.Findings) != 2 || rep.Findings[0].Layer.Index != 0 || rep.Findings[1].Layer.Index != 2 {
		t.Errorf("findings %+v, want layer 0's and layer 2's", rep.Findings)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Layer == nil || rep.Errors[0].Layer.Index != 1 || rep.Errors[0].Layer.Digest != broken.String() ||
		rep.Errors[0].Image != "oci:"+dir || !strings.Contains(rep.Errors[0].Message, "unexpected EOF") {
		t.Errorf("errors %+v, want layer 1 (%s)", rep.Errors, broken)
	}
	if text, code := runCLI(t, "scan", "oci:"+dir); code != 2 || !strings.Contains(text, "errors (the scan is incomplete):") || !strings.Contains(text, "slack-bot-token") {
		t.Errorf("text report: exit %d\n%s", code, text)
	}

	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	if err := remote.Write(ref(t, reg+"/stage/broken:1"), img); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "promote", "--format", "json", reg+"/stage/broken:1", reg+"/prod/broken:1")
	if code != 2 || !strings.Contains(out, "refused: scan incomplete") || !strings.Contains(out, `"errors"`) {
		t.Errorf("promote: exit %d, want 2\n%s", code, out)
	}
	if _, err := remote.Head(ref(t, reg+"/prod/broken:1")); err == nil {
		t.Error("an image that could not be scanned reached prod")
	}
}
