package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safebuild/safebuild/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a fixed report: a rule finding, a path-only finding, a canary finding and a
// composite rule's finding.
func fixture() *Report {
	return &Report{
		Findings: []policy.Finding{
			{
				RuleID: "github-pat", Description: "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure.",
				Origin: policy.Origin{Kind: "file", Path: "ci/env.sh"}, Line: 2, Column: 21,
				Redacted: "ghp_*****", Entropy: 4.7842, Severity: policy.SeverityHigh, Confidence: policy.ConfidenceHigh, Tags: []string{"gitleaks"},
				Fingerprint: "0f4b1b8c7d0a6e5f4c3b2a1908172635", SecretSHA256: "aa",
			},
			{
				RuleID: "pkcs12-file", Description: "Found a PKCS #12 file, which commonly contain bundled private keys.",
				Origin: policy.Origin{Kind: "file", Path: "certs/client.p12"}, Redacted: "file detected: certs/client.p12",
				Severity: policy.SeverityHigh, Confidence: policy.ConfidenceLow, Fingerprint: "1e2d3c4b5a69788796a5b4c3d2e1f001",
			},
			{
				RuleID: policy.CanaryRuleID, Description: `Exact value of canary "vault:kv/npm#token" (base64)`,
				Origin: policy.Origin{Kind: "layer", Ref: "sha256:abc", Path: "root/.npmrc"}, Line: 1, Column: 7,
				Severity: policy.SeverityCritical, Confidence: policy.ConfidenceHigh, Tags: []string{"canary", "base64"}, Fingerprint: "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
			},
			{
				RuleID: "db-password", Description: "Database password next to its host", Origin: policy.Origin{Kind: "file", Path: "app/.env"},
				Line: 3, Column: 1, Redacted: "DB_PASS=*****", Entropy: 3.1, Severity: policy.SeverityHigh, Confidence: policy.ConfidenceMedium, Fingerprint: "5f4e3d2c1b0a99887766554433221100",
				Required: []policy.RequiredFinding{{RuleID: "db-host", Line: 3, Column: 22}},
			},
		},
		Stats: policy.Stats{Files: 3, Bytes: 4096, Skipped: 1, Duration: 1500 * time.Millisecond},
	}
}

// imageFixture is a fixed image report: a config finding, a finding in a layer whose file a later
// layer removed, and one inside a jar.
func imageFixture() *Report {
	removed := 4
	l3 := &policy.Layer{Index: 3, Digest: "sha256:2812f09e05d8aaaa", DiffID: "sha256:d1ff", CreatedBy: "COPY app/ /app/ # buildkit"}
	l3r := *l3
	l3r.RemovedInLayer = &removed
	img := "oci:/tmp/leaky"
	return &Report{
		Findings: []policy.Finding{
			{
				RuleID: "github-pat", Description: "GitHub Personal Access Token", Origin: policy.Origin{Kind: "config", Path: "Env[1]"},
				Line: 1, Column: 14, Redacted: "ghp_*****", Severity: policy.SeverityHigh, Fingerprint: "00112233445566778899aabbccddeeff",
				Image: img, Platform: "linux/amd64",
			},
			{
				RuleID: "private-key", Description: "Private Key", Origin: policy.Origin{Kind: "layer", Path: "app/deploy_key"},
				Line: 1, Column: 1, Redacted: "----*****", Severity: policy.SeverityHigh, Fingerprint: "ffeeddccbbaa99887766554433221100",
				Image: img, Platform: "linux/amd64", Layer: &l3r,
			},
			{
				RuleID: "stripe-access-token", Description: "Stripe key", Origin: policy.Origin{Kind: "layer", Path: "app/lib/app.jar!BOOT-INF/classes/application.properties"},
				Line: 2, Column: 21, Redacted: "sk_l*****", Severity: policy.SeverityHigh, Confidence: policy.ConfidenceHigh, Fingerprint: "0123456789abcdef0123456789abcdef",
				Image: img, Platform: "linux/amd64", Layer: l3,
			},
			{
				// A generic rule's finding: medium confidence, grouped after the high ones in text.
				RuleID: "generic-api-key", Description: "Generic API key", Origin: policy.Origin{Kind: "layer", Path: "app/config.yaml"},
				Line: 7, Column: 3, Redacted: "api_key: *****", Severity: policy.SeverityMedium, Confidence: policy.ConfidenceMedium, Fingerprint: "fedcba9876543210fedcba9876543210",
				Image: img, Platform: "linux/amd64", Layer: l3,
			},
		},
		Stats: policy.Stats{Files: 12, Bytes: 18874368, Duration: 900 * time.Millisecond},
	}
}

