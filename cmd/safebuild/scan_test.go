package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cmdTestPAT = "ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x"

// runCLI runs the command tree with args and returns stdout and the process exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		return out.String() + "\nerror: " + err.Error(), exitCode(err)
	}
	return out.String(), 0
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanExitCodes(t *testing.T) {
	clean := writeTree(t, map[string]string{"README.md": "nothing to see\n"})
	leaky := writeTree(t, map[string]string{"ci/env.sh": "export GITHUB_TOKEN=" + cmdTestPAT + "\n"})
	lowOnly := writeTree(t, map[string]string{"certs/client.p12": "\x30\x82not really"}) // a path-only, low-confidence finding
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"clean", []string{"scan", clean}, 0},
		{"findings", []string{"scan", leaky}, 1},
		{"missing path", []string{"scan", filepath.Join(clean, "nope")}, 2},
		{"bad format", []string{"scan", "--format", "xml", clean}, 2},
		{"no-redact alone", []string{"scan", "--no-redact", leaky}, 2},
		{"no-redact confirmed", []string{"scan", "--no-redact", "--show-secrets", leaky}, 1},
		{"bad config", []string{"scan", "--config", filepath.Join(clean, "nope.toml"), clean}, 2},
		{"no args", []string{"scan"}, 2},
		{"low finding counts by default", []string{"scan", lowOnly}, 1},
		{"low finding under --min-confidence medium", []string{"scan", "--min-confidence", "medium", lowOnly}, 0},
		{"high finding under --min-confidence high", []string{"scan", "--min-confidence", "high", leaky}, 1},
		{"bad --min-confidence", []string{"scan", "--min-confidence", "sure", clean}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runCLI(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; output:\n%s", code, c.code, out)
			}
		})
	}
}

func TestScanJSONAndRedaction(t *testing.T) {
	dir := writeTree(t, map[string]string{"ci/env.sh": "export GITHUB_TOKEN=" + cmdTestPAT + "\n"})
	out, code := runCLI(t, "scan", "--format", "json", dir)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out, cmdTestPAT) {
		t.Error("the default report prints the raw secret")
	}
	var doc struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Path   string `json:"path"`
			Line   int    `json:"line"`
			Secret string `json:"secret"`
		} `json:"findings"`
		Stats struct {
			Files int `json:"files"`
		} `json:"stats"`
	}
	body := out[:strings.LastIndex(out, "\nerror:")]
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if len(doc.Findings) == 0 || doc.Findings[0].RuleID != "github-pat" || doc.Findings[0].Line != 1 || doc.Stats.Files != 1 {
		t.Errorf("report: %+v", doc)
	}
	out, _ = runCLI(t, "scan", "--format", "json", "--no-redact", "--show-secrets", dir)
	if !strings.Contains(out, `"secret": "`+cmdTestPAT+`"`) {
		t.Errorf("--no-redact --show-secrets: secret missing:\n%s", out)
	}
}

func TestScanOutputFileAndIgnore(t *testing.T) {
	dir := writeTree(t, map[string]string{"ci/env.sh": "export GITHUB_TOKEN=" + cmdTestPAT + "\n"})
	report := filepath.Join(t.TempDir(), "scan.sarif")
	out, code := runCLI(t, "scan", "--format", "sarif", "--output", report, dir)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, out)
	}
	data, err := os.ReadFile(report)
	if err != nil || !bytes.Contains(data, []byte(`"version": "2.1.0"`)) {
		t.Fatalf("SARIF report: %v\n%s", err, data)
	}
	ignore := filepath.ToSlash(filepath.Join(dir, "ci", "env.sh")) + ":github-pat:1\n"
	if err := os.WriteFile(filepath.Join(dir, ".gitleaksignore"), []byte(ignore), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := runCLI(t, "scan", dir); code != 0 {
		t.Errorf(".gitleaksignore not honoured: exit %d\n%s", code, out)
	}
}

func TestScanConfig(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"app/main.go":  "var k = \"acme_abcdefghijklmnopqrstuvwx\"\n",
		"gitleaks.cfg": "[[rules]]\nid = \"acme\"\nregex = '''acme_[a-z]{24}'''\nkeywords = [\"acme_\"]\n",
	})
	out, code := runCLI(t, "scan", "--config", filepath.Join(dir, "gitleaks.cfg"), "--format", "text", filepath.Join(dir, "app"))
	if code != 1 || !strings.Contains(out, "acme") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestScanPathArchiveFlags: `scan PATH` opens archives by their bytes, bounded by the same
// --max-archive-depth and --max-archive-bytes flags as image scans.
func TestScanPathArchiveFlags(t *testing.T) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("config/settings.env")
	w.Write([]byte("GITHUB_TOKEN=" + cmdTestPAT + "\n" + strings.Repeat("# padding\n", 50)))
	zw.Close()
	dir := writeTree(t, map[string]string{"release.pkg": zbuf.String()})
	for _, tc := range []struct {
		flags []string
		code  int
		want  string
	}{
		{nil, 1, `"path": "` + filepath.ToSlash(dir) + `/release.pkg!config/settings.env"`},
		{[]string{"--max-archive-depth", "0"}, 0, `"findings": []`},
		{[]string{"--max-archive-bytes", "100"}, 1, `"rule_id": "incomplete-scan"`},
		{[]string{"--max-archive-bytes", "0"}, 2, "--max-archive-bytes 0"},
	} {
		out, code := runCLI(t, append(append([]string{"scan", "--format", "json"}, tc.flags...), dir)...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("scan %v: exit %d, want %d with %q:\n%s", tc.flags, code, tc.code, tc.want, out)
		}
	}
}
