package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/hashicorp/vault/api"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestStackVaultLayout checks what the stack promises tests: KV v2 at secret/, KV v1 at kv1/,
// transit at transit/, SSH at ssh/, and JWT roles that take well-formed CI tokens and refuse bad ones. The
// login here is Vault's raw API; vaultsrc's own login is tested in vaultsrc_test.go.
func TestStackVaultLayout(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := root.Sys().ListMountsWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"secret/": "kv:2", "kv1/": "kv:1", "transit/": "transit:", "ssh/": "ssh:"} {
		m, ok := mounts[path]
		if !ok {
			t.Errorf("no mount at %s", path)
			continue
		}
		if got := m.Type + ":" + m.Options["version"]; got != want {
			t.Errorf("mount %s is %s, want %s", path, got, want)
		}
	}

	login := func(role string, claims map[string]any, key *ecdsa.PrivateKey) (*api.Secret, error) {
		var jwt string
		var err error
		if key != nil {
			jwt, err = stack.SignJWTWith(key, "safebuild-stack", claims)
		} else {
			jwt, err = s.Vault.SignJWT(claims)
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := root.Clone()
		if err != nil {
			t.Fatal(err)
		}
		c.ClearToken()
		return c.Logical().WriteWithContext(ctx, "auth/"+stack.JWTMount+"/login", map[string]any{"role": role, "jwt": jwt})
	}
	now := time.Now()
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	with := func(base map[string]any, k string, v any) map[string]any {
		m := map[string]any{}
		for bk, bv := range base {
			m[bk] = bv
		}
		m[k] = v
		return m
	}
	gh, gl := stack.GitHubClaims(now), stack.GitLabClaims(now)
	for _, tc := range []struct {
		name    string
		role    string
		claims  map[string]any
		key     *ecdsa.PrivateKey
		wantErr string
	}{
		{"github ok", stack.GitHubRole, gh, nil, ""},
		{"gitlab ok", stack.GitLabRole, gl, nil, ""},
		{"github wrong audience", stack.GitHubRole, with(gh, "aud", "https://elsewhere"), nil, "audience"},
		{"github wrong repository", stack.GitHubRole, with(gh, "repository", "evil/fork"), nil, `claim "repository"`},
		{"github wrong branch", stack.GitHubRole, with(gh, "ref", "refs/heads/feature"), nil, `claim "ref"`},
		{"github expired", stack.GitHubRole, with(with(gh, "exp", now.Add(-time.Hour).Unix()), "iat", now.Add(-2*time.Hour).Unix()), nil, "expired"},
		{"github forged", stack.GitHubRole, gh, forger, "signature"},
		{"gitlab token for github role", stack.GitHubRole, gl, nil, "claim"},
		{"gitlab unprotected branch", stack.GitLabRole, with(gl, "ref_protected", "false"), nil, `claim "ref_protected"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec, err := login(tc.role, tc.claims, tc.key)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("login refused: %v", err)
				}
				if sec == nil || sec.Auth == nil || sec.Auth.ClientToken == "" {
					t.Fatal("login returned no token")
				}
				if got := sec.Auth.Policies; len(got) != 1 || got[0] != stack.CIPolicy {
					t.Errorf("policies = %v, want only %s (token_no_default_policy)", got, stack.CIPolicy)
				}
				return
			}
			if err == nil {
				t.Fatalf("login accepted; want an error mentioning %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

// ciClient logs in to the stack's Vault as the GitHub CI role (raw API) and returns a client
// holding only that token: what a build job can do.
func ciClient(t *testing.T, s *stack.Stack) *api.Client {
	t.Helper()
	jwt, err := s.Vault.SignJWT(stack.GitHubClaims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	sec, err := c.Logical().WriteWithContext(context.Background(), "auth/"+stack.JWTMount+"/login",
		map[string]any{"role": stack.GitHubRole, "jwt": jwt})
	if err != nil {
		t.Fatalf("CI login: %v", err)
	}
	c.SetToken(sec.Auth.ClientToken)
	// Other tests count live CI tokens: leave none behind.
	t.Cleanup(func() { _ = c.Auth().Token().RevokeSelfWithContext(context.Background(), "") })
	return c
}

// TestStackAuthRegistry: the authenticated registry refuses anonymous and wrong credentials
// (401), takes a push and a pull with the account CI reads from Vault, holds the base image, and
// no log of the stack holds the password.
func TestStackAuthRegistry(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	reg := s.AuthRegistry

	kv, err := ciClient(t, s).KVv2("secret").Get(ctx, strings.TrimPrefix(stack.RegistryCredsPath, "secret/"))
	if err != nil {
		t.Fatalf("CI reading %s: %v", stack.RegistryCredsPath, err)
	}
	user, _ := kv.Data["username"].(string)
	password, _ := kv.Data["password"].(string)
	if user != reg.Username || password != reg.Password || len(password) < 32 {
		t.Fatalf("%s does not hold the registry's account (username %q, password of %d chars)", stack.RegistryCredsPath, user, len(password))
	}
	basic := &authn.Basic{Username: user, Password: password}

	for _, tc := range []struct {
		name       string
		user, pass string
		want       int
	}{
		{"anonymous", "", "", http.StatusUnauthorized},
		{"wrong password", user, "not-" + password, http.StatusUnauthorized},
		{"unknown user", "someone", password, http.StatusUnauthorized},
		{"account from Vault", user, password, http.StatusOK},
	} {
		t.Run("GET /v2/ "+tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+reg.Host+"/v2/", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}

	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, reg.Host+"/smoke/auth:1")
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err == nil {
		t.Error("anonymous push accepted")
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(basic)); err != nil {
		t.Fatalf("push with the account: %v", err)
	}
	if _, err := remote.Image(ref, remote.WithContext(ctx)); err == nil {
		t.Error("anonymous pull accepted")
	}
	got, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuth(basic))
	if err != nil {
		t.Fatalf("pull with the account: %v", err)
	}
	want, _ := img.Digest()
	if d, err := got.Digest(); err != nil || d != want {
		t.Errorf("pulled %v (%v), pushed %v", d, err, want)
	}

	if reg.BaseImage != reg.Host+"/"+stack.BaseImageRepo+":latest" {
		t.Errorf("BaseImage = %q", reg.BaseImage)
	}
	private, err := remote.Head(mustRef(t, reg.BaseImage), remote.WithContext(ctx), remote.WithAuth(basic))
	if err != nil {
		t.Fatalf("base image in the authenticated registry: %v", err)
	}
	open, err := remote.Head(mustRef(t, s.BaseImage), remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if private.Digest != open.Digest {
		t.Errorf("base image digests differ: %s (auth) vs %s (open)", private.Digest, open.Digest)
	}

	if hits := searchTree(t, s.LogDir, [][]byte{[]byte(password)}); len(hits) > 0 {
		t.Errorf("the registry password is in the stack's logs: %v", hits)
	}
	for _, e := range s.Env() {
		if strings.Contains(e, password) {
			t.Error("the registry password is in the stack's Env()")
		}
	}
}

// TestStackVaultSSHCA: a CI token signs a fresh ed25519 key through ssh/sign/build; the
// certificate is a user certificate for git only, signed by the CA the stack exposes, with a
// TTL at most the one asked for; principals the role does not allow are refused.
func TestStackVaultSSHCA(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	ci := ciClient(t, s)
	pub, _ := newSSHKey(t)
	path := stack.SSHMount + "/sign/" + stack.SSHRole
	cert, _ := ciSignSSH(t, ci, pub, "2m")
	ca, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.Vault.SSHCAPublicKey))
	if err != nil {
		t.Fatalf("SSHCAPublicKey: %v", err)
	}
	if !bytes.Equal(cert.SignatureKey.Marshal(), ca.Marshal()) {
		t.Error("the certificate is not signed by the CA in SSHCAPublicKey")
	}
	if cert.CertType != ssh.UserCert || !slices.Equal(cert.ValidPrincipals, []string{stack.SSHUser}) {
		t.Errorf("certificate type %d principals %v, want a user certificate for [%s]", cert.CertType, cert.ValidPrincipals, stack.SSHUser)
	}
	if ttl := time.Until(time.Unix(int64(cert.ValidBefore), 0)); ttl > 2*time.Minute+5*time.Second || ttl < time.Minute {
		t.Errorf("certificate valid for %s more, want about 2m", ttl)
	}
	if _, err := ci.Logical().WriteWithContext(ctx, path, map[string]any{"public_key": pub, "valid_principals": "root"}); err == nil {
		t.Error("a certificate for root was signed")
	}
	if _, err := ci.Logical().WriteWithContext(ctx, stack.SSHMount+"/config/ca", map[string]any{"generate_signing_key": true}); err == nil {
		t.Error("the CI token could replace the SSH CA")
	}
}

// ciSignSSH has a CI token sign publicKey (authorized_keys form) through the stack's signing
// role for the git principal, valid for ttl ("2m"), and returns the parsed certificate and its
// authorized_keys form.
func ciSignSSH(t *testing.T, ci *api.Client, publicKey, ttl string) (*ssh.Certificate, string) {
	t.Helper()
	path := stack.SSHMount + "/sign/" + stack.SSHRole
	sec, err := ci.Logical().WriteWithContext(context.Background(), path,
		map[string]any{"public_key": publicKey, "valid_principals": stack.SSHUser, "ttl": ttl})
	if err != nil {
		t.Fatalf("CI signing at %s: %v", path, err)
	}
	signed, _ := sec.Data["signed_key"].(string)
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(signed))
	if err != nil {
		t.Fatalf("parsing the certificate: %v", err)
	}
	cert, ok := pk.(*ssh.Certificate)
	if !ok {
		t.Fatalf("signed_key is a %s, not a certificate", pk.Type())
	}
	return cert, signed
}

// newSSHKey writes a fresh unencrypted ed25519 key to a temp dir: its public key (authorized
// keys form) and the private key file's path.
func newSSHKey(t *testing.T) (pub, keyFile string) {
	t.Helper()
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(sk, "smoke")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))), keyFile
}

// TestStackSSHGit: the git server clones over SSH for a key whose certificate Vault signed
// (host key pinned), and refuses the same key unsigned, a certificate from another CA, and a
// shell command.
func TestStackSSHGit(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	d, err := s.SSHD(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.SSHD(ctx); err != nil || again != d {
		t.Fatalf("second SSHD call: %v, same server %v", err, again == d)
	}
	ci := ciClient(t, s)
	signedPub, signedKey := newSSHKey(t)
	_, signed := ciSignSSH(t, ci, signedPub, "2m")
	if err := os.WriteFile(signedKey+"-cert.pub", []byte(signed), 0o644); err != nil {
		t.Fatal(err)
	}
	_, plainKey := newSSHKey(t)
	// A certificate for git from a CA sshd does not trust.
	foreignPub, foreignKey := newSSHKey(t)
	_, caKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(caKey)
	if err != nil {
		t.Fatal(err)
	}
	fp, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(foreignPub))
	foreign := &ssh.Certificate{Key: fp, CertType: ssh.UserCert, KeyId: "foreign", ValidPrincipals: []string{stack.SSHUser},
		ValidAfter: uint64(time.Now().Add(-time.Minute).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix())}
	if err := foreign.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(foreignKey+"-cert.pub", ssh.MarshalAuthorizedKey(foreign), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(key string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = t.TempDir()
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cmd.Dir, "GIT_CONFIG_NOSYSTEM=1",
			"GIT_SSH_COMMAND=" + d.SSHCommand(key)}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct {
		name, key string
		wantErr   string
	}{
		{"vault-signed certificate", signedKey, ""},
		{"unsigned key", plainKey, "Permission denied"},
		{"certificate from another CA", foreignKey, "Permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "clone")
			out, err := run(tc.key, "git", "clone", "-q", d.RepoURL, dst)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("clone succeeded")
				}
				if !strings.Contains(out, tc.wantErr) {
					t.Errorf("clone output does not say %q:\n%s", tc.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("clone: %v\n%s", err, out)
			}
			dt, err := os.ReadFile(filepath.Join(dst, stack.RepoFile))
			if err != nil || string(dt) != stack.RepoContent {
				t.Errorf("%s in the clone: %q (%v)", stack.RepoFile, dt, err)
			}
		})
	}
	t.Run("no shell", func(t *testing.T) {
		args := append(strings.Fields(d.SSHCommand(signedKey)), "-p", strconv.Itoa(d.Port), stack.SSHUser+"@127.0.0.1", "id")
		out, err := run(signedKey, args...)
		if err == nil || !strings.Contains(out, "only git") {
			t.Errorf("a shell command ran (%v):\n%s", err, out)
		}
	})
}

// TestStackVaultAuditAndTransit: a workload's read through its AppRole is in the file audit log
// with its role name and the request path, and no value is in clear; the verdict key signs for
// CI and the signature verifies offline with the exported public key.
func TestStackVaultAuditAndTransit(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	w, err := s.Vault.Workload("web")
	if err != nil {
		t.Fatal(err)
	}
	wc, err := s.Vault.LoginWorkload(ctx, w.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = wc.Auth().Token().RevokeSelfWithContext(ctx, "") }()
	mount, path, _ := strings.Cut(w.Declared, "/")
	kv, err := wc.KVv2(mount).Get(ctx, path)
	if err != nil {
		t.Fatalf("workload %s reading its declared %s: %v", w.Name, w.Declared, err)
	}
	value, _ := kv.Data["value"].(string)
	if value == "" {
		t.Fatalf("%s has no field value", w.Declared)
	}
	if _, err := wc.KVv2(mount).Get(ctx, strings.TrimPrefix(w.Undeclared, mount+"/")); err != nil {
		t.Errorf("the policy does not let %s read %s: %v", w.Name, w.Undeclared, err)
	}
	other, err := s.Vault.Workload("batch")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.KVv2(mount).Get(ctx, strings.TrimPrefix(other.Declared, mount+"/")); err == nil {
		t.Errorf("%s read %s", w.Name, other.Declared)
	}

	dt, err := os.ReadFile(s.Vault.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(dt, []byte(value)) {
		t.Error("the audit log holds a secret value in clear")
	}
	wantPath := "secret/data/" + path
	var found int
	for line := range bytes.Lines(dt) {
		var e struct {
			Type    string `json:"type"`
			Request struct {
				Path      string `json:"path"`
				Operation string `json:"operation"`
			} `json:"request"`
			Auth struct {
				Metadata map[string]string `json:"metadata"`
				Policies []string          `json:"policies"`
			} `json:"auth"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit log line is not JSON: %v", err)
		}
		if e.Request.Path == wantPath && e.Request.Operation == "read" && e.Auth.Metadata["role_name"] == w.Name {
			found++
		}
	}
	if found < 2 { // a request and a response entry
		t.Errorf("%d audit entries for %s by role_name %s, want a request and a response", found, wantPath, w.Name)
	}

	ci := ciClient(t, s)
	msg := []byte("verdict smoke")
	sec, err := ci.Logical().WriteWithContext(ctx, "transit/sign/"+stack.VerdictKey, map[string]any{"input": base64.StdEncoding.EncodeToString(msg)})
	if err != nil {
		t.Fatalf("CI signing with transit/sign/%s: %v", stack.VerdictKey, err)
	}
	sig, _ := sec.Data["signature"].(string)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "vault:v1:"))
	if err != nil {
		t.Fatalf("signature %q: %v", sig, err)
	}
	block, _ := pem.Decode([]byte(s.Vault.VerdictPublicKey))
	if block == nil {
		t.Fatal("VerdictPublicKey is not PEM")
	}
	pk, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ecpk, ok := pk.(*ecdsa.PublicKey)
	if !ok || ecpk.Curve != elliptic.P256() {
		t.Fatalf("verdict key is %T, want ECDSA P-256", pk)
	}
	sum := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(ecpk, sum[:], raw) {
		t.Error("the transit signature does not verify with VerdictPublicKey")
	}
	if _, err := wc.Logical().WriteWithContext(ctx, "transit/sign/"+stack.VerdictKey, map[string]any{"input": base64.StdEncoding.EncodeToString(msg)}); err == nil {
		t.Error("a workload token could sign verdicts")
	}
}

