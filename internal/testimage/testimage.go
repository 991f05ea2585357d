// Package testimage builds small container images in memory for the tests of the image
// packages: layers from file maps, and an image with a config environment.
package testimage

import (
	"archive/tar"
	"bytes"
	"io"
	"maps"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Layer returns an uncompressed-tar layer holding files (path -> content) as regular files, in
// path order.
func Layer(t testing.TB, files map[string]string) v1.Layer {
	t.Helper()
	pairs := make([]string, 0, 2*len(files))
	for _, n := range slices.Sorted(maps.Keys(files)) {
		pairs = append(pairs, n, files[n])
	}
	return LayerOf(t, pairs...)
}

// LayerOf returns an uncompressed-tar layer of regular files given as path, content, path,
// content, … in that order (whiteouts are files named .wh.<name>).
func LayerOf(t testing.TB, pathContent ...string) v1.Layer {
	t.Helper()
	if len(pathContent)%2 != 0 {
		t.Fatalf("LayerOf: %d arguments, want path and content pairs", len(pathContent))
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(pathContent); i += 2 {
		name, body := pathContent[i], pathContent[i+1]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	dt := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image returns an image of one layer per file map, each with a history entry, and env in its
// config.
func Image(t testing.TB, env []string, layers ...map[string]string) v1.Image {
	t.Helper()
	adds := make([]mutate.Addendum, 0, len(layers))
	for i, files := range layers {
		adds = append(adds, mutate.Addendum{Layer: Layer(t, files), History: v1.History{CreatedBy: "COPY layer" + string(rune('0'+i)) + " /"}})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	return WithEnv(t, img, env)
}

// WithEnv returns img with env as its config's environment, for linux/amd64.
func WithEnv(t testing.TB, img v1.Image, env []string) v1.Image {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = env
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
