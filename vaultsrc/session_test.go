package vaultsrc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safebuild/safebuild/vaultsrc/ciauth"
	"github.com/safebuild/safebuild/vaultsrc/internal/fakevault"
)

const (
	testAud  = "https://vault.example.com"
	testRepo = "octo-org/octo-repo"
)

// ciGrant is what the role's policy allows: the CI secrets plus the token self-service
// paths that token_no_default_policy=true would otherwise take away.
var ciGrant = fakevault.Grant{
	Allowed:   []string{"secret/data/ci/*", "auth/token/revoke-self", "auth/token/renew-self"},
	Renewable: true,
}

// jwtFake returns a fake Vault with KV data and a GitHub-bound JWT role "safebuild".
func jwtFake(t *testing.T, g fakevault.Grant) *fakevault.Server {
	t.Helper()
	fv, _ := newFake(t)
	fv.AddJWTRole("jwt", "safebuild", fakevault.JWTRole{
		BoundAudiences: []string{testAud},
		BoundClaims:    map[string]string{"repository": testRepo, "ref": "refs/heads/main"},
		Grant:          g,
	})
	return fv
}

// actions serves ACTIONS_ID_TOKEN_REQUEST_URL with tokens minted by fv's key.
func actions(t *testing.T, fv *fakevault.Server, claims func(aud string) map[string]any) ciauth.Source {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer runtime-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"value":%q}`, fv.Mint(t, claims(r.URL.Query().Get("audience"))))
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-token",
	}
	src, err := ciauth.GitHubActions(testAud, ciauth.WithGetenv(func(k string) string { return env[k] }))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// staticJWT is a source serving one fixed token, with no local checks.
type staticJWT string

func (s staticJWT) Token(context.Context) (string, error) { return string(s), nil }
func (s staticJWT) Name() string                          { return "test" }

func TestJWTLoginReadRevoke(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	src := actions(t, fv, func(aud string) map[string]any { return fakevault.GitHubClaims(aud, testRepo, "main") })
	m, err := NewJWTAuth("safebuild", src)
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, fv, "")
	ctx, cancel := context.WithCancel(context.Background())
	sess, err := Login(ctx, c, m, WithRenewal(false))
	if err != nil {
		t.Fatal(err)
	}
	tok := c.Token()
	if tok == "" || sess.Accessor() == "" || len(sess.Policies()) == 0 {
		t.Fatalf("login left token %q accessor %q policies %v", tok, sess.Accessor(), sess.Policies())
	}
	store, err := NewStore(sess.Fetcher(), map[string]Ref{"npm": mustRef(t, "vault:secret/ci/npm#token")})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := store.GetSecret(ctx, "npm"); err != nil || string(v) != npmV2 {
		t.Fatalf("read: %q, %v", v, err)
	}
	store.Close()

	cancel() // Ctrl-C: the build's context is gone, revocation must still happen.
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if _, revoked, _ := fv.TokenState(tok); !revoked {
		t.Fatal("login token not revoked")
	}
	if c.Token() != "" {
		t.Fatal("client still carries the token")
	}
	if err := sess.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	// A read with the revoked token is refused, as the real Vault's 403.
	c.SetToken(tok)
	if _, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, "vault:kv2:secret//ci/npm#token")); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("read after revoke: %v", err)
	}
	for _, r := range fv.Requests() {
		if strings.HasSuffix(r.Path, "/login") && r.HasToken {
			t.Fatal("login request carried a token")
		}
	}
}

func TestJWTLoginRefused(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mut func(map[string]any)) map[string]any {
		c := fakevault.GitHubClaims(testAud, testRepo, "main")
		mut(c)
		return c
	}
	tests := []struct {
		name string
		role string
		jwt  string
		msg  string
	}{
		{"wrong audience", "safebuild", fv.Mint(t, claims(func(c map[string]any) { c["aud"] = "https://elsewhere" })), "invalid audience"},
		{"wrong repository", "safebuild", fv.Mint(t, claims(func(c map[string]any) { c["repository"] = "evil/repo" })), `claim "repository"`},
		{"wrong branch", "safebuild", fv.Mint(t, claims(func(c map[string]any) { c["ref"] = "refs/heads/feature" })), `claim "ref"`},
		{"expired", "safebuild", fv.Mint(t, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Second).Unix() })), "expired"},
		{"forged", "safebuild", fakevault.MintWith(t, otherKey, claims(func(map[string]any) {})), "signature"},
		{"unknown role", "nope", fv.Mint(t, claims(func(map[string]any) {})), `role "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewJWTAuth(tt.role, staticJWT(tt.jwt))
			if err != nil {
				t.Fatal(err)
			}
			c := testClient(t, fv, "")
			_, err = Login(context.Background(), c, m)
			if !errors.Is(err, ErrLoginRefused) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want ErrLoginRefused containing %q", err, tt.msg)
			}
			t.Log(err)
			if strings.Contains(err.Error(), tt.jwt) || strings.Contains(err.Error(), strings.Split(tt.jwt, ".")[2]) {
				t.Fatal("error leaks the JWT")
			}
			if c.Token() != "" {
				t.Fatal("failed login left a token")
			}
		})
	}
}

