package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/safebuild/safebuild/integration/stack"
	"github.com/safebuild/safebuild/vaultsrc"
	"github.com/safebuild/safebuild/vaultsrc/ciauth"
)

// fakeGitHubOIDC serves ACTIONS_ID_TOKEN_REQUEST_URL on loopback: it checks the bearer token
// and the audience, then returns mint's token as GitHub does ({"value": jwt}).
func fakeGitHubOIDC(t *testing.T, mint func() (string, error)) (getenv func(string) string) {
	t.Helper()
	bearer := "req-" + randHex(t, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+bearer && r.Header.Get("Authorization") != "Bearer "+bearer {
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("audience") != stack.VaultAudience {
			http.Error(w, "unexpected audience "+r.URL.Query().Get("audience"), http.StatusBadRequest)
			return
		}
		tok, err := mint()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": tok})
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": bearer,
	}
	return func(k string) string { return env[k] }
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// githubSession logs into the stack's Vault as a GitHub Actions job would.
func githubSession(t *testing.T, s *stack.Stack, claims map[string]any) (*vaultsrc.Session, error) {
	t.Helper()
	getenv := fakeGitHubOIDC(t, func() (string, error) { return s.Vault.SignJWT(claims) })
	src, err := ciauth.GitHubActions(stack.VaultAudience, ciauth.WithGetenv(getenv))
	if err != nil {
		t.Fatal(err)
	}
	method, err := vaultsrc.NewJWTAuth(stack.GitHubRole, src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := vaultsrc.NewClient(vaultsrc.WithAddress(s.Vault.Address))
	if err != nil {
		t.Fatal(err)
	}
	return vaultsrc.Login(context.Background(), c, method)
}

// tokenRevoked reports whether token no longer works against Vault.
func tokenRevoked(t *testing.T, s *stack.Stack, token string) bool {
	t.Helper()
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	c, err := root.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	_, err = c.Auth().Token().LookupSelf()
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}

// TestVaultSecretsServedToBuild serves KV v1, KV v2 (latest and pinned), a JSON-pointer field and
// a transit key read through logical: to real RUN --mount=type=secret steps, in file and env=
// form, after a GitHub-Actions JWT login; then checks the login token is revoked and that the
// values are nowhere: not in buildkitd's root, the client's temp directory, the progress output
// or the exported image.
func TestVaultSecretsServedToBuild(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	v1 := "kv2-v1-" + randHex(t, 12)
	v2 := "kv2-v2-" + randHex(t, 12)
	nested := "nested-" + randHex(t, 12)
	legacy := "kv1-" + randHex(t, 12)
	if _, err := root.KVv2("secret").Put(ctx, "ci/app", map[string]any{"token": v1}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("secret").Put(ctx, "ci/app", map[string]any{"token": v2, "cfg": map[string]any{"db": map[string]any{"password": nested}}}); err != nil {
		t.Fatal(err)
	}
	if err := root.KVv1("kv1").Put(ctx, "ci/legacy", map[string]any{"password": legacy}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Logical().WriteWithContext(ctx, "transit/keys/build", map[string]any{"exportable": true, "type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	exp, err := root.Logical().ReadWithContext(ctx, "transit/export/encryption-key/build")
	if err != nil {
		t.Fatal(err)
	}
	transitKey := exp.Data["keys"].(map[string]any)["1"].(string)

	refs := map[string]string{
		"latest":  "vault:secret/ci/app#token",
		"pinned":  "vault:secret/ci/app#token?version=1",
		"ptr":     "vault:secret/ci/app#/cfg/db/password",
		"legacy":  "vault:kv1/ci/legacy#password",
		"transit": "vault:logical:transit/export/encryption-key/build#/keys/1",
	}
	want := map[string]string{"latest": v2, "pinned": v1, "ptr": nested, "legacy": legacy, "transit": transitKey}
	parsed := map[string]vaultsrc.Ref{}
	for id, r := range refs {
		ref, err := vaultsrc.ParseRef(r)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		parsed[id] = ref
	}

	sess, err := githubSession(t, s, stack.GitHubClaims(time.Now()))
	if err != nil {
		t.Fatalf("GitHub Actions login: %v", err)
	}
	token := sess.Client().Token()
	store, err := vaultsrc.NewStore(sess.Fetcher(), parsed)
	if err != nil {
		t.Fatal(err)
	}

	// Each step proves it got the right value by its hash (a build-arg may hold a hash, never
	// the value); a wrong or empty value fails the build.
	args := map[string]string{"BASE": s.BaseImage}
	for id, v := range want {
		sum := sha256.Sum256([]byte(v))
		args["SHA_"+strings.ToUpper(id)] = hex.EncodeToString(sum[:])
	}
	dir := t.TempDir()
	df := `ARG BASE
FROM ${BASE}
ARG SHA_LATEST SHA_PINNED SHA_PTR SHA_LEGACY SHA_TRANSIT
RUN --mount=type=secret,id=latest,required=true test "$(sha256sum < /run/secrets/latest | cut -c1-64)" = "$SHA_LATEST"
RUN --mount=type=secret,id=pinned,env=PINNED,required=true test "$(printf %s "$PINNED" | sha256sum | cut -c1-64)" = "$SHA_PINNED"
RUN --mount=type=secret,id=ptr,target=/tmp/ptr,required=true test "$(sha256sum < /tmp/ptr | cut -c1-64)" = "$SHA_PTR"
RUN --mount=type=secret,id=legacy,env=LEGACY,required=true test "$(printf %s "$LEGACY" | sha256sum | cut -c1-64)" = "$SHA_LEGACY"
RUN --mount=type=secret,id=transit,required=true test "$(sha256sum < /run/secrets/transit | cut -c1-64)" = "$SHA_TRANSIT" && echo ok > /done
`
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
		t.Fatal(err)
	}
	clientTmp := t.TempDir()
	t.Setenv("TMPDIR", clientTmp)
	out := filepath.Join(t.TempDir(), "oci")
	var progress bytes.Buffer
	err = s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: dir, BuildArgs: args, Secrets: store, OCILayout: out, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}

	served := store.Served()
	if len(served) != len(want) {
		t.Errorf("served %d ids, want %d: %+v", len(served), len(want), served)
	}
	for _, sv := range served {
		if sv.ID == "pinned" && sv.Version != 1 || sv.ID == "latest" && sv.Version != 2 {
			t.Errorf("%s: served version %d", sv.ID, sv.Version)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatalf("revoking the login token: %v", err)
	}
	if !tokenRevoked(t, s, token) {
		t.Error("the login token still works after the build")
	}

	var needles [][]byte
	for _, v := range want {
		needles = append(needles, []byte(v), []byte(base64.StdEncoding.EncodeToString([]byte(v))))
	}
	if hits, err := searchLayout(out, needles); err != nil || len(hits) > 0 {
		t.Errorf("exported image: hits %v, err %v", hits, err)
	}
	for i, n := range needles {
		if bytes.Contains(progress.Bytes(), n) {
			t.Errorf("progress output holds secret form %d", i)
		}
	}
	for _, d := range []string{s.BuildKit.Root, clientTmp} {
		if hits := searchTree(t, d, needles); len(hits) > 0 {
			t.Errorf("secret values on disk under %s: %v", d, hits)
		}
	}
}

// searchTree returns the regular files under dir that hold any needle.
func searchTree(t *testing.T, dir string, needles [][]byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		dt, err := os.ReadFile(p)
		if err != nil {
			return nil // a file that vanished or is a socket
		}
		for _, n := range needles {
			if bytes.Contains(dt, n) {
				hits = append(hits, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestVaultTokenRevokedWhenBuildFailsOrIsInterrupted: the login token dies with the build
// whatever way the build ends.
func TestVaultTokenRevokedWhenBuildFailsOrIsInterrupted(t *testing.T) {
	s := needStack(t)
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("secret").Put(context.Background(), "ci/fail", map[string]any{"token": "fail-" + randHex(t, 12)}); err != nil {
		t.Fatal(err)
	}
	ref, err := vaultsrc.ParseRef("vault:secret/ci/fail#token")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, run   string
		cancelAfter time.Duration
	}{
		{"failed", "test -s /run/secrets/x && false", 0},
		{"interrupted", "test -s /run/secrets/x && sleep 60", 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess, err := githubSession(t, s, stack.GitHubClaims(time.Now()))
			if err != nil {
				t.Fatal(err)
			}
			token := sess.Client().Token()
			store, err := vaultsrc.NewStore(sess.Fetcher(), map[string]vaultsrc.Ref{"x": ref})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			df := "ARG BASE\nFROM ${BASE}\nRUN --mount=type=secret,id=x,required=true " + tc.run + "\n"
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			err = s.BuildKit.Build(ctx, stack.BuildOptions{ContextDir: dir, BuildArgs: map[string]string{"BASE": s.BaseImage}, Secrets: store})
			store.Close()
			closeErr := sess.Close()
			if err == nil {
				t.Fatal("the build succeeded; want it to fail or be cancelled")
			}
			if closeErr != nil {
				t.Fatalf("revoking after a %s build: %v", tc.name, closeErr)
			}
			if !tokenRevoked(t, s, token) {
				t.Errorf("the login token still works after a %s build", tc.name)
			}
		})
	}
}

// TestVaultJWTLoginRefusals: bad GitHub-Actions and GitLab tokens are refused through vaultsrc
// with a message that says why, and never with the token in it.
func TestVaultJWTLoginRefusals(t *testing.T) {
	s := needStack(t)
	now := time.Now()
	forger, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	gh, gl := stack.GitHubClaims(now), stack.GitLabClaims(now)
	for _, tc := range []struct {
		name    string
		gitlab  bool
		claims  map[string]any
		forged  bool
		wantErr string // "" = login succeeds
	}{
		{"github ok", false, gh, false, ""},
		{"github wrong audience", false, with(gh, "aud", "https://elsewhere.test"), false, "audience"},
		{"github wrong repository", false, with(gh, "repository", "evil/fork"), false, "repository"},
		{"github wrong branch", false, with(gh, "ref", "refs/heads/feature"), false, "ref"},
		{"github expired", false, with(gh, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix()), false, "expired"},
		{"github forged", false, gh, true, "signature"},
		{"gitlab ok", true, gl, false, ""},
		{"gitlab wrong audience", true, with(gl, "aud", "https://elsewhere.test"), false, "audience"},
		{"gitlab wrong project", true, with(gl, "project_path", "evil/fork"), false, "project_path"},
		{"gitlab wrong branch", true, with(gl, "ref", "feature"), false, "ref"},
		{"gitlab expired", true, with(gl, "exp", now.Add(-time.Hour).Unix(), "iat", now.Add(-2*time.Hour).Unix(), "nbf", now.Add(-2*time.Hour).Unix()), false, "expired"},
		{"gitlab forged", true, gl, true, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var jwt string
			var err error
			if tc.forged {
				jwt, err = stack.SignJWTWith(forger, "safebuild-stack", tc.claims)
			} else {
				jwt, err = s.Vault.SignJWT(tc.claims)
			}
			if err != nil {
				t.Fatal(err)
			}
			var src ciauth.Source
			role := stack.GitHubRole
			if tc.gitlab {
				role = stack.GitLabRole
				env := map[string]string{"GITLAB_CI": "true", "VAULT_ID_TOKEN": jwt}
				src, err = ciauth.GitLab(stack.VaultAudience, ciauth.WithGetenv(func(k string) string { return env[k] }))
			} else {
				getenv := fakeGitHubOIDC(t, func() (string, error) { return jwt, nil })
				src, err = ciauth.GitHubActions(stack.VaultAudience, ciauth.WithGetenv(getenv))
			}
			if err != nil {
				t.Fatal(err)
			}
			method, err := vaultsrc.NewJWTAuth(role, src)
			if err != nil {
				t.Fatal(err)
			}
			c, err := vaultsrc.NewClient(vaultsrc.WithAddress(s.Vault.Address))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := vaultsrc.Login(context.Background(), c, method)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("login refused: %v", err)
				}
				if err := sess.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				sess.Close()
				t.Fatalf("login accepted; want a refusal mentioning %q", tc.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) {
				t.Errorf("refusal %q does not say %q", msg, tc.wantErr)
			}
			if strings.Contains(msg, jwt) || strings.Contains(msg, strings.Split(jwt, ".")[2]) {
				t.Error("the refusal holds the JWT")
			}
			t.Logf("refused as expected: %s", msg)
		})
	}
}

// TestVaultErrorsNameTheCause: against the real server, each failure names the reference and
// the cause, and for a denied read the path the policy must allow.
func TestVaultErrorsNameTheCause(t *testing.T) {
	s := needStack(t)
	ctx := context.Background()
	root, err := s.Vault.Client()
	if err != nil {
		t.Fatal(err)
	}
	value := "errs-" + randHex(t, 12)
	for _, p := range []string{"ci/errs", "prod/db"} {
		if _, err := root.KVv2("secret").Put(ctx, p, map[string]any{"token": value}); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := githubSession(t, s, stack.GitHubClaims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	unreachable, err := vaultsrc.NewClient(vaultsrc.WithAddress("http://127.0.0.1:1"), vaultsrc.WithTimeout(2*time.Second), vaultsrc.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ref string
		fetcher   vaultsrc.Fetcher
		kind      error
		want      []string
	}{
		{"permission denied", "vault:secret/prod/db#token", sess.Fetcher(), vaultsrc.ErrPermissionDenied, []string{"secret/prod/db", "secret/data/prod/db"}},
		{"not found", "vault:secret/ci/missing#token", sess.Fetcher(), vaultsrc.ErrNotFound, []string{"secret/ci/missing"}},
		{"missing field", "vault:secret/ci/errs#password", sess.Fetcher(), vaultsrc.ErrMissingField, []string{"password", "token"}},
		{"unreachable", "vault:secret/ci/errs#token", vaultsrc.NewFetcher(unreachable), vaultsrc.ErrUnreachable, []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := vaultsrc.ParseRef(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			_, err = vaultsrc.Resolve(ctx, tc.fetcher, ref)
			if err == nil {
				t.Fatal("resolved; want an error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if strings.Contains(err.Error(), value) {
				t.Error("the error holds the secret value")
			}
			t.Logf("%s", err)
		})
	}
}
