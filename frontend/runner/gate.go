package runner

import (
	"context"
	"fmt"
	"io"

	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/image"
	"github.com/safebuild/safebuild/policy/imagescan"
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

// ScanGate returns the gate `safebuild build` uses: every image in the layout is scanned with
// the engine's rules plus, as canaries, the secret values the build was served (canaries is
// called when the gate runs, after the build), and with the build-args it was given, which
// delimit build-arg values in history entries; findings are written to out as text.
func ScanGate(canaries func() []policy.Canary, buildArgs map[string]string, out io.Writer, opts ...policy.Option) Gate {
	return func(ctx context.Context, dir string) error {
		var cs []policy.Canary
		if canaries != nil {
			for _, c := range canaries() {
				if len(c.Value) >= policy.MinCanaryLen {
					cs = append(cs, c)
				}
			}
		}
		sc, err := policy.NewScanner(append(opts, policy.WithCanaries(cs...))...)
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
		var (
			findings []policy.Finding
			stats    policy.Stats
		)
		for _, img := range set.Images {
			img.Source = "built image"
			if img.Annotations["org.opencontainers.image.ref.name"] == CacheScanAnnotation {
				img.Source = "build cache (--cache-to)"
			}
			st, err := imagescan.Scan(ctx, sc, img, imagescan.Options{BuildArgs: buildArgs}, func(f policy.Finding) error {
				findings = append(findings, f)
				return nil
			})
			stats.Add(st)
			stats.Duration += st.Duration
			if err != nil {
				return fmt.Errorf("scanning the built image: %w", err)
			}
		}
		if len(findings) == 0 {
			return nil
		}
		if out != nil {
			fmt.Fprintf(out, "\nsafebuild: secrets found in the %s (nothing was exported):\n", set.Images[0].Source)
			if err := (report.Text{}).Write(out, &report.Report{Findings: findings, Stats: stats}); err != nil {
				return err
			}
		}
		where := "the image"
		if set.Images[0].Source != "built image" {
			where = "the build cache (--cache-to)"
		}
		return &RefusedError{Findings: findings, Where: where}
	}
}