func TestLoginCredentialAndUnreachable(t *testing.T) {
	src, err := ciauth.GitHubActions(testAud, ciauth.WithGetenv(func(string) string { return "" }))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewJWTAuth("safebuild", src)
	fv := jwtFake(t, ciGrant)
	_, err = Login(context.Background(), testClient(t, fv, ""), m)
	if !errors.Is(err, ErrCredential) || !strings.Contains(err.Error(), "id-token: write") {
		t.Fatalf("got %v, want ErrCredential", err)
	}
	c, _ := NewClient(WithAddress("http://127.0.0.1:1"), WithMaxRetries(0))
	_, err = Login(context.Background(), c, mustJWT(t, fv))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Fatalf("got %v, want ErrUnreachable naming the address", err)
	}
}

func mustJWT(t *testing.T, fv *fakevault.Server) *JWTAuth {
	t.Helper()
	m, err := NewJWTAuth("safebuild", staticJWT(fv.Mint(t, fakevault.GitHubClaims(testAud, testRepo, "main"))))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRevokeDeniedNamesGrant(t *testing.T) {
	fv := jwtFake(t, fakevault.Grant{Allowed: []string{"secret/data/ci/*"}})
	c := testClient(t, fv, "")
	sess, err := Login(context.Background(), c, mustJWT(t, fv))
	if err != nil {
		t.Fatal(err)
	}
	err = sess.Close()
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "auth/token/revoke-self") ||
		!strings.Contains(err.Error(), "token_no_default_policy") {
		t.Fatalf("got %v", err)
	}
}

func TestRenewal(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	c := testClient(t, fv, "")
	sess, err := Login(context.Background(), c, mustJWT(t, fv))
	if err != nil {
		t.Fatal(err)
	}
	tok := c.Token()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, n := fv.TokenState(tok); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the LifetimeWatcher never renewed the token")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("Close waited for the renewal schedule")
	}
	if _, revoked, _ := fv.TokenState(tok); !revoked {
		t.Fatal("not revoked")
	}
}

