package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection lets the machine enforce the architecture: data flows
// cmd → frontend / vaultsrc → policy, never back, and policy stays free of Vault and BuildKit.
func TestDependencyDirection(t *testing.T) {
	rules := []struct {
		pkgs      string
		forbidden []string
	}{
		{"github.com/safebuild/safebuild/policy/...", []string{
			"github.com/hashicorp/vault/",
			"github.com/moby/buildkit/",
			"github.com/spf13/cobra",
			"github.com/safebuild/safebuild/vaultsrc",
			"github.com/safebuild/safebuild/frontend",
			"github.com/safebuild/safebuild/cmd",
		}},
		// Only the containerd source links the containerd client.
		{"github.com/safebuild/safebuild/policy github.com/safebuild/safebuild/image", []string{
			"github.com/containerd/containerd/v2/client",
		}},
		{"github.com/safebuild/safebuild/vaultsrc/...", []string{
			"github.com/spf13/cobra",
			"github.com/safebuild/safebuild/frontend",
			"github.com/safebuild/safebuild/cmd",
		}},
		{"github.com/safebuild/safebuild/frontend/...", []string{
			"github.com/spf13/cobra",
			"github.com/hashicorp/vault/",
			"github.com/safebuild/safebuild/cmd",
		}},
	}
	for _, r := range rules {
		t.Run(r.pkgs, func(t *testing.T) {
			out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, strings.Fields(r.pkgs)...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", r.pkgs, err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range r.forbidden {
					if dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) ||
						(!strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f+"/")) {
						t.Errorf("%s imports %s (forbidden: %s)", r.pkgs, dep, f)
					}
				}
			}
		})
	}
}

// TestEveryPackageDocumented: every package says what it owns.
func TestEveryPackageDocumented(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{.Doc}}", "github.com/safebuild/safebuild/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, doc, _ := strings.Cut(line, "|")
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package doc comment", pkg)
		}
	}
}
