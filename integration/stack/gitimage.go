package stack

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GitImageRepo is the repository, under the stack's registry, of the git client image.
const GitImageRepo = "safebuild/git"

// The git client image's Dockerfile: the base image plus a root file system assembled from the
// host's Debian binaries (git, ssh and the shared libraries they load), and the passwd entry
// ssh insists on for its uid.
const gitImageDockerfile = `FROM %s
COPY rootfs/ /
`

// GitImage returns the reference of an image in the stack's registry, built on first use, that
// holds the busybox base plus git and the OpenSSH client (copied from the host with the shared
// libraries ldd names, and an /etc/passwd for root). It is what a build step needs for
// `RUN --mount=type=ssh git clone ssh://git@127.0.0.1:PORT/repo.git` against SSHD, since nothing
// can be pulled from the internet here. The error names a missing host binary.
func (s *Stack) GitImage(ctx context.Context) (string, error) {
	s.gitImageMu.Lock()
	defer s.gitImageMu.Unlock()
	if s.gitImage != "" {
		return s.gitImage, nil
	}
	dir, err := os.MkdirTemp(s.Dir, "git-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var bins []string
	var missing []string
	for _, b := range []struct{ name, pkg string }{{"git", "git"}, {"ssh", "openssh-client"}} {
		p, err := exec.LookPath(b.name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s (apt-get install -y %s)", b.name, b.pkg))
			continue
		}
		bins = append(bins, p)
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("git image: missing on the host:\n  %s", strings.Join(missing, "\n  "))
	}
	rootfs := filepath.Join(dir, "rootfs")
	files := map[string]string{} // path in the image -> host path
	for _, b := range bins {
		// The image keeps Debian's paths: /usr/bin/git (git's compiled-in exec path is
		// /usr/lib/git-core, where it finds itself on PATH otherwise), /usr/bin/ssh.
		files[filepath.Join("/usr/bin", filepath.Base(b))] = b
		libs, err := sharedLibraries(ctx, b)
		if err != nil {
			return "", err
		}
		for _, l := range libs {
			files[l] = l
		}
	}
	for dst, src := range files {
		if err := os.MkdirAll(filepath.Join(rootfs, filepath.Dir(dst)), 0o755); err != nil {
			return "", err
		}
		// copyFile follows symbolic links: libz.so.1 arrives as a file with the library's bytes.
		if err := copyFile(src, filepath.Join(rootfs, dst), 0o755); err != nil {
			return "", fmt.Errorf("git image: copying %s: %w", src, err)
		}
	}
	for _, f := range []struct{ path, data string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
		{"etc/group", "root:x:0:\n"},
		{"root/.keep", ""},
		{"tmp/.keep", ""},
	} {
		p := filepath.Join(rootfs, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), fmt.Appendf(nil, gitImageDockerfile, s.BaseImage), 0o600); err != nil {
		return "", err
	}
	ref := s.Registry.Host + "/" + GitImageRepo + ":latest"
	if err := s.BuildKit.Build(ctx, BuildOptions{ContextDir: dir, Push: ref}); err != nil {
		return "", fmt.Errorf("git image: %w", err)
	}
	s.gitImage = ref
	return ref, nil
}

// sharedLibraries lists the absolute paths of the shared libraries bin loads, its ELF
// interpreter included, as ldd resolves them on this host.
func sharedLibraries(ctx context.Context, bin string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("git image: ldd %s: %w (ldd comes with Debian's libc-bin)", bin, err)
	}
	libs, err := parseLdd(out)
	if err != nil {
		return nil, fmt.Errorf("git image: %s: %w", bin, err)
	}
	return libs, nil
}

// parseLdd reads ldd's output: "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x…)" lines and
// the interpreter's "/lib64/ld-linux-x86-64.so.2 (0x…)"; the vDSO has no file. A library ldd
// cannot find is an error naming it.
func parseLdd(out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("needs %s, which is not found on this host", f[0])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	return libs, sc.Err()
}
