package build

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/safebuild/safebuild/policy"
)

// layoutWith writes an OCI layout holding one image with one layer of files.
func layoutWith(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer), History: v1.History{CreatedBy: "COPY . /app"}})
	if err != nil {
		t.Fatal(err)
	}
	return layoutOf(t, img)
}

// layoutOf writes img as an OCI layout in a new directory.
func layoutOf(t *testing.T, img v1.Image) string {
	t.Helper()
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

// TestScanGateMinConfidence: the gate refuses at medium and above by default; a low-confidence
// finding (a key store named by its path alone) is reported and does not refuse, unless the
// threshold is low; a high one refuses whatever the threshold.
func TestScanGateMinConfidence(t *testing.T) {
	low := layoutWith(t, map[string]string{"app/certs/client.p12": "\x30\x82\x01\x00not really"})
	high := layoutWith(t, map[string]string{"app/env.sh": "export GITHUB_TOKEN=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d\n"})
	for _, tc := range []struct {
		name    string
		min     policy.Confidence
		dir     string
		refused bool
	}{
		{"low finding, default threshold", policy.ConfidenceUnset, low, false},
		{"low finding, threshold low", policy.ConfidenceLow, low, true},
		{"high finding, default threshold", policy.ConfidenceUnset, high, true},
		{"high finding, threshold high", policy.ConfidenceHigh, high, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := ScanGate(tc.min, nil, nil, &out)(context.Background(), tc.dir)
			var refused *RefusedError
			if got := errors.As(err, &refused); got != tc.refused {
				t.Fatalf("refused=%v (%v), want %v; output:\n%s", got, err, tc.refused, out.String())
			}
			if !tc.refused && !strings.Contains(out.String(), "below --min-confidence medium, not refused") {
				t.Errorf("the low finding is not reported as not refused:\n%s", out.String())
			}
		})
	}
}

// gateLayer is a layer of one file; cut, when positive, truncates its tar stream there.
func gateLayer(t *testing.T, name, body string, cut int) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	dt := buf.Bytes()
	if cut > 0 {
		dt = dt[:cut]
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func gateLayout(t *testing.T, layers ...v1.Layer) string {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return layoutOf(t, img)
}

// TestScanGate: the gate passes a clean image, refuses one with a canary in a layer, and fails
// closed on one it cannot read whole (a layer truncated mid-tar), naming the layer.
func TestScanGate(t *testing.T) {
	const canary = "vault-served-value-0123456789abcdef"
	canaries := func() []policy.Canary {
		return []policy.Canary{{Name: "vault:secret/ci/x#v", Value: []byte(canary)}}
	}
	clean := gateLayer(t, "app/main.js", "console.log(1)\n", 0)
	for _, tc := range []struct {
		name    string
		dir     string
		refused bool
		err     string
	}{
		{"clean", gateLayout(t, clean), false, ""},
		{"canary", gateLayout(t, clean, gateLayer(t, "tmp/leak", canary, 0)), true, ""},
		{"truncated layer", gateLayout(t, clean, gateLayer(t, "srv/big", strings.Repeat("x", 4096), 2048)), false, "scan incomplete, nothing was exported: layer 1 (sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := ScanGate(policy.ConfidenceUnset, canaries, nil, &out)(context.Background(), tc.dir)
			var re *RefusedError
			switch {
			case tc.refused:
				if !errors.As(err, &re) || len(re.Findings) != 1 || !strings.Contains(out.String(), "secrets found in the built image") {
					t.Errorf("err %v, output\n%s", err, out.String())
				}
			case tc.err != "":
				if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), tc.err) || !strings.Contains(out.String(), "errors (the scan is incomplete)") {
					t.Errorf("err %v, want %q; output\n%s", err, tc.err, out.String())
				}
			default:
				if err != nil || out.Len() != 0 {
					t.Errorf("err %v, output\n%s", err, out.String())
				}
			}
			if strings.Contains(out.String(), canary) {
				t.Error("the gate printed the canary")
			}
		})
	}
}
