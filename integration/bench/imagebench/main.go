// Command imagebench measures `safebuild scan` on a large image against the floor of merely
// decompressing its layers and, where installed, Trivy and gitleaks. It builds the image with the
// real stack: Go's source tree copied into many COPY layers (≈1 GiB of text) plus planted secrets,
// one of them removed in a later layer. Run it with `make bench-image`; it is a measurement, not
// a test, and prints ratios measured in the same run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safebuild/safebuild/integration/stack"
)

func main() {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		fmt.Fprintln(os.Stderr, "imagebench: needs GNU time (apt-get install -y time)")
		os.Exit(1)
	}
	layers := flag.Int("layers", 8, "copies of $(go env GOROOT)/src, one COPY layer each")
	runs := flag.Int("runs", 3, "runs of each tool; the median is reported")
	baseline := flag.String("baseline", "", "also time this safebuild binary (an earlier build), in the same run")
	keep := flag.String("keep", "", "keep the image's OCI layout in this directory (it must not exist), to compare reports")
	flag.Parse()
	if err := run(context.Background(), *layers, *runs, *baseline, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	wall     time.Duration
	rssKiB   int64
	findings string
	err      error
}

func run(ctx context.Context, nLayers, runs int, baseline, keep string) (retErr error) {
	stack.QuietClientLogs()
	work, err := os.MkdirTemp("", "safebuild-imagebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	bin, err := stack.BuildSafebuild(ctx, work)
	if err != nil {
		return err
	}
	s, err := stack.Start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(retErr != nil); err != nil && retErr == nil {
			retErr = err
		}
	}()

	// The build context: Go's source tree and a few planted secrets.
	bctx := filepath.Join(work, "context")
	goroot := strings.TrimSpace(string(must(exec.Command("go", "env", "GOROOT").Output())))
	if err := os.MkdirAll(bctx, 0o700); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-r", filepath.Join(goroot, "src"), filepath.Join(bctx, "src")).CombinedOutput(); err != nil {
		return fmt.Errorf("copying GOROOT/src: %v\n%s", err, out)
	}
	planted := map[string]string{
		"planted/.npmrc":    "//registry.npmjs.org/:_authToken=npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7\n",
		"planted/app.env":   "GITHUB_TOKEN=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d\n",
		"planted/aws.ini":   "[default]\naws_access_key_id = AKIAHBRPOIGF3CBFNOBM\n",
		"planted/slack.log": "notify xoxb-959310341316-475255341928-UpkDyr7OSJoRu1XXdo0cZuzr\n",
	}
	for p, body := range planted {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(bctx, p)), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(bctx, p), []byte(body), 0o600); err != nil {
			return err
		}
	}
	var df strings.Builder
	df.WriteString("ARG BASE\nFROM ${BASE}\n")
	for i := 1; i <= nLayers; i++ {
		fmt.Fprintf(&df, "COPY src /go%d/src\n", i)
	}
	df.WriteString("COPY planted /opt/planted\nRUN rm -rf /opt/planted\n")
	if err := os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(df.String()), 0o600); err != nil {
		return err
	}
	layout, dockerTar := filepath.Join(work, "oci"), filepath.Join(work, "image.docker.tar")
	fmt.Fprintf(os.Stderr, "building a %d-layer image from %s/src …\n", nLayers+3, goroot)
	err = s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: bctx, BuildArgs: map[string]string{"BASE": s.BaseImage},
		OCILayout: layout, DockerArchive: dockerTar, Name: "bench/image:1"})
	if err != nil {
		return err
	}
	if keep != "" {
		if out, err := exec.Command("cp", "-r", layout, keep).CombinedOutput(); err != nil {
			return fmt.Errorf("keeping the layout: %v\n%s", err, out)
		}
	}
	layerBlobs, uncompressed, err := layerFiles(layout)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "image: %d layers, %.0f MiB uncompressed\n\n", len(layerBlobs), float64(uncompressed)/(1<<20))

	tools := []struct {
		name string
		argv []string
		find func(stdout []byte) string
	}{
		{"gzip -dc (floor)", append([]string{"gzip", "-dc"}, layerBlobs...), nil},
		{"safebuild scan", []string{bin, "scan", "--format", "json", "oci:" + layout}, countJSON("findings")},
	}
	if baseline != "" {
		tools = append(tools, struct {
			name string
			argv []string
			find func([]byte) string
		}{"safebuild scan (baseline binary)", []string{baseline, "scan", "--format", "json", "oci:" + layout}, countJSON("findings")})
	}
	if p, err := exec.LookPath("trivy"); err == nil {
		tools = append(tools, struct {
			name string
			argv []string
			find func([]byte) string
		}{"trivy image --scanners secret", []string{p, "image", "--input", dockerTar, "--scanners", "secret", "--skip-version-check",
			"--disable-telemetry", "--cache-dir", filepath.Join(work, "trivy-cache"), "--format", "json", "--quiet"}, trivyCount})
	}
	if p := gitleaksPath(); p != "" {
		tools = append(tools, struct {
			name string
			argv []string
			find func([]byte) string
		}{"gitleaks dir --max-archive-depth 2", []string{p, "dir", dockerTar, "--max-archive-depth", "2", "--no-banner",
			"--report-format", "json", "--report-path", "-", "--exit-code", "0"}, countArray})
	}

	// Runs alternate between the tools, so that a load that comes and goes on a shared machine
	// falls on all of them alike.
	all := make([][]result, len(tools))
	for i := 0; i < runs; i++ {
		for j, t := range tools {
			// Trivy keeps per-layer results in its cache directory; empty it so every run
			// scans, as safebuild's runs do (its --cache-dir is off here).
			os.RemoveAll(filepath.Join(work, "trivy-cache"))
			all[j] = append(all[j], measure(t.name, t.argv, t.find))
		}
	}
	var results []result
	for _, rs := range all {
		results = append(results, median(rs))
	}
	floor := results[0].wall
	var trivy time.Duration
	for _, r := range results {
		if strings.HasPrefix(r.name, "trivy") && r.err == nil {
			trivy = r.wall
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "tool\twall (median of %d)\t× floor\t× trivy\tpeak RSS\tfindings\n", runs)
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\tfailed: %v\t\t\t\t\n", r.name, r.err)
			continue
		}
		vsTrivy := "-"
		if trivy > 0 {
			vsTrivy = fmt.Sprintf("%.2f", float64(r.wall)/float64(trivy))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%s\t%.1f MiB\t%s\n", r.name, r.wall.Round(10*time.Millisecond),
			float64(r.wall)/float64(floor), vsTrivy, float64(r.rssKiB)/1024, r.findings)
	}
	tw.Flush()
	fmt.Printf("\n%d layers, %.0f MiB uncompressed, %d CPUs (%s/%s); trivy and gitleaks run only where installed.\n",
		len(layerBlobs), float64(uncompressed)/(1<<20), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	return nil
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// measure runs argv once under GNU time, which reports the peak RSS of the program itself (a
// Go parent's own rusage would count pages the child shared before exec).
func measure(name string, argv []string, find func([]byte) string) result {
	var out bytes.Buffer
	rssFile := filepath.Join(os.TempDir(), fmt.Sprintf("imagebench-rss-%d", os.Getpid()))
	defer os.Remove(rssFile)
	c := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile}, argv...)...)
	c.Stdout = &out
	if find == nil {
		c.Stdout = nil // discarded
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	start := time.Now()
	err := c.Run()
	r := result{name: name, wall: time.Since(start)}
	if dt, rerr := os.ReadFile(rssFile); rerr == nil {
		fmt.Sscan(lastLine(string(dt)), &r.rssKiB)
	}
	// safebuild exits 1 when it finds secrets: that is the expected outcome here.
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 && strings.HasPrefix(name, "safebuild") {
		err = nil
	}
	if err != nil {
		r.err = fmt.Errorf("%v: %s", err, strings.TrimSpace(lastLine(stderr.String())))
	}
	if find != nil {
		r.findings = find(out.Bytes())
	}
	return r
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func median(rs []result) result {
	for i := range rs {
		if rs[i].err != nil {
			return rs[i]
		}
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].wall < rs[j-1].wall; j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
	return rs[len(rs)/2]
}

func countJSON(key string) func([]byte) string {
	return func(b []byte) string {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return "?"
		}
		return countArray(m[key])
	}
}

