package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
	"github.com/safebuild/safebuild/policy/report"
)

// scanOptions are the flags of `safebuild scan`.
type scanOptions struct {
	format      string
	output      string
	config      string
	noRedact    bool
	showSecrets bool
	scanBinary  bool
	jobs        int
	decodeDepth int
	// minConfidence is the least confidence of a finding that sets the exit status (scan) or
	// refuses (promote); lower ones are reported only.
	minConfidence string
	image         imageScanFlags
}

func newScanCmd() *cobra.Command {
	o := &scanOptions{}
	cmd := &cobra.Command{
		Use:   "scan PATH|IMAGE",
		Short: "Scan files, directories or container images for secrets",
		Long: `scan looks for credentials in a file or a directory tree, or in a container image, with
gitleaks' default rules plus safebuild's build-specific rules (or the rules of --config, a
gitleaks TOML config).

Images are read from wherever they live — oci:DIR, oci-archive:FILE, docker-archive:FILE,
registry:REF (streamed; docker config credentials), containerd:REF — or detected from a bare
path or reference. Every layer diff is scanned, not just the final filesystem: a file "removed"
by a later layer is still reported (its bytes stay in the earlier blob), with the layer, the
instruction that made it and the layer that removed it. The config (Env, Labels, Cmd,
Entrypoint, OnBuild, every history created_by) and annotations are scanned too. Every other
entry of an index is scanned by media type, never as a layer: attestations (a BuildKit
provenance records build-arg values; findings have origin "attestation" and the JSON path of the
value), signatures, SBOMs, Helm charts. Entries an archive or store lists but does not hold
(docker save and containerd pulls leave out other platforms) are listed as notices, as is a hard
link to a file no layer holds; a part that cannot be read (a corrupt layer) is listed as an
error, everything else is still scanned, and the exit status is 2.

Archives are recognised by their bytes, whatever their names, in files and layers alike: zip
(jar, war, whl, …), tar, gzip, zstd, xz and bzip2 are opened, to --max-archive-depth levels and
--max-archive-bytes decompressed bytes each, and their members reported as
release.pkg!config/settings.env. UTF-16 and UTF-8 text with a byte order mark are transcoded
before they are scanned; a hard link in a layer is scanned under its own path. Inside images,
gitleaks' allowlist of dependency trees (node_modules, vendor, site-packages, virtualenvs) does
not apply: there they hold the application itself.

A .gitleaksignore file in PATH (a directory) or a --baseline suppresses findings by
fingerprint. Secrets are redacted; --no-redact prints them only together with --show-secrets.
The JSON report is a documented contract (policy/README.md): its field names do not change.

Every finding carries a confidence (high: a provider format with a fixed prefix, key material,
a canary; medium: a keyword and a value with entropy; low: a path or a name alone); the text
report groups by it. --min-confidence sets which findings count for the exit status (default
low: all of them); every finding is reported.

Exit status: 0 no findings (of --min-confidence or more), 1 findings (or --exit-code), 2 error
or scan incomplete.`,
		Example: `  safebuild scan .
  safebuild scan --format sarif --output scan.sarif ./build-context
  safebuild scan --config .gitleaks.toml --format json dist/
  safebuild scan registry.example.com/app:1.4 --platform linux/arm64
  safebuild scan docker-archive:app.tar --baseline accepted.json
  safebuild scan containerd:docker.io/library/app:1 --namespace k8s.io --cache-dir ~/.cache/safebuild/layers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runScan(cmd.Context(), cmd.OutOrStdout(), o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "text", "report format: "+strings.Join(report.Formats, ", "))
	f.StringVar(&o.output, "output", "", "write the report to this file instead of standard output")
	f.StringVar(&o.config, "config", "", "rules config (gitleaks TOML; default: gitleaks' default rules + safebuild's build rules)")
	f.BoolVar(&o.noRedact, "no-redact", false, "print raw secrets in the report (requires --show-secrets)")
	f.BoolVar(&o.showSecrets, "show-secrets", false, "confirm that --no-redact may print raw secrets")
	f.BoolVar(&o.scanBinary, "scan-binary", false, "run the rules over binary files too")
	f.IntVar(&o.jobs, "jobs", 0, "files scanned in parallel (default: number of CPUs)")
	f.IntVar(&o.decodeDepth, "max-decode-depth", 5, "decode base64/hex/percent/unicode-escaped runs and rescan them up to this depth (0: off)")
	f.StringVar(&o.minConfidence, "min-confidence", "low", "least confidence of a finding that sets the exit status: low, medium, high (every finding is reported)")
	o.image.AddFlags(f)
	return cmd
}

func runScan(ctx context.Context, stdout io.Writer, o *scanOptions, path string) error {
	if o.noRedact && !o.showSecrets {
		return errors.New("--no-redact prints raw secrets; add --show-secrets to confirm")
	}
	if o.noRedact && o.image.cacheDir != "" {
		return errors.New("--cache-dir with --no-redact would write raw secrets to disk; use one or the other")
	}
	minConf, err := policy.ParseConfidence(o.minConfidence)
	if err != nil {
		return fmt.Errorf("--min-confidence: %w", err)
	}
	ref, isImage, err := scanTarget(path)
	if err != nil {
		return err
	}
	var baseline map[string]bool
	if o.image.baseline != "" {
		if baseline, err = readBaseline(o.image.baseline); err != nil {
			return err
		}
	}
	w, err := report.New(o.format)
	if err != nil {
		return err
	}
	opts := []policy.Option{policy.WithBinary(o.scanBinary), policy.WithSecrets(o.noRedact), policy.WithDecodeDepth(o.decodeDepth)}
	if o.jobs != 0 {
		opts = append(opts, policy.WithJobs(o.jobs))
	}
	rs, err := loadRules(o.config)
	if err != nil {
		return err
	}
	opts = append(opts, policy.WithRules(rs))
	ignore, err := readGitleaksIgnore(path)
	if err != nil {
		return err
	}
	opts = append(opts, policy.WithIgnore(ignore...))
	s, err := policy.NewScanner(opts...)
	if err != nil {
		return err
	}
	defer s.Close()

	var (
		findings []policy.Finding
		stats    policy.Stats
		scanErr  error
		res      = &imagescan.Result{}
	)
	if isImage {
		var salt []string
		if o.image.cacheDir != "" {
			if salt, err = cacheSalt(o.config, o); err != nil {
				return err
			}
		}
		// A part that cannot be read is listed in the report (exit 2); the rest is scanned.
		if findings, res, err = scanImage(ctx, s, ref, &o.image, salt); err != nil {
			return err
		}
		stats = res.Stats
	} else {
		fsrc := &policy.FS{Root: path, Archives: o.image.archiveOptions()}
		if o.image.archiveBytes <= 0 {
			return fmt.Errorf("--max-archive-bytes %d: want a positive number", o.image.archiveBytes)
		}
		stats, scanErr = s.Scan(ctx, fsrc, func(f policy.Finding) error {
			findings = append(findings, f)
			return nil
		})
		policy.SortFindings(findings)
	}
	findings = dropBaseline(findings, baseline)
	rep := &report.Report{Findings: findings, Stats: stats, ShowSecrets: o.noRedact, Errors: res.Errors, Notices: res.Notices}
	if err := writeReport(stdout, o, w, rep); err != nil {
		return err
	}
	if scanErr != nil {
		return fmt.Errorf("scan incomplete: %w", scanErr)
	}
	if !res.Complete() {
		return incomplete(res.Errors, len(findings))
	}
	if n := countAtLeast(findings, minConf); n > 0 && o.image.exitCode != 0 {
		msg := fmt.Sprintf("%d findings", n)
		if minConf > policy.ConfidenceLow {
			msg += fmt.Sprintf(" of confidence %s or more", minConf)
		}
		return &exitError{code: o.image.exitCode, err: errors.New(msg)}
	}
	return nil
}

// countAtLeast counts the findings of confidence min or more.
func countAtLeast(fs []policy.Finding, min policy.Confidence) int {
	n := 0
	for _, f := range fs {
		if f.Confidence.AtLeast(min) {
			n++
		}
	}
	return n
}

// writeReport writes r to --output, or to stdout.
func writeReport(stdout io.Writer, o *scanOptions, w report.Writer, r *report.Report) error {
	if o.output == "" {
		return w.Write(stdout, r)
	}
	f, err := os.Create(o.output)
	if err != nil {
		return fmt.Errorf("creating report: %w", err)
	}
	if err := w.Write(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s report to %s: %w", o.format, o.output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s report to %s: %w", o.format, o.output, err)
	}
	return nil
}

// loadRules returns the rules of the gitleaks TOML config at path (--config), or the default
// rules when path is empty.
func loadRules(path string) (*policy.Ruleset, error) {
	if path == "" {
		return config.Default()
	}
	return config.LoadFile(path)
}

// readGitleaksIgnore reads root/.gitleaksignore when root is a directory that has one.
func readGitleaksIgnore(root string) ([]string, error) {
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, nil // the scan itself reports a bad root
	}
	f, err := os.Open(filepath.Join(root, ".gitleaksignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .gitleaksignore: %w", err)
	}
	defer f.Close()
	return policy.ParseIgnore(bufio.NewReader(f))
}
