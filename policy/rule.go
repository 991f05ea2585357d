package policy

import (
	"fmt"
	"strings"
)

// Severity ranks how bad a finding is. The zero value, SeverityUnset, is replaced by SeverityHigh
// when a Ruleset is built.
type Severity int

// Severities, from least to most severe.
const (
	SeverityUnset Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"", "low", "medium", "high", "critical"}

// String returns the lower-case name of s ("low", "medium", "high", "critical").
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalText encodes s by name, so JSON reports carry "high" rather than 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity returns the Severity named by name (case-insensitive).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if i > 0 && strings.EqualFold(n, name) {
			return Severity(i), nil
		}
	}
	return SeverityUnset, fmt.Errorf("unknown severity %q (accepted: low, medium, high, critical)", name)
}

// Confidence grades how likely a finding is a real credential, as Kingfisher and TruffleHog
// grade theirs. The zero value, ConfidenceUnset, is replaced when a Ruleset is built by the
// default for the rule's kind (see Rule.Confidence); a Finding made outside a Ruleset that
// carries no confidence counts as high (AtLeast), so a gate never lets an ungraded finding pass.
type Confidence int

// Confidences, from least to most certain.
const (
	ConfidenceUnset  Confidence = iota
	ConfidenceLow               // only a path or a name suggests a secret
	ConfidenceMedium            // a keyword and a value with entropy: generic rules, a secret-named variable with a literal value
	ConfidenceHigh              // a provider format with a fixed prefix or checksum, key material, a canary, verified structure
)

// GateConfidence is the least confidence of a finding that refuses a build by default: medium
// (keyword + entropy and above). Low findings (a path or a name alone) are reported, not refused.
const GateConfidence = ConfidenceMedium

var confidenceNames = [...]string{"", "low", "medium", "high"}

// String returns the lower-case name of c ("low", "medium", "high"); "" when unset.
func (c Confidence) String() string {
	if c < 0 || int(c) >= len(confidenceNames) {
		return fmt.Sprintf("confidence(%d)", int(c))
	}
	return confidenceNames[c]
}

// MarshalText encodes c by name, so JSON reports carry "high" rather than 3. An unset confidence
// is encoded as "high", the way AtLeast counts it.
func (c Confidence) MarshalText() ([]byte, error) { return []byte(c.effective().String()), nil }

