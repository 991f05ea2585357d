// Command allowbench measures what each of gitleaks' global allowlist paths hides, and what it
// saves, when image content is scanned: it scans trees of real files as image layer content
// (Origin.Kind "layer", archives opened) with the default rules and no global path allowlist,
// timing every file, then attributes each file's findings and time to every allowlist path that
// matches it. The decision of which paths hold inside images (policy/imagepaths.go) and its
// numbers are in policy/README.md.
//
//	go run ./integration/bench/allowbench ROOT=PREFIX...
//
// Each ROOT directory is scanned as if its files sat under PREFIX in an image
// ("/tmp/deb/usr/lib/python3/dist-packages=usr/local/lib/python3.11/site-packages"). With
// -layout DIR it also writes the trees as a one-layer OCI image for an end-to-end run of
// `safebuild scan oci:DIR`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pelletier/go-toml/v2"
	gitleaksconfig "github.com/zricethezav/gitleaks/v8/config"

	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
	"github.com/safebuild/safebuild/policy/config"
)

type file struct {
	disk, path string
	size       int64
	took       time.Duration
	findings   []policy.Finding
}

func main() {
	jobs := flag.Int("jobs", 2, "files scanned at once")
	layoutDir := flag.String("layout", "", "also write the trees as a one-layer OCI layout here")
	flag.Parse()
	if err := run(flag.Args(), *jobs, *layoutDir); err != nil {
		fmt.Fprintln(os.Stderr, "allowbench:", err)
		os.Exit(1)
	}
}

func run(args []string, jobs int, layoutDir string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: allowbench ROOT=PREFIX...")
	}
	var files []*file
	for _, a := range args {
		root, prefix, _ := strings.Cut(a, "=")
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, &file{disk: p, path: strings.TrimPrefix(filepath.ToSlash(filepath.Join(prefix, rel)), "/"), size: info.Size()})
			return nil
		})
		if err != nil {
			return err
		}
	}
	if layoutDir != "" {
		if err := writeLayout(layoutDir, files); err != nil {
			return err
		}
	}
	paths, global, err := gitleaksGlobal()
	if err != nil {
		return err
	}
	def, err := config.Default()
	if err != nil {
		return err
	}
	rs, err := policy.NewRuleset(def.Rules(), []policy.Allowlist{global})
	if err != nil {
		return err
	}
	sc, err := policy.NewScanner(policy.WithRules(rs))
	if err != nil {
		return err
	}
	defer sc.Close()

	start := time.Now()
	work := make(chan *file)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if err := scanFile(sc, f); err != nil {
					fmt.Fprintln(os.Stderr, "allowbench:", f.disk, err)
				}
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	wall := time.Since(start)
	report(files, paths, wall)
	return nil
}

func scanFile(sc *policy.Scanner, f *file) error {
	fh, err := os.Open(f.disk)
	if err != nil {
		return err
	}
	defer fh.Close()
	t0 := time.Now()
	_, err = sc.ScanFile(context.Background(), policy.Origin{Kind: "layer", Path: f.path}, struct{ io.Reader }{fh}, archive.Options{},
		func(fd policy.Finding) error { f.findings = append(f.findings, fd); return nil })
	f.took = time.Since(t0)
	return err
}

// gitleaksGlobal returns gitleaks' global allowlist paths, and the allowlist without them.
func gitleaksGlobal() ([]string, policy.Allowlist, error) {
	var c struct {
		Allowlist struct {
			Paths, Regexes, StopWords []string
		}
	}
	if err := toml.Unmarshal([]byte(gitleaksconfig.DefaultConfig), &c); err != nil {
		return nil, policy.Allowlist{}, err
	}
	return c.Allowlist.Paths, policy.Allowlist{Regexes: c.Allowlist.Regexes, StopWords: c.Allowlist.StopWords}, nil
}

type tally struct {
	files, findings int
	bytes           int64
	took            time.Duration
	rules           map[string]int
}

func (t *tally) add(f *file) {
	t.files++
	t.bytes += f.size
	t.took += f.took
	t.findings += len(f.findings)
	for _, fd := range f.findings {
		if t.rules == nil {
			t.rules = map[string]int{}
		}
		t.rules[fd.RuleID]++
	}
}

func (t *tally) topRules() string {
	ids := slices.Collect(maps.Keys(t.rules))
	sort.Slice(ids, func(i, j int) bool {
		return t.rules[ids[i]] > t.rules[ids[j]] || t.rules[ids[i]] == t.rules[ids[j]] && ids[i] < ids[j]
	})
	var parts []string
	for i, id := range ids {
		if i == 4 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", id, t.rules[id]))
	}
	return strings.Join(parts, ", ")
}

func report(files []*file, paths []string, wall time.Duration) {
	var all tally
	for _, f := range files {
		all.add(f)
	}
	res := make([]*regexp.Regexp, len(paths))
	for i, p := range paths {
		res[i] = regexp.MustCompile(p)
	}
	per := make([]tally, len(paths))
	var anyPath tally
	for _, f := range files {
		hit := false
		for i, re := range res {
			if re.MatchString(f.path) {
				per[i].add(f)
				hit = true
			}
		}
		if hit {
			anyPath.add(f)
		}
	}
	fmt.Printf("%d files, %.0f MB, scanned as layer content with no global path allowlist: %d findings, %.1f s of scan time (%.1f s wall)\n\n",
		all.files, float64(all.bytes)/1e6, all.findings, all.took.Seconds(), wall.Seconds())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tfiles\tMB\tscan s\tfindings\tby rule")
	for i, p := range paths {
		t := per[i]
		if t.files == 0 {
			continue
		}
		fmt.Fprintf(tw, "`%s`\t%d\t%.1f\t%.2f\t%d\t%s\n", p, t.files, float64(t.bytes)/1e6, t.took.Seconds(), t.findings, t.topRules())
	}
	fmt.Fprintf(tw, "any path\t%d\t%.1f\t%.2f\t%d\t%s\n", anyPath.files, float64(anyPath.bytes)/1e6, anyPath.took.Seconds(), anyPath.findings, anyPath.topRules())
	tw.Flush()
	fmt.Println("\nfindings in files no path matches, by top-level directory:")
	byDir := map[string]*tally{}
	for _, f := range files {
		hit := false
		for _, re := range res {
			hit = hit || re.MatchString(f.path)
		}
		if hit {
			continue
		}
		d, _, _ := strings.Cut(f.path, "/")
		if byDir[d] == nil {
			byDir[d] = &tally{}
		}
		byDir[d].add(f)
	}
	for _, d := range slices.Sorted(maps.Keys(byDir)) {
		t := byDir[d]
		fmt.Printf("  %s: %d files, %.0f MB, %.2f s, %d findings (%s)\n", d, t.files, float64(t.bytes)/1e6, t.took.Seconds(), t.findings, t.topRules())
	}
	if os.Getenv("ALLOWBENCH_LIST") != "" {
		for _, f := range files {
			for _, fd := range f.findings {
				fmt.Printf("F\t%s\t%s\t%d\t%s\n", fd.RuleID, fd.Origin.Path, fd.Line, fd.Redacted)
			}
		}
	}
}
