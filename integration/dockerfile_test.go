package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/safebuild/safebuild/integration/stack"
)

var (
	frontendOnce     sync.Once
	frontendImageRef string
	frontendErr      error
)

// frontendImage builds the repository's Dockerfile into the frontend image once per test run,
// over a context holding the static safebuild-frontend binary, and pushes it to the stack's
// registry; it returns the image reference.
func frontendImage(t *testing.T, s *stack.Stack) string {
	t.Helper()
	frontendOnce.Do(func() {
		root, err := stack.ModuleRoot()
		if err != nil {
			frontendErr = err
			return
		}
		bctx, err := os.MkdirTemp("", "safebuild-frontend-")
		if err != nil {
			frontendErr = err
			return
		}
		defer os.RemoveAll(bctx)
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(bctx, "bin", "safebuild-frontend"), "./cmd/safebuild-frontend")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			frontendErr = errors.New("building the frontend binary: " + err.Error() + "\n" + string(out))
			return
		}
		ref := s.Registry.Host + "/safebuild/frontend:test"
		if err := s.BuildKit.Build(context.Background(), stack.BuildOptions{ContextDir: bctx, DockerfileDir: root, Push: ref}); err != nil {
			frontendErr = errors.New("building the frontend image from ./Dockerfile: " + err.Error())
			return
		}
		frontendImageRef = ref
	})
	if frontendErr != nil {
		t.Fatal(frontendErr)
	}
	return frontendImageRef
}

