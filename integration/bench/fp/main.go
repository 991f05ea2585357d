// Command fp is the false-positive benchmark: it fetches a clean corpus of public packages from
// the registries this machine reaches (a pinned npm tree, pinned Debian packages' files, pinned
// Go modules), caches it under ~/.cache/safebuild/, scans it with safebuild and with gitleaks'
// release build, and prints the findings of each per rule, the ratio, and how many of them are
// secrets shipped as test fixtures and how many are false alarms (classified.tsv). Run it with
// `make bench-fp`; it is a measurement, not a test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// gitleaksVersion is the gitleaks release compared with, as in bench.sh.
const gitleaksVersion = "v8.30.1"

func main() {
	lists := flag.String("lists", "integration/bench/fp", "directory with the pinned lists (npm/, debian.txt, gomod.txt) and classified.tsv")
	cache := flag.String("cache", defaultCache(), "where the corpus, gitleaks and the reports are kept")
	fetchOnly := flag.Bool("fetch-only", false, "fetch the corpus and stop")
	reuse := flag.Bool("reuse-gitleaks", false, "reuse gitleaks' report of an earlier run on this corpus (the corpus and gitleaks are pinned; only safebuild changed)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *lists, *cache, *fetchOnly, *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "bench-fp:", err)
		os.Exit(1)
	}
}

func defaultCache() string {
	if c := os.Getenv("SAFEBUILD_CACHE"); c != "" {
		return c
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".cache/safebuild"
	}
	return filepath.Join(home, ".cache", "safebuild")
}

func run(ctx context.Context, lists, cache string, fetchOnly, reuse bool) error {
	p, err := readPinned(lists)
	if err != nil {
		return err
	}
	vf, err := os.Open(filepath.Join(lists, "classified.tsv"))
	if err != nil {
		return err
	}
	verdicts, err := parseVerdicts(vf, vf.Name())
	vf.Close()
	if err != nil {
		return err
	}
	key, err := p.key()
	if err != nil {
		return err
	}
	root := filepath.Join(cache, "fp-corpus-"+key)
	if err := p.fetch(ctx, root, os.Stderr); err != nil {
		return err
	}
	corpus := filepath.Join(root, "corpus")
	if fetchOnly {
		fmt.Println(corpus)
		return nil
	}
	gitleaks, err := installGitleaks(ctx, cache)
	if err != nil {
		return err
	}
	reports := filepath.Join(root, "reports")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		return err
	}
	safebuild := filepath.Join(reports, "safebuild-bin")
	if err := runCmd(ctx, "go", "build", "-o", safebuild, "./cmd/safebuild"); err != nil {
		return err
	}
	glReport, sbReport := filepath.Join(reports, "gitleaks.json"), filepath.Join(reports, "safebuild.json")
	if _, err := os.Stat(glReport); err != nil || !reuse {
		fmt.Fprintf(os.Stderr, "scanning %s with gitleaks %s\n", corpus, gitleaksVersion)
		if err := runCmd(ctx, gitleaks, "dir", "--no-banner", "--redact", "--exit-code", "0", "--log-level", "error",
			"-f", "json", "-r", glReport, corpus); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "scanning %s with safebuild\n", corpus)
	// Exit status 1 means findings; the report says which.
	if err := runCmd(ctx, safebuild, "scan", "--format", "json", "--output", sbReport, corpus); err != nil && exitCode(err) != 1 {
		return err
	}
	gl, err := loadFile(glReport, corpus, loadGitleaks)
	if err != nil {
		return err
	}
	sb, err := loadFile(sbReport, corpus, loadSafebuild)
	if err != nil {
		return err
	}
	files, bytes, err := size(corpus)
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %s, %d files, %d MB: npm (%s), %d Debian packages, %d Go modules\n",
		corpus, files, bytes/1_000_000, npmSummary(root), len(p.debian), len(p.modules))
	summarise(os.Stdout, gl, sb, verdicts)
	fmt.Printf("reports (redacted): %s, %s\n", glReport, sbReport)
	return nil
}

// installGitleaks installs gitleaks' release build (-tags gore2regex, as its release binaries)
// into cache/gitleaks-<version>/, as bench.sh does, and returns its path.
func installGitleaks(ctx context.Context, cache string) (string, error) {
	dir := filepath.Join(cache, "gitleaks-"+gitleaksVersion)
	bin := filepath.Join(dir, "gitleaks")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(os.Stderr, "installing gitleaks %s (-tags gore2regex) into %s\n", gitleaksVersion, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", "-tags", "gore2regex", "github.com/zricethezav/gitleaks/v8@"+gitleaksVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("installing gitleaks: %w", err)
	}
	return bin, nil
}

func runCmd(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return nil
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func loadFile(name, root string, load func(r io.Reader, root string) ([]finding, error)) ([]finding, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return load(f, root)
}

// size counts the regular files and their bytes under root.
func size(root string) (files, bytes int64, err error) {
	err = filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			files++
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}

// npmSummary says how many packages the npm tree holds (package.json files one level below a
// modules directory, scoped ones two).
func npmSummary(root string) string {
	n := 0
	filepath.Walk(filepath.Join(root, "corpus", partNPM), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Name() == "package.json" {
			dir := filepath.Dir(p)
			parent := filepath.Base(filepath.Dir(dir))
			if strings.HasPrefix(parent, "@") {
				parent = filepath.Base(filepath.Dir(filepath.Dir(dir)))
			}
			if parent == partNPM || parent == "node-modules" {
				n++
			}
		}
		return nil
	})
	return fmt.Sprintf("%d packages", n)
}