func countArray(b []byte) string {
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return "?"
	}
	return fmt.Sprint(len(a))
}

func trivyCount(b []byte) string {
	var rep struct {
		Results []struct{ Secrets []json.RawMessage }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return "?"
	}
	n := 0
	for _, r := range rep.Results {
		n += len(r.Secrets)
	}
	return fmt.Sprint(n)
}

// gitleaksPath finds the gitleaks that integration/bench/bench.sh installs, or one on PATH.
func gitleaksPath() string {
	if cache, err := stack.CacheDir(); err == nil {
		if p := filepath.Join(cache, "gitleaks-v8.30.1", "gitleaks"); isExec(p) {
			return p
		}
	}
	if p, err := exec.LookPath("gitleaks"); err == nil {
		return p
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// layerFiles lists the layer blobs of the layout's image and their uncompressed size.
func layerFiles(layout string) ([]string, int64, error) {
	var idx struct{ Manifests []struct{ Digest string } }
	if err := readJSON(filepath.Join(layout, "index.json"), &idx); err != nil {
		return nil, 0, err
	}
	if len(idx.Manifests) != 1 {
		return nil, 0, fmt.Errorf("index has %d manifests", len(idx.Manifests))
	}
	var m struct {
		Layers []struct {
			Digest string
		}
	}
	if err := readJSON(blobPath(layout, idx.Manifests[0].Digest), &m); err != nil {
		return nil, 0, err
	}
	var files []string
	var total int64
	for _, l := range m.Layers {
		p := blobPath(layout, l.Digest)
		files = append(files, p)
		out, err := exec.Command("sh", "-c", `gzip -dc "$1" | wc -c`, "sh", p).Output()
		if err != nil {
			return nil, 0, err
		}
		var n int64
		fmt.Sscan(strings.TrimSpace(string(out)), &n)
		total += n
	}
	return files, total, nil
}

func blobPath(layout, dgst string) string {
	alg, hex, _ := strings.Cut(dgst, ":")
	return filepath.Join(layout, "blobs", alg, hex)
}

func readJSON(p string, v any) error {
	dt, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(dt, v)
}
