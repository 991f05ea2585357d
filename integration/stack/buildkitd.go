package stack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/buildkit/client"
	"golang.org/x/sys/unix"
)

// BuildKit is a running buildkitd.
type BuildKit struct {
	// Address is the daemon's gRPC address, "unix:///…/buildkitd.sock".
	Address string
	// Root is the daemon's state directory.
	Root string
	// Snapshotter is "overlayfs", or "native" where overlay mounts are unavailable.
	Snapshotter string
	proc        *process
}

// Client dials the daemon. The caller closes it.
func (b *BuildKit) Client(ctx context.Context) (*client.Client, error) {
	c, err := client.New(ctx, b.Address)
	if err != nil {
		return nil, fmt.Errorf("connecting to buildkitd at %s: %w", b.Address, err)
	}
	return c, nil
}

const buildkitdConfig = `root = %q
[grpc]
  address = [%q]
[worker.oci]
  enabled = true
  snapshotter = %q
  gc = false
  networkMode = "host"
  binary = %q
[worker.containerd]
  enabled = false
`

// startBuildKit runs buildkitd as root with Debian's runc, gc off, host networking, its TMPDIR
// inside its root, and the overlayfs snapshotter where the kernel and file system allow it.
func startBuildKit(ctx context.Context, bins *Binaries, dir, logDir string) (*BuildKit, error) {
	root := filepath.Join(dir, "buildkitd")
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	snap := "overlayfs"
	if err := probeOverlay(dir); err != nil {
		snap = "native"
		fmt.Fprintf(os.Stderr, "stack: overlay mounts unavailable under %s (%v); buildkitd uses the native snapshotter\n", dir, err)
	}
	sock := filepath.Join(dir, "buildkitd.sock")
	addr := "unix://" + sock
	cfg := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, buildkitdConfig, root, addr, snap, bins.Runc), 0o600); err != nil {
		return nil, err
	}
	env := baseEnv("TMPDIR=" + tmp)
	if snap != "native" {
		env = append(env, "BUILDKIT_DEBUG_FORCE_OVERLAY_DIFF=true")
	}
	p, err := startProcess("buildkitd", logDir, bins.BuildKitd, []string{"--config", cfg, "--oci-worker-net=host", "--debug"}, env)
	if err != nil {
		return nil, err
	}
	bk := &BuildKit{Address: addr, Root: root, Snapshotter: snap, proc: p}
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		c, err := client.New(ctx, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ws, err := c.ListWorkers(cctx)
		if err != nil {
			return err
		}
		if len(ws) == 0 {
			return fmt.Errorf("no workers yet")
		}
		return nil
	})
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	return bk, nil
}

// probeOverlay mounts a throwaway overlay in dir: the only reliable test of whether the kernel
// and dir's file system support the overlayfs snapshotter (a nested overlay does not).
func probeOverlay(dir string) error {
	p, err := os.MkdirTemp(dir, "overlay-probe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(p)
	for _, d := range []string{"lower", "upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(p, d), 0o700); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", filepath.Join(p, "lower"), filepath.Join(p, "upper"), filepath.Join(p, "work"))
	merged := filepath.Join(p, "merged")
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return err
	}
	return unix.Unmount(merged, 0)
}
