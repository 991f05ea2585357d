package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Registry is a running distribution registry serving plain HTTP on loopback.
type Registry struct {
	// Host is "127.0.0.1:PORT", the prefix of image references pushed to it.
	Host string
	proc *process
}

const registryConfig = `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`

func startRegistry(ctx context.Context, bins *Binaries, dir, logDir string) (*Registry, error) {
	storage := filepath.Join(dir, "registry")
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, registryConfig, storage, host), 0o600); err != nil {
		return nil, err
	}
	p, err := startProcess("registry", logDir, bins.Registry, []string{"serve", cfg}, baseEnv())
	if err != nil {
		return nil, err
	}
	err = p.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, "http://"+host+"/v2/")
	})
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	return &Registry{Host: host, proc: p}, nil
}

// freePort asks the kernel for a free loopback port. Vault reports port 0 wrongly, so every
// server gets a concrete port picked here.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
