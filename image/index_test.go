package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/safebuild/safebuild/internal/testimage"
)

var (
	amd64 = &v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = &v1.Platform{OS: "linux", Architecture: "arm64"}
)

// buildxIndex is what real pushes look like: an index (inside another, as `docker save` of
// Docker 29 writes it) of two platforms, each with its BuildKit attestation, a cosign-style
// signature of the amd64 manifest, and a Helm chart beside them. It returns the root index and
// the manifests a partial copy leaves out (the arm64 image and its attestation).
func buildxIndex(t testing.TB) (root v1.ImageIndex, absent []v1.Hash) {
	t.Helper()
	imgAmd := fixture(t)
	imgArm, err := mutate.AppendLayers(empty.Image, tarLayer(t, file{"etc/os-release", "ID=arm\n"}))
	if err != nil {
		t.Fatal(err)
	}
	amdDigest, armDigest := testimage.Digest(t, imgAmd), testimage.Digest(t, imgArm)
	attAmd := testimage.Attestation(t, "https://slsa.dev/provenance/v1", []byte(`{"predicateType":"https://slsa.dev/provenance/v1"}`))
	attArm := testimage.Attestation(t, "https://slsa.dev/provenance/v1", []byte(`{"predicateType":"https://slsa.dev/provenance/v1","x":1}`))
	sig := testimage.Artifact(t, testimage.Blob{MediaType: string(types.OCIConfigJSON), Data: []byte(`{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}`)},
		[]testimage.Blob{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Data: []byte(`{"critical":{"image":{"docker-manifest-digest":"` + amdDigest.String() + `"}}}`),
			Annotations: map[string]string{"dev.cosignproject.cosign/signature": "MEUCIQ"}}}, "", &v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: amdDigest, Size: 1})
	helm := testimage.Artifact(t, testimage.Blob{MediaType: "application/vnd.cncf.helm.config.v1+json", Data: []byte(`{"name":"web","version":"1.0.0"}`)},
		[]testimage.Blob{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip", Data: []byte{0x1f, 0x8b, 8, 0}}}, "", nil)
	nested := testimage.Index(t,
		testimage.Entry{Image: imgAmd, Platform: amd64},
		testimage.Entry{Image: imgArm, Platform: arm64},
		testimage.AttestationFor(attAmd, amdDigest),
		testimage.AttestationFor(attArm, armDigest),
		testimage.Entry{Image: sig},
	)
	root = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: nested, Descriptor: v1.Descriptor{Annotations: map[string]string{"org.opencontainers.image.ref.name": "1.4.2"}}},
		mutate.IndexAddendum{Add: helm})
	return root, []v1.Hash{armDigest, testimage.Digest(t, attArm)}
}

// setSummary is what every source must agree on: each image, artifact and skipped entry.
func setSummary(s *Set) []string {
	var out []string
	for _, i := range s.Images {
		out = append(out, fmt.Sprintf("image %s %s ref.name=%s", i.PlatformString(), i.Digest[:19], i.Annotations["org.opencontainers.image.ref.name"]))
	}
	for _, a := range s.Artifacts {
		var mts []string
		for _, b := range a.Blobs {
			mts = append(mts, b.MediaType)
		}
		sub := a.Subject
		if len(sub) > 19 {
			sub = sub[:19]
		}
		out = append(out, fmt.Sprintf("%s %s type=%s subject=%s (%s) config=%v blobs=%v", a.Kind(), a.Digest[:19], a.ArtifactType, sub, a.SubjectPlatform, a.Config != nil, mts))
	}
	for _, k := range s.Skipped {
		out = append(out, fmt.Sprintf("skipped %s %s absent=%v", k.Kind, k.Platform, k.Absent))
	}
	return out
}

