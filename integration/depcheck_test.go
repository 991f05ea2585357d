package integration

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/safebuild/safebuild/"

// Modules some packages must not link, directly or through others.
const (
	modVault      = "github.com/hashicorp/vault/"
	modBuildKit   = "github.com/moby/buildkit/"
	modCobra      = "github.com/spf13/cobra"
	modGGCR       = "github.com/google/go-containerregistry/"
	modContainerd = "github.com/containerd/containerd/v2/client" // only the containerd image source
)

// architecture is how safebuild's packages may depend on each other. Data flows one way:
// cmd → build → frontend → imagescan → image, and every gate → policy, the engine, which reads
// no image and links neither Vault, nor BuildKit, nor the CLI. Each entry names packages (paths
// in the module; "x/..." is x and every package under it), the module packages they may import
// directly, and what they must never link. Every package of the module is in one entry (the
// first that matches), so a new package is placed here on purpose.
var architecture = []layer{
	// The engine and what belongs to it: rule data and loading, reports, nested archives, and
	// the engine's internals.
	{"policy/...", []string{"policy/..."}, []string{modVault, modBuildKit, modCobra, modGGCR, modContainerd}},
	// Reading images wherever they live; only the containerd source links its client.
	{"image", nil, []string{modVault, modBuildKit, modCobra, modContainerd}},
	{"image/containerd", []string{"image"}, []string{modVault, modBuildKit, modCobra}},
	// Images through the engine, and the registry workflow on top of it.
	{"imagescan", []string{"image", "policy", "policy/archive"}, []string{modVault, modBuildKit, modCobra, modContainerd}},
	{"promote", []string{"image", "imagescan", "policy"}, []string{modVault, modBuildKit, modCobra, modContainerd}},
	// The BuildKit build function (runs inside BuildKit), and the client-side orchestrator.
	{"frontend/...", []string{"imagescan", "policy", "policy/archive", "policy/config"}, []string{modVault, modCobra, modContainerd}},
	{"build", []string{"frontend", "image", "imagescan", "policy", "policy/config", "policy/report"}, []string{modVault, modCobra, modContainerd}},
	// Vault: auth, secret references, the BuildKit secret store.
	{"vaultsrc/...", []string{"vaultsrc/...", "policy"}, []string{modCobra}},
	// Test helpers shared by packages' tests.
	{"internal/...", nil, []string{modVault, modBuildKit, modCobra}},
	// The CLI composes everything; integration tests and benchmarks use everything.
	{"cmd/...", []string{"*"}, nil},
	{"integration/...", []string{"*"}, nil},
}

type layer struct {
	pkgs    string
	imports []string // module packages they may import; "*": any
	never   []string // import path prefixes
}

// matches reports whether the module package rel (a path in the module) is named by pattern
// ("x" or "x/...").
func matches(pattern, rel string) bool {
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return rel == tree || strings.HasPrefix(rel, tree+"/")
	}
	return pattern == "*" || rel == pattern
}

// TestDependencyDirection lets the machine enforce the architecture above.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", module+"...").Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list %s...: %v\n%s", module, err, ee.Stderr)
	} else if err != nil {
		t.Fatalf("go list %s...: %v", module, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath    string
			Imports, Deps []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module)
		i := slices.IndexFunc(architecture, func(a layer) bool { return matches(a.pkgs, rel) })
		if i < 0 {
			t.Errorf("%s is in no entry of architecture (depcheck_test.go): place it", rel)
			continue
		}
		a := architecture[i]
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if !slices.ContainsFunc(a.imports, func(pattern string) bool { return matches(pattern, dep) }) {
				t.Errorf("%s imports %s; %s may import only %v", rel, dep, a.pkgs, a.imports)
			}
		}
		for _, f := range a.never {
			if i := slices.IndexFunc(p.Deps, func(dep string) bool {
				return dep == strings.TrimSuffix(f, "/") || strings.HasPrefix(dep, f) ||
					(!strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f+"/"))
			}); i >= 0 {
				t.Errorf("%s links %s (never in %s: %s)", rel, p.Deps[i], a.pkgs, f)
			}
		}
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
