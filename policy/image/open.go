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

// Set is the images a reference names (one per platform) and what must be closed after them.
type Set struct {
	Ref    Ref
	Images []*Image
	closer io.Closer
}

// Close releases the files or connections the images read from.
func (s *Set) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// Open opens every image ref names. Nothing is copied to disk: archives are read in place and
// registry blobs are streamed when a layer is opened.
func Open(ctx context.Context, ref Ref, o Options) (*Set, error) {
	set := &Set{Ref: ref}
	var err error
	switch ref.Kind {
	case OCILayout:
		set.Images, err = openLayout(dirStore{root: ref.Target}, filepath.Join(ref.Target, "index.json"), ref)
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
				set.Images, err = storeImages(ts, dt, ref.String(), nil, 0)
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
		set.Images, err = openRemote(ctx, ref, o)
	case Containerd:
		if o.Containerd == nil {
			return nil, fmt.Errorf("%s: containerd support is not configured", ref)
		}
		var (
			store BlobStore
			root  v1.Descriptor
		)
		if store, root, set.closer, err = o.Containerd(ctx, ref.Target); err == nil {
			set.Images, err = storeImages(store, rootIndex(root), ref.String(), nil, 0)
		}
	default:
		return nil, fmt.Errorf("unknown image source %q", ref.Kind)
	}
	if err == nil {
		set.Images, err = filterPlatform(set.Images, o.Platform, ref)
	}
	if err != nil {
		set.Close()
		return nil, err
	}
	return set, nil
}

func openLayout(s BlobStore, indexPath string, ref Ref) ([]*Image, error) {
	dt, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return storeImages(s, dt, ref.String(), nil, 0)
}

// rootIndex wraps a single root descriptor in an index document so one walker serves all stores.
func rootIndex(d v1.Descriptor) []byte {
	dt, _ := json.Marshal(&v1.IndexManifest{SchemaVersion: 2, Manifests: []v1.Descriptor{d}})
	return dt
}

func openRemote(ctx context.Context, ref Ref, o Options) ([]*Image, error) {
	r, err := name.ParseReference(ref.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	desc, err := remote.Get(r, o.RemoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ref, err)
		}
		return []*Image{newImage(ref.String(), img, nil, nil)}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return remoteIndexImages(idx, ref.String(), nil, 0)
}

func remoteIndexImages(idx v1.ImageIndex, source string, ann map[string]string, depth int) ([]*Image, error) {
	if depth > 4 {
		return nil, fmt.Errorf("%s: image indexes nested more than 4 deep", source)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	var out []*Image
	for _, d := range im.Manifests {
		a := mergeAnnotations(ann, im.Annotations, d.Annotations)
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: index %s: %w", source, d.Digest, err)
			}
			imgs, err := remoteIndexImages(child, source, a, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, imgs...)
		case d.MediaType.IsImage():
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("%s: manifest %s: %w", source, d.Digest, err)
			}
			out = append(out, newImage(source, img, d.Platform, a))
		}
	}
	return out, nil
}

func newImage(source string, img v1.Image, p *v1.Platform, ann map[string]string) *Image {
	i := &Image{Source: source, Platform: p, Annotations: ann, img: img}
	if d, err := img.Digest(); err == nil {
		i.Digest = d.String()
	}
	return i
}

// filterPlatform keeps the images matching p (all when p is nil) and fails when none is left.
func filterPlatform(imgs []*Image, p *v1.Platform, ref Ref) ([]*Image, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: no image manifests", ref)
	}
	if p == nil {
		return imgs, nil
	}
	var out []*Image
	for _, i := range imgs {
		ip := i.Platform
		if ip == nil {
			// A single manifest: its config says what it runs on (unknown keeps it).
			if s := i.PlatformString(); s != "" {
				ip, _ = v1.ParsePlatform(s)
			}
		}
		if ip == nil || ip.Satisfies(*p) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no image for platform %s", ref, p)
	}
	return out, nil
}
