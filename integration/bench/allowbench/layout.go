package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// writeLayout writes files as one layer of an image in an OCI layout at dir.
func writeLayout(dir string, files []*file) error {
	tarPath := filepath.Join(os.TempDir(), "allowbench-layer.tar")
	defer os.Remove(tarPath)
	out, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for _, f := range files {
		in, err := os.Open(f.disk)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: f.path, Mode: 0o644, Size: f.size, Typeflag: tar.TypeReg}); err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(tw, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	l, err := tarball.LayerFromFile(tarPath)
	if err != nil {
		return err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "COPY . / # allowbench"}})
	if err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img)
}
