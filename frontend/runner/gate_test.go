package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
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
			err := ScanGate(tc.min, nil, &out)(context.Background(), tc.dir)
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
