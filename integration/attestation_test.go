package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/integration/stack"
)

// glToken is a GitLab token shape passed as a build-arg: BuildKit's provenance records it
// (mode=max), though no layer and no history entry holds it.
const glToken = "glpat-Xq9vR2mT7wL4kP8nZ3bY"

// mustBuildctl runs the stack's own buildctl against its buildkitd and fails the test on an error.
func mustBuildctl(t *testing.T, s *stack.Stack, args ...string) {
	t.Helper()
	if out, err := buildctl(t, s, args...); err != nil {
		t.Fatalf("buildctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// attestedBuild builds a Dockerfile that copies one file with provenance mode=max and build-arg
// VERSION=version, which the Dockerfile does not declare (an ARG would put the value in the
// image's history: the image itself stays clean, only the provenance records it), to an OCI archive and, when push is set,
// to the stack's registry. extra are further buildctl build flags.
func attestedBuild(t *testing.T, s *stack.Stack, version, archive, push string, extra ...string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY app.txt /app/app.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "--frontend", "dockerfile.v0", "--local", "context=" + dir, "--local", "dockerfile=" + dir,
		"--opt", "build-arg:VERSION=" + version, "--opt", "attest:provenance=mode=max", "--output", "type=oci,dest=" + archive}
	if len(extra) > 0 && strings.HasPrefix(extra[0], "compression=") {
		args[len(args)-1] += "," + extra[0]
		extra = extra[1:]
	}
	if push != "" {
		args = append(args, "--output", "type=image,name="+push+",push=true")
	}
	mustBuildctl(t, s, append(args, extra...)...)
}

// jsonReport is what these tests read of a JSON report.
type jsonReport struct {
	Findings []struct {
		RuleID   string `json:"rule_id"`
		Origin   string `json:"origin"`
		Path     string `json:"path"`
		Platform string `json:"platform"`
		Artifact *struct {
			Manifest      string `json:"manifest"`
			PredicateType string `json:"predicate_type"`
			Subject       string `json:"subject"`
		} `json:"artifact"`
	} `json:"findings"`
	Errors  []map[string]any `json:"errors"`
	Notices []map[string]any `json:"notices"`
}

// safebuildJSON runs safebuild with --format json and returns its report, exit status and
// standard error; the report is empty when it failed before writing one.
func safebuildJSON(t *testing.T, s *stack.Stack, args ...string) (jsonReport, int, string) {
	t.Helper()
	args = append(args[:1:1], append([]string{"--format", "json"}, args[1:]...)...)
	stdout, stderr, err := safebuildCLI(t, s, args...)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout+stderr, glToken) {
		t.Errorf("safebuild %s prints the token", strings.Join(args, " "))
	}
	var rep jsonReport
	if stdout == "" && code == 2 {
		return rep, code, stderr // an error before any report
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("safebuild %s: %v\n%s\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return rep, code, stderr
}

// attestationFindings returns the findings of the token in a provenance attestation, as
// "platform path". (BuildKit v0.34 records a build-arg twice with mode=max: in
// externalParameters.request.args and in ….request.root.request.args.)
func attestationFindings(rep jsonReport) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Origin == "attestation" && f.RuleID == "gitlab-pat" && f.Artifact != nil &&
			f.Artifact.PredicateType == "https://slsa.dev/provenance/v1" && f.Artifact.Subject != "" {
			out = append(out, f.Platform+" "+f.Path)
		}
	}
	return out
}

// TestAttestedImages builds images the way `docker buildx build --push` does — an index holding
// the image and its provenance attestation (mode=max, a GitLab token as a build-arg) — with the
// stack's buildctl, to an OCI archive and pushed to its registry. `safebuild scan` refuses both
// (exit 1: a finding with origin attestation, at the build-arg's JSON path) and `safebuild
// promote` refuses the pushed one; the same build with a clean build-arg scans clean and is
// promoted whole, attestation manifest included. Also a zstd-compressed build and a
// two-platform build with an attestation per platform.
func TestAttestedImages(t *testing.T) {
	s := needStack(t)
	reg := s.Registry.Host
	dir := t.TempDir()
	leakyTar, cleanTar := filepath.Join(dir, "leaky.tar"), filepath.Join(dir, "clean.tar")
	attestedBuild(t, s, glToken, leakyTar, reg+"/staging/attested:leaky")
	attestedBuild(t, s, "1.4.2", cleanTar, reg+"/staging/attested:clean")
	const argPath = `predicate.buildDefinition.externalParameters.request.args["build-arg:VERSION"]`

	t.Run("scan refuses the attestation", func(t *testing.T) {
		for _, args := range [][]string{
			{"scan", "oci-archive:" + leakyTar},
			{"scan", leakyTar},
			{"scan", "registry:" + reg + "/staging/attested:leaky"},
			{"scan", "--platform", "linux/amd64", "oci-archive:" + leakyTar},
		} {
			rep, code, stderr := safebuildJSON(t, s, args...)
			found := attestationFindings(rep)
			if code != 1 || !slices.Contains(found, "linux/amd64 "+argPath) || len(rep.Errors) != 0 {
				t.Errorf("safebuild %s: exit %d, attestation findings %q, errors %v; want exit 1 and the build-arg at %s\n%s",
					strings.Join(args, " "), code, found, rep.Errors, argPath, stderr)
			}
			for _, f := range rep.Findings {
				if f.Origin != "attestation" {
					t.Errorf("safebuild %s: a finding outside the attestation: %+v", strings.Join(args, " "), f)
				}
			}
		}
	})
	t.Run("the clean build scans clean", func(t *testing.T) {
		for _, ref := range []string{"oci-archive:" + cleanTar, "registry:" + reg + "/staging/attested:clean"} {
			rep, code, stderr := safebuildJSON(t, s, "scan", ref)
			if code != 0 || len(rep.Findings)+len(rep.Errors) != 0 {
				t.Errorf("safebuild scan %s: exit %d, %+v\n%s", ref, code, rep, stderr)
			}
		}
	})
	t.Run("promote", func(t *testing.T) {
		rep, code, stderr := safebuildJSON(t, s, "promote", reg+"/staging/attested:leaky", reg+"/prod/attested:leaky")
		if code != 1 || !slices.Contains(attestationFindings(rep), "linux/amd64 "+argPath) || !strings.Contains(stderr, "refused") {
			t.Errorf("promote leaky: exit %d, %+v\n%s", code, rep, stderr)
		}
		if _, err := remote.Head(mustRef(t, reg+"/prod/attested:leaky")); err == nil {
			t.Error("the refused index is in production")
		}
		rep, code, stderr = safebuildJSON(t, s, "promote", reg+"/staging/attested:clean", reg+"/prod/attested:clean")
		if code != 0 || len(rep.Findings) != 0 {
			t.Fatalf("promote clean: exit %d, %+v\n%s", code, rep, stderr)
		}
		src, err := remote.Index(mustRef(t, reg+"/staging/attested:clean"))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := remote.Index(mustRef(t, reg+"/prod/attested:clean"))
		if err != nil {
			t.Fatal(err)
		}
		sd, _ := src.Digest()
		dd, _ := dst.Digest()
		im, _ := dst.IndexManifest()
		var atts int
		for _, d := range im.Manifests {
			if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" {
				continue
			}
			atts++
			img, err := dst.Image(d.Digest)
			if err != nil {
				t.Fatalf("production lacks the attestation manifest %s: %v", d.Digest, err)
			}
			ls, err := img.Layers()
			if err != nil || len(ls) == 0 {
				t.Fatalf("attestation layers: %v", err)
			}
			rc, err := ls[0].Compressed()
			if err != nil {
				t.Fatalf("production lacks the attestation's statement: %v", err)
			}
			dt, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(dt), "predicateType") {
				t.Errorf("the attestation layer is not a statement: %.80s", dt)
			}
		}
		if sd != dd || atts != 1 {
			t.Errorf("production holds index %s with %d attestations; want %s with 1", dd, atts, sd)
		}
	})
	t.Run("zstd layers", func(t *testing.T) {
		z := filepath.Join(dir, "zstd.tar")
		attestedBuild(t, s, glToken, z, "", "compression=zstd,force-compression=true")
		rep, code, stderr := safebuildJSON(t, s, "scan", "oci-archive:"+z)
		if code != 1 || !slices.Contains(attestationFindings(rep), "linux/amd64 "+argPath) || len(rep.Errors) != 0 {
			t.Errorf("zstd: exit %d, %+v\n%s", code, rep, stderr)
		}
	})
	t.Run("two platforms", func(t *testing.T) {
		m := filepath.Join(dir, "multi.tar")
		attestedBuild(t, s, glToken, m, "", "--opt", "platform=linux/amd64,linux/arm64")
		rep, code, _ := safebuildJSON(t, s, "scan", "oci-archive:"+m)
		found := attestationFindings(rep)
		if code != 1 || !slices.Contains(found, "linux/amd64 "+argPath) || !slices.Contains(found, "linux/arm64 "+argPath) {
			t.Errorf("both platforms: exit %d, %q, want the build-arg in each platform's attestation", code, found)
		}
		rep, code, _ = safebuildJSON(t, s, "scan", "--platform", "linux/arm64", "oci-archive:"+m)
		found = attestationFindings(rep)
		if code != 1 || !slices.Contains(found, "linux/arm64 "+argPath) || slices.Contains(found, "linux/amd64 "+argPath) {
			t.Errorf("--platform linux/arm64: exit %d, %q, want the arm64 attestation only", code, found)
		}

		// A containerd store that holds one platform, as a pull or an import of one platform
		// leaves it: containerd keeps the host's image and drops the rest, attestations
		// included (what its garbage collector has not removed yet is deleted here). The
		// absent entries are notices; what is there is scanned.
		cd, err := s.StartContainerd(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer cd.Stop()
		cc, err := client.New(cd.Address)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		const ns, imported = "safebuild-test", "safebuild.test/attested:multi"
		ctx := namespaces.WithNamespace(context.Background(), ns)
		f, err := os.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cc.Import(ctx, f, client.WithIndexName(imported))
		f.Close()
		if err != nil {
			t.Fatalf("importing into containerd: %v", err)
		}
		set, err := image.Open(context.Background(), image.Ref{Kind: image.OCIArchive, Target: m}, image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var gone []string
		for _, i := range set.Images {
			if i.PlatformString() == "linux/arm64" {
				gone = append(gone, i.Digest)
			}
		}
		for _, a := range set.Artifacts {
			gone = append(gone, a.Digest)
		}
		set.Close()
		for _, d := range gone {
			if err := cc.ContentStore().Delete(ctx, digest.Digest(d)); err != nil && !errdefs.IsNotFound(err) {
				t.Fatal(err)
			}
		}
		rep, code, stderr := safebuildJSON(t, s, "scan", "--containerd-address", cd.Address, "--namespace", ns, "containerd:"+imported)
		if code != 0 || len(rep.Findings) != 0 || len(rep.Notices) != len(gone) || len(gone) != 3 || len(rep.Errors) != 0 {
			t.Errorf("containerd, one platform present: exit %d, findings %+v, notices %v, errors %v; want exit 0 and %d notices\n%s",
				code, rep.Findings, rep.Notices, rep.Errors, len(gone), stderr)
		}
		rep, code, stderr = safebuildJSON(t, s, "scan", "--containerd-address", cd.Address, "--namespace", ns, "--platform", "linux/arm64", "containerd:"+imported)
		if code != 2 || !strings.Contains(stderr, "no image for platform linux/arm64 is present") {
			t.Errorf("containerd --platform linux/arm64: exit %d\n%s", code, stderr)
		}
	})
}
