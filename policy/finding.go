package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Finding is one credential found in scanned content. It is the one type every safebuild gate
// reports. It never holds the secret unless the scanner was built WithSecrets(true), and never
// holds a canary's value.
type Finding struct {
	// RuleID is the rule that fired ("canary" for exact-value canaries).
	RuleID string
	// Description says what was found.
	Description string
	// Origin is where the content came from; Origin.Path is the file path.
	Origin Origin
	// Line and Column are 1-based; Column counts bytes. Path-only findings have Line 0.
	Line, Column int
	// Redacted is an excerpt of the match with the secret masked; empty for canaries.
	Redacted string
	// Entropy is the Shannon entropy of the secret, in bits per character.
	Entropy float64
	// Severity ranks the finding.
	Severity Severity
	// Confidence grades how likely the finding is a real credential: the rule's (see
	// Rule.Confidence); ConfidenceHigh for canaries. Unset counts as ConfidenceHigh.
	Confidence Confidence
	// Tags are the rule's tags.
	Tags []string
	// Fingerprint is stable across runs: a hash over rule, origin, path and the secret's hash.
	Fingerprint string
	// SecretSHA256 is the hex SHA-256 of the secret, for de-duplication; for canaries it is the
	// hash of the canary's name, never of its value.
	SecretSHA256 string
	// Secret is the raw secret, only when the scanner was built WithSecrets(true).
	Secret string `json:"-"`
	// Image and Platform name the image a finding is in (empty for files): the image's source
	// ("oci:/path", "registry:host/app:1") and, for an index, the platform.
	Image, Platform string
	// Layer locates a finding in an image layer; nil for files and for image config findings.
	Layer *Layer
	// Artifact locates a finding in an attestation or other artifact of an image index; nil
	// for everything else.
	Artifact *Artifact
	// Required lists, for a composite rule's finding, the findings of the rules it requires
	// that were found near it. They carry no secret.
	Required []RequiredFinding
}

// RequiredFinding is where a composite rule's required rule matched.
type RequiredFinding struct {
	RuleID string `json:"rule_id"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// Layer locates a finding in an image layer: the JSON report's "layer" object.
type Layer struct {
	// Index is the layer's position, 0 for the base layer.
	Index int `json:"index"`
	// Digest is the layer blob's digest, DiffID the uncompressed tar's.
	Digest string `json:"digest"`
	DiffID string `json:"diff_id"`
	// CreatedBy is the history entry that made the layer, build-arg values masked.
	CreatedBy string `json:"created_by"`
	// RemovedInLayer is the later layer that whites the file out. The finding stands: the
	// bytes are still in this layer's blob.
	RemovedInLayer *int `json:"removed_in_layer"`
}

// GitleaksFingerprint returns the finding's key in gitleaks' .gitleaksignore format:
// "path:rule-id:line".
func (f *Finding) GitleaksFingerprint() string {
	return fmt.Sprintf("%s:%s:%d", f.Origin.Path, f.RuleID, f.Line)
}

// Stats counts what a scan read.
type Stats struct {
	// Files is the number of fragments scanned (including skipped ones).
	Files int64
	// Bytes is the number of bytes read.
	Bytes int64
	// Skipped is the number of fragments not scanned: binary content, allowlisted paths,
	// unreadable files.
	Skipped int64
	// Duration is the wall-clock time of the scan.
	Duration time.Duration
}

// Add counts o's files, bytes and skipped fragments into s (not its Duration: scans that run
// side by side do not add up in wall time).
func (s *Stats) Add(o Stats) {
	s.Files += o.Files
	s.Bytes += o.Bytes
	s.Skipped += o.Skipped
}

// fingerprint hashes rule, origin, path and the secret's hash; no raw value goes in.
func fingerprint(ruleID string, o Origin, secretHash string) string {
	h := sha256.New()
	for _, s := range []string{ruleID, o.Kind, o.Ref, o.Path, secretHash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// maxExcerpt bounds the redacted excerpt, in bytes.
const maxExcerpt = 120

// redact returns match with every occurrence of secret masked. What may be shown is decided by
// an allowlist: the text around the secret, and at most the first 4 characters of a secret of
// 16 or more characters (the prefix usually names the credential type: "ghp_", "hvs.").
// Non-printable bytes are replaced, and the excerpt is cut to maxExcerpt bytes.
func redact(match, secret string) string {
	mask := "*****"
	if n := utf8.RuneCountInString(secret); n >= 16 {
		mask = string([]rune(secret)[:4]) + mask
	}
	var out string
	if secret == "" {
		out = mask
	} else {
		out = strings.ReplaceAll(match, secret, mask)
		if !strings.Contains(out, mask) {
			out = mask
		}
	}
	out = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			return '?'
		}
		return r
	}, out)
	if len(out) > maxExcerpt {
		// Keep the mask in view: centre the cut on it.
		i := strings.Index(out, mask)
		start := max(0, i-maxExcerpt/2)
		end := min(len(out), start+maxExcerpt)
		for start > 0 && !utf8.RuneStart(out[start]) {
			start++
		}
		for end < len(out) && !utf8.RuneStart(out[end]) {
			end--
		}
		out = out[start:end]
	}
	return out
}

// entropy returns the Shannon entropy of s in bits per character (over runes, as gitleaks).
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var ascii [128]int
	var other map[rune]int
	for _, r := range s {
		if r < 128 {
			ascii[r]++
			continue
		}
		if other == nil {
			other = map[rune]int{}
		}
		other[r]++
	}
	inv := 1 / float64(len(s))
	var e float64
	add := func(c int) {
		if c > 0 {
			f := float64(c) * inv
			e -= f * math.Log2(f)
		}
	}
	for _, c := range ascii {
		add(c)
	}
	for _, c := range other {
		add(c)
	}
	return e
}
