package build

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// root returns the layout's single top-level image or index.
func root(layoutDir string) (v1.ImageIndex, v1.Descriptor, error) {
	p, err := layout.FromPath(layoutDir)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	if len(im.Manifests) != 1 {
		return nil, v1.Descriptor{}, fmt.Errorf("the build's OCI layout holds %d manifests, want 1", len(im.Manifests))
	}
	return idx, im.Manifests[0], nil
}

// writeOutput writes one output from the gated layout. Files are written beside their
// destination and renamed into place, so a failure never leaves a partial file at dest.
func writeOutput(ctx context.Context, layoutDir string, o Output) ([]string, error) {
	switch o.Type {
	case "oci":
		if o.Tar {
			return []string{"oci-archive:" + o.Dest}, atomicFile(o.Dest, func(f *os.File) error { return tarDir(layoutDir, f) })
		}
		return []string{"oci:" + o.Dest}, atomicDir(o.Dest, func(tmp string) error { return os.CopyFS(tmp, os.DirFS(layoutDir)) })
	case "docker":
		idx, desc, err := root(layoutDir)
		if err != nil {
			return nil, err
		}
		if desc.MediaType.IsIndex() {
			return nil, fmt.Errorf("--output type=docker: a docker-archive holds one platform; this build made an index (use type=oci)")
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return nil, err
		}
		refs := map[name.Reference]v1.Image{}
		for _, n := range o.Names {
			t, err := name.NewTag(n)
			if err != nil {
				return nil, fmt.Errorf("--output type=docker: name %q: %w", n, err)
			}
			refs[t] = img
		}
		if len(refs) == 0 {
			return nil, fmt.Errorf("--output type=docker: needs name=REF or --tag")
		}
		return []string{"docker-archive:" + o.Dest}, atomicFile(o.Dest, func(f *os.File) error { return tarball.MultiRefWrite(refs, f) })
	case "image":
		idx, desc, err := root(layoutDir)
		if err != nil {
			return nil, err
		}
		var written []string
		for _, n := range o.Names {
			ref, err := name.ParseReference(n)
			if err != nil {
				return nil, fmt.Errorf("--output type=image: name %q: %w", n, err)
			}
			opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
			if desc.MediaType.IsIndex() {
				child, err := idx.ImageIndex(desc.Digest)
				if err == nil {
					err = remote.WriteIndex(ref, child, opts...)
				}
				if err != nil {
					return written, fmt.Errorf("pushing %s: %w", n, err)
				}
			} else {
				img, err := idx.Image(desc.Digest)
				if err == nil {
					err = remote.Write(ref, img, opts...)
				}
				if err != nil {
					return written, fmt.Errorf("pushing %s: %w", n, err)
				}
			}
			written = append(written, "registry:"+n)
		}
		return written, nil
	}
	return nil, o.validate()
}

func atomicFile(dest string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return nil
}

func atomicDir(dest string, write func(tmp string) error) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("writing %s: it already exists", dest)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := write(tmp); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("writing %s: %w", dest, err)
	}
	return nil
}

// tarDir writes dir's files as a tar stream (an OCI archive when dir is a layout).
func tarDir(dir string, f *os.File) error {
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}
