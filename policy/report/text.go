package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/safebuild/safebuild/policy"
)

// Text writes findings for people, grouped by confidence (high, then medium, then low), one
// block per finding, then a summary line.
type Text struct{}

var _ Writer = Text{}

// Write writes r as text. In each confidence group, image findings are grouped by image, then
// config, manifest and each layer with the instruction that made it.
func (Text) Write(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	groups := byConfidence(r.Findings)
	for _, g := range groups {
		fmt.Fprintf(bw, "%s confidence (%d):\n", g.name, len(g.findings))
		if g.findings[0].Image != "" {
			if err := writeImageText(bw, g.findings); err != nil {
				return err
			}
			continue
		}
		writeFileText(bw, r, g.findings)
	}
	writeProblems(bw, r)
	fmt.Fprintf(bw, "%d findings%s in %d files (%d bytes, %d skipped) in %s\n",
		len(r.Findings), groupCounts(groups), r.Stats.Files, r.Stats.Bytes, r.Stats.Skipped, r.Stats.Duration.Round(1e6))
	return bw.Flush()
}

// confidenceGroup is the findings of one confidence, in report order.
type confidenceGroup struct {
	name     string
	findings []policy.Finding
}

// byConfidence splits findings into non-empty groups, most certain first.
func byConfidence(fs []policy.Finding) []confidenceGroup {
	var out []confidenceGroup
	for _, c := range []policy.Confidence{policy.ConfidenceHigh, policy.ConfidenceMedium, policy.ConfidenceLow} {
		g := confidenceGroup{name: c.String()}
		for _, f := range fs {
			if confidence(f) == g.name {
				g.findings = append(g.findings, f)
			}
		}
		if len(g.findings) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// groupCounts is " (2 high, 1 low confidence)", or "" without findings.
func groupCounts(gs []confidenceGroup) string {
	if len(gs) == 0 {
		return ""
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = fmt.Sprintf("%d %s", len(g.findings), g.name)
	}
	return " (" + strings.Join(parts, ", ") + " confidence)"
}

// writeFileText writes one block per finding of a file scan.
func writeFileText(bw io.Writer, r *Report, fs []policy.Finding) {
	for _, f := range fs {
		loc := f.Origin.Path
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d:%d", f.Origin.Path, f.Line, f.Column)
		}
		if f.Origin.Kind != "file" {
			loc = f.Origin.String() + " " + loc
		}
		fmt.Fprintf(bw, "%s: %s [%s] %s\n", loc, f.RuleID, f.Severity, f.Description)
		if f.Redacted != "" {
			fmt.Fprintf(bw, "    %s\n", f.Redacted)
		}
		if r.ShowSecrets && f.Secret != "" {
			fmt.Fprintf(bw, "    secret: %s\n", f.Secret)
		}
		for _, q := range f.Required {
			fmt.Fprintf(bw, "    with %s at %d:%d\n", q.RuleID, q.Line, q.Column)
		}
		fmt.Fprintf(bw, "    fingerprint: %s\n", f.Fingerprint)
	}
}

// writeImageText writes image findings grouped by image, then config, manifest and each layer
// with the instruction that made it. It never prints a secret: only redacted excerpts.
func writeImageText(w io.Writer, findings []policy.Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var lastImage, lastGroup string
	for _, f := range findings {
		img := f.Image
		if f.Platform != "" {
			img += " (" + f.Platform + ")"
		}
		if img != lastImage {
			fmt.Fprintf(tw, "%s\n", img)
			lastImage, lastGroup = img, ""
		}
		group := groupTitle(f)
		if group != lastGroup {
			fmt.Fprintf(tw, "  %s\n", group)
			lastGroup = group
		}
		loc := f.Origin.Path
		if f.Line > 0 && f.Layer != nil {
			loc = fmt.Sprintf("%s:%d:%d", loc, f.Line, f.Column)
		}
		note := ""
		if f.Layer != nil && f.Layer.RemovedInLayer != nil {
			note = fmt.Sprintf("  (removed in layer %d; the bytes stay in this layer's blob)", *f.Layer.RemovedInLayer)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s%s\n", loc, f.RuleID, excerpt(f), note)
	}
	return tw.Flush()
}

// writeProblems lists what could not be scanned (errors: the scan is incomplete) and what was
// listed but not scanned (notices).
func writeProblems(w io.Writer, r *Report) {
	for _, sec := range []struct {
		title string
		ps    []policy.Problem
	}{{"errors (the scan is incomplete)", r.Errors}, {"notices", r.Notices}} {
		if len(sec.ps) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", sec.title)
		for _, p := range sec.ps {
			fmt.Fprintf(w, "  %s\n", problemText(p))
		}
	}
}

// problemText is one line naming where a problem is and what it is.
func problemText(p policy.Problem) string {
	where := p.Image
	if p.Platform != "" {
		where += " (" + p.Platform + ")"
	}
	if where == "" {
		return p.Message
	}
	return where + ": " + p.Message
}

func groupTitle(f policy.Finding) string {
	if a := f.Artifact; a != nil {
		t := fmt.Sprintf("%s %s %s", f.Origin.Kind, short(a.Manifest), a.Blob)
		if a.PredicateType != "" {
			t += "  " + a.PredicateType
		} else if a.ArtifactType != "" {
			t += "  " + a.ArtifactType
		}
		if a.Subject != "" {
			t += "  (about " + short(a.Subject) + ")"
		}
		return t
	}
	if f.Layer == nil {
		if f.Origin.Kind == "manifest" {
			return "manifest annotations"
		}
		return "image config"
	}
	by := f.Layer.CreatedBy
	if len(by) > 90 {
		by = by[:87] + "..."
	}
	return fmt.Sprintf("layer %d %s  %s", f.Layer.Index, short(f.Layer.Digest), strings.TrimSpace(by))
}

func excerpt(f policy.Finding) string {
	if f.Redacted == "" {
		// Canaries carry no excerpt; their description names the value's source, never the value.
		return f.Description
	}
	r := strings.ReplaceAll(f.Redacted, "\n", " ")
	if len(r) > 80 {
		r = r[:77] + "..."
	}
	return r
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
