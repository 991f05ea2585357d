package report

import (
	"bufio"
	"fmt"
	"io"
)

// Text writes one block per finding for people, then a summary line.
type Text struct{}

var _ Writer = Text{}

// Write writes r as text.
func (Text) Write(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	for _, f := range r.Findings {
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
		fmt.Fprintf(bw, "    fingerprint: %s\n", f.Fingerprint)
	}
	fmt.Fprintf(bw, "%d findings in %d files (%d bytes, %d skipped) in %s\n",
		len(r.Findings), r.Stats.Files, r.Stats.Bytes, r.Stats.Skipped, r.Stats.Duration.Round(1e6))
	return bw.Flush()
}