// TestIndexEntries: every entry of an index is sorted into images, attestations, other
// artifacts and entries the store does not hold, the same from an OCI layout, an OCI archive
// and a registry; --platform keeps the attestations about the chosen image and fails only when
// the platform asked for is not present.
func TestIndexEntries(t *testing.T) {
	root, absent := buildxIndex(t)
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(root); err != nil {
		t.Fatal(err)
	}
	for _, h := range absent {
		if err := os.Remove(filepath.Join(dir, "layout", "blobs", h.Algorithm, h.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	tarDir(t, filepath.Join(dir, "layout"), filepath.Join(dir, "oci.tar"))
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	rref, _ := name.ParseReference(host + "/app:1")
	if err := remote.WriteIndex(rref, root); err != nil {
		t.Fatal(err)
	}
	for _, h := range absent {
		if err := remote.Delete(rref.Context().Digest(h.String())); err != nil {
			t.Fatal(err)
		}
	}

	all := []string{
		"image linux/amd64 sha256: ref.name=1.4.2",
		"attestation sha256: type= subject=sha256: (linux/amd64) config=false blobs=[application/vnd.in-toto+json]",
		"artifact sha256: type= subject=sha256: (linux/amd64) config=true blobs=[application/vnd.dev.cosign.simplesigning.v1+json]",
		"artifact sha256: type=application/vnd.cncf.helm.config.v1+json subject= () config=true blobs=[application/vnd.cncf.helm.chart.content.v1.tar+gzip]",
		"skipped image linux/arm64 absent=true",
		"skipped attestation unknown/unknown absent=true",
	}
	for _, arg := range []string{"oci:" + filepath.Join(dir, "layout"), "oci-archive:" + filepath.Join(dir, "oci.tar"), "registry:" + host + "/app:1"} {
		t.Run(strings.SplitN(arg, ":", 2)[0], func(t *testing.T) {
			ref, err := ParseRef(arg)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				platform *v1.Platform
				want     []string
				err      string
			}{
				{nil, all, ""},
				// The arm64 entries are about another platform: left out, not even noted.
				{amd64, all[:4], ""},
				{arm64, nil, "no image for platform linux/arm64 is present: the index lists linux/arm64"},
				{&v1.Platform{OS: "linux", Architecture: "s390x"}, nil, "no image for platform linux/s390x"},
			} {
				set, err := Open(context.Background(), ref, Options{Platform: tc.platform})
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Errorf("--platform %s: %v, want an error with %q", tc.platform, err, tc.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("--platform %s: %v", tc.platform, err)
				}
				got := setSummary(set)
				set.Close()
				// Digests differ per entry; compare their shape.
				for i := range got {
					got[i] = stripDigests(got[i])
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("--platform %s:\n%s\nwant\n%s", tc.platform, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}

// stripDigests cuts "sha256:<hex>" to "sha256:".
func stripDigests(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "sha256:")
		if i < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i+7])
		s = s[i+7:]
		for len(s) > 0 && strings.IndexByte("0123456789abcdef", s[0]) >= 0 {
			s = s[1:]
		}
	}
}

// writeLayout writes an OCI layout whose index.json is indexJSON and whose blobs are given by
// digest, as they are (a fake digest included): for inputs no builder would make.
func writeLayout(t *testing.T, indexJSON []byte, blobs map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	must(os.WriteFile(filepath.Join(dir, "index.json"), indexJSON, 0o644))
	for d, dt := range blobs {
		alg, hx, _ := strings.Cut(d, ":")
		must(os.MkdirAll(filepath.Join(dir, "blobs", alg), 0o755))
		must(os.WriteFile(filepath.Join(dir, "blobs", alg, hx), dt, 0o644))
	}
	return dir
}

func indexOf(t *testing.T, ds ...v1.Descriptor) []byte {
	t.Helper()
	dt, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ds})
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// TestHostileIndexes: a manifest that is not JSON, an index that lists itself (under a digest
// nobody verifies), indexes nested too deep and an index of too many entries are each listed
// as an entry that could not be read — never a panic, a hang or the end of the whole scan.
func TestHostileIndexes(t *testing.T) {
	img := fixture(t)
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithPlatform(*amd64)); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gi v1.IndexManifest
	json.Unmarshal(good, &gi)
	goodDesc := gi.Manifests[0]
	blobs := map[string][]byte{}
	filepath.Walk(filepath.Join(dir, "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			dt, _ := os.ReadFile(p)
			blobs[filepath.Base(filepath.Dir(p))+":"+filepath.Base(p)] = dt
		}
		return nil
	})

	notJSON := []byte("this is not a manifest")
	h, n, _ := v1.SHA256(strings.NewReader(string(notJSON)))
	blobs[h.String()] = notJSON
	bad := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: h, Size: n}

	// An index that lists itself: possible only under a digest that is not checked.
	self := v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)}
	selfDesc := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: self, Size: 1}
	blobs[self.String()] = indexOf(t, selfDesc)

	// Five indexes, each holding the next, the last the image.
	deep := goodDesc
	for i := 0; i < 5; i++ {
		dt := indexOf(t, deep)
		dh, dn, _ := v1.SHA256(strings.NewReader(string(dt)))
		blobs[dh.String()] = dt
		deep = v1.Descriptor{MediaType: types.OCIImageIndex, Digest: dh, Size: dn}
	}

	many := []v1.Descriptor{goodDesc}
	for i := 0; i <= maxEntries; i++ {
		many = append(many, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}, Size: 1})
	}

	for _, tc := range []struct {
		name  string
		index []byte
		want  string // the error of the one entry not absent
	}{
		{"not JSON", indexOf(t, goodDesc, bad), "not a manifest"},
		{"lists itself", indexOf(t, goodDesc, selfDesc), "nested more than 4 deep"},
		{"nested too deep", indexOf(t, goodDesc, deep), "nested more than 4 deep"},
		{"too many entries", indexOf(t, many...), "more than 10000 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Open(context.Background(), Ref{Kind: OCILayout, Target: writeLayout(t, tc.index, blobs)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			if len(set.Images) != 1 {
				t.Errorf("%d images, want the one good image", len(set.Images))
			}
			var errs []string
			for _, k := range set.Skipped {
				if !k.Absent {
					errs = append(errs, k.Err.Error())
				}
			}
			if len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
				t.Errorf("unreadable entries %q, want one with %q", errs, tc.want)
			}
		})
	}
	t.Run("the platform asked for is unreadable", func(t *testing.T) {
		badAmd := bad
		badAmd.Platform = amd64
		_, err := Open(context.Background(), Ref{Kind: OCILayout, Target: writeLayout(t, indexOf(t, badAmd), blobs)}, Options{Platform: amd64})
		if err == nil || !strings.Contains(err.Error(), "the image for platform linux/amd64 (manifest sha256:") || !strings.Contains(err.Error(), "not a manifest") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nothing readable", func(t *testing.T) {
		_, err := Open(context.Background(), Ref{Kind: OCILayout, Target: writeLayout(t, indexOf(t, bad, many[1]), blobs)}, Options{})
		if err == nil || !strings.Contains(err.Error(), "nothing in it can be read") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestClassify: which manifests are runnable images and which are artifacts.
func TestClassify(t *testing.T) {
	layer := v1.Descriptor{MediaType: types.OCILayer}
	cfg := &v1.Descriptor{MediaType: types.OCIConfigJSON}
	for _, tc := range []struct {
		name string
		d    v1.Descriptor
		m    manifestDoc
		want string
	}{
		{"image", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: cfg, Layers: []v1.Descriptor{layer}}, KindImage},
		{"docker image", v1.Descriptor{MediaType: types.DockerManifestSchema2}, manifestDoc{Config: &v1.Descriptor{MediaType: types.DockerConfigJSON}, Layers: []v1.Descriptor{{MediaType: types.DockerLayer}}}, KindImage},
		{"zstd and foreign layers", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: cfg, Layers: []v1.Descriptor{{MediaType: types.OCILayerZStd}, {MediaType: types.DockerForeignLayer}}}, KindImage},
		{"descriptor type unset", v1.Descriptor{}, manifestDoc{MediaType: types.OCIManifestSchema1, Config: cfg}, KindImage},
		{"buildkit attestation", v1.Descriptor{MediaType: types.OCIManifestSchema1, Annotations: map[string]string{AnnotationReferenceType: AttestationManifest}},
			manifestDoc{Config: cfg, Layers: []v1.Descriptor{layer}}, KindAttestation},
		{"in-toto layers", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: &v1.Descriptor{MediaType: types.OCIEmptyJSON}, Layers: []v1.Descriptor{{MediaType: MediaTypeInToto}}}, KindAttestation},
		{"cosign attestation", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: cfg, Layers: []v1.Descriptor{{MediaType: MediaTypeDSSE}}}, KindAttestation},
		{"sigstore bundle", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{ArtifactType: "application/vnd.dev.sigstore.bundle.v0.3+json", Config: cfg}, KindArtifact},
		{"cosign signature", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: cfg, Layers: []v1.Descriptor{{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json"}}}, KindArtifact},
		{"helm chart", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: &v1.Descriptor{MediaType: "application/vnd.cncf.helm.config.v1+json"}, Layers: []v1.Descriptor{{MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}}}, KindArtifact},
		{"artifactType", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{ArtifactType: "application/spdx+json", Config: cfg, Layers: []v1.Descriptor{layer}}, KindArtifact},
		{"encrypted layer", v1.Descriptor{MediaType: types.OCIManifestSchema1}, manifestDoc{Config: cfg, Layers: []v1.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip+encrypted"}}}, KindArtifact},
		{"artifact manifest", v1.Descriptor{MediaType: "application/vnd.oci.artifact.manifest.v1+json"}, manifestDoc{Blobs: []v1.Descriptor{{MediaType: "application/spdx+json"}}}, KindArtifact},
		{"schema 1", v1.Descriptor{MediaType: types.DockerManifestSchema1Signed}, manifestDoc{}, KindArtifact},
	} {
		if got := classify(tc.d, &tc.m); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// memStore is a BlobStore over a map, for the fuzzer: no hashing, no files.
type memStore map[v1.Hash][]byte

func (m memStore) Open(d v1.Hash) (io.ReadCloser, error) {
	dt, ok := m[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, os.ErrNotExist)
	}
	return io.NopCloser(strings.NewReader(string(dt))), nil
}

func (m memStore) Size(d v1.Hash) (int64, error) {
	dt, ok := m[d]
	if !ok {
		return 0, fmt.Errorf("blob %s: %w", d, os.ErrNotExist)
	}
	return int64(len(dt)), nil
}

// FuzzIndex feeds arbitrary bytes to the index walker as a store's index.json and as a blob
// stored under a digest nobody verifies (so it can list itself: cycles, deep nesting), beside
// the blobs of a real index (images, attestations, a signature, a chart): it must end with an
// error or a set, never a panic or a hang, and what it returns must be usable.
func FuzzIndex(f *testing.F) {
	root, _ := buildxIndex(f)
	dir := f.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		f.Fatal(err)
	}
	if err := lp.AppendIndex(root); err != nil {
		f.Fatal(err)
	}
	base := memStore{}
	filepath.Walk(filepath.Join(dir, "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			dt, _ := os.ReadFile(p)
			if h, err := v1.NewHash(filepath.Base(filepath.Dir(p)) + ":" + filepath.Base(p)); err == nil {
				base[h] = dt
			}
		}
		return nil
	})
	indexJSON, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	free := v1.Hash{Algorithm: "sha512", Hex: strings.Repeat("ab", 64)}
	freeDesc := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":10}`, free)
	f.Add(indexJSON, []byte(`{"manifests":[`+freeDesc+`]}`))
	f.Add([]byte(`{"manifests":[`+freeDesc+`]}`), []byte(`{"manifests":[`+freeDesc+`]}`))
	f.Add([]byte(`{"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+free.String()+`","size":1}]}`),
		[]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"`+free.String()+`","size":2},"layers":[{"mediaType":"application/vnd.in-toto+json","digest":"`+free.String()+`","size":2}]}`))
	f.Add([]byte(`{"manifests":[{"mediaType":"text/plain","digest":"`+free.String()+`","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`), []byte("x"))
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	f.Fuzz(func(t *testing.T, indexJSON, blob []byte) {
		store := memStore{free: blob}
		for h, dt := range base {
			store[h] = dt
		}
		for _, p := range []*v1.Platform{nil, amd64} {
			set := &Set{Ref: Ref{Kind: OCILayout, Target: "fuzz"}}
			w := &indexWalker{source: "fuzz", set: set}
			if err := w.walkStore(store, indexJSON); err != nil {
				return
			}
			if err := set.selectPlatform(p); err != nil {
				continue
			}
			for _, i := range set.Images {
				i.PlatformString()
				i.Config()
				i.Layers()
			}
			for _, a := range set.Artifacts {
				for _, b := range append(a.Blobs, a.Config) {
					if b == nil {
						continue
					}
					if rc, err := b.Open(); err == nil {
						io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
						rc.Close()
					}
				}
			}
		}
	})
}
