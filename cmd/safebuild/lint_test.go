package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// caseBuildArgs reads a case's build_args from its case.json.
func caseBuildArgs(t *testing.T, name string) []string {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join(casesDir, name, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		BuildArgs map[string]string `json:"build_args"`
	}
	if err := json.Unmarshal(dt, &c); err != nil {
		t.Fatal(err)
	}
	var args []string
	for k, v := range c.BuildArgs {
		args = append(args, "--build-arg", k+"="+v)
	}
	return args
}

// TestLintCases holds `safebuild lint` to the lint cases' expected results: C14 (a Jenkins
// NAME_PSW build-arg) is refused, with or without its build-args, and C15 (key file paths in
// secret-looking ENV names) passes.
func TestLintCases(t *testing.T) {
	c14 := caseBuildArgs(t, "C14-psw-suffix-arg")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"C14 with its build-args", append(append([]string{"lint"}, c14...), filepath.Join(casesDir, "C14-psw-suffix-arg")), 1,
			[]string{"Dockerfile:6: refuse secret-named-arg: ARG NEXUS_PSW", "--build-arg NEXUS_PSW: refuse secret-named-build-arg"}},
		{"C14 alone", []string{"lint", filepath.Join(casesDir, "C14-psw-suffix-arg", "Dockerfile")}, 1,
			[]string{"Dockerfile:6: refuse secret-named-arg: ARG NEXUS_PSW"}},
		{"C15", append(append([]string{"lint"}, caseBuildArgs(t, "C15-cert-key-path-env")...), filepath.Join(casesDir, "C15-cert-key-path-env")), 0,
			[]string{"no violations"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLint(t, tc.args, tc.code, tc.wants, []string{"o6%vS5PoNQ3eLUm8#Sxf!X", "ci-deployer"})
		})
	}
}

func TestLintExitCodesAndFormats(t *testing.T) {
	const ghp = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
	dir := writeTree(t, map[string]string{
		"clean/Dockerfile":     "FROM scratch\nENV SSL_CERT_KEY=/etc/ssl/private/server.key\nRUN --mount=type=secret,id=npm_token true\n",
		"clean/safebuild.yaml": "secrets:\n  npm_token: vault:secret/ci/npm#token\n",
		"warn/Dockerfile":      "ARG REGISTRY_TOKEN\nFROM scratch\n",
		"leaky/Dockerfile":     "FROM scratch\nENV GITHUB_TOKEN=" + ghp + "\nRUN --mount=type=secret,id=npm_token true\n",
		"broken/Dockerfile":    "FROM scratch\nFROBNICATE\n",
	})
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"clean, mount declared in safebuild.yaml", []string{"lint", filepath.Join(dir, "clean")}, 0, []string{"no violations"}},
		{"warnings only", []string{"lint", filepath.Join(dir, "warn")}, 0, []string{"warn secret-named-meta-arg"}},
		{"refused", []string{"lint", filepath.Join(dir, "leaky")}, 1, []string{"refuse secret-named-variable", "refuse github-pat", "refuse undeclared-secret-mount", "ENV GITHUB_TOKEN=****"}},
		{"mount declared with --secret", []string{"lint", "--secret", "id=npm_token,src=vault:secret/ci/npm#token", filepath.Join(dir, "leaky")}, 1, []string{"secret-named-variable"}},
		{"json", []string{"lint", "--format", "json", filepath.Join(dir, "leaky")}, 1, []string{`"rule_id": "secret-named-variable"`, `"origin": "dockerfile"`}},
		{"sarif", []string{"lint", "--format", "sarif", filepath.Join(dir, "leaky")}, 1, []string{`"version": "2.1.0"`, `"ruleId": "github-pat"`}},
		{"build-arg", []string{"lint", "--build-arg", "DB_PASSWORD=hunter2", "--format", "json", filepath.Join(dir, "clean")}, 1, []string{`"origin": "build-arg:DB_PASSWORD"`}},
		{"parse error", []string{"lint", filepath.Join(dir, "broken")}, 2, []string{"FROBNICATE"}},
		{"missing file", []string{"lint", filepath.Join(dir, "nope")}, 2, nil},
		{"bad format", []string{"lint", "--format", "xml", filepath.Join(dir, "clean")}, 2, nil},
		{"bad --secret", []string{"lint", "--secret", "id=x,src=env:X", filepath.Join(dir, "clean")}, 2, nil},
		{"two args", []string{"lint", "a", "b"}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkLint(t, tc.args, tc.code, tc.wants, []string{ghp, "hunter2"})
		})
	}
}

// checkLint runs `safebuild ARGS` and checks its exit code, that its output holds each of wants
// and none of values.
func checkLint(t *testing.T, args []string, code int, wants, values []string) {
	t.Helper()
	out, got := runCLI(t, args...)
	if got != code {
		t.Fatalf("exit %d, want %d:\n%s", got, code, out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, v := range values {
		if strings.Contains(out, v) {
			t.Errorf("the output holds %q:\n%s", v, out)
		}
	}
}
