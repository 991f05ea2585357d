package stack

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGitServe runs the sshd ForceCommand with /bin/echo standing in for git: it serves the
// three git services on a repository under the root and refuses everything else.
func TestGitServe(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "repo.git"), 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "git-serve")
	if err := os.WriteFile(script, gitServeScript(root, "/bin/echo"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd, want string // want "" means refused
	}{
		{"git-upload-pack '/repo.git'", "upload-pack " + root + "/repo.git"},
		{"git-receive-pack '/repo.git'", "receive-pack " + root + "/repo.git"},
		{"git-upload-archive '/repo.git'", "upload-archive " + root + "/repo.git"},
		{"git-upload-pack '/missing.git'", ""},
		{"git-upload-pack '/../etc'", ""},
		{"git-upload-pack '/repo.git'; id", ""},
		{"git-upload-pack '/repo.git' '/repo.git'", ""},
		{"git-upload-pack repo.git", ""},
		{"git-upload-pack ''", ""},
		{"id", ""},
		{"sh -c 'id'", ""},
		{"", ""},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "SSH_ORIGINAL_COMMAND=" + tc.cmd}
			out, err := cmd.Output()
			if tc.want == "" {
				if err == nil {
					t.Fatalf("served: %q", out)
				}
				return
			}
			if err != nil || strings.TrimSpace(string(out)) != tc.want {
				t.Fatalf("got %q (%v), want %q", out, err, tc.want)
			}
		})
	}
}

func TestParseLdd(t *testing.T) {
	out := `	linux-vdso.so.1 (0x00007ffd)
	libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f15)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f15)
	/lib64/ld-linux-x86-64.so.2 (0x00007f15)
`
	got, err := parseLdd([]byte(out))
	want := []string{"/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("parseLdd = %v, %v; want %v", got, err, want)
	}
	if _, err := parseLdd([]byte("\tlibgone.so.1 => not found\n")); err == nil || !strings.Contains(err.Error(), "libgone.so.1") {
		t.Errorf("missing library: err = %v", err)
	}
}

// TestMintMTLS: the server certificate verifies for 127.0.0.1 and localhost and the client
// certificate for client auth, both against the CA written next to them; neither is a CA.
func TestMintMTLS(t *testing.T) {
	server, client, err := mintMTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		files TLSFiles
		usage x509.ExtKeyUsage
		names []string
	}{
		{server, x509.ExtKeyUsageServerAuth, []string{"127.0.0.1", "localhost"}},
		{client, x509.ExtKeyUsageClientAuth, []string{""}},
	} {
		pair, err := tls.LoadX509KeyPair(tc.files.Cert, tc.files.Key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if leaf.IsCA {
			t.Errorf("%s is a CA", tc.files.Cert)
		}
		pool := x509.NewCertPool()
		ca, err := os.ReadFile(tc.files.CACert)
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(ca) {
			t.Fatalf("%s: no certificate", tc.files.CACert)
		}
		for _, n := range tc.names {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: n, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Errorf("%s for %q: %v", tc.files.Cert, n, err)
			}
		}
		if fi, err := os.Stat(tc.files.Key); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", tc.files.Key, fi.Mode().Perm(), err)
		}
	}
}

func TestNSSPasswd(t *testing.T) {
	dt, err := nssPasswd("/stack/sshd")
	if err != nil {
		t.Fatal(err)
	}
	var git []string
	for _, l := range strings.Split(string(dt), "\n") {
		if strings.HasPrefix(l, SSHUser+":") {
			git = append(git, l)
		}
	}
	if want := SSHUser + ":*:0:0:safebuild stack git:/stack/sshd:/bin/sh"; len(git) != 1 || git[0] != want {
		t.Errorf("git entries %q, want exactly %q", git, want)
	}
	if !strings.HasPrefix(string(dt), "root:") {
		t.Error("the machine's entries (root first) are not kept")
	}
}

func TestShQuote(t *testing.T) {
	for in, want := range map[string]string{"/tmp/a": "'/tmp/a'", "it's": `'it'\''s'`, "": "''"} {
		if got := shQuote(in); got != want {
			t.Errorf("shQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
