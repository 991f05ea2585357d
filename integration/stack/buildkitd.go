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

// BuildKit is a running buildkitd. It serves the same daemon on two addresses: a unix socket
// without TLS and a loopback TCP port that requires mutual TLS.
type BuildKit struct {
	// Address is the daemon's gRPC address, "unix:///…/buildkitd.sock".
	Address string
	// TLSAddress is "tcp://127.0.0.1:PORT": the daemon behind mTLS. The server's certificate
	// names 127.0.0.1 and localhost; a client must present a certificate signed by the stack's CA
	// (TLSClient), or the handshake is refused.
	TLSAddress string
	// TLSClient are the client's files (ca.pem, cert.pem, key.pem; buildctl --tlsdir TLSClient.Dir).
	TLSClient TLSFiles
	// Root is the daemon's state directory.
	Root string
	// Snapshotter is "overlayfs", or "native" where overlay mounts are unavailable.
	Snapshotter string
	proc        *process
}

// TLSClientOpts are the BuildKit client options that reach TLSAddress with the stack's
// client certificate: client.New(ctx, b.TLSAddress, b.TLSClientOpts()...).
func (b *BuildKit) TLSClientOpts() []client.ClientOpt {
	return []client.ClientOpt{
		client.WithServerConfig("127.0.0.1", b.TLSClient.CACert),
		client.WithCredentials(b.TLSClient.Cert, b.TLSClient.Key),
	}
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
  address = [%q, %q]
[grpc.tls]
  cert = %q
  key = %q
  ca = %q
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
// inside its root, and the overlayfs snapshotter where the kernel and file system allow it. It
// listens on a unix socket (no TLS: buildkitd never applies TLS to unix sockets) and on a free
// loopback port with mTLS, with certificates minted here under dir/tls.
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
	server, clientFiles, err := mintMTLS(filepath.Join(dir, "tls"))
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tlsAddr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "buildkitd.toml")
	dt := fmt.Appendf(nil, buildkitdConfig, root, addr, tlsAddr, server.Cert, server.Key, server.CACert, snap, bins.Runc)
	if err := os.WriteFile(cfg, dt, 0o600); err != nil {
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
	bk := &BuildKit{Address: addr, TLSAddress: tlsAddr, TLSClient: clientFiles, Root: root, Snapshotter: snap, proc: p}
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		if err := listWorkers(ctx, addr); err != nil {
			return err
		}
		// Both listeners open before buildkitd serves either, but the TLS one is what a
		// misconfigured certificate would break: prove it too.
		if err := listWorkers(ctx, tlsAddr, bk.TLSClientOpts()...); err != nil {
			return fmt.Errorf("over mTLS at %s: %w", tlsAddr, err)
		}
		return nil
	})
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	return bk, nil
}

// listWorkers dials addr with opts and asks for the daemon's workers: buildkitd is ready when
// it lists at least one.
func listWorkers(ctx context.Context, addr string, opts ...client.ClientOpt) error {
	c, err := client.New(ctx, addr, opts...)
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
