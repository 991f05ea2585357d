package build

import (
	"context"
	"fmt"
	"io"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
	"github.com/safebuild/safebuild/policy/report"
)

// RefusedError is the gate's verdict on an image holding secrets. Its message says how many
// and that nothing was exported; the findings (never the values) are for reports.
type RefusedError struct {
	Findings []policy.Finding
	// Where is what held them: "the image", or "the build cache" for --cache-to.
	Where string
}

func (e *RefusedError) Error() string {
	where := e.Where
	if where == "" {
		where = "the image"
	}
	return fmt.Sprintf("build refused: %d secret(s) found in %s; nothing was exported", len(e.Findings), where)
}

// DefaultMinConfidence is the least confidence of a finding that refuses a build: medium
// (keyword + entropy and above); low findings (a path or a name alone) are reported, not
// refused. Canaries and incomplete-scan findings are always high.
const DefaultMinConfidence = policy.GateConfidence

// ScanGate returns the gate `safebuild build` uses: every image and attestation in the layout is
// scanned (imagescan.ScanSet) with the default rules (config.Default; a WithRules among opts
// replaces them) plus, as canaries, the secret values the
// build was served (canaries is called when the gate runs, after the build), and with the
// build-args it was given, which delimit build-arg values in history entries. A finding of min
// confidence or more refuses the build (the zero value: DefaultMinConfidence); findings are
// written to out as text, those below min under a note that they did not refuse it. A part it
// could not read fails the gate too: it never vouches for bytes it did not scan.
func ScanGate(min policy.Confidence, canaries func() []policy.Canary, buildArgs map[string]string, out io.Writer, opts ...policy.Option) Gate {
	if min == policy.ConfidenceUnset {
		min = DefaultMinConfidence
	}
	return func(ctx context.Context, dir string) error {
		rs, err := config.Default()
		if err != nil {
			return err
		}
		var cs []policy.Canary
		if canaries != nil {
			for _, c := range canaries() {
				if len(c.Value) >= policy.MinCanaryLen {
					cs = append(cs, c)
				}
			}
		}
		sc, err := policy.NewScanner(append(append([]policy.Option{policy.WithRules(rs)}, opts...), policy.WithCanaries(cs...))...)
		for _, c := range cs {
			clear(c.Value)
		}
		if err != nil {
			return err
		}
		defer sc.Close()
		set, err := image.Open(ctx, image.Ref{Kind: image.OCILayout, Target: dir}, image.Options{})
		if err != nil {
			return fmt.Errorf("opening the built image: %w", err)
		}
		defer set.Close()
		source := "built image"
		for _, img := range set.Images {
			img.Source = source
			if img.Annotations["org.opencontainers.image.ref.name"] == CacheScanAnnotation {
				img.Source = "build cache (--cache-to)"
			}
		}
		for _, a := range set.Artifacts {
			a.Source = source
		}
		var findings []policy.Finding
		res, err := imagescan.ScanSet(ctx, sc, set, imagescan.Options{RequireAll: true, BuildArgs: buildArgs}, func(f policy.Finding) error {
			findings = append(findings, f)
			return nil
		})
		if err != nil {
			return fmt.Errorf("scanning the built image: %w", err)
		}
		var refusing, below []policy.Finding
		for _, f := range findings {
			if f.Confidence.AtLeast(min) {
				refusing = append(refusing, f)
			} else {
				below = append(below, f)
			}
		}
		if len(below) > 0 && out != nil {
			fmt.Fprintf(out, "\nsafebuild: %d finding(s) below --min-confidence %s, not refused:\n", len(below), min)
			if err := (report.Text{}).Write(out, &report.Report{Findings: below, Stats: res.Stats}); err != nil {
				return err
			}
		}
		findings = refusing
		if len(findings) == 0 && res.Complete() {
			return nil
		}
		where, what := "the image", source
		if len(set.Images) > 0 && set.Images[0].Source != source {
			where, what = "the build cache (--cache-to)", set.Images[0].Source
		}
		if out != nil {
			title := "secrets found in"
			if len(findings) == 0 {
				title = "could not scan all of"
			}
			fmt.Fprintf(out, "\nsafebuild: %s the %s (nothing was exported):\n", title, what)
			if err := (report.Text{}).Write(out, &report.Report{Findings: findings, Stats: res.Stats, Errors: res.Errors, Notices: res.Notices}); err != nil {
				return err
			}
		}
		if len(findings) == 0 {
			// A gate cannot vouch for what it did not read: fail closed.
			return fmt.Errorf("scanning %s: scan incomplete, nothing was exported: %s", where, res.Errors[0].Message)
		}
		return &RefusedError{Findings: findings, Where: where}
	}
}
