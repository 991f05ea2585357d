package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/safebuild/safebuild/policy"
)

// Report is what a scan produced: its findings, in report order, and its stats.
type Report struct {
	Findings []policy.Finding
	Stats    policy.Stats
	// ShowSecrets adds each finding's raw Secret (empty unless the scanner was built
	// WithSecrets(true)). Off by default.
	ShowSecrets bool
	// Errors are the parts of the input that could not be scanned (a corrupt layer, an
	// unreadable config): the scan is incomplete, though every finding is listed.
	Errors []policy.Problem
	// Notices are what was listed but not scanned, by design (an index entry the archive does
	// not hold, an opaque binary artifact blob).
	Notices []policy.Problem
}

// Writer writes a report to w in one format.
type Writer interface {
	Write(w io.Writer, r *Report) error
}

// Formats lists the format names New accepts.
var Formats = []string{"text", "json", "sarif"}

// New returns the Writer for a format name: "text", "json" or "sarif".
func New(format string) (Writer, error) {
	switch format {
	case "text":
		return Text{}, nil
	case "json":
		return JSON{}, nil
	case "sarif":
		return SARIF{}, nil
	}
	return nil, fmt.Errorf("unknown report format %q (accepted: %s)", format, strings.Join(Formats, ", "))
}

// ruleSummaries returns one entry per rule ID that has findings, sorted by ID.
func ruleSummaries(fs []policy.Finding) []policy.Finding {
	seen := map[string]policy.Finding{}
	for _, f := range fs {
		if _, ok := seen[f.RuleID]; !ok {
			seen[f.RuleID] = f
		}
	}
	out := make([]policy.Finding, 0, len(seen))
	for _, f := range seen {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RuleID < out[j].RuleID })
	return out
}

// confidence names f's confidence: "high", "medium" or "low" (an ungraded finding counts as
// high, as policy.Confidence.AtLeast counts it).
func confidence(f policy.Finding) string {
	b, _ := f.Confidence.MarshalText()
	return string(b)
}