// attestationFixture is an image scan that could not read everything: a build-arg's value in a
// provenance attestation, a layer truncated mid-tar (an error) and a platform the archive does
// not hold (a notice).
func attestationFixture() *Report {
	img := "oci-archive:/tmp/app.tar"
	return &Report{
		Findings: []policy.Finding{
			{
				RuleID: "gitlab-pat", Description: "GitLab Personal Access Token", Origin: policy.Origin{Kind: "attestation",
					Path: `predicate.buildDefinition.externalParameters.request.args["build-arg:GITLAB_TOKEN"]`},
				Line: 1, Column: 535, Redacted: "glpa*****", Severity: policy.SeverityHigh, Fingerprint: "aabbccddeeff00112233445566778899",
				Image: img, Platform: "linux/amd64", Artifact: &policy.Artifact{
					Manifest: "sha256:7dae", Blob: "layers[0]", BlobDigest: "sha256:0542", MediaType: "application/vnd.in-toto+json",
					PredicateType: "https://slsa.dev/provenance/v1", Subject: "sha256:0fca",
				},
			},
		},
		Errors: []policy.Problem{{Image: img, Platform: "linux/amd64", Manifest: "sha256:0fca",
			Layer:   &policy.Layer{Index: 1, Digest: "sha256:6fea", DiffID: "sha256:308b", CreatedBy: "COPY srv/ /srv/"},
			Message: "layer 1 (sha256:6fea): reading the tar stream at srv/second.bin: unexpected EOF"}},
		Notices: []policy.Problem{{Image: img, Platform: "linux/arm64", Manifest: "sha256:76d0",
			Message: "not present: the index lists image sha256:76d0 (application/vnd.oci.image.manifest.v1+json, linux/arm64), but the archive does not hold it"}},
		Stats: policy.Stats{Files: 7, Bytes: 2048, Duration: 40 * time.Millisecond},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    func() *Report
	}{{"report", fixture}, {"image", imageFixture}, {"attestation", attestationFixture}} {
		for _, format := range Formats {
			t.Run(tc.name+"."+format, func(t *testing.T) {
				golden(t, format, filepath.Join("testdata", "golden", tc.name+"."+format), tc.r())
			})
		}
	}
}

func golden(t *testing.T, format, golden string, r *Report) {
	t.Helper()
	{
		{
			w, err := New(format)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := w.Write(&got, r); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s report differs from %s (run with -update and review):\n%s", format, golden, got.String())
			}
		}
	}
}

