package image

import (
	"bytes"
	"encoding/json"
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

// storeImages walks an index (as JSON) held in a blob store down to its images, recursing into
// nested indexes. Index and manifest annotations are handed down to each image.
func storeImages(s BlobStore, indexJSON []byte, source string, annotations map[string]string, depth int) ([]*Image, error) {
	if depth > 4 {
		return nil, fmt.Errorf("%s: image indexes nested more than 4 deep", source)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(indexJSON, &idx); err != nil {
		return nil, fmt.Errorf("%s: parsing the index: %w", source, err)
	}
	var out []*Image
	for _, d := range idx.Manifests {
		ann := mergeAnnotations(annotations, idx.Annotations, d.Annotations)
		switch {
		case d.MediaType.IsIndex():
			dt, err := readBlob(s, d.Digest, "index")
			if err != nil {
				return nil, err
			}
			imgs, err := storeImages(s, dt, source, ann, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, imgs...)
		case d.MediaType.IsImage():
			dt, err := readBlob(s, d.Digest, "manifest")
			if err != nil {
				return nil, err
			}
			img, err := partial.CompressedToImage(&storeImage{store: s, manifest: dt, mediaType: d.MediaType})
			if err != nil {
				return nil, fmt.Errorf("%s: manifest %s: %w", source, d.Digest, err)
			}
			out = append(out, &Image{Source: source, Digest: d.Digest.String(), Platform: d.Platform, Annotations: ann, img: img})
		default:
			// Attestations, signatures and other artifacts that are not runnable images are
			// reported by their manifests' annotations only.
		}
	}
	return out, nil
}

func mergeAnnotations(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
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
	return nil, fmt.Errorf("layer %s is not in manifest", d)
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
