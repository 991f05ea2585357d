package stack

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/tonistiigi/fsutil"
)

// BaseImageRepo is the repository, under the stack's registry, of the busybox base image.
const BaseImageRepo = "safebuild/busybox"

const baseImageDockerfile = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
`

// buildBaseImage builds FROM scratch + Debian's static busybox with the stack's buildkitd and
// pushes it to the stack's registry: nothing can be pulled from the internet here.
func buildBaseImage(ctx context.Context, bk *BuildKit, reg *Registry, busybox, dir string) (string, error) {
	if err := checkStatic(busybox); err != nil {
		return "", err
	}
	bctx := filepath.Join(dir, "base-image")
	if err := os.MkdirAll(bctx, 0o700); err != nil {
		return "", err
	}
	if err := copyFile(busybox, filepath.Join(bctx, "busybox"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(baseImageDockerfile), 0o600); err != nil {
		return "", err
	}
	ref := reg.Host + "/" + BaseImageRepo + ":latest"
	fs, err := fsutil.NewFS(bctx)
	if err != nil {
		return "", err
	}
	c, err := bk.Client(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_, err = c.Solve(ctx, nil, client.SolveOpt{
		Frontend:    "dockerfile.v0",
		LocalMounts: map[string]fsutil.FS{"context": fs, "dockerfile": fs},
		Exports: []client.ExportEntry{{
			Type:  client.ExporterImage,
			Attrs: map[string]string{"name": ref, "push": "true"},
		}},
	}, nil)
	if err != nil {
		return "", fmt.Errorf("building the busybox base image %s: %w", ref, err)
	}
	return ref, nil
}

// checkStatic refuses a dynamically linked busybox: it would not run in a FROM scratch image.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("busybox at %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox at %s is dynamically linked; the base image needs Debian's busybox-static (apt-get install -y busybox-static)", path)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pushBaseImage copies the base image at src (in the open registry) to the same repository and
// tag in the authenticated registry, with its credentials: builds there can start FROM a private base.
func pushBaseImage(ctx context.Context, src string, dst *AuthRegistry) (string, error) {
	ref := dst.Host + "/" + BaseImageRepo + ":latest"
	srcRef, err := name.ParseReference(src)
	if err != nil {
		return "", err
	}
	dstRef, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	img, err := remote.Image(srcRef, remote.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("reading the base image %s: %w", src, err)
	}
	if err := remote.Write(dstRef, img, remote.WithContext(ctx), remote.WithAuth(dst.Authenticator())); err != nil {
		return "", fmt.Errorf("pushing the base image to the authenticated registry as %s: %w", ref, err)
	}
	return ref, nil
}