// TestStackBuildKitMTLS: buildkitd's TCP address lists workers for a client with the stack's
// certificate and refuses one without a client certificate, and one without TLS.
func TestStackBuildKitMTLS(t *testing.T) {
	s := needStack(t)
	bk := s.BuildKit
	if !strings.HasPrefix(bk.TLSAddress, "tcp://127.0.0.1:") {
		t.Fatalf("TLSAddress = %q", bk.TLSAddress)
	}
	for _, f := range []string{bk.TLSClient.CACert, bk.TLSClient.Cert, bk.TLSClient.Key} {
		if filepath.Dir(f) != bk.TLSClient.Dir {
			t.Errorf("%s is not in %s (buildctl --tlsdir)", f, bk.TLSClient.Dir)
		}
	}
	for _, tc := range []struct {
		name    string
		opts    []bkclient.ClientOpt
		wantErr string // "" means the workers are listed
	}{
		{"client certificate", bk.TLSClientOpts(), ""},
		// Under TLS 1.3 the client learns of the refusal on its first read or write after the
		// handshake: "certificate required", or a broken pipe if its write comes first. The
		// raw handshake below pins the reason.
		{"no client certificate", []bkclient.ClientOpt{bkclient.WithServerConfig("127.0.0.1", bk.TLSClient.CACert)}, "Unavailable"},
		{"no TLS", nil, "Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := bkclient.New(ctx, bk.TLSAddress, tc.opts...)
			if err == nil {
				defer c.Close()
				var ws []*bkclient.WorkerInfo
				ws, err = c.ListWorkers(ctx)
				if err == nil && len(ws) == 0 {
					t.Fatal("no workers listed")
				}
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("listing workers over mTLS: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("listed workers")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("refused with %q, want it to mention %q", err, tc.wantErr)
			}
		})
	}
	t.Run("handshake without a client certificate", func(t *testing.T) {
		ca, err := os.ReadFile(bk.TLSClient.CACert)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		conn, err := tls.Dial("tcp", strings.TrimPrefix(bk.TLSAddress, "tcp://"), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("handshake (the server's certificate must verify for 127.0.0.1): %v", err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		if err == nil || !strings.Contains(err.Error(), "certificate required") {
			t.Errorf("read after the handshake: %v, want the server's \"certificate required\" alert", err)
		}
	})
}

// TestStackGitCloneInBuild: a plain BuildKit build FROM the stack's git image clones the git
// server's repository in RUN --mount=type=ssh through an in-memory agent holding a key and its
// Vault-signed certificate; without the ssh mount the same clone is refused.
func TestStackGitCloneInBuild(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	d, err := s.SSHD(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.GitImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := ciSignSSH(t, ciClient(t, s), string(ssh.MarshalAuthorizedKey(sp)), "5m")
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: sk, Certificate: cert, Comment: "vault-signed"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	provider, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: "default", Paths: []string{sock}}})
	if err != nil {
		t.Fatal(err)
	}
	clone := `GIT_SSH_COMMAND="ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/known_hosts" git clone -q ` + d.RepoURL + ` /repo && test "$(cat /repo/` + stack.RepoFile + `)" = "` + strings.TrimSpace(stack.RepoContent) + `"`
	for _, tc := range []struct {
		name, mount string
		ok          bool
	}{
		{"with the agent", "--mount=type=ssh ", true},
		{"without the agent", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			known, err := os.ReadFile(d.KnownHosts)
			if err != nil {
				t.Fatal(err)
			}
			df := "FROM " + img + "\nCOPY known_hosts /known_hosts\nRUN " + tc.mount + clone + "\n"
			for name, data := range map[string][]byte{"Dockerfile": []byte(df), "known_hosts": known} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var progress strings.Builder
			err = s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: dir, Session: []session.Attachable{provider}, Progress: &progress})
			if tc.ok && err != nil {
				t.Fatalf("%v\nprogress:\n%s", err, progress.String())
			}
			if !tc.ok {
				if err == nil {
					t.Fatalf("the clone worked without an agent\nprogress:\n%s", progress.String())
				}
				if !strings.Contains(progress.String(), "Permission denied (publickey)") {
					t.Errorf("the clone failed, but not for want of a key:\n%s", progress.String())
				}
			}
		})
	}
}
