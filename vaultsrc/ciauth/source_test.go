package ciauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/safebuild/safebuild/vaultsrc/internal/fakevault"
)

const aud = "https://vault.example.com"

func mint(t *testing.T, audience string, exp time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := fakevault.GitHubClaims(audience, "octo-org/octo-repo", "main")
	c["exp"] = exp.Unix()
	return fakevault.MintWith(t, key, c)
}

func envMap(m map[string]string) Option {
	return WithGetenv(func(k string) string { return m[k] })
}

// noLeak fails if err mentions any of the secrets.
func noLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Fatalf("error leaks a credential: %v", err)
		}
	}
}

// fakeActions serves ACTIONS_ID_TOKEN_REQUEST_URL.
func fakeActions(t *testing.T, bearer, jwt string) (*httptest.Server, *[]string) {
	var audiences []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+bearer {
			http.Error(w, "bad bearer", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "lost the runtime's query", http.StatusBadRequest)
			return
		}
		audiences = append(audiences, r.URL.Query().Get("audience"))
		fmt.Fprintf(w, `{"count":1,"value":%q}`, jwt)
	}))
	t.Cleanup(srv.Close)
	return srv, &audiences
}

func TestGitHubActions(t *testing.T) {
	jwt := mint(t, aud, time.Now().Add(5*time.Minute))
	srv, auds := fakeActions(t, "runtime-bearer", jwt)
	env := map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-bearer",
	}
	src, err := GitHubActions(aud, envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := src.Token(context.Background())
		if err != nil || got != jwt {
			t.Fatalf("Token() = %q, %v", got, err)
		}
	}
	if len(*auds) != 2 || (*auds)[0] != aud {
		t.Fatalf("endpoint saw audiences %q; want one fresh request per Token call", *auds)
	}
}

func TestGitHubActionsErrors(t *testing.T) {
	good := mint(t, aud, time.Now().Add(5*time.Minute))
	tests := []struct {
		name   string
		bearer string // what the endpoint expects
		jwt    string
		env    func(url string) map[string]string
		msg    string
	}{
		{"no permission", "b", good, func(string) map[string]string { return nil }, "id-token: write"},
		{"wrong bearer", "other", good, nil, "HTTP 401"},
		{"wrong audience", "b", mint(t, "https://elsewhere", time.Now().Add(time.Minute)), nil, `not "` + aud + `"`},
		{"expired", "b", mint(t, aud, time.Now().Add(-time.Hour)), nil, "expired at"},
		{"not a jwt", "b", "opaque-token", nil, "not a JWT"},
		{"bad url", "b", good, func(string) map[string]string {
			return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "::", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "b"}
		}, "not an http(s) URL"},
		{"unreachable", "b", good, func(string) map[string]string {
			return map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:1/x?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "b"}
		}, "requesting from 127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeActions(t, tt.bearer, tt.jwt)
			env := map[string]string{
				"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/idtoken?api-version=2.0",
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "b",
			}
			if tt.env != nil {
				env = tt.env(srv.URL)
			}
			src, err := GitHubActions(aud, envMap(env))
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tt.msg)
			}
			noLeak(t, err, tt.jwt, "bearer b", "idtoken")
		})
	}
	if _, err := GitHubActions(""); err == nil {
		t.Fatal("empty audience accepted")
	}
}

func TestEnvSources(t *testing.T) {
	jwt := mint(t, aud, time.Now().Add(time.Minute))
	other := mint(t, "circleci-org-id", time.Now().Add(time.Minute))
	tests := []struct {
		name string
		mk   func() (Source, error)
		want string
	}{
		{"gitlab default", func() (Source, error) { return GitLab(aud, envMap(map[string]string{"VAULT_ID_TOKEN": jwt + "\n"})) }, jwt},
		{"gitlab custom name", func() (Source, error) {
			return GitLab(aud, WithEnvName("SAFEBUILD_ID"), envMap(map[string]string{"SAFEBUILD_ID": jwt}))
		}, jwt},
		{"circleci ignores audience", func() (Source, error) {
			return CircleCI(aud, envMap(map[string]string{"CIRCLE_OIDC_TOKEN_V2": other}))
		}, other},
		{"env", func() (Source, error) { return Env(aud, WithEnvName("X"), envMap(map[string]string{"X": jwt})) }, jwt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := tt.mk()
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Token(context.Background())
			if err != nil || got != tt.want {
				t.Fatalf("Token() = %q, %v", got, err)
			}
		})
	}
	src, _ := GitLab(aud, envMap(nil))
	if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "$VAULT_ID_TOKEN") || !strings.Contains(err.Error(), "id_tokens") {
		t.Fatalf("unset: %v", err)
	}
	src, _ = GitLab(aud, envMap(map[string]string{"VAULT_ID_TOKEN": other}))
	if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "circleci-org-id") {
		t.Fatalf("wrong audience: %v", err)
	}
	if _, err := Env(aud); err == nil {
		t.Fatal("Env without a name accepted")
	}
	if _, err := Env(aud, WithEnvName("A=B")); err == nil {
		t.Fatal("bad env name accepted")
	}
}

