package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The three parts of the corpus, each a directory under the corpus root.
const (
	partNPM    = "npm"
	partDebian = "debian"
	partGo     = "gomod"
)

// parts lists the corpus parts in report order.
var parts = []string{partNPM, partDebian, partGo}

// pinned is what the corpus is made of: the files in this directory that pin it.
type pinned struct {
	dir     string   // this directory: npm/, debian.txt, gomod.txt
	debian  []string // package=version
	modules []string // module@version
}

// readPinned reads the pinned lists in dir.
func readPinned(dir string) (*pinned, error) {
	p := &pinned{dir: dir}
	var err error
	if p.debian, err = readList(filepath.Join(dir, "debian.txt"), "="); err != nil {
		return nil, err
	}
	if p.modules, err = readList(filepath.Join(dir, "gomod.txt"), "@"); err != nil {
		return nil, err
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		if _, err := os.Stat(filepath.Join(dir, "npm", f)); err != nil {
			return nil, fmt.Errorf("npm corpus: %w", err)
		}
	}
	return p, nil
}

// readList reads one entry a line, skipping blank lines and # comments; each entry must hold
// sep between a non-empty name and a non-empty version.
func readList(path, sep string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseList(f, path, sep)
}

func parseList(r io.Reader, name, sep string) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, version, ok := strings.Cut(line, sep)
		if !ok || name == "" || version == "" || strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("%s:%d: %q: want NAME%sVERSION", name, n, line, sep)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no entries", name)
	}
	return out, nil
}