// UnmarshalText decodes a name MarshalText wrote (low, medium, high).
func (c *Confidence) UnmarshalText(b []byte) error {
	v, err := ParseConfidence(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// effective is c, with ConfidenceUnset counted as ConfidenceHigh.
func (c Confidence) effective() Confidence {
	if c == ConfidenceUnset {
		return ConfidenceHigh
	}
	return c
}

// AtLeast reports whether c is min or more certain; an unset c counts as ConfidenceHigh.
func (c Confidence) AtLeast(min Confidence) bool { return c.effective() >= min }

// ParseConfidence returns the Confidence named by name (case-insensitive: low, medium, high).
func ParseConfidence(name string) (Confidence, error) {
	for i, n := range confidenceNames {
		if i > 0 && strings.EqualFold(n, name) {
			return Confidence(i), nil
		}
	}
	return ConfidenceUnset, fmt.Errorf("unknown confidence %q (accepted: low, medium, high)", name)
}

// Target says which text an allowlist's regexes are matched against.
type Target int

// Allowlist targets. TargetSecret is the default, as in gitleaks.
const (
	TargetSecret Target = iota // the secret group of the match
	TargetMatch                // the whole regex match
	TargetLine                 // the line(s) the match sits on
)

// String returns the gitleaks name of t: "secret", "match" or "line".
func (t Target) String() string {
	switch t {
	case TargetMatch:
		return "match"
	case TargetLine:
		return "line"
	default:
		return "secret"
	}
}

// Condition says how an allowlist combines its checks.
type Condition int

// Allowlist conditions. ConditionOr is the default, as in gitleaks.
const (
	ConditionOr  Condition = iota // any check suppresses the finding
	ConditionAnd                  // every check that is set must agree
)

// Allowlist suppresses findings. It sits next to the rule it relaxes, or applies to every rule when
// it is one of a Ruleset's global allowlists. An allowlist must set at least one of Paths, Regexes,
// StopWords or Filters.
type Allowlist struct {
	// Description says why the allowlist exists.
	Description string
	// Condition combines the checks: ConditionOr (default) or ConditionAnd.
	Condition Condition
	// Paths are regexes over the fragment's path; a path match skips the rule (or, for a global
	// allowlist with ConditionOr, the whole fragment).
	Paths []string
	// Regexes are matched against RegexTarget.
	Regexes []string
	// RegexTarget is the text Regexes are matched against (default TargetSecret).
	RegexTarget Target
	// StopWords suppress a finding whose secret contains one of them (case-insensitive).
	StopWords []string
	// Filters name SecretFilters ("identifier", "base64-text") that suppress a finding whose
	// secret they match: tests a regex cannot express. A safebuild extension to gitleaks' format.
	Filters []string
}

// Requirement is one rule a composite rule needs near its finding.
type Requirement struct {
	// RuleID names the required rule; it must be in the same Ruleset.
	RuleID string
	// WithinLines and WithinColumns bound the distance between the start lines and the start
	// columns of the two findings; nil means no bound (the same window: a file up to 1 MiB, by
	// default, is one window).
	WithinLines, WithinColumns *int
}

// Sample is a piece of content, optionally with the path it lives at, used to prove a rule.
type Sample struct {
	// Path is the fragment path the content is scanned under; empty means "sample.txt".
	Path string
	// Content is the text that is scanned.
	Content string
}

// Rule is one secret pattern, declared as data. Detection code only decides whether the rule
// fired; the rule carries everything else.
type Rule struct {
	// ID is stable and unique within a Ruleset, e.g. "aws-access-token".
	ID string
	// Description is one line that says what was found.
	Description string
	// Regex (RE2 syntax) matches the credential. Empty only for path-only rules.
	Regex string
	// SecretGroup is the capture group holding the secret; 0 means the first non-empty group, or
	// the whole match if the regex has no groups.
	SecretGroup int
	// Keywords gate the rule: the regex only runs near a (case-insensitive) keyword hit. A rule
	// without keywords runs over all content.
	Keywords []string
	// Entropy is the minimum Shannon entropy of the secret; a secret at or below it is dropped.
	Entropy float64
	// Path is a regex over the fragment path. With Regex, both must match; alone, it makes a
	// path-only rule that fires on the path itself.
	Path string
	// Allowlists relax this rule only.
	Allowlists []Allowlist
	// Tags classify the rule ("key", "build", …).
	Tags []string
	// Severity ranks the rule's findings (default SeverityHigh).
	Severity Severity
	// Confidence grades the rule's findings. Unset, it is derived from the rule's kind when the
	// Ruleset is built (defaultConfidence): ConfidenceLow for a path-only rule, ConfidenceMedium
	// for a generic rule (an ID containing "generic", or Fallback) and for a rule whose secret
	// has no fixed prefix (keyword + entropy), ConfidenceHigh for a rule whose secret starts with
	// a fixed prefix of 3 or more characters (ghp_, AKIA, hvs.) or is key material.
	Confidence Confidence
	// Fallback makes the rule yield to any other rule that finds the same secret on the same
	// line; gitleaks applies this to every rule whose ID contains "generic".
	Fallback bool
	// Required makes the rule composite, as gitleaks' [[rules.required]]: a finding of it is
	// reported only when each listed rule also matches in the same window of content, within the
	// requirement's distance. Required rules are run for this over the whole window, keywords or
	// not, and also when they have SkipReport.
	Required []Requirement
	// SkipReport keeps the rule's own findings out of reports: it only serves as another rule's
	// Required (gitleaks' skipReport).
	SkipReport bool
	// Matches are samples the rule must fire on; NonMatches are samples it must not fire on.
	// Both are checked by this package's tests.
	Matches, NonMatches []Sample
}
