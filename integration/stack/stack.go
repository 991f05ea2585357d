package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Stack is a running test stack.
type Stack struct {
	// Dir holds every component's state; LogDir their logs.
	Dir, LogDir string
	Binaries    *Binaries
	BuildKit    *BuildKit
	Registry    *Registry
	// AuthRegistry requires the basic-auth account whose password is also in Vault at
	// RegistryCredsPath.
	AuthRegistry *AuthRegistry
	Vault        *Vault
	// BaseImage is the reference of the busybox base image in Registry (AuthRegistry.BaseImage
	// is the same image in AuthRegistry).
	BaseImage string

	mu      sync.Mutex
	stopped bool
	extra   []*process // started after Start, e.g. containerd, sshd

	sshdMu sync.Mutex // held while SSHD starts the git server
	sshd   *SSHD

	gitImageMu sync.Mutex // held while GitImage builds
	gitImage   string
}

// Start brings the whole stack up in a new temporary directory. It fails, naming the missing
// piece, when not run as root or when a binary is missing. On error everything already started
// is stopped again.
func Start(ctx context.Context) (_ *Stack, retErr error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("integration stack: must run as root (buildkitd runs containers with runc); use `go test -short` to skip the integration tests")
	}
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "safebuild-stack-")
	if err != nil {
		return nil, err
	}
	s := &Stack{Dir: dir, LogDir: filepath.Join(dir, "logs"), Binaries: bins}
	if err := os.MkdirAll(s.LogDir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = fmt.Errorf("%w\n(stack logs kept in %s)", retErr, s.LogDir)
			s.stop(true)
		}
	}()

	// The authenticated registry's account: generated here, given to the registry (as a bcrypt
	// entry) and to Vault (the KV secret CI reads), never printed.
	regUser, err := randomHex(4)
	if err != nil {
		return nil, err
	}
	regUser = "ci-" + regUser
	regPassword, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	kv := map[string]map[string]any{
		strings.TrimPrefix(RegistryCredsPath, "secret/"): {"username": regUser, "password": regPassword},
	}

	var wg sync.WaitGroup
	var bkErr, regErr, authErr, vaultErr error
	wg.Add(4)
	go func() { defer wg.Done(); s.BuildKit, bkErr = startBuildKit(ctx, bins, dir, s.LogDir) }()
	go func() { defer wg.Done(); s.Registry, regErr = startRegistry(ctx, bins, dir, s.LogDir) }()
	go func() {
		defer wg.Done()
		s.AuthRegistry, authErr = startAuthRegistry(ctx, bins, dir, s.LogDir, regUser, regPassword)
	}()
	go func() { defer wg.Done(); s.Vault, vaultErr = startVault(ctx, bins, dir, s.LogDir, kv) }()
	wg.Wait()
	if err := errors.Join(bkErr, regErr, authErr, vaultErr); err != nil {
		return nil, err
	}
	s.BaseImage, err = buildBaseImage(ctx, s.BuildKit, s.Registry, bins.Busybox, dir)
	if err != nil {
		return nil, err
	}
	s.AuthRegistry.BaseImage, err = pushBaseImage(ctx, s.BaseImage, s.AuthRegistry)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Env is the environment a person or a child process uses to reach the stack. It holds no
// credential: the Vault root token is printed separately by the stack command, the
// authenticated registry's account is in Vault at RegistryCredsPath. The mTLS address of
// buildkitd comes with the directory of its client files (buildctl --tlsdir). The git server is
// in it once SSHD has started it.
func (s *Stack) Env() []string {
	env := []string{
		"BUILDKIT_HOST=" + s.BuildKit.Address,
		"VAULT_ADDR=" + s.Vault.Address,
		"SAFEBUILD_REGISTRY=" + s.Registry.Host,
		"SAFEBUILD_BASE_IMAGE=" + s.BaseImage,
		"SAFEBUILD_AUTH_REGISTRY=" + s.AuthRegistry.Host,
		"SAFEBUILD_AUTH_BASE_IMAGE=" + s.AuthRegistry.BaseImage,
		"SAFEBUILD_BUILDKIT_TLS_HOST=" + s.BuildKit.TLSAddress,
		"SAFEBUILD_BUILDKIT_TLS_DIR=" + s.BuildKit.TLSClient.Dir,
		"SAFEBUILD_VAULT_AUDIT_LOG=" + s.Vault.AuditLog,
	}
	s.sshdMu.Lock()
	if s.sshd != nil {
		env = append(env, "SAFEBUILD_GIT_SSH_URL="+s.sshd.RepoURL)
	}
	s.sshdMu.Unlock()
	return env
}

// Stop stops every component by PID. With keepLogs the log directory survives (its path is
// printed); the components' state is removed either way.
func (s *Stack) Stop(keepLogs bool) error {
	return s.stop(keepLogs)
}

func (s *Stack) stop(keepLogs bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil
	}
	s.stopped = true
	var errs []error
	for _, p := range s.procs() {
		if err := p.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unmountUnder(s.Dir); err != nil {
		errs = append(errs, err)
	}
	entries, _ := os.ReadDir(s.Dir)
	for _, e := range entries {
		if keepLogs && e.Name() == filepath.Base(s.LogDir) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.Dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("removing stack state: %w", err))
		}
	}
	if keepLogs {
		fmt.Fprintf(os.Stderr, "stack: logs kept in %s\n", s.LogDir)
	} else if err := os.Remove(s.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// adopt makes p, started after Start, one of the processes Stop stops. If Stop already ran
// (it could not see p), p is stopped now and the error says so.
func (s *Stack) adopt(p *process) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		_ = p.stop(5 * time.Second)
		return fmt.Errorf("%s: the stack was stopped while it started", p.name)
	}
	s.extra = append(s.extra, p)
	return nil
}

func (s *Stack) procs() []*process {
	ps := append([]*process(nil), s.extra...)
	if s.Vault != nil {
		ps = append(ps, s.Vault.proc)
	}
	if s.Registry != nil {
		ps = append(ps, s.Registry.proc)
	}
	if s.AuthRegistry != nil {
		ps = append(ps, s.AuthRegistry.proc)
	}
	if s.BuildKit != nil {
		ps = append(ps, s.BuildKit.proc)
	}
	return ps
}

// unmountUnder lazily unmounts whatever a killed buildkitd may have left mounted below dir, deepest
// first, so that removing the state directory cannot fail with EBUSY.
func unmountUnder(dir string) error {
	dt, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var mounts []string
	for _, line := range strings.Split(string(dt), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mounts = append(mounts, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}
