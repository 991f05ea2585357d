package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ContainerdOpener opens an image in a containerd store: it returns the store's blobs and the
// image's root descriptor (an index or a manifest). The containerd client lives in a
// sub-package so that this one does not pull it in.
type ContainerdOpener func(ctx context.Context, ref string) (BlobStore, v1.Descriptor, io.Closer, error)

// Options tune Open.
type Options struct {
	// Platform keeps only the image for this platform; nil keeps every platform of an index.
	Platform *v1.Platform
	// Keychain authenticates to registries; nil means the standard docker config and credential
	// helpers (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Transport is the registry HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Containerd opens containerd:REF; nil refuses containerd references.
	Containerd ContainerdOpener
}

// RemoteOptions are the registry options o stands for: its keychain (default: the docker config
// and credential helpers) and transport.
func (o Options) RemoteOptions(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if o.Transport != nil {
		ropts = append(ropts, remote.WithTransport(o.Transport))
	}
	return ropts
}

// Set is what a reference names: its runnable images (one per platform), the attestations and
// other artifacts beside them in the index, the index entries that were not opened, and what
// must be closed after them.
type Set struct {
	Ref    Ref
	Images []*Image
	// Artifacts are the index's entries that are no runnable image (attestations, signatures,
	// SBOMs, OCI artifacts).
	Artifacts []*Artifact
	// Skipped are index entries that were not opened: absent from the store (a notice), or
	// unreadable (an error: a scan of the set is incomplete).
	Skipped []Skipped
	closer  io.Closer
}

// Close releases the files or connections the images read from.
func (s *Set) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// Open opens everything ref names: every image of an index (or the single image), the
// attestations and other artifacts beside them, and a list of the entries it could not open —
// an index entry whose manifest the store does not hold is listed, not fatal. With
// o.Platform, only that platform's images and the artifacts about them are kept; it fails when
// none is present. Nothing is copied to disk: archives are read in place and registry blobs are
// streamed when a layer is opened.
func Open(ctx context.Context, ref Ref, o Options) (*Set, error) {
	set := &Set{Ref: ref}
	w := &indexWalker{source: ref.String(), set: set}
	var err error
	switch ref.Kind {
	case OCILayout:
		var dt []byte
		if dt, err = os.ReadFile(filepath.Join(ref.Target, "index.json")); err != nil {
			err = fmt.Errorf("%s: %w", ref, err)
		} else {
			err = w.walkStore(dirStore{root: ref.Target}, dt)
		}
	case OCIArchive:
		var ts *tarStore
		if ts, err = openTarStore(ref.Target); err != nil {
			return nil, err
		}
		set.closer = ts
		var idx io.ReadCloser
		if idx, err = ts.file("index.json"); err == nil {
			var dt []byte
			dt, err = io.ReadAll(io.LimitReader(idx, maxManifestSize))
			if err == nil {
				err = w.walkStore(ts, dt)
			}
		} else {
			err = fmt.Errorf("%s: no index.json: %w", ref, err)
		}
	case DockerArchive:
		var img v1.Image
		if img, err = tarball.ImageFromPath(ref.Target, nil); err != nil {
			err = fmt.Errorf("%s: %w", ref, err)
		} else {
			set.Images = []*Image{newImage(ref.String(), img, nil, nil)}
		}
	case Registry:
		err = openRemote(ctx, ref, o, w)
	case Containerd:
		if o.Containerd == nil {
			return nil, fmt.Errorf("%s: containerd support is not configured", ref)
		}
		var (
			store BlobStore
			root  v1.Descriptor
		)
		if store, root, set.closer, err = o.Containerd(ctx, ref.Target); err == nil {
			err = w.walkStore(store, rootIndex(root))
		}
	default:
		return nil, fmt.Errorf("unknown image source %q", ref.Kind)
	}
	if err == nil {
		err = set.selectPlatform(o.Platform)
	}
	if err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

// walkStore walks the index indexJSON (an index.json, or an index blob) held in a blob store.
func (w *indexWalker) walkStore(s BlobStore, indexJSON []byte) error {
	idx, err := newStoreIndex(s, indexJSON)
	if err == nil {
		err = w.walk(idx, nil, 0)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.source, err)
	}
	return nil
}

// rootIndex wraps a single root descriptor in an index document so one walker serves all stores.
func rootIndex(d v1.Descriptor) []byte {
	dt, _ := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
	return dt
}

// openRemote walks the index or manifest a registry reference names.
func openRemote(ctx context.Context, ref Ref, o Options, w *indexWalker) error {
	r, err := name.ParseReference(ref.Target)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	desc, err := remote.Get(r, o.RemoteOptions(ctx)...)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err == nil {
			err = w.walk(idx, nil, 0)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		return nil
	}
	img, err := desc.Image()
	if err == nil {
		err = w.manifest(desc.Descriptor, img, nil)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	return nil
}

func newImage(source string, img v1.Image, p *v1.Platform, ann map[string]string) *Image {
	i := &Image{Source: source, Platform: p, Annotations: ann, img: img}
	if d, err := img.Digest(); err == nil {
		i.Digest = d.String()
	}
	return i
}
