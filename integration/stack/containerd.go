package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/client"
)

// Containerd is a running containerd with its own root, state and socket.
type Containerd struct {
	// Address is the socket path.
	Address string
	proc    *process
}

const containerdConfig = `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[ttrpc]
  address = %q
`

// StartContainerd runs Debian's containerd as root on a socket in a new directory under the
// stack's. Tests that need an image store start it and Stop it themselves; it is not part of Start.
func (s *Stack) StartContainerd(ctx context.Context) (*Containerd, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("containerd not found (apt-get install -y containerd): %w", err)
	}
	dir, err := os.MkdirTemp(s.Dir, "containerd-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "containerd.sock")
	cfg := filepath.Join(dir, "config.toml")
	dt := fmt.Appendf(nil, containerdConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(cfg, dt, 0o600); err != nil {
		return nil, err
	}
	p, err := startProcess("containerd", s.LogDir, bin, []string{"--config", cfg}, baseEnv("TMPDIR="+dir))
	if err != nil {
		return nil, err
	}
	err = p.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		c, err := client.New(sock, client.WithTimeout(2*time.Second))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Version(ctx)
		return err
	})
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	if err := s.adopt(p); err != nil {
		return nil, err
	}
	return &Containerd{Address: sock, proc: p}, nil
}

// Stop stops containerd by PID.
func (c *Containerd) Stop() error { return c.proc.stop(10 * time.Second) }
