package image

import (
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize bounds index, manifest and config blobs read into memory.
const maxManifestSize = 8 << 20

func readBlob(s BlobStore, d v1.Hash, what string) ([]byte, error) {
	rc, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	dt, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, d, err)
	}
	if len(dt) > maxManifestSize {
		return nil, fmt.Errorf("%s %s: larger than %d MiB", what, d, maxManifestSize>>20)
	}
	if got, _, err := v1.SHA256(bytes.NewReader(dt)); err == nil && d.Algorithm == "sha256" && got != d {
		return nil, fmt.Errorf("%s %s: content digest is %s", what, d, got)
	}
	return dt, nil
}

// storeIndex is a v1.ImageIndex over a blob store (OCI layout, OCI archive, containerd), so that
// one walker (index.go) serves every store and registries alike. Its Image serves
// any child that is no index, whatever its media type: the walker reads the raw manifest and
// decides what it is.
type storeIndex struct {
	store     BlobStore
	raw       []byte
	mediaType types.MediaType
	im        *v1.IndexManifest
	children  map[v1.Hash]v1.Descriptor
}

var _ v1.ImageIndex = (*storeIndex)(nil)

// newStoreIndex parses raw (an index.json, or an index blob).
func newStoreIndex(s BlobStore, raw []byte) (*storeIndex, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the index: %w", err)
	}
	mt := im.MediaType
	if mt == "" {
		mt = types.OCIImageIndex
	}
	i := &storeIndex{store: s, raw: raw, mediaType: mt, im: im, children: make(map[v1.Hash]v1.Descriptor, len(im.Manifests))}
	for _, d := range im.Manifests {
		i.children[d.Digest] = d
	}
	return i, nil
}

func (i *storeIndex) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *storeIndex) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *storeIndex) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *storeIndex) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return h, err
}

func (i *storeIndex) IndexManifest() (*v1.IndexManifest, error) { return i.im.DeepCopy(), nil }

// child returns the descriptor of h in this index and the blob's bytes.
func (i *storeIndex) child(h v1.Hash, what string) (v1.Descriptor, []byte, error) {
	d, ok := i.children[h]
	if !ok {
		return v1.Descriptor{}, nil, fmt.Errorf("%s is not in the index", h)
	}
	dt, err := readBlob(i.store, h, what)
	return d, dt, err
}

func (i *storeIndex) Image(h v1.Hash) (v1.Image, error) {
	d, dt, err := i.child(h, "manifest")
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&storeImage{store: i.store, manifest: dt, mediaType: d.MediaType})
}

func (i *storeIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, dt, err := i.child(h, "index")
	if err != nil {
		return nil, err
	}
	child, err := newStoreIndex(i.store, dt)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", h, err)
	}
	if d.MediaType != "" {
		child.mediaType = d.MediaType
	}
	return child, nil
}

// storeImage is a partial.CompressedImageCore over a blob store.
type storeImage struct {
	store     BlobStore
	manifest  []byte
	mediaType types.MediaType
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (i *storeImage) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *storeImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *storeImage) RawConfigFile() ([]byte, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.manifest))
	if err != nil {
		return nil, err
	}
	return readBlob(i.store, m.Config.Digest, "config")
}

// LayerByDigest returns the config or a layer the manifest names; any other digest is read from
// the store as it is (an artifact manifest's blobs, which ggcr's Manifest type does not parse).
func (i *storeImage) LayerByDigest(d v1.Hash) (partial.CompressedLayer, error) {
	m, err := v1.ParseManifest(bytes.NewReader(i.manifest))
	if err != nil {
		return nil, err
	}
	if d == m.Config.Digest {
		return &storeLayer{store: i.store, desc: m.Config}, nil
	}
	for _, l := range m.Layers {
		if l.Digest == d {
			return &storeLayer{store: i.store, desc: l}, nil
		}
	}
	size, err := i.store.Size(d)
	if err != nil {
		return nil, err
	}
	return &storeLayer{store: i.store, desc: v1.Descriptor{Digest: d, Size: size}}, nil
}

type storeLayer struct {
	store BlobStore
	desc  v1.Descriptor
}

var _ partial.CompressedLayer = (*storeLayer)(nil)

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.store.Open(l.desc.Digest) }
func (l *storeLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
