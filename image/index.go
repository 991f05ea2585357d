package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What an index entry is, as Skipped.Kind and Artifact.Kind name it.
const (
	KindImage       = "image"
	KindIndex       = "index"
	KindAttestation = "attestation"
	KindArtifact    = "artifact"
)

// Annotations and media types of attestations (BuildKit's attestation storage, in-toto, DSSE).
const (
	// AnnotationReferenceType on an index entry says what the entry is to another entry;
	// BuildKit sets it to "attestation-manifest".
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest names the manifest an attestation manifest is about.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// AnnotationPredicateType on an attestation layer is its in-toto statement's predicateType.
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AttestationManifest is the AnnotationReferenceType value of BuildKit's attestation manifests.
	AttestationManifest = "attestation-manifest"
	// MediaTypeInToto is an in-toto statement (JSON); MediaTypeDSSE a DSSE envelope around one
	// (cosign attest, GitHub's and sigstore's bundles).
	MediaTypeInToto = "application/vnd.in-toto+json"
	MediaTypeDSSE   = "application/vnd.dsse.envelope.v1+json"
)

// Walk bounds: how deep indexes may nest and how many entries one walk opens, so that a hostile
// or broken store (an index that lists itself, a million entries) ends with an error.
const (
	maxIndexDepth = 4
	maxEntries    = 10_000
)

// Artifact is an index entry that is no runnable image: a BuildKit attestation manifest, a
// cosign signature or attestation, an SBOM or other referrer, an OCI artifact (a Helm chart, a
// Flux bundle). Its blobs are content to scan by media type, never layer diffs.
type Artifact struct {
	// Source names where it came from, as Image.Source.
	Source string
	// Digest and MediaType are the manifest's.
	Digest, MediaType string
	// ArtifactType is the manifest's artifactType, else its config's media type unless that
	// is an image config or the empty JSON object.
	ArtifactType string
	// Attestation is true for in-toto attestations: BuildKit attestation manifests and
	// manifests whose layers are in-toto statements or DSSE envelopes.
	Attestation bool
	// Subject is the digest of the manifest the artifact is about (vnd.docker.reference.digest,
	// else the OCI subject), "" when it names none.
	Subject string
	// SubjectPlatform is that manifest's platform when the index lists it ("linux/amd64").
	SubjectPlatform string
	// Platform is the index entry's platform (unknown/unknown for attestations), nil if none.
	Platform *v1.Platform
	// Annotations are the index's, the entry's and the manifest's annotations, merged.
	Annotations map[string]string
	// Config is the config blob; nil when there is none or it is the empty JSON object.
	Config *Blob
	// Blobs are the manifest's layers (or an OCI artifact manifest's blobs), in order.
	Blobs []*Blob
}

// Kind is KindAttestation or KindArtifact.
func (a *Artifact) Kind() string {
	if a.Attestation {
		return KindAttestation
	}
	return KindArtifact
}

// Blob is a config or layer of an artifact, read as stored.
type Blob struct {
	// Index is the blob's position among the manifest's layers, -1 for the config.
	Index     int
	Digest    string
	MediaType string
	// Size is the size the manifest gives, in bytes.
	Size        int64
	Annotations map[string]string
	open        func() (io.ReadCloser, error)
}

// Name is "config" or "layers[N]": where the blob is in its manifest.
func (b *Blob) Name() string {
	if b.Index < 0 {
		return "config"
	}
	return fmt.Sprintf("layers[%d]", b.Index)
}

// Open returns the blob's bytes as stored (a gzip blob stays compressed).
func (b *Blob) Open() (io.ReadCloser, error) {
	rc, err := b.open()
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", b.Name(), b.Digest, err)
	}
	return rc, nil
}

// Skipped is an index entry that was not opened. When the store or registry does not hold it
// (Absent) it is a notice: `docker save` and a containerd pull of one platform list platforms
// and attestations whose blobs they never fetched. Otherwise Err says why it could not be read,
// and a scan of the set is incomplete.
type Skipped struct {
	// Digest and MediaType are the index entry's.
	Digest, MediaType string
	// Platform is the entry's platform ("linux/arm64"), "" when it names none.
	Platform string
	// Kind is what the entry says it is: KindImage, KindIndex, KindAttestation or KindArtifact.
	Kind string
	// Subject is, for an attestation, the manifest it is about, and SubjectPlatform that
	// manifest's platform when the index lists it.
	Subject, SubjectPlatform string
	// Absent is true when the store does not hold the entry.
	Absent bool
	Err    error
}

