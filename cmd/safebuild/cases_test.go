package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// casesDir holds small inputs rebuilt from public bug reports against scanners and builders
// (testdata/cases/README.md). Each case's case.json says what safebuild must do with it; the
// table below is that expectation as a test.
var casesDir = filepath.Join("..", "..", "testdata", "cases")

// caseFinding is one finding a case expects: its rule (any rule when empty), a path that the
// finding's path ends with, and, when set, its origin kind ("layer", "config", "attestation").
type caseFinding struct {
	rule, pathSuffix, origin string
}

type caseRun struct {
	name string
	// args run `safebuild ARGS`; "{cases}" stands for the cases directory.
	args []string
	code int
	want []caseFinding
	// pending names the issue that makes this run pass; the run is skipped until it lands.
	pending string
}

var caseRuns = []caseRun{
	{name: "C04/path", args: []string{"scan", "--format", "json", "{cases}/C04-utf16-encoded/input"}, code: 1,
		want: []caseFinding{{"github-pat", "deploy.ps1", ""}, {"stripe-access-token", "billing.reg", ""}}},
	{name: "C04/image", args: []string{"scan", "--format", "json", "oci:{cases}/C04-utf16-encoded/image"}, code: 1,
		want: []caseFinding{{"github-pat", "deploy.ps1", "layer"}, {"stripe-access-token", "billing.reg", "layer"}}},
	{name: "C05/path", args: []string{"scan", "--format", "json", "{cases}/C05-zip-unknown-extension/input"}, code: 1,
		want: []caseFinding{{"gitlab-pat", "release.zip!config/settings.env", ""}, {"gitlab-pat", "release.pkg!config/settings.env", ""}}},
	{name: "C05/image", args: []string{"scan", "--format", "json", "oci:{cases}/C05-zip-unknown-extension/image"}, code: 1,
		want: []caseFinding{{"gitlab-pat", "release.zip!config/settings.env", "layer"}, {"gitlab-pat", "release.pkg!config/settings.env", "layer"}}},
	{name: "C08/image", args: []string{"scan", "--format", "json", "oci:{cases}/C08-provenance-attestation/image"}, code: 1,
		want: []caseFinding{{"sentry-org-token", "", "attestation"}}},
	{name: "C08/clean", args: []string{"scan", "--format", "json", "oci:{cases}/C08-provenance-attestation/image-clean-attestation"}, code: 0},
	{name: "C08/platform", args: []string{"scan", "--format", "json", "--platform", "linux/amd64", "oci:{cases}/C08-provenance-attestation/image"}, code: 1,
		want: []caseFinding{{"sentry-org-token", "", "attestation"}}},
	{name: "C09/image", args: []string{"scan", "--format", "json", "oci:{cases}/C09-python-site-packages/image"}, code: 1,
		want: []caseFinding{
			{"aws-access-token", "usr/local/lib/python3.12/site-packages/orders_service/settings.py", "layer"},
			{"stripe-access-token", "opt/venv/lib/python3.12/site-packages/billing/config.py", "layer"},
			{"slack-bot-token", "app/node_modules/@example/runtime-config/index.js", "layer"},
		}},
	{name: "C09/control", args: []string{"scan", "--format", "json", "oci:{cases}/C09-python-site-packages/image-control"}, code: 1,
		want: []caseFinding{
			{"aws-access-token", "orders_service_settings.py", "layer"},
			{"stripe-access-token", "billing_config.py", "layer"},
			{"slack-bot-token", "runtime-config_index.js", "layer"},
		}},
	{name: "C10/image", args: []string{"scan", "--format", "json", "oci:{cases}/C10-hardlink-allowlisted-target/image"}, code: 1,
		want: []caseFinding{{"slack-bot-token", "app/server/.env", "layer"}}},
	{name: "C10/fs", args: []string{"scan", "--format", "json", "{cases}/C10-hardlink-allowlisted-target/fs"}, code: 1,
		want: []caseFinding{{"slack-bot-token", "fs/app/server/.env", ""}}},
	{name: "C11/docker-archive", args: []string{"scan", "--format", "json", "docker-archive:{cases}/C11-docker29-save-archive/image/save.tar"}, code: 1,
		want: []caseFinding{{"npm-access-token", "app/.npmrc", "layer"}}},
	{name: "C11/oci-archive", args: []string{"scan", "--format", "json", "oci-archive:{cases}/C11-docker29-save-archive/image/save.tar"}, code: 1,
		want: []caseFinding{{"npm-access-token", "app/.npmrc", "layer"}}},
	{name: "C11/bare", args: []string{"scan", "--format", "json", "{cases}/C11-docker29-save-archive/image/save.tar"}, code: 1,
		want: []caseFinding{{"npm-access-token", "app/.npmrc", "layer"}}},
	{name: "C11/platform", args: []string{"scan", "--format", "json", "--platform", "linux/amd64", "oci-archive:{cases}/C11-docker29-save-archive/image/save.tar"}, code: 1,
		want: []caseFinding{{"npm-access-token", "app/.npmrc", "layer"}}},
	{name: "C14/image", args: []string{"scan", "--format", "json", "oci:{cases}/C14-psw-suffix-arg/image-simulated"}, code: 1,
		want: []caseFinding{{"secret-named-build-arg", "History[2].created_by", "config"}}},
}

// TestCases runs every case of testdata/cases that needs no builder and checks its case.json
// result: the exit code and that each expected finding is reported.
func TestCases(t *testing.T) {
	for _, c := range caseRuns {
		t.Run(c.name, func(t *testing.T) {
			if c.pending != "" {
				t.Skip("pending: " + c.pending)
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "{cases}", casesDir)
			}
			out, code := runCLI(t, args...)
			if code != c.code {
				t.Fatalf("safebuild %s: exit %d, want %d:\n%s", strings.Join(args, " "), code, c.code, out)
			}
			var rep struct {
				Findings []struct {
					RuleID string `json:"rule_id"`
					Origin string `json:"origin"`
					Path   string `json:"path"`
				} `json:"findings"`
			}
			if i := strings.Index(out, "\nerror: "); i >= 0 {
				out = out[:i]
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("report is not JSON: %v\n%s", err, out)
			}
			if c.code == 0 && len(rep.Findings) > 0 {
				t.Errorf("want no findings, got %+v", rep.Findings)
			}
		want:
			for _, w := range c.want {
				for _, f := range rep.Findings {
					if (w.rule == "" || f.RuleID == w.rule) && strings.HasSuffix(f.Path, w.pathSuffix) &&
						(w.origin == "" || strings.HasPrefix(f.Origin, w.origin)) {
						continue want
					}
				}
				t.Errorf("no %s finding at …%s (origin %q); got %+v", w.rule, w.pathSuffix, w.origin, rep.Findings)
			}
		})
	}
}
