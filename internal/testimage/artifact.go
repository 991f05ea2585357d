package testimage

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Blob is one blob of an artifact manifest, stored as it is.
type Blob struct {
	MediaType   string
	Data        []byte
	Annotations map[string]string
}

// Desc is the blob's descriptor.
func (b Blob) Desc() v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b.Data))
	return v1.Descriptor{MediaType: types.MediaType(b.MediaType), Digest: h, Size: n, Annotations: b.Annotations}
}

// EmptyConfig is the OCI empty descriptor's blob ("{}"), the config of artifacts and of
// BuildKit's attestation manifests.
var EmptyConfig = Blob{MediaType: string(types.OCIEmptyJSON), Data: []byte("{}")}

// Artifact returns an OCI image manifest whose config and layers are the given blobs as they
// are (no tar, no diffIDs): what BuildKit writes for attestations, cosign for signatures, Helm
// for charts. artifactType and subject are left out when empty or nil.
func Artifact(t testing.TB, config Blob, layers []Blob, artifactType string, subject *v1.Descriptor) v1.Image {
	t.Helper()
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: config.Desc(), ArtifactType: artifactType, Subject: subject}
	blobs := map[v1.Hash]Blob{m.Config.Digest: config}
	for _, l := range layers {
		d := l.Desc()
		m.Layers = append(m.Layers, d)
		blobs[d.Digest] = l
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	img, err := partial.CompressedToImage(&rawImage{manifest: raw, config: config.Data, blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Attestation returns a BuildKit-style attestation manifest: the empty config and one
// application/vnd.in-toto+json layer holding statement, annotated with its predicate type.
func Attestation(t testing.TB, predicateType string, statement []byte) v1.Image {
	t.Helper()
	return Artifact(t, EmptyConfig, []Blob{{MediaType: "application/vnd.in-toto+json", Data: statement,
		Annotations: map[string]string{"in-toto.io/predicate-type": predicateType}}}, "", nil)
}

// Entry is one entry of an index built by Index: a manifest, its platform and annotations.
type Entry struct {
	Image       v1.Image
	Platform    *v1.Platform
	Annotations map[string]string
}

// AttestationFor is the index entry BuildKit writes for att, an attestation of the manifest
// subject: platform unknown/unknown, vnd.docker.reference.type and .digest.
func AttestationFor(att v1.Image, subject v1.Hash) Entry {
	return Entry{Image: att, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.String()}}
}

// Index returns an OCI index of entries, in order.
func Index(t testing.TB, entries ...Entry) v1.ImageIndex {
	t.Helper()
	adds := make([]mutate.IndexAddendum, len(entries))
	for i, e := range entries {
		adds[i] = mutate.IndexAddendum{Add: e.Image, Descriptor: v1.Descriptor{Platform: e.Platform, Annotations: e.Annotations}}
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
}

// Digest is img's manifest digest.
func Digest(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Layout writes img (an image or an index) as an OCI layout in a new temporary directory and
// returns the directory.
func Layout(t testing.TB, img any) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.Image:
		err = p.AppendImage(x)
	case v1.ImageIndex:
		err = p.AppendIndex(x)
	default:
		t.Fatalf("Layout: %T is neither an image nor an index", img)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// rawImage is a partial.CompressedImageCore over fixed bytes.
type rawImage struct {
	manifest, config []byte
	blobs            map[v1.Hash]Blob
}

func (r *rawImage) RawManifest() ([]byte, error)        { return r.manifest, nil }
func (r *rawImage) RawConfigFile() ([]byte, error)      { return r.config, nil }
func (r *rawImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (r *rawImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	return rawLayer{r.blobs[h]}, nil
}

type rawLayer struct{ b Blob }

func (l rawLayer) Digest() (v1.Hash, error)            { return l.b.Desc().Digest, nil }
func (l rawLayer) Size() (int64, error)                { return int64(len(l.b.Data)), nil }
func (l rawLayer) MediaType() (types.MediaType, error) { return types.MediaType(l.b.MediaType), nil }
func (l rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.b.Data)), nil
}