// IsNotFound reports whether err says a blob or manifest is not there: a store's
// fs.ErrNotExist, or a registry's 404.
func IsNotFound(err error) bool {
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// indexWalker walks an index down to its manifests, over any v1.ImageIndex (a store's
// storeIndex, a registry's index), and sorts each manifest into the set: runnable images,
// artifacts, entries it could not open.
type indexWalker struct {
	source  string
	set     *Set
	entries int
}

// walk visits every entry of idx, which sits depth indexes below the root.
func (w *indexWalker) walk(idx v1.ImageIndex, ann map[string]string, depth int) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("parsing the index: %w", err)
	}
	for _, d := range im.Manifests {
		if w.entries++; w.entries > maxEntries {
			w.skip(d, fmt.Errorf("the index lists more than %d entries; the rest are not opened", maxEntries))
			return nil
		}
		a := mergeAnnotations(ann, im.Annotations, d.Annotations)
		if d.MediaType.IsIndex() {
			if depth+1 > maxIndexDepth {
				w.skip(d, fmt.Errorf("image indexes nested more than %d deep", maxIndexDepth))
				continue
			}
			child, err := idx.ImageIndex(d.Digest)
			if err == nil {
				err = w.walk(child, a, depth+1)
			}
			if err != nil {
				w.skip(d, err)
			}
			continue
		}
		img, err := idx.Image(d.Digest)
		if err == nil {
			err = w.manifest(d, img, a)
		}
		if err != nil {
			w.skip(d, err)
		}
	}
	return nil
}

func (w *indexWalker) skip(d v1.Descriptor, err error) {
	s := Skipped{Digest: d.Digest.String(), MediaType: string(d.MediaType), Kind: entryKind(d), Absent: IsNotFound(err), Err: err}
	if d.Platform != nil {
		s.Platform = d.Platform.String()
	}
	s.Subject = d.Annotations[AnnotationReferenceDigest]
	w.set.Skipped = append(w.set.Skipped, s)
}

// entryKind is what an index entry says it is, before it is read.
func entryKind(d v1.Descriptor) string {
	switch {
	case d.Annotations[AnnotationReferenceType] == AttestationManifest:
		return KindAttestation
	case d.MediaType.IsIndex():
		return KindIndex
	case d.MediaType.IsImage():
		return KindImage
	}
	return KindArtifact
}