func TestFile(t *testing.T) {
	jwt := mint(t, aud, time.Now().Add(time.Minute))
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(jwt+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := File(aud, WithFile(p))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := src.Token(context.Background()); err != nil || got != jwt {
		t.Fatalf("Token() = %q, %v", got, err)
	}
	src, _ = File(aud, WithFile(p+".missing"))
	if _, err := src.Token(context.Background()); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := File(aud); err == nil {
		t.Fatal("File without a path accepted")
	}
}

// fakeAgent writes a buildkite-agent stand-in that checks its arguments and prints jwt.
func fakeAgent(t *testing.T, jwt string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "buildkite-agent")
	script := fmt.Sprintf(`#!/bin/sh
if [ "$*" != "oidc request-token --audience %s" ]; then echo "bad args: $*" >&2; exit 3; fi
printf '%%s\n' '%s'
`, aud, jwt)
	if err := os.WriteFile(p, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildkite(t *testing.T) {
	jwt := mint(t, aud, time.Now().Add(time.Minute))
	src, err := Buildkite(aud, WithCommand(fakeAgent(t, jwt)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := src.Token(context.Background()); err != nil || got != jwt {
		t.Fatalf("Token() = %q, %v", got, err)
	}
	src, _ = Buildkite("other-audience", WithCommand(fakeAgent(t, jwt)))
	_, err = src.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad args: oidc request-token --audience other-audience") {
		t.Fatalf("failing agent: %v", err)
	}
	src, _ = Buildkite(aud, WithCommand(filepath.Join(t.TempDir(), "missing")))
	if _, err := src.Token(context.Background()); err == nil {
		t.Fatal("missing agent accepted")
	}
	if _, err := Buildkite(""); err == nil {
		t.Fatal("empty audience accepted")
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true"}, "GitHub Actions"},
		{map[string]string{"GITLAB_CI": "true"}, "GitLab ($VAULT_ID_TOKEN)"},
		{map[string]string{"BUILDKITE": "true"}, "Buildkite"},
		{map[string]string{"CIRCLECI": "true"}, "CircleCI ($CIRCLE_OIDC_TOKEN_V2)"},
	}
	for _, tt := range tests {
		src, err := New("auto", aud, envMap(tt.env))
		if err != nil || src.Name() != tt.want {
			t.Errorf("Detect(%v) = %v, %v; want %s", tt.env, src, err, tt.want)
		}
	}
	if _, err := Detect(aud, envMap(nil)); err == nil || !strings.Contains(err.Error(), "no CI detected") {
		t.Fatalf("no CI: %v", err)
	}
	for _, k := range Kinds[1:] {
		opts := []Option{envMap(nil), WithEnvName("X"), WithFile("/x")}
		if _, err := New(k, aud, opts...); err != nil {
			t.Errorf("New(%q): %v", k, err)
		}
	}
	if _, err := New("jenkins", aud); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func TestCheckJWT(t *testing.T) {
	now := time.Now()
	if _, err := checkJWT("a.b", "x", "", now); err == nil {
		t.Error("two parts accepted")
	}
	if _, err := checkJWT("a.!!!.c", "x", "", now); err == nil {
		t.Error("bad base64 accepted")
	}
	if _, err := checkJWT("a.bm90IGpzb24.c", "x", "", now); err == nil {
		t.Error("non-JSON payload accepted")
	}
	multi := mint(t, aud, now.Add(time.Minute))
	if _, err := checkJWT(multi, "x", aud, now); err != nil {
		t.Error(err)
	}
	// Within the 30s leeway an expired token still passes; Vault has its own leeway.
	if _, err := checkJWT(mint(t, aud, now.Add(-10*time.Second)), "x", aud, now); err != nil {
		t.Error(err)
	}
}
