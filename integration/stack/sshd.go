package stack

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHD is a running OpenSSH server on loopback that serves git repositories to the login
// SSHUser ("git") holding a certificate from the stack's Vault SSH CA, and nothing else: no
// password, no plain public key, no shell, no forwarding.
//
// The login "git" exists only for this sshd: it runs under nss_wrapper (Debian's
// libnss-wrapper) with a passwd file that adds git as a second name for uid 0. The machine's
// users are never changed, parallel stacks cannot race on /etc/passwd, an existing git user
// (gitolite, a developer's) is neither needed nor touched, and the repositories need no
// ownership or permission changes inside the stack's 0700 directory. What that login may run
// is fixed by ForceCommand: git-upload-pack, git-receive-pack and git-upload-archive of a
// repository under GitRoot, so the uid does not widen what a certificate can do.
type SSHD struct {
	// Host is "127.0.0.1:PORT"; Port is PORT.
	Host string
	Port int
	// GitRoot is the directory of bare repositories: GitRoot/NAME.git is served at
	// ssh://git@HOST/NAME.git. Tests may add their own.
	GitRoot string
	// RepoURL is "ssh://git@127.0.0.1:PORT/repo.git", the seeded repository.
	RepoURL string
	// RepoDir is that repository on disk (bare), holding one commit on main (RepoCommit) with
	// the file RepoFile whose content is RepoContent.
	RepoDir, RepoCommit string
	// HostPublicKey is the server's host key in authorized_keys form; KnownHosts is a file
	// pinning it for "[127.0.0.1]:PORT" (ssh -o UserKnownHostsFile=KnownHosts).
	HostPublicKey, KnownHosts string
	proc                      *process
}

// The seeded repository's one file.
const (
	RepoFile    = "README"
	RepoContent = "served by the safebuild stack's sshd\n"
)

// SSHCommand is an ssh command line for GIT_SSH_COMMAND that logs in with the private key file
// identity (and identity-cert.pub next to it, which ssh loads itself), checks the host key
// against KnownHosts, reads no user or system configuration and never prompts.
func (d *SSHD) SSHCommand(identity string) string {
	return "ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none" +
		" -o StrictHostKeyChecking=yes -o UserKnownHostsFile=" + d.KnownHosts + " -i " + identity
}

// SSHD returns the stack's git server, starting it on first use (later calls return the same
// one; a failed start is retried on the next call). Only the SSH tests need it, so a machine
// without openssh-server or libnss-wrapper still runs every other test; the error names the
// missing package. It stops with the stack.
func (s *Stack) SSHD(ctx context.Context) (*SSHD, error) {
	s.sshdMu.Lock()
	defer s.sshdMu.Unlock()
	if s.sshd != nil {
		return s.sshd, nil
	}
	d, err := startSSHD(ctx, s.Dir, s.LogDir, s.Vault.SSHCAPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w\n(stack logs in %s)", err, s.LogDir)
	}
	if err := s.adopt(d.proc); err != nil {
		return nil, err
	}
	s.sshd = d
	return d, nil
}

// sshdBinaries are what the git server needs from Debian.
type sshdBinaries struct{ sshd, git, nssWrapper string }

func findSSHDBinaries() (sshdBinaries, error) {
	var b sshdBinaries
	var missing []string
	// sshd re-executes itself per connection and insists on an absolute path.
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd"} {
		if isExecutable(p) {
			b.sshd = p
			break
		}
	}
	if b.sshd == "" {
		missing = append(missing, "sshd (apt-get install -y openssh-server)")
	}
	if p, err := exec.LookPath("git"); err == nil {
		b.git = p
	} else {
		missing = append(missing, "git (apt-get install -y git)")
	}
	libs, _ := filepath.Glob("/usr/lib/*/libnss_wrapper.so")
	libs2, _ := filepath.Glob("/usr/lib/libnss_wrapper.so")
	if libs = append(libs, libs2...); len(libs) > 0 {
		b.nssWrapper = libs[0]
	} else {
		missing = append(missing, "libnss_wrapper.so (apt-get install -y libnss-wrapper)")
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("sshd: missing prerequisites (run `make deps`):\n  %s", strings.Join(missing, "\n  "))
	}
	return b, nil
}