// key names the corpus by what pins it: a change to any list makes a new corpus directory.
func (p *pinned) key() (string, error) {
	h := sha256.New()
	for _, f := range []string{"npm/package.json", "npm/package-lock.json"} {
		dt, err := os.ReadFile(filepath.Join(p.dir, f))
		if err != nil {
			return "", err
		}
		h.Write(dt)
	}
	for _, l := range append(append([]string(nil), p.debian...), p.modules...) {
		h.Write([]byte(l + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// fetch makes each part of the corpus in root/corpus/<part> that is not there yet (a part is
// complete when root/<part>.complete exists). Logs go to log.
func (p *pinned) fetch(ctx context.Context, root string, log io.Writer) error {
	for _, part := range parts {
		dir, done := filepath.Join(root, "corpus", part), filepath.Join(root, part+".complete")
		if _, err := os.Stat(done); err == nil {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		fmt.Fprintf(log, "fetching the %s corpus into %s\n", part, dir)
		var err error
		switch part {
		case partNPM:
			err = p.fetchNPM(ctx, root, dir, log)
		case partDebian:
			err = p.fetchDebian(ctx, root, dir, log)
		case partGo:
			err = p.fetchGo(ctx, dir, log)
		}
		if err != nil {
			return fmt.Errorf("%s corpus: %w", part, err)
		}
		if err := stripLinks(dir); err != nil {
			return err
		}
		if err := os.WriteFile(done, nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// fetchNPM installs the pinned tree (npm ci: exactly the lock file, no install scripts) and
// moves it to dir with every node_modules directory renamed, so that gitleaks' global path
// allowlist, which skips any path through a node_modules directory, hides nothing. Inside an
// image safebuild scans node_modules like any other directory.
func (p *pinned) fetchNPM(ctx context.Context, root, dir string, log io.Writer) error {
	work := filepath.Join(root, "npm-install")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"package.json", "package-lock.json"} {
		dt, err := os.ReadFile(filepath.Join(p.dir, "npm", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, f), dt, 0o644); err != nil {
			return err
		}
	}
	if err := need(ctx, log, "npm", "npm"); err != nil {
		return err
	}
	if err := runIn(ctx, work, log, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(work, "node_modules"), dir); err != nil {
		return err
	}
	if err := renameDirs(dir, "node_modules", "node-modules"); err != nil {
		return err
	}
	return os.RemoveAll(work)
}

// renameDirs renames every directory called from under root to to, deepest first.
func renameDirs(root, from, to string) error {
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == from {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(found) - 1; i >= 0; i-- {
		if err := os.Rename(found[i], filepath.Join(filepath.Dir(found[i]), to)); err != nil {
			return err
		}
	}
	return nil
}

// fetchDebian downloads each pinned package with apt-get (running apt-get update once when a
// version is unknown) and unpacks it into dir/<package>.
func (p *pinned) fetchDebian(ctx context.Context, root, dir string, log io.Writer) error {
	debs := filepath.Join(root, "debs")
	for _, d := range []string{debs, dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	updated := false
	for _, pv := range p.debian {
		name, version, _ := strings.Cut(pv, "=")
		pattern := filepath.Join(debs, debGlob(name, version))
		file, err := findOne(pattern)
		if err != nil {
			err := runIn(ctx, debs, log, "apt-get", "download", "-q", pv)
			if err != nil && !updated {
				updated = true
				if uerr := runIn(ctx, debs, log, "apt-get", "update", "-q"); uerr != nil {
					return uerr
				}
				err = runIn(ctx, debs, log, "apt-get", "download", "-q", pv)
			}
			if err != nil {
				cand, _ := exec.CommandContext(ctx, "apt-cache", "policy", name).Output()
				return fmt.Errorf("%s is not on the package mirror (%v); apt-cache policy says:\n%s\nupdate integration/bench/fp/debian.txt", pv, err, cand)
			}
			if file, err = findOne(pattern); err != nil {
				return fmt.Errorf("apt-get download %s: %w", pv, err)
			}
		}
		if err := runIn(ctx, "", log, "dpkg-deb", "-x", file, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// debGlob matches the file apt-get download names a package's version: the epoch's colon
// becomes "%3a", and the architecture (amd64, all) follows.
func debGlob(name, version string) string {
	return name + "_" + strings.ReplaceAll(version, ":", "%3a") + "_*.deb"
}

// findOne returns the one file pattern matches.
func findOne(pattern string) (string, error) {
	m, err := filepath.Glob(pattern)
	if err != nil {
		return "", err
	}
	if len(m) != 1 {
		return "", fmt.Errorf("%d files match %s", len(m), pattern)
	}
	return m[0], nil
}

// fetchGo downloads each pinned module (go mod download: from the module cache when there) and
// copies its directory to dir/<module>@<version>, writable.
func (p *pinned) fetchGo(ctx context.Context, dir string, log io.Writer) error {
	for _, mv := range p.modules {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mv)
		cmd.Dir = os.TempDir() // outside any module
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
		cmd.Stdout, cmd.Stderr = &out, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go mod download %s: %v: %s", mv, err, out.String())
		}
		var info struct{ Dir, Error string }
		if err := json.Unmarshal(out.Bytes(), &info); err != nil {
			return fmt.Errorf("go mod download %s: %w", mv, err)
		}
		if info.Error != "" || info.Dir == "" {
			return fmt.Errorf("go mod download %s: %s", mv, info.Error)
		}
		dst := filepath.Join(dir, mv)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := runIn(ctx, "", log, "cp", "-R", info.Dir, dst); err != nil {
			return err
		}
	}
	return runIn(ctx, "", log, "chmod", "-R", "u+w", dir)
}

// stripLinks removes symlinks under root (npm's .bin, Debian's alternatives): neither tool
// follows them, and a dangling one is noise.
func stripLinks(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return os.Remove(p)
		}
		return nil
	})
}

// need installs Debian's package pkg when bin is not on PATH (the benchmark runs as root, as
// `make test` does).
func need(ctx context.Context, log io.Writer, bin, pkg string) error {
	if _, err := exec.LookPath(bin); err == nil {
		return nil
	}
	fmt.Fprintf(log, "installing %s (apt-get install %s)\n", bin, pkg)
	if err := runIn(ctx, "", log, "apt-get", "install", "-y", "-q", pkg); err != nil {
		if uerr := runIn(ctx, "", log, "apt-get", "update", "-q"); uerr != nil {
			return uerr
		}
		return runIn(ctx, "", log, "apt-get", "install", "-y", "-q", pkg)
	}
	return nil
}

// runIn runs a command in dir with its output on log; the error names the command.
func runIn(ctx context.Context, dir string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s is not installed: %w", name, err)
		}
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