// TestJSONContract pins the field names other tools read.
func TestJSONContract(t *testing.T) {
	var buf bytes.Buffer
	if err := (JSON{}).Write(&buf, fixture()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Stats    map[string]any   `json:"stats"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rule_id", "description", "origin", "path", "line", "column", "fingerprint", "redacted", "entropy", "severity", "confidence"} {
		if _, ok := doc.Findings[0][k]; !ok {
			t.Errorf("finding lacks %q", k)
		}
	}
	if len(doc.Findings[0]) != 11 {
		t.Errorf("finding has %d fields, want the 11 of the contract (secret only with ShowSecrets)", len(doc.Findings[0]))
	}
	for i, want := range []string{"high", "low", "high", "medium"} {
		if got := doc.Findings[i]["confidence"]; got != want {
			t.Errorf("finding %d: confidence %v, want %s", i, got, want)
		}
	}
	for _, k := range []string{"files", "bytes", "skipped", "duration_ms"} {
		if _, ok := doc.Stats[k]; !ok {
			t.Errorf("stats lack %q", k)
		}
	}
	// Attestation findings, errors and notices.
	buf.Reset()
	if err := (JSON{}).Write(&buf, attestationFixture()); err != nil {
		t.Fatal(err)
	}
	var img struct {
		Findings []map[string]json.RawMessage `json:"findings"`
		Errors   []map[string]json.RawMessage `json:"errors"`
		Notices  []map[string]json.RawMessage `json:"notices"`
	}
	if err := json.Unmarshal(buf.Bytes(), &img); err != nil {
		t.Fatal(err)
	}
	var art map[string]any
	json.Unmarshal(img.Findings[0]["artifact"], &art)
	for _, k := range []string{"manifest", "blob", "blob_digest", "media_type", "predicate_type", "subject"} {
		if _, ok := art[k]; !ok {
			t.Errorf("artifact lacks %q", k)
		}
	}
	if string(img.Findings[0]["origin"]) != `"attestation"` {
		t.Errorf("origin %s", img.Findings[0]["origin"])
	}
	for _, p := range append(img.Errors, img.Notices...) {
		for _, k := range []string{"image", "platform", "manifest", "message"} {
			if _, ok := p[k]; !ok {
				t.Errorf("problem lacks %q: %v", k, p)
			}
		}
	}
	if len(img.Errors) != 1 || len(img.Notices) != 1 || img.Errors[0]["layer"] == nil {
		t.Errorf("errors %v notices %v", img.Errors, img.Notices)
	}
	var empty bytes.Buffer
	(JSON{}).Write(&empty, &Report{})
	if bytes.Contains(empty.Bytes(), []byte(`"errors"`)) || bytes.Contains(empty.Bytes(), []byte(`"notices"`)) {
		t.Errorf("errors and notices are written only when there are some: %s", empty.String())
	}
	if !bytes.Contains(empty.Bytes(), []byte(`"findings": []`)) {
		t.Errorf("no findings must encode as [], got %s", empty.String())
	}
}

func TestSARIFShape(t *testing.T) {
	var buf bytes.Buffer
	if err := (SARIF{}).Write(&buf, fixture()); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID string `json:"ruleId"`
				Level  string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != 4 || len(log.Runs[0].Tool.Driver.Rules) != 4 {
		t.Errorf("unexpected SARIF shape: %+v", log)
	}
}

// TestConfidence: every format carries each finding's confidence, a finding without one counts as
// high, and the text report puts the groups in order, most certain first.
func TestConfidence(t *testing.T) {
	r := fixture()
	r.Findings = append(r.Findings, policy.Finding{RuleID: "ungraded", Origin: policy.Origin{Kind: "file", Path: "x"}, Line: 1, Column: 1})
	var js, sarif, text bytes.Buffer
	for _, w := range []struct {
		w   Writer
		buf *bytes.Buffer
	}{{JSON{}, &js}, {SARIF{}, &sarif}, {Text{}, &text}} {
		if err := w.w.Write(w.buf, r); err != nil {
			t.Fatal(err)
		}
	}
	var doc struct {
		Findings []struct {
			RuleID     string `json:"rule_id"`
			Confidence string `json:"confidence"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Findings[4]; got.RuleID != "ungraded" || got.Confidence != "high" {
		t.Errorf("ungraded finding in JSON: %+v, want confidence high", got)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string
						Properties struct{ Precision, Confidence string }
					}
				}
			}
			Results []struct {
				RuleID     string
				Properties struct{ Confidence string }
			}
		}
	}
	if err := json.Unmarshal(sarif.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"github-pat": "high", "pkcs12-file": "low", policy.CanaryRuleID: "high", "db-password": "medium", "ungraded": "high"}
	for _, res := range log.Runs[0].Results {
		if res.Properties.Confidence != want[res.RuleID] {
			t.Errorf("SARIF result %s: confidence %q, want %q", res.RuleID, res.Properties.Confidence, want[res.RuleID])
		}
	}
	for _, rule := range log.Runs[0].Tool.Driver.Rules {
		if rule.Properties.Precision != want[rule.ID] || rule.Properties.Confidence != want[rule.ID] {
			t.Errorf("SARIF rule %s: %+v, want precision %q", rule.ID, rule.Properties, want[rule.ID])
		}
	}
	out := text.String()
	hi, med, lo := strings.Index(out, "high confidence (3):"), strings.Index(out, "medium confidence (1):"), strings.Index(out, "low confidence (1):")
	if hi < 0 || med < hi || lo < med {
		t.Errorf("text groups out of order or missing (high %d, medium %d, low %d):\n%s", hi, med, lo, out)
	}
	if !strings.Contains(out, "5 findings (3 high, 1 medium, 1 low confidence)") {
		t.Errorf("text summary lacks the counts per confidence:\n%s", out)
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := New("csv"); err == nil {
		t.Error("csv accepted")
	}
}
