package policy

// Artifact locates a finding in an attestation or another non-image artifact of an image index
// (a cosign signature, an SBOM, a Helm chart): the JSON report's "artifact" object.
type Artifact struct {
	// Manifest is the artifact manifest's digest.
	Manifest string `json:"manifest"`
	// ArtifactType is the manifest's artifactType, else its config's media type.
	ArtifactType string `json:"artifact_type,omitempty"`
	// Blob is where in the manifest the content is: "config" or "layers[N]"; BlobDigest and
	// MediaType are that blob's.
	Blob       string `json:"blob,omitempty"`
	BlobDigest string `json:"blob_digest,omitempty"`
	MediaType  string `json:"media_type,omitempty"`
	// PredicateType is an in-toto statement's predicateType
	// ("https://slsa.dev/provenance/v1"); "" for other content.
	PredicateType string `json:"predicate_type,omitempty"`
	// Subject is the digest of the image manifest the artifact is about (BuildKit's
	// vnd.docker.reference.digest, or the OCI subject); "" when it names none.
	Subject string `json:"subject,omitempty"`
}

// Problem is a part of a scan's input that was not scanned, or not completely: as an error, the
// scan is incomplete and a gate must refuse (a corrupt layer, an unreadable config, a blob a
// registry no longer serves); as a notice, it was listed but is not there, or was skipped by
// design (an index entry `docker save` did not save, an opaque binary blob). It never holds a
// secret.
type Problem struct {
	// Image and Platform name the image, as in Finding.
	Image    string `json:"image,omitempty"`
	Platform string `json:"platform,omitempty"`
	// Manifest is the digest of the manifest or index entry concerned, when there is one.
	Manifest string `json:"manifest,omitempty"`
	// Layer is the layer at fault; nil when none is.
	Layer *Layer `json:"layer,omitempty"`
	// Artifact is the attestation or artifact blob at fault; nil when none is.
	Artifact *Artifact `json:"artifact,omitempty"`
	// Message says what broke, or what was not scanned and why.
	Message string `json:"message"`
}

// Relocate sets the finding's Origin.Path to p and recomputes its fingerprint, for a source
// that learns where in a fragment a finding lies only after the scan (the JSON path of a value
// in an attestation).
func (f *Finding) Relocate(p string) {
	f.Origin.Path = p
	f.Fingerprint = fingerprint(f.RuleID, f.Origin, f.SecretSHA256)
}
