package imagescan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
)

// Origin kinds of the content of an index's other entries.
const (
	// OriginAttestation is an in-toto attestation: a BuildKit provenance or SBOM statement, a
	// cosign attestation. With provenance mode=max BuildKit records every build-arg's value in
	// it, for anyone who can pull the image to read.
	OriginAttestation = image.KindAttestation
	// OriginArtifact is any other artifact: a signature, an SBOM referrer, a Helm chart.
	OriginArtifact = image.KindArtifact
)

// maxJSONBlob is the largest artifact blob parsed as JSON (for the path of a finding and a DSSE
// envelope's payload); a larger one is scanned as text.
const maxJSONBlob = 64 << 20

// artifactScan scans one artifact: its annotations, config and blobs, each by media type.
type artifactScan struct {
	ctx   context.Context
	sc    *policy.Scanner
	a     *image.Artifact
	o     Options
	emit  func(Finding) error
	stats policy.Stats
	// errors make the scan incomplete; notices say what was skipped by design.
	errors, notices []policy.Problem
}

// scanArtifact scans a's annotations, config and every blob: JSON (in-toto statements, DSSE
// envelopes, SBOMs, signature payloads) as text with each finding located by JSON path, other
// text and archives (a Helm chart) as a file is, opaque binary not at all (a notice). Nothing is
// read as a layer diff. Only a context error is returned; a blob that cannot be read or an
// attestation that is not JSON is an error in the result, and the rest is still scanned.
func scanArtifact(ctx context.Context, sc *policy.Scanner, a *image.Artifact, o Options, emit func(Finding) error) *artifactScan {
	s := &artifactScan{ctx: ctx, sc: sc, a: a, o: o, emit: emit}
	for _, k := range slices.Sorted(maps.Keys(a.Annotations)) {
		s.text(nil, fmt.Sprintf("Annotations[%q]", k), k+"="+a.Annotations[k])
	}
	blobs := a.Blobs
	if a.Config != nil {
		blobs = append([]*image.Blob{a.Config}, blobs...)
	}
	for _, b := range blobs {
		for _, k := range slices.Sorted(maps.Keys(b.Annotations)) {
			s.text(b, fmt.Sprintf("%s.annotations[%q]", b.Name(), k), k+"="+b.Annotations[k])
		}
		if ctx.Err() != nil {
			break
		}
		s.blob(b)
	}
	return s
}

// location is what every finding in a (and blob b, when set) carries.
func (s *artifactScan) location(b *image.Blob, predicate string) *policy.Artifact {
	l := &policy.Artifact{Manifest: s.a.Digest, ArtifactType: s.a.ArtifactType, Subject: s.a.Subject, PredicateType: predicate}
	if b != nil {
		l.Blob, l.BlobDigest, l.MediaType = b.Name(), b.Digest, b.MediaType
	}
	return l
}

func (s *artifactScan) platform() string {
	if s.a.SubjectPlatform != "" {
		return s.a.SubjectPlatform
	}
	if p := s.a.Platform; p != nil && p.OS != "unknown" {
		return p.String()
	}
	return ""
}

func (s *artifactScan) problem(b *image.Blob, predicate, msg string) policy.Problem {
	return policy.Problem{Image: s.a.Source, Platform: s.platform(), Manifest: s.a.Digest, Artifact: s.location(b, predicate), Message: msg}
}

// finder collects findings that come from blob b, placed.
func (s *artifactScan) finder(b *image.Blob, predicate string, into *[]Finding) func(policy.Finding) error {
	return func(f policy.Finding) error {
		f.Image, f.Platform, f.Artifact = s.a.Source, s.platform(), s.location(b, predicate)
		*into = append(*into, f)
		return nil
	}
}

func (s *artifactScan) flush(fs []Finding) {
	for _, f := range fs {
		s.emit(f) // the set's collector, which never fails
	}
}

// text scans one annotation.
func (s *artifactScan) text(b *image.Blob, path, text string) {
	var fs []Finding
	st, err := s.sc.ScanReader(s.ctx, policy.Origin{Kind: s.a.Kind(), Path: path}, strings.NewReader(text), s.finder(b, "", &fs))
	s.stats.Add(st)
	s.flush(fs)
	if err != nil && s.ctx.Err() == nil {
		s.errors = append(s.errors, s.problem(b, "", fmt.Sprintf("scanning %s: %v", path, err)))
	}
}