const sshdConfig = `# The safebuild stack's git server: certificates from Vault's SSH CA only, git only.
ListenAddress 127.0.0.1
HostKey %[1]s/host_ed25519
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile none
TrustedUserCAKeys %[1]s/trusted_user_ca.pub
AllowUsers %[2]s
# git is uid 0 under nss_wrapper: allow key (certificate) logins for it, nothing else.
PermitRootLogin prohibit-password
ForceCommand %[1]s/git-serve
AcceptEnv GIT_PROTOCOL
DisableForwarding yes
PermitTTY no
PermitUserRC no
PermitUserEnvironment no
StrictModes no
LogLevel VERBOSE
`

// gitServeScript is the ForceCommand for repositories under root, served by the git binary at git.
func gitServeScript(root, git string) []byte {
	return fmt.Appendf(nil, gitServe, shQuote(root), shQuote(git))
}

// gitServe is the ForceCommand: it runs the one git service the client asked for on a
// repository under the git root, refusing everything else. Git sends
// "git-upload-pack '/repo.git'"; the path is absolute in the URL and is mapped into the root.
const gitServe = `#!/bin/sh
# ForceCommand of the safebuild stack's sshd: git fetch/push/archive of repositories under root.
set -f
root=%[1]s
git=%[2]s
cmd=${SSH_ORIGINAL_COMMAND%%%% *}
arg=${SSH_ORIGINAL_COMMAND#* }
case "$cmd" in
git-upload-pack|git-receive-pack|git-upload-archive) ;;
*) echo "safebuild stack sshd: only git fetch and push are served" >&2; exit 1 ;;
esac
case "$arg" in
"'/"*"'") ;;
*) echo "safebuild stack sshd: expected one quoted absolute repository path" >&2; exit 1 ;;
esac
path=${arg#"'/"}
path=${path%%"'"}
case "$path" in
""|*..*|*"'"*|*" "*) echo "safebuild stack sshd: bad repository path" >&2; exit 1 ;;
esac
if [ ! -d "$root/$path" ]; then
  echo "safebuild stack sshd: no repository /$path" >&2
  exit 1
fi
exec "$git" "${cmd#git-}" "$root/$path"
`