func TestAppRole(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	fv.AddAppRole("role-123", "secret-456", ciGrant)
	dir := t.TempDir()
	sidFile := filepath.Join(dir, "secret_id")
	if err := os.WriteFile(sidFile, []byte("secret-456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SB_ROLE_ID", "role-123")
	m, err := NewAppRoleAuth(Credential{Env: "SB_ROLE_ID"}, Credential{File: sidFile})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Login(context.Background(), testClient(t, fv, ""), m, WithRenewal(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}

	// A wrapped secret_id is unwrapped once, just before login; a replay fails.
	t.Setenv("SB_WRAPPED", fv.Wrap(map[string]any{"secret_id": "secret-456"}))
	m, err = NewAppRoleAuth(Credential{Env: "SB_ROLE_ID"}, Credential{Env: "SB_WRAPPED"}, WithWrappedSecretID())
	if err != nil {
		t.Fatal(err)
	}
	sess, err = Login(context.Background(), testClient(t, fv, ""), m, WithRenewal(false))
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	_, err = Login(context.Background(), testClient(t, fv, ""), m)
	if err == nil || strings.Contains(err.Error(), "secret-456") {
		t.Fatalf("replayed wrapping token: %v", err)
	}

	m, _ = NewAppRoleAuth(Credential{Env: "SB_ROLE_ID"}, Credential{Env: "SB_UNSET"})
	if _, err := Login(context.Background(), testClient(t, fv, ""), m); err == nil {
		t.Fatal("unset secret_id accepted")
	}
	if _, err := NewAppRoleAuth(Credential{}, Credential{Env: "X"}); err == nil {
		t.Fatal("role_id without a source accepted")
	}
	if _, err := NewAppRoleAuth(Credential{Env: "X", File: "y"}, Credential{Env: "X"}); err == nil {
		t.Fatal("role_id with two sources accepted")
	}
}

func TestKubernetes(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	fv.AddKubernetesRole("builder", "sa-token-789", ciGrant)
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("sa-token-789"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewKubernetesAuth("builder", WithTokenFile(p))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Login(context.Background(), testClient(t, fv, ""), m, WithRenewal(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	m, _ = NewKubernetesAuth("builder", WithTokenFile(p+".missing"))
	if _, err := Login(context.Background(), testClient(t, fv, ""), m); !errors.Is(err, ErrCredential) {
		t.Fatalf("missing token file: %v", err)
	}
}

func TestTokenAuthIsBorrowed(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	fv.AddToken("personal-token", fakevault.Grant{Allowed: []string{"secret/data/ci/*", "auth/token/lookup-self", "auth/token/revoke-self"}})
	t.Setenv("VAULT_TOKEN", "personal-token")
	m, err := NewTokenAuth()
	if err != nil {
		t.Fatal(err)
	}
	c := testClient(t, fv, "")
	sess, err := Login(context.Background(), c, m)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token() != "personal-token" {
		t.Fatal("token not set")
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if _, revoked, _ := fv.TokenState("personal-token"); revoked {
		t.Fatal("a borrowed token was revoked")
	}

	p := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(p, []byte("personal-token\n"), 0o600)
	m, _ = NewTokenAuth(WithTokenFile(p))
	sess, err = Login(context.Background(), testClient(t, fv, ""), m, WithRevokeOnClose(true))
	if err != nil {
		t.Fatal(err)
	}
	sess.Close()
	if _, revoked, _ := fv.TokenState("personal-token"); !revoked {
		t.Fatal("WithRevokeOnClose(true) did not revoke")
	}
	if _, err := NewTokenAuth(WithTokenEnv("A"), WithTokenFile("b")); err == nil {
		t.Fatal("two sources accepted")
	}
}

func TestAuthFromConfig(t *testing.T) {
	tests := []struct {
		ac   AuthConfig
		want string
	}{
		{AuthConfig{Role: "r", CI: "gitlab"}, `jwt role "r" at auth/jwt (ID token from GitLab ($VAULT_ID_TOKEN))`},
		{AuthConfig{Role: "r", CI: "env", TokenEnv: "MY_JWT", Mount: "ci-jwt"}, `jwt role "r" at auth/ci-jwt (ID token from environment ($MY_JWT))`},
		{AuthConfig{Method: "approle", RoleIDFile: "/r", SecretIDEnv: "S"}, "approle at auth/approle"},
		{AuthConfig{Method: "kubernetes", Role: "k", Mount: "k8s"}, `kubernetes role "k" at auth/k8s`},
		{AuthConfig{Method: "token", TokenFile: "/t"}, "token from /t"},
		{AuthConfig{Method: "token"}, "token from $VAULT_TOKEN"},
	}
	for _, tt := range tests {
		m, err := AuthFromConfig(tt.ac)
		if err != nil {
			t.Fatalf("%+v: %v", tt.ac, err)
		}
		if got := m.(fmt.Stringer).String(); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.ac, got, tt.want)
		}
	}
	for _, ac := range []AuthConfig{{Method: "ldap"}, {Role: "r", CI: "jenkins"}, {Method: "jwt"}, {Method: "approle"}} {
		if _, err := AuthFromConfig(ac); err == nil {
			t.Errorf("%+v accepted", ac)
		}
	}
}

var _ ciauth.Source = staticJWT("")

func TestConnectFromConfig(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	t.Setenv("SB_TEST_JWT", fv.Mint(t, fakevault.GitHubClaims(testAud, testRepo, "main")))
	t.Setenv("VAULT_TOKEN", fakevault.RootToken) // ambient, must not be used
	t.Setenv("VAULT_MAX_RETRIES", "0")
	cfg, err := ParseConfig([]byte(fmt.Sprintf(`
vault:
  address: %s
  namespace: team
  auth: {role: safebuild, audience: %s, ci: env, token_env: SB_TEST_JWT}
secrets:
  npm: vault:secret/ci/npm#token
`, fv.URL, testAud)))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := Connect(context.Background(), cfg.Vault, WithRenewal(false))
	if err != nil {
		t.Fatal(err)
	}
	tok := sess.Client().Token()
	if tok == fakevault.RootToken || !strings.HasPrefix(tok, "hvs.login-") {
		t.Fatalf("session token %q is not the login's", tok)
	}
	store, err := NewStore(sess.Fetcher(), cfg.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := store.GetSecret(context.Background(), "npm"); err != nil || string(v) != npmV2 {
		t.Fatalf("%q, %v", v, err)
	}
	store.Close()
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	for _, r := range fv.Requests() {
		if r.Namespace != "team" {
			t.Fatalf("request %s in namespace %q", r.Path, r.Namespace)
		}
	}
	if _, revoked, _ := fv.TokenState(tok); !revoked {
		t.Fatal("not revoked")
	}
}

func TestCloseUnreachableRevokeIsBounded(t *testing.T) {
	fv := jwtFake(t, ciGrant)
	c := testClient(t, fv, "")
	sess, err := Login(context.Background(), c, mustJWT(t, fv), WithRenewal(false), WithRevokeTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	fv.Close()
	start := time.Now()
	err = sess.Close()
	if !errors.Is(err, ErrUnreachable) || time.Since(start) > 3*time.Second {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}
	if _, err := Login(context.Background(), c, mustJWT(t, fv), WithRevokeTimeout(0)); err == nil {
		t.Fatal("zero revoke timeout accepted")
	}
}
