package report

import (
	"encoding/json"
	"io"
	"math"

	"github.com/safebuild/safebuild/policy"
)

// JSON writes the machine contract documented in the README:
//
//	{"findings":[{"rule_id","description","origin","path","line","column","fingerprint",
//	  "redacted","entropy","severity","confidence"}],"stats":{"files","bytes","skipped","duration_ms"}}
//
// Field names are fixed; other tools read them. "secret" is added only with ShowSecrets. Image
// scans add "image", "platform" (for an index) and "layer":
// {"index","digest","diff_id","created_by","removed_in_layer"}, null for config findings, whose
// origin is "config" and whose path names the field (Env[3], History[7].created_by). Findings
// in an attestation or other artifact of an index have origin "attestation" or "artifact", a
// JSON path as path, and "artifact": {"manifest","artifact_type","blob","blob_digest",
// "media_type","predicate_type","subject"}. "errors" (the scan is incomplete) and "notices"
// (listed but not scanned) sit beside "findings" when there are some: {"image","platform",
// "manifest","layer","artifact","message"}.
type JSON struct{}

var _ Writer = JSON{}

type jsonFinding struct {
	RuleID      string  `json:"rule_id"`
	Description string  `json:"description"`
	Origin      string  `json:"origin"`
	Path        string  `json:"path"`
	Line        int     `json:"line"`
	Column      int     `json:"column"`
	Fingerprint string  `json:"fingerprint"`
	Redacted    string  `json:"redacted"`
	Entropy     float64 `json:"entropy"`
	Severity    string  `json:"severity"`
	Confidence  string  `json:"confidence"`
	Secret      string  `json:"secret,omitempty"`
	// Composite rules only: where the rules it requires matched.
	Required []policy.RequiredFinding `json:"required,omitempty"`
	// Image scans only.
	Image    string        `json:"image,omitempty"`
	Platform string        `json:"platform,omitempty"`
	Layer    *policy.Layer `json:"layer"`
	// Attestations and other artifacts of an index only.
	Artifact *policy.Artifact `json:"artifact,omitempty"`
	isImage  bool
}

// MarshalJSON leaves "layer" out of file findings and writes it, possibly null, for image ones.
func (f jsonFinding) MarshalJSON() ([]byte, error) {
	type plain jsonFinding
	if f.isImage {
		return json.Marshal(plain(f))
	}
	return json.Marshal(struct {
		plain
		Layer *policy.Layer `json:"layer,omitempty"`
	}{plain: plain(f)})
}

type jsonStats struct {
	Files      int64 `json:"files"`
	Bytes      int64 `json:"bytes"`
	Skipped    int64 `json:"skipped"`
	DurationMS int64 `json:"duration_ms"`
}

type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	// Present only when there are some.
	Errors  []policy.Problem `json:"errors,omitempty"`
	Notices []policy.Problem `json:"notices,omitempty"`
	Stats   jsonStats        `json:"stats"`
}

// Write encodes r as indented JSON.
func (JSON) Write(w io.Writer, r *Report) error {
	out := jsonReport{Findings: make([]jsonFinding, 0, len(r.Findings)), Errors: r.Errors, Notices: r.Notices, Stats: jsonStats{
		Files: r.Stats.Files, Bytes: r.Stats.Bytes, Skipped: r.Stats.Skipped, DurationMS: r.Stats.Duration.Milliseconds(),
	}}
	for _, f := range r.Findings {
		jf := jsonFinding{
			RuleID: f.RuleID, Description: f.Description, Origin: f.Origin.String(), Path: f.Origin.Path,
			Line: f.Line, Column: f.Column, Fingerprint: f.Fingerprint, Redacted: f.Redacted,
			Entropy: math.Round(f.Entropy*1000) / 1000, Severity: f.Severity.String(), Confidence: confidence(f),
			Required: f.Required,
		}
		if r.ShowSecrets {
			jf.Secret = f.Secret
		}
		if f.Image != "" {
			jf.isImage, jf.Image, jf.Platform, jf.Layer, jf.Artifact = true, f.Image, f.Platform, f.Layer, f.Artifact
		}
		out.Findings = append(out.Findings, jf)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