func startSSHD(ctx context.Context, dir, logDir, caPublicKey string) (*SSHD, error) {
	if caPublicKey == "" {
		return nil, errors.New("sshd: the stack's Vault has no SSH CA public key")
	}
	bins, err := findSSHDBinaries()
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "sshd")
	gitRoot := filepath.Join(home, "git")
	if err := os.MkdirAll(gitRoot, 0o700); err != nil {
		return nil, err
	}
	// sshd's privilege-separation directory is compiled in; Debian's service unit creates it
	// at boot, a machine that never ran the service has none.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("sshd: creating its privilege separation directory /run/sshd: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d := &SSHD{
		Host:       "127.0.0.1:" + strconv.Itoa(port),
		Port:       port,
		GitRoot:    gitRoot,
		RepoURL:    fmt.Sprintf("ssh://%s@127.0.0.1:%d/repo.git", SSHUser, port),
		RepoDir:    filepath.Join(gitRoot, "repo.git"),
		KnownHosts: filepath.Join(home, "known_hosts"),
	}
	hostPub, hostPEM, err := newED25519Key("safebuild-stack-sshd")
	if err != nil {
		return nil, err
	}
	d.HostPublicKey = hostPub
	passwd, err := nssPasswd(home)
	if err != nil {
		return nil, err
	}
	group, err := os.ReadFile("/etc/group")
	if err != nil {
		return nil, fmt.Errorf("sshd: reading /etc/group for nss_wrapper: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"host_ed25519", hostPEM, 0o600},
		{"trusted_user_ca.pub", []byte(caPublicKey + "\n"), 0o644},
		{"sshd_config", fmt.Appendf(nil, sshdConfig, home, SSHUser), 0o600},
		{"git-serve", gitServeScript(gitRoot, bins.git), 0o755},
		{"passwd", passwd, 0o644},
		{"group", group, 0o644},
		{"known_hosts", []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", port, hostPub)), 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(home, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	if d.RepoCommit, err = seedRepo(ctx, bins.git, home, d.RepoDir); err != nil {
		return nil, err
	}
	env := baseEnv(
		"LD_PRELOAD="+bins.nssWrapper,
		"NSS_WRAPPER_PASSWD="+filepath.Join(home, "passwd"),
		"NSS_WRAPPER_GROUP="+filepath.Join(home, "group"),
	)
	args := []string{"-D", "-e", "-f", filepath.Join(home, "sshd_config"), "-p", strconv.Itoa(port)}
	p, err := startProcess("sshd", logDir, bins.sshd, args, env)
	if err != nil {
		return nil, err
	}
	d.proc = p
	err = p.waitReady(ctx, 20*time.Second, func(ctx context.Context) error {
		return sshBanner(ctx, d.Host)
	})
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	return d, nil
}

// nssPasswd is the machine's passwd (sshd needs its privilege-separation user "sshd" and root)
// with any git entry replaced by git as a second name for uid 0, home dir, shell /bin/sh (sshd
// runs ForceCommand through the login shell).
func nssPasswd(home string) ([]byte, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("sshd: reading /etc/passwd for nss_wrapper: %w", err)
	}
	defer f.Close()
	var out []byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), SSHUser+":") {
			continue
		}
		out = append(append(out, sc.Text()...), '\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return fmt.Appendf(out, "%s:*:0:0:safebuild stack git:%s:/bin/sh\n", SSHUser, home), nil
}

// seedRepo creates the bare repository repo with one commit on main holding RepoFile, and
// returns the commit's hash. git reads no system or user configuration here.
func seedRepo(ctx context.Context, git, home, repo string) (string, error) {
	work, err := os.MkdirTemp(home, "seed-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	if err := os.WriteFile(filepath.Join(work, RepoFile), []byte(RepoContent), 0o644); err != nil {
		return "", err
	}
	env := gitEnv(home)
	run := func(dir string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, git, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("sshd: seeding %s: git %s: %v\n%s", repo, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	steps := [][]string{
		{"init", "-q", "--bare", "--initial-branch=main", repo},
		{"init", "-q", "--initial-branch=main", work},
		{"-C", work, "add", RepoFile},
		{"-C", work, "commit", "-q", "-m", "seed"},
		{"-C", work, "push", "-q", repo, "main"},
	}
	for _, s := range steps {
		if _, err := run(home, s...); err != nil {
			return "", err
		}
	}
	return run(home, "-C", repo, "rev-parse", "main")
}

// gitEnv is the environment of the harness's own git commands: no system or global config, a
// fixed identity, HOME in the stack.
func gitEnv(home string) []string {
	return baseEnv("HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=safebuild stack", "GIT_AUTHOR_EMAIL=stack@safebuild.test",
		"GIT_COMMITTER_NAME=safebuild stack", "GIT_COMMITTER_EMAIL=stack@safebuild.test")
}

// newED25519Key generates an ed25519 key pair: the public key in authorized_keys form (without
// newline) and the private key in OpenSSH PEM form, unencrypted.
func newED25519Key(comment string) (pub string, private []byte, err error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return "", nil, err
	}
	sshPub, err := ssh.NewPublicKey(pk)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), pem.EncodeToMemory(block), nil
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshBanner is sshd's readiness: the port answers with an SSH identification string.
func sshBanner(ctx context.Context, host string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("%s answered %q, not an SSH banner", host, strings.TrimSpace(line))
	}
	return nil
}