// buildctl runs the stack's buildctl and returns everything it printed.
func buildctl(t *testing.T, s *stack.Stack, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Binaries.BuildCtl, append([]string{"--addr", s.BuildKit.Address}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// gatewayArgs are buildctl's arguments for a build of dir through the frontend image.
func gatewayArgs(ref, dir string, buildArgs map[string]string, extra ...string) []string {
	args := []string{"build", "--progress", "plain", "--frontend", "gateway.v0", "--opt", "source=" + ref,
		"--local", "context=" + dir, "--local", "dockerfile=" + dir}
	for k, v := range buildArgs {
		args = append(args, "--opt", "build-arg:"+k+"="+v)
	}
	return append(args, extra...)
}

// writeDockerfile writes df as dir/Dockerfile in a new directory.
func writeDockerfile(t *testing.T, df string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// refusalCases are Dockerfiles (and build-args) every mode refuses, with the values no output
// may hold.
var refusalCases = []struct {
	name, dockerfile string
	buildArgs        map[string]string
	values           []string
}{
	{"aws key in ENV", "ARG BASE\nFROM ${BASE}\nENV AWS_ACCESS_KEY_ID=AKIAHBRPOIGF3CBFNOBM \\\n    AWS_REGION=eu-west-1\nRUN true\n", nil,
		[]string{"AKIAHBRPOIGF3CBFNOBM"}},
	{"literal password in ENV", "ARG BASE\nFROM ${BASE}\n# the admin password\nENV NEXUS_PSW=o6%vS5PoNQ3eLUm8#Sxf!X\nRUN true\n", nil,
		[]string{"o6%vS5PoNQ3eLUm8#Sxf!X", "o6%vS5"}},
	{"token in a RUN line and a LABEL", "ARG BASE\nFROM ${BASE}\nLABEL deploy.token=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d\nRUN echo //registry.npmjs.org/:_authToken=npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7 > /root/.npmrc\n", nil,
		[]string{"ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"}},
	{"Jenkins credential as build-args", "ARG BASE\nFROM ${BASE}\nARG NEXUS_USR\nARG NEXUS_PSW=fallback-Zq7pRfW2nXs9\nRUN test -n \"$NEXUS_PSW\"\n",
		map[string]string{"NEXUS_USR": "ci-deployer", "NEXUS_PSW": "o6%vS5PoNQ3eLUm8#Sxf!X"}, []string{"o6%vS5PoNQ3eLUm8#Sxf!X", "fallback-Zq7pRfW2nXs9"}},
	{"token as a build-arg", "ARG BASE\nFROM ${BASE}\nARG NPM\nRUN true\n",
		map[string]string{"NPM": "npm_Zq7pRfW2nXs9LkT4yVb8HcM1gJdE6aUo3iNr"}, []string{"npm_Zq7pRfW2nXs9LkT4yVb8HcM1gJdE6aUo3iNr"}},
}

// TestRefusalsNeverEchoSecrets: every refusal, in `safebuild build` (the frontend in-process)
// and through the frontend image with buildctl, names what it refused and never prints a value:
// the Dockerfile lines buildctl shows with the error have each detected value masked.
func TestRefusalsNeverEchoSecrets(t *testing.T) {
	s := needStack(t)
	ref := frontendImage(t, s)
	for _, tc := range refusalCases {
		dir := writeDockerfile(t, tc.dockerfile)
		check := func(t *testing.T, out string) {
			t.Helper()
			if testing.Verbose() {
				t.Log(out)
			}
			if !strings.Contains(out, "refused") {
				t.Errorf("the output does not say the build was refused:\n%s", out)
			}
			for _, v := range tc.values {
				if strings.Contains(out, v) {
					t.Errorf("the output holds %q:\n%s", v, out)
				}
			}
		}
		t.Run(tc.name+"/safebuild build", func(t *testing.T) {
			args := []string{"build", "--progress", "plain", "--build-arg", "BASE=" + s.BaseImage, "-o", filepath.Join(t.TempDir(), "out.tar")}
			for k, v := range tc.buildArgs {
				args = append(args, "--build-arg", k+"="+v)
			}
			stdout, stderr, err := safebuildCLI(t, s, append(args, dir)...)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("want exit 1, got %v\n%s%s", err, stdout, stderr)
			}
			check(t, stdout+stderr)
		})
		t.Run(tc.name+"/frontend image", func(t *testing.T) {
			out, err := buildctl(t, s, gatewayArgs(ref, dir, withBase(s, tc.buildArgs))...)
			if err == nil {
				t.Fatalf("the frontend image built it:\n%s", out)
			}
			check(t, out)
			if strings.Contains(tc.dockerfile, "ENV") || strings.Contains(tc.dockerfile, "LABEL") {
				if !strings.Contains(out, ">>>") || !strings.Contains(out, "*****") {
					t.Errorf("buildctl shows no masked Dockerfile line:\n%s", out)
				}
			}
		})
	}
}

func withBase(s *stack.Stack, args map[string]string) map[string]string {
	out := map[string]string{"BASE": s.BaseImage}
	for k, v := range args {
		out[k] = v
	}
	return out
}

// TestLintSubrequest: BuildKit's lint subrequest through the frontend image (what `docker
// buildx build --check` sends) lists safebuild's violations next to BuildKit's own warnings,
// whatever `# check=skip=all` says, with no value in the output.
func TestLintSubrequest(t *testing.T) {
	s := needStack(t)
	ref := frontendImage(t, s)
	for _, tc := range []struct {
		name, dockerfile string
		buildArgs        map[string]string
		want, not        []string
	}{
		{"violations", "ARG BASE\nFROM ${BASE}\nENV AWS_ACCESS_KEY_ID=AKIAHBRPOIGF3CBFNOBM\nARG NEXUS_PSW\nRUN true\n",
			map[string]string{"NEXUS_PSW": "o6%vS5PoNQ3eLUm8#Sxf!X"},
			[]string{"WARNING: aws-access-token", "WARNING: secret-named-arg", "WARNING: secret-named-build-arg", "SecretsUsedInArgOrEnv", "docs/dockerfile-rules.md", ">>> ENV AWS_ACCESS_KEY_ID=****"},
			[]string{"AKIAHBRPOIGF3CBFNOBM", "o6%vS5PoNQ3eLUm8#Sxf!X"}},
		{"check=skip=all", "# check=skip=all\nARG BASE\nFROM ${BASE}\nENV NEXUS_PSW=o6%vS5PoNQ3eLUm8#Sxf!X\n", nil,
			[]string{"WARNING: secret-named-variable"}, []string{"SecretsUsedInArgOrEnv", "o6%vS5PoNQ3eLUm8#Sxf!X"}},
		{"clean", "ARG BASE\nFROM ${BASE}\nENV SSL_CERT_KEY=/etc/ssl/private/server.key\n", nil,
			nil, []string{"WARNING: secret-", "safebuild refuses"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDockerfile(t, tc.dockerfile)
			out, err := buildctl(t, s, gatewayArgs(ref, dir, withBase(s, tc.buildArgs), "--opt", "requestid=frontend.lint")...)
			if err != nil {
				t.Fatalf("buildctl: %v\n%s", err, out)
			}
			if testing.Verbose() {
				t.Log(out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("lint output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("lint output holds %q:\n%s", n, out)
				}
			}
		})
	}
}

// TestBuildCases builds the lint cases on the stack: C14 (a Jenkins NAME_PSW build-arg) is
// refused before anything runs, without printing the password; C15 (key file paths in
// secret-looking ENV names) is built.
func TestBuildCases(t *testing.T) {
	s := needStack(t)
	root := moduleRoot(t)
	for _, tc := range []struct {
		name string
		code int
		want string
	}{
		{"C14-psw-suffix-arg", 1, "ARG NEXUS_PSW"},
		{"C15-cert-key-path-env", 0, "built sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, "testdata", "cases", tc.name)
			var c struct {
				BuildArgs map[string]string `json:"build_args"`
			}
			readJSON(t, filepath.Join(dir, "case.json"), &c)
			out := filepath.Join(t.TempDir(), "image.tar")
			args := []string{"build", "--progress", "plain", "--build-arg", "BASE=" + s.BaseImage, "-o", "type=oci,dest=" + out}
			for k, v := range c.BuildArgs {
				args = append(args, "--build-arg", k+"="+v)
			}
			stdout, stderr, err := safebuildCLI(t, s, append(args, dir)...)
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q or is:\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
			for _, v := range c.BuildArgs {
				if len(v) > 12 && strings.Contains(stdout+stderr, v) {
					t.Errorf("the output holds a build-arg value")
				}
			}
			if _, err := os.Stat(out); (err == nil) != (tc.code == 0) {
				t.Errorf("output written: %v, want %v", err == nil, tc.code == 0)
			}
		})
	}
}

// TestHistoryBuildArgsFound: C14 built by BuildKit's own Dockerfile frontend, which records
// the Jenkins credential in the ARG entries and the RUN's "|2 NEXUS_USR=… NEXUS_PSW=…" prefix,
// is refused by `safebuild scan`: the password has no known format, but its name says what it
// is. The report names both history entries and prints no value.
func TestHistoryBuildArgsFound(t *testing.T) {
	s := needStack(t)
	dir := filepath.Join(moduleRoot(t), "testdata", "cases", "C14-psw-suffix-arg")
	var c struct {
		BuildArgs map[string]string `json:"build_args"`
	}
	readJSON(t, filepath.Join(dir, "case.json"), &c)
	layout := filepath.Join(t.TempDir(), "oci")
	if err := s.BuildKit.Build(context.Background(), stack.BuildOptions{ContextDir: dir, OCILayout: layout, BuildArgs: withBase(s, c.BuildArgs)}); err != nil {
		t.Fatal(err)
	}
	findings, output := scanLayoutRefused(t, s, layout)
	entries := map[string]bool{}
	for _, f := range findings {
		if f.RuleID == "secret-named-build-arg" && f.Redacted == "NEXUS_PSW=*****" {
			entries[f.Path] = true
		}
	}
	if len(entries) < 2 {
		t.Errorf("want the ARG entry and the RUN entry, got %v in %+v", entries, findings)
	}
	if strings.Contains(output, c.BuildArgs["NEXUS_PSW"]) {
		t.Error("the report holds the password")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	dt, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(dt, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
