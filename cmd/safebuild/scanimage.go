package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containerd/platforms"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/image/containerd"
	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
)

// imageScanFlags are the flags of `safebuild scan` for images and for baselines.
type imageScanFlags struct {
	platform          string
	baseline          string
	exitCode          int
	containerdAddress string
	namespace         string
	cacheDir          string
	archiveDepth      int
	archiveBytes      int64
}

func (f *imageScanFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.platform, "platform", "", "scan only this platform of an image index, e.g. linux/arm64 (default: every platform)")
	fs.StringVar(&f.baseline, "baseline", "", "ignore findings whose fingerprint is in this file (one per line, or a previous JSON report)")
	fs.IntVar(&f.exitCode, "exit-code", 1, "exit status when there are findings")
	fs.StringVar(&f.containerdAddress, "containerd-address", "/run/containerd/containerd.sock", "containerd socket, for containerd:REF")
	fs.StringVar(&f.namespace, "namespace", containerd.DefaultNamespace, "containerd namespace, for containerd:REF")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "keep per-layer results here and reuse them (opt-in)")
	fs.IntVar(&f.archiveDepth, "max-archive-depth", 3, "open archives (zip, jar, tar, gzip, zstd, xz, bzip2: by their bytes) in files and layers this deep; 0: off")
	fs.Int64Var(&f.archiveBytes, "max-archive-bytes", 1<<30, "decompress at most this many bytes from one archive; past it the archive is reported as incomplete-scan")
}

// scanTarget tells an image reference from a path to scan as files: oci:, oci-archive:,
// docker-archive:, registry: and containerd: prefixes, an OCI layout directory, an image archive,
// or a name that is no path but parses as an image reference.
func scanTarget(arg string) (image.Ref, bool, error) {
	ref, err := image.ParseRef(arg)
	if errors.Is(err, image.ErrNotImage) {
		return image.Ref{}, false, nil
	}
	if err != nil {
		return image.Ref{}, false, err
	}
	return ref, true, nil
}

// scanImage scans everything ref names with sc — every image, attestation and other artifact —
// and returns the findings, sorted, with what could not be scanned (errors) or was listed but
// not there (notices).
func scanImage(ctx context.Context, sc *policy.Scanner, ref image.Ref, f *imageScanFlags, salt []string) ([]policy.Finding, *imagescan.Result, error) {
	opts := image.Options{Containerd: containerd.Opener(f.containerdAddress, f.namespace)}
	if f.platform != "" {
		p, err := platforms.Parse(f.platform)
		if err != nil {
			return nil, nil, fmt.Errorf("--platform %q: %w", f.platform, err)
		}
		opts.Platform = &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
	}
	if f.archiveBytes <= 0 {
		return nil, nil, fmt.Errorf("--max-archive-bytes %d: want a positive number", f.archiveBytes)
	}
	set, err := image.Open(ctx, ref, opts)
	if err != nil {
		return nil, nil, err
	}
	defer set.Close()
	so := imagescan.Options{Archives: f.archiveOptions()}
	if f.cacheDir != "" {
		if so.Cache, err = imagescan.NewCache(f.cacheDir, salt...); err != nil {
			return nil, nil, err
		}
	}
	var findings []policy.Finding
	res, err := imagescan.ScanSet(ctx, sc, set, so, func(fd policy.Finding) error {
		findings = append(findings, fd)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return findings, res, nil
}

// incomplete is the error of a scan that could not read every part: exit status 2, naming the
// first problem; the report lists them all.
func incomplete(errs []policy.Problem, findings int) error {
	msg := errs[0].Message
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more, listed in the report)", len(errs)-1)
	}
	return fmt.Errorf("scan incomplete (%d findings reported): %s", findings, msg)
}

// archiveOptions are the archive bounds the flags set; depth 0 turns archives off.
func (f *imageScanFlags) archiveOptions() archive.Options {
	o := archive.Options{MaxDepth: f.archiveDepth, MaxBytes: f.archiveBytes}
	if f.archiveDepth <= 0 {
		o.MaxDepth = -1
	}
	return o
}

// cacheSalt is what, besides the layer, decides a scan's result: this very executable (engine
// and built-in rules), the rules config file, and the options that change coverage.
func cacheSalt(config string, o *scanOptions) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sum, err := fileSHA256(exe)
	if err != nil {
		return nil, fmt.Errorf("--cache-dir: hashing %s: %w", exe, err)
	}
	salt := []string{"engine=" + sum, fmt.Sprintf("binary=%v;decode=%d", o.scanBinary, o.decodeDepth)}
	if config != "" {
		c, err := fileSHA256(config)
		if err != nil {
			return nil, err
		}
		salt = append(salt, "config="+c)
	}
	return salt, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// readBaseline reads fingerprints to ignore: a safebuild JSON report, or one fingerprint per line
// ("#" starts a comment).
func readBaseline(p string) (map[string]bool, error) {
	dt, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("--baseline: %w", err)
	}
	out := map[string]bool{}
	if trimmed := strings.TrimSpace(string(dt)); strings.HasPrefix(trimmed, "{") {
		var rep struct {
			Findings []struct {
				Fingerprint string `json:"fingerprint"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(dt, &rep); err != nil {
			return nil, fmt.Errorf("--baseline %s: not a safebuild JSON report: %w", p, err)
		}
		for _, f := range rep.Findings {
			out[f.Fingerprint] = true
		}
		return out, nil
	}
	sc := bufio.NewScanner(strings.NewReader(string(dt)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) != 32 || strings.Trim(line, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("--baseline %s:%d: %q is not a fingerprint (32 hex digits)", p, n, line)
		}
		out[line] = true
	}
	return out, nil
}

// dropBaseline removes findings whose fingerprint the baseline lists.
func dropBaseline(fs []policy.Finding, base map[string]bool) []policy.Finding {
	if len(base) == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if !base[f.Fingerprint] {
			out = append(out, f)
		}
	}
	return out
}
