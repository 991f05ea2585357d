package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/moby/buildkit/client"
)

// A gated cache export (docker build's --cache-to). BuildKit writes a cache export while it
// solves, before safebuild's gate has seen anything, and mode=max also exports the layers of
// build stages the image never contains (a builder stage that COPYs an .npmrc, say). So the
// solve exports the cache to a private local directory instead; the gate scans every layer
// blob in it, with the build's canaries; and only then is it pushed to the registry the user
// named, as the same index BuildKit's registry exporter would have written.

// CacheScanAnnotation marks, in the scan layout, the images that stand for cache layers, so
// the gate can name them in its report.
const CacheScanAnnotation = "safebuild-build-cache"

// cacheExport is the one --cache-to of a build.
type cacheExport struct {
	ref  name.Reference
	dir  string // the private local export
	opts map[string]string
}

func newCacheExport(entries []client.CacheOptionsEntry, stage string) (*cacheExport, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	if len(entries) > 1 {
		return nil, errors.New("--cache-to: one cache export per build")
	}
	e := entries[0]
	if e.Type != "registry" {
		return nil, fmt.Errorf("--cache-to type=%s: only type=registry is exported (through the gate)", e.Type)
	}
	ref, err := name.ParseReference(e.Attrs["ref"])
	if err != nil {
		return nil, fmt.Errorf("--cache-to ref=%q: %w", e.Attrs["ref"], err)
	}
	ce := &cacheExport{ref: ref, dir: filepath.Join(stage, "cache"), opts: map[string]string{}}
	for k, v := range e.Attrs {
		switch k {
		case "ref":
		default:
			ce.opts[k] = v
		}
	}
	if m := ce.opts["mode"]; m != "" && m != "min" && m != "max" {
		return nil, fmt.Errorf("--cache-to mode=%s: accepted: min, max", m)
	}
	ce.opts["dest"] = ce.dir
	return ce, nil
}

// solveEntry is the local export the solve writes instead.
func (ce *cacheExport) solveEntry() client.CacheOptionsEntry {
	return client.CacheOptionsEntry{Type: "local", Attrs: ce.opts}
}

// root returns the local export's one entry: the cache as an index (BuildKit's classic format)
// or as an image manifest whose config is the cache config (image-manifest=true, the default
// of the local exporter here), with the layer descriptors either holds.
func (ce *cacheExport) root() (v1.ImageIndex, v1.Descriptor, []v1.Descriptor, error) {
	p, err := layout.FromPath(ce.dir)
	if err != nil {
		return nil, v1.Descriptor{}, nil, fmt.Errorf("reading the exported cache: %w", err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, nil, fmt.Errorf("reading the exported cache: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, nil, fmt.Errorf("reading the exported cache: %w", err)
	}
	if len(im.Manifests) != 1 {
		return nil, v1.Descriptor{}, nil, fmt.Errorf("the exported cache holds %d entries, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	var layers []v1.Descriptor
	switch {
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, d, nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, d, nil, err
		}
		layers = cm.Manifests
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, d, nil, err
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, d, nil, err
		}
		layers = m.Layers
	default:
		return nil, d, nil, fmt.Errorf("the exported cache is a %s, want an index or a manifest", d.MediaType)
	}
	return idx, d, layers, nil
}

// scanLayout writes an OCI layout at dir holding one single-layer image per layer of the cache
// (blobs hard-linked, not copied), which the gate opens like the built image. It returns how
// many layers there are.
func (ce *cacheExport) scanLayout(dir string) (int, error) {
	_, _, layers, err := ce.root()
	if err != nil {
		return 0, err
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return 0, err
	}
	put := func(dt []byte) (v1.Hash, error) {
		h, _, err := v1.SHA256(bytes.NewReader(dt))
		if err != nil {
			return h, err
		}
		return h, os.WriteFile(filepath.Join(blobs, h.Hex), dt, 0o600)
	}
	var top v1.IndexManifest
	top.SchemaVersion = 2
	top.MediaType = types.OCIImageIndex
	n := 0
	for _, d := range layers {
		if !d.MediaType.IsLayer() {
			continue // the cache config, and anything else that is not a layer blob
		}
		if d.Digest.Algorithm != "sha256" {
			return 0, fmt.Errorf("cache layer %s: only sha256 digests", d.Digest)
		}
		src := filepath.Join(ce.dir, "blobs", "sha256", d.Digest.Hex)
		dst := filepath.Join(blobs, d.Digest.Hex)
		if err := os.Link(src, dst); err != nil && !errors.Is(err, os.ErrExist) {
			if err := copyFile(src, dst); err != nil {
				return 0, fmt.Errorf("cache layer %s: %w", d.Digest, err)
			}
		}
		cfg, err := json.Marshal(v1.ConfigFile{OS: "unknown", Architecture: "unknown",
			RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{d.Digest}},
			History: []v1.History{{CreatedBy: "build cache layer " + d.Digest.String()}}})
		if err != nil {
			return 0, err
		}
		ch, err := put(cfg)
		if err != nil {
			return 0, err
		}
		man, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: ch, Size: int64(len(cfg))},
			Layers: []v1.Descriptor{{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}}})
		if err != nil {
			return 0, err
		}
		mh, err := put(man)
		if err != nil {
			return 0, err
		}
		top.Manifests = append(top.Manifests, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: int64(len(man)),
			Annotations: map[string]string{"org.opencontainers.image.ref.name": CacheScanAnnotation}})
		n++
	}
	dt, err := json.Marshal(top)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.json"), dt, 0o600); err != nil {
		return 0, err
	}
	return n, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o600)
}

// push writes the gated cache to the registry, in the form it was exported.
func (ce *cacheExport) push(ctx context.Context) error {
	idx, d, _, err := ce.root()
	if err != nil {
		return err
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}
	if d.MediaType.IsIndex() {
		child, err := idx.ImageIndex(d.Digest)
		if err == nil {
			err = remote.WriteIndex(ce.ref, child, opts...)
		}
		if err != nil {
			return fmt.Errorf("pushing the build cache to %s: %w", ce.ref, err)
		}
		return nil
	}
	img, err := idx.Image(d.Digest)
	if err == nil {
		err = remote.Write(ce.ref, img, opts...)
	}
	if err != nil {
		return fmt.Errorf("pushing the build cache to %s: %w", ce.ref, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