// isJSONType is true for the media types whose content is JSON.
func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || image.MediaTypeDSSE == mt || image.MediaTypeInToto == mt
}

// blob scans one blob by its media type.
func (s *artifactScan) blob(b *image.Blob) {
	predicate := b.Annotations[image.AnnotationPredicateType]
	fail := func(what string, err error) {
		s.errors = append(s.errors, s.problem(b, predicate, fmt.Sprintf("%s %s (%s): %s: %v", s.a.Kind(), b.Name(), b.Digest, what, err)))
	}
	rc, err := b.Open()
	if err != nil {
		fail("reading", err)
		return
	}
	defer rc.Close()
	limits := s.o.Layers
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = 20 << 30
	}
	r := bufio.NewReaderSize(io.LimitReader(rc, limits.MaxBytes), 64<<10)
	name := b.Name()
	if t := b.Annotations["org.opencontainers.image.title"]; t != "" {
		name = t
	}
	attestation := s.a.Attestation && b.Index >= 0
	if attestation || isJSONType(b.MediaType) {
		dt, err := io.ReadAll(io.LimitReader(r, maxJSONBlob+1))
		if err != nil {
			fail("reading", err)
			return
		}
		if len(dt) <= maxJSONBlob {
			s.json(b, name, dt, attestation, predicate)
			return
		}
		// Too large to map: scan it as it streams.
		s.stream(b, name, io.MultiReader(bytes.NewReader(dt), r), predicate)
		return
	}
	head, _ := r.Peek(8 << 10)
	if archive.Detect(head) == archive.None && bytes.IndexByte(head, 0) >= 0 {
		s.notices = append(s.notices, s.problem(b, predicate, fmt.Sprintf("%s %s (%s, %s): binary content, not scanned", s.a.Kind(), b.Name(), b.Digest, b.MediaType)))
		return
	}
	s.stream(b, name, r, predicate)
}

// stream scans r as a file (archives opened), findings at path.
func (s *artifactScan) stream(b *image.Blob, path string, r io.Reader, predicate string) {
	var fs []Finding
	st, err := ScanFile(s.ctx, s.sc, policy.Origin{Kind: s.a.Kind(), Path: path}, r, s.o.Archives, s.finder(b, predicate, &fs))
	s.stats.Add(st)
	s.flush(fs)
	if err != nil && s.ctx.Err() == nil {
		s.errors = append(s.errors, s.problem(b, predicate, fmt.Sprintf("%s %s (%s): %v", s.a.Kind(), b.Name(), b.Digest, err)))
	}
}

// json scans a JSON blob: a DSSE envelope's payload decoded, the predicate type read from an
// in-toto statement, each finding's path the JSON path of the value it is in. An attestation
// that is not JSON is an error (its bytes are still scanned as text).
func (s *artifactScan) json(b *image.Blob, name string, dt []byte, attestation bool, predicate string) {
	doc := dt
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
	}
	if json.Unmarshal(dt, &env) == nil && env.PayloadType != "" && env.Payload != "" {
		payload, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			s.errors = append(s.errors, s.problem(b, predicate, fmt.Sprintf("%s %s (%s): DSSE payload is not base64: %v", s.a.Kind(), b.Name(), b.Digest, err)))
		} else {
			doc = payload
		}
	}
	var stmt struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(doc, &stmt); err != nil {
		if attestation {
			s.errors = append(s.errors, s.problem(b, predicate, fmt.Sprintf("%s %s (%s): not JSON: %v", s.a.Kind(), b.Name(), b.Digest, err)))
		}
		s.stream(b, name, bytes.NewReader(doc), predicate)
		return
	}
	if stmt.PredicateType != "" {
		predicate = stmt.PredicateType
	}
	var fs []Finding
	st, err := s.sc.ScanReader(s.ctx, policy.Origin{Kind: s.a.Kind(), Path: name}, bytes.NewReader(doc), s.finder(b, predicate, &fs))
	s.stats.Add(st)
	relocateJSON(doc, fs)
	s.flush(fs)
	if err != nil && s.ctx.Err() == nil {
		s.errors = append(s.errors, s.problem(b, predicate, fmt.Sprintf("%s %s (%s): %v", s.a.Kind(), b.Name(), b.Digest, err)))
	}
}
