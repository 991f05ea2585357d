package stack

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CacheDir is where the stack's compiled tools live, keyed by version, outside any checkout so
// that a fresh clone on the same machine reuses them: $SAFEBUILD_CACHE, else
// $XDG_CACHE_HOME/safebuild, else ~/.cache/safebuild. integration/scripts/build-*.sh use the same rule.
func CacheDir() (string, error) {
	if d := os.Getenv("SAFEBUILD_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "safebuild"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating the tool cache: %w (set SAFEBUILD_CACHE)", err)
	}
	return filepath.Join(home, ".cache", "safebuild"), nil
}

// ModuleRoot walks up from the working directory to safebuild's go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if dt, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(dt), "module github.com/safebuild/safebuild\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("safebuild's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// requiredVersion reads the version of module from the require lines of the go.mod at path.
func requiredVersion(gomod, module string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s: no require line for %s", gomod, module)
}

// Binaries are the executables the stack runs.
type Binaries struct {
	BuildKitd, BuildCtl, Vault, Registry, Runc, Busybox string
}

// FindBinaries locates every executable the stack needs and names each one that is missing
// together with the command that provides it.
func FindBinaries() (*Binaries, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	bkVersion, err := requiredVersion(filepath.Join(root, "go.mod"), "github.com/moby/buildkit")
	if err != nil {
		return nil, err
	}
	vaultVersion, err := requiredVersion(filepath.Join(root, "integration", "tools", "vault", "go.mod"), "github.com/hashicorp/vault")
	if err != nil {
		return nil, err
	}
	var missing []string
	cached := func(dir, name, script string) string {
		p := filepath.Join(cache, dir, name)
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, fmt.Sprintf("%s (expected at %s; build it with integration/scripts/%s)", name, p, script))
		}
		return p
	}
	onPath := func(name, pkg string, alts ...string) string {
		for _, n := range append([]string{name}, alts...) {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
			for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
				if p := filepath.Join(d, n); isExecutable(p) {
					return p
				}
			}
		}
		missing = append(missing, fmt.Sprintf("%s (apt-get install -y %s)", name, pkg))
		return ""
	}
	b := &Binaries{
		BuildKitd: cached("buildkit-"+bkVersion, "buildkitd", "build-buildkit.sh"),
		BuildCtl:  cached("buildkit-"+bkVersion, "buildctl", "build-buildkit.sh"),
		Vault:     cached("vault-"+vaultVersion, "vault", "build-vault.sh"),
		Registry:  onPath("docker-registry", "docker-registry", "registry"),
		Runc:      onPath("runc", "runc"),
		Busybox:   onPath("busybox", "busybox-static"),
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("integration stack: missing prerequisites (run `make deps`):\n  %s", strings.Join(missing, "\n  "))
	}
	return b, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// BuildSafebuild compiles cmd/safebuild from this checkout into dir and returns the binary's
// path: the tests, the demo and the benchmarks run the real CLI.
func BuildSafebuild(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "safebuild")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/safebuild")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building cmd/safebuild: %v\n%s", err, out)
	}
	return bin, nil
}
