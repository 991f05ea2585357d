package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/report"
	"github.com/safebuild/safebuild/promote"
)

type promoteOptions struct {
	scan   scanOptions // format, output, config, decode depth, baseline, archive limits
	dryRun bool
}

func newPromoteCmd() *cobra.Command {
	o := &promoteOptions{}
	cmd := &cobra.Command{
		Use:   "promote SOURCE DESTINATION",
		Short: "Copy an image to another registry only if it holds no secrets",
		Long: `promote gates an image's way from a staging to a production registry. SOURCE is pinned to
its digest, every platform's layers (archives inside them opened), config, history and
annotations are scanned as by 'safebuild scan', and only when nothing is found is that very
digest — manifest or index and the blobs it references — copied to DESTINATION. What is copied
is what was scanned, even if the SOURCE tag moves meanwhile; a refused image writes nothing.

An index is scanned and copied whole: every platform, and the attestations and other
artifacts beside them (a provenance attestation records build-arg values). A part that could
not be scanned (a corrupt layer, a blob or manifest the registry does not serve) refuses the
promotion too: what was not read is never copied.

Both are registry references (host/repo:tag or host/repo@sha256:…; a "registry:" prefix is
accepted); credentials come from the docker config and credential helpers. --baseline accepts
known findings by fingerprint, as for scan. --min-confidence (default low: every finding)
sets the least confidence of a finding that refuses; lower ones are reported only.

Exit status: 0 promoted (or clean, with --dry-run), 1 refused: findings, 2 error or refused:
scan incomplete (the report lists what could not be read).`,
		Example: `  safebuild promote staging.example.com/app:1.4 prod.example.com/app:1.4
  safebuild promote --format sarif --output promote.sarif registry:stage/app@sha256:… prod/app:1.4
  safebuild promote --dry-run --baseline accepted.json stage/app:1.4 prod/app:1.4`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPromote(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	s := &o.scan
	f.StringVar(&s.format, "format", "text", "report format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&s.output, "output", "", "write the report to this file instead of standard output")
	f.StringVar(&s.config, "config", "", "rules config (gitleaks TOML; default: gitleaks' default rules + safebuild's build rules)")
	f.IntVar(&s.decodeDepth, "max-decode-depth", 5, "decode base64/hex/percent/unicode-escaped runs and rescan them up to this depth (0: off)")
	f.StringVar(&s.image.baseline, "baseline", "", "accept findings whose fingerprint is in this file (one per line, or a previous JSON report)")
	f.IntVar(&s.image.archiveDepth, "max-archive-depth", 3, "open archives inside layers (jar, zip, tar.gz, …) this deep; 0: off")
	f.Int64Var(&s.image.archiveBytes, "max-archive-bytes", 1<<30, "decompress at most this many bytes from one archive in a layer; past it the archive is reported as incomplete-scan")
	f.BoolVar(&o.dryRun, "dry-run", false, "scan and report, but do not copy")
	f.StringVar(&s.minConfidence, "min-confidence", "low", "least confidence of a finding that refuses the promotion: low, medium, high (lower ones are reported only)")
	return cmd
}

func runPromote(ctx context.Context, stdout, stderr io.Writer, o *promoteOptions, src, dst string) error {
	s := &o.scan
	minConf, err := policy.ParseConfidence(s.minConfidence)
	if err != nil {
		return fmt.Errorf("--min-confidence: %w", err)
	}
	w, err := report.New(s.format)
	if err != nil {
		return err
	}
	var allow map[string]bool
	if s.image.baseline != "" {
		if allow, err = readBaseline(s.image.baseline); err != nil {
			return err
		}
	}
	if s.image.archiveBytes <= 0 {
		return fmt.Errorf("--max-archive-bytes %d: want a positive number", s.image.archiveBytes)
	}
	rs, err := loadRules(s.config)
	if err != nil {
		return err
	}
	sc, err := policy.NewScanner(policy.WithRules(rs), policy.WithDecodeDepth(s.decodeDepth))
	if err != nil {
		return err
	}
	defer sc.Close()
	po := promote.Options{Allow: allow, DryRun: o.dryRun, MinConfidence: minConf,
		Scan: imagescan.Options{Archives: s.image.archiveOptions()}}
	res, err := promote.Promote(ctx, sc, strings.TrimPrefix(src, "registry:"), strings.TrimPrefix(dst, "registry:"), po)
	if err != nil {
		return err
	}
	reported := append(append([]policy.Finding(nil), res.Findings...), res.Below...)
	if err := writeReport(stdout, s, w, &report.Report{Findings: reported, Stats: res.Stats, Errors: res.Errors, Notices: res.Notices}); err != nil {
		return err
	}
	switch {
	case len(res.Errors) > 0:
		return fmt.Errorf("refused: %w; %s was not written", incomplete(res.Errors, len(res.Findings)), res.Destination)
	case len(res.Findings) > 0:
		return &exitError{code: 1, err: fmt.Errorf("refused: %d findings in %s; %s was not written", len(res.Findings), res.Source, res.Destination)}
	case res.Promoted:
		fmt.Fprintf(stderr, "promoted %s to %s\n", res.Source, res.Destination)
	default:
		fmt.Fprintf(stderr, "dry run: %s is clean; %s was not written\n", res.Source, res.Destination)
	}
	return nil
}