// manifestDoc is the part of any manifest the walker reads: image manifests (OCI, Docker v2),
// OCI 1.1 artifacts (artifactType, subject) and the 1.1 release candidates' artifact manifest
// (blobs).
type manifestDoc struct {
	MediaType    types.MediaType   `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *v1.Descriptor    `json:"config"`
	Layers       []v1.Descriptor   `json:"layers"`
	Blobs        []v1.Descriptor   `json:"blobs"`
	Subject      *v1.Descriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

// manifest reads the manifest d names (img) and adds it to the set as an image or an artifact.
func (w *indexWalker) manifest(d v1.Descriptor, img v1.Image, ann map[string]string) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest %s: not a manifest: %w", d.Digest, err)
	}
	ann = mergeAnnotations(ann, m.Annotations)
	kind := classify(d, &m)
	if kind == KindImage {
		i := newImage(w.source, img, d.Platform, ann)
		i.Digest = d.Digest.String()
		w.set.Images = append(w.set.Images, i)
		return nil
	}
	a := &Artifact{Source: w.source, Digest: d.Digest.String(), MediaType: string(d.MediaType),
		ArtifactType: m.ArtifactType, Attestation: kind == KindAttestation, Platform: d.Platform, Annotations: ann}
	if a.MediaType == "" {
		a.MediaType = string(m.MediaType)
	}
	if m.Config != nil {
		if ct := m.Config.MediaType; a.ArtifactType == "" && !ct.IsConfig() && ct != types.OCIEmptyJSON {
			a.ArtifactType = string(ct)
		}
		if m.Config.MediaType != types.OCIEmptyJSON && m.Config.Size > 2 {
			a.Config = newBlob(img, -1, *m.Config)
		}
	}
	for n, l := range append(m.Layers, m.Blobs...) {
		a.Blobs = append(a.Blobs, newBlob(img, n, l))
	}
	switch {
	case d.Annotations[AnnotationReferenceDigest] != "":
		a.Subject = d.Annotations[AnnotationReferenceDigest]
	case m.Subject != nil:
		a.Subject = m.Subject.Digest.String()
	}
	w.set.Artifacts = append(w.set.Artifacts, a)
	return nil
}

func newBlob(img v1.Image, n int, d v1.Descriptor) *Blob {
	return &Blob{Index: n, Digest: d.Digest.String(), MediaType: string(d.MediaType), Size: d.Size, Annotations: d.Annotations,
		open: func() (io.ReadCloser, error) {
			l, err := img.LayerByDigest(d.Digest)
			if err != nil {
				return nil, err
			}
			return l.Compressed()
		}}
}

// classify says whether a manifest is a runnable image (an image config and tar layers only),
// an attestation, or another artifact.
func classify(d v1.Descriptor, m *manifestDoc) string {
	if d.Annotations[AnnotationReferenceType] == AttestationManifest || isAttestationType(m.ArtifactType) {
		return KindAttestation
	}
	blobs := append(append([]v1.Descriptor(nil), m.Layers...), m.Blobs...)
	for _, l := range blobs {
		if isAttestationType(string(l.MediaType)) {
			return KindAttestation
		}
	}
	mt := d.MediaType
	if !mt.IsImage() {
		mt = m.MediaType
	}
	if !mt.IsImage() || m.ArtifactType != "" || m.Config == nil || !m.Config.MediaType.IsConfig() || len(m.Blobs) > 0 {
		return KindArtifact
	}
	for _, l := range m.Layers {
		if !l.MediaType.IsLayer() {
			return KindArtifact
		}
	}
	return KindImage
}

// isAttestationType is true for in-toto statements and DSSE envelopes, and the artifact types
// that name them (application/vnd.in-toto.<predicate>+json, …dsse…).
func isAttestationType(mt string) bool {
	return mt == MediaTypeInToto || mt == MediaTypeDSSE ||
		strings.HasPrefix(mt, "application/vnd.in-toto") || strings.HasPrefix(mt, "application/vnd.dsse")
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

// selectPlatform keeps what a scan of platform p (nil: every platform) must cover: the images
// of p, the attestations and other artifacts about them or about no image in particular, and
// the skipped entries among those. It fails when nothing requested can be scanned: no image of
// p, or (p nil) no image and no artifact.
func (s *Set) selectPlatform(p *v1.Platform) error {
	platformOf := map[string]string{}
	allImages := map[string]bool{}
	for _, i := range s.Images {
		allImages[i.Digest] = true
		platformOf[i.Digest] = i.PlatformString()
	}
	for _, k := range s.Skipped {
		if k.Kind == KindImage {
			allImages[k.Digest] = true
			platformOf[k.Digest] = k.Platform
		}
	}
	matches := func(ip *v1.Platform) bool { return p == nil || ip == nil || ip.Satisfies(*p) }
	kept := map[string]bool{}
	var imgs []*Image
	for _, i := range s.Images {
		ip := i.Platform
		if ip == nil {
			// A single manifest: its config says what it runs on (unknown keeps it).
			if str := i.PlatformString(); str != "" {
				ip, _ = v1.ParsePlatform(str)
			}
		}
		if matches(ip) {
			imgs = append(imgs, i)
			kept[i.Digest] = true
		}
	}
	about := func(subject string) bool { return p == nil || subject == "" || kept[subject] || !allImages[subject] }
	var arts []*Artifact
	for _, a := range s.Artifacts {
		a.SubjectPlatform = platformOf[a.Subject]
		if about(a.Subject) {
			arts = append(arts, a)
		}
	}
	var skipped []Skipped
	var listed []Skipped // entries of platform p that were not opened
	for _, k := range s.Skipped {
		k.SubjectPlatform = platformOf[k.Subject]
		keep := false
		switch k.Kind {
		case KindImage, KindIndex:
			var kp *v1.Platform
			if k.Platform != "" {
				kp, _ = v1.ParsePlatform(k.Platform)
			}
			keep = matches(kp)
			if keep && k.Platform != "" {
				listed = append(listed, k)
			}
		default:
			keep = about(k.Subject)
		}
		if keep {
			skipped = append(skipped, k)
		}
	}
	ref := s.Ref.String()
	switch {
	case p != nil && len(imgs) == 0 && len(listed) > 0 && listed[0].Absent:
		return fmt.Errorf("%s: no image for platform %s is present: the index lists %s (manifest %s), but %s does not hold it", ref, p, listed[0].Platform, listed[0].Digest, s.Ref.Kind.Holder())
	case p != nil && len(imgs) == 0 && len(listed) > 0:
		return fmt.Errorf("%s: the image for platform %s (manifest %s) could not be read: %v", ref, listed[0].Platform, listed[0].Digest, listed[0].Err)
	case p != nil && len(imgs) == 0:
		return fmt.Errorf("%s: no image for platform %s", ref, p)
	case len(imgs) == 0 && len(arts) == 0 && len(skipped) > 0:
		return fmt.Errorf("%s: nothing in it can be read: %d index entries, none present or readable; the first: %s: %v", ref, len(skipped), skipped[0].Digest, skipped[0].Err)
	case len(imgs) == 0 && len(arts) == 0:
		return fmt.Errorf("%s: no image manifests", ref)
	}
	s.Images, s.Artifacts, s.Skipped = imgs, arts, skipped
	return nil
}
