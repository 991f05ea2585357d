package vaultsrc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/safebuild/safebuild/vaultsrc/internal/fakevault"
)

// Values the fake serves; no error message may ever contain one of them.
const (
	npmV1 = "npm-secret-value-v1"
	npmV2 = "npm-secret-value-v2"
	dbPW  = "db-password-value"
)

var allValues = []string{npmV1, npmV2, dbPW, "p@ss-in-array", "123456"}

// newFake returns a fake Vault with a KV v2 mount at secret/, a KV v1 mount at legacy/ and
// a logical totp path, plus a client logged in as a token allowed to read them.
func newFake(t *testing.T) (*fakevault.Server, *api.Client) {
	t.Helper()
	fv := fakevault.New(t)
	fv.MountKV("secret", 2)
	fv.MountKV("team/kv", 2)
	fv.MountKV("legacy", 1)
	fv.PutKV("secret", "ci/npm", map[string]any{"token": npmV1})
	fv.PutKV("secret", "ci/npm", map[string]any{"token": npmV2, "user": "ci"})
	fv.PutKV("secret", "ci/app", map[string]any{
		"port": 5432,
		"db":   map[string]any{"users": []any{map[string]any{"name": "ci", "pass/word": "p@ss-in-array"}}},
	})
	fv.PutKV("team/kv", "ci/npm", map[string]any{"token": npmV1})
	fv.PutKV("legacy", "ci/db", map[string]any{"password": dbPW})
	fv.PutLogical("totp/code/ci", map[string]any{"code": "123456"})
	fv.AddToken("reader", fakevault.Grant{Allowed: []string{"secret/data/ci/*", "team/kv/data/*", "legacy/ci/*", "totp/code/*"}})
	return fv, testClient(t, fv, "reader")
}

func testClient(t *testing.T, fv *fakevault.Server, token string, opts ...ClientOption) *api.Client {
	t.Helper()
	opts = append([]ClientOption{WithAddress(fv.URL), WithMaxRetries(0), WithTimeout(5 * time.Second)}, opts...)
	c, err := NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		c.SetToken(token)
	}
	return c
}

func mustRef(t *testing.T, s string) Ref {
	t.Helper()
	r, err := ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		ref     string
		want    string
		version int
		paths   []string // GET paths the fake must see, in order
	}{
		{"kv2 detected, latest", "vault:secret/ci/npm#token", npmV2, 2,
			[]string{"sys/internal/ui/mounts/secret/ci/npm", "secret/data/ci/npm"}},
		{"kv2 pinned", "vault:secret/ci/npm#token?version=1", npmV1, 1,
			[]string{"sys/internal/ui/mounts/secret/ci/npm", "secret/data/ci/npm?version=1"}},
		{"kv2 explicit needs no lookup", "vault:kv2:secret//ci/npm#token", npmV2, 2,
			[]string{"secret/data/ci/npm"}},
		{"nested mount detected", "vault:team/kv/ci/npm#token", npmV1, 1,
			[]string{"sys/internal/ui/mounts/team/kv/ci/npm", "team/kv/data/ci/npm"}},
		{"kv1 detected", "vault:legacy/ci/db#password", dbPW, 0,
			[]string{"sys/internal/ui/mounts/legacy/ci/db", "legacy/ci/db"}},
		{"kv1 explicit", "vault:kv1:legacy//ci/db#password", dbPW, 0, []string{"legacy/ci/db"}},
		{"json pointer", "vault:secret/ci/app#/db/users/0/pass~1word", "p@ss-in-array", 1, nil},
		{"number as json", "vault:secret/ci/app#port?format=json", "5432", 1, nil},
		{"whole map as json", "vault:secret/ci/npm?format=json&version=1", `{"token":"` + npmV1 + `"}`, 1, nil},
		{"logical", "vault:logical:totp/code/ci#code", "123456", 0, []string{"totp/code/ci"}},
		{"field with dot is one key", "vault:secret/ci/npm#user", "ci", 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fv, c := newFake(t)
			v, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, tt.ref))
			if err != nil {
				t.Fatal(err)
			}
			if string(v.Bytes) != tt.want || v.Version != tt.version {
				t.Fatalf("got %q version %d, want %q version %d", v.Bytes, v.Version, tt.want, tt.version)
			}
			if tt.paths != nil {
				var got []string
				for _, r := range fv.Requests() {
					p := r.Path
					if r.RawQuery != "" {
						p += "?" + r.RawQuery
					}
					got = append(got, p)
				}
				if strings.Join(got, " ") != strings.Join(tt.paths, " ") {
					t.Fatalf("requests %q, want %q", got, tt.paths)
				}
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name  string
		ref   string
		setup func(*fakevault.Server, *api.Client)
		kind  error
		msg   []string
	}{
		{"missing field lists fields", "vault:secret/ci/npm#tokn", nil, ErrMissingField,
			[]string{`no field "tokn"`, `"token", "user"`, "vault:secret/ci/npm#tokn"}},
		{"not a string", "vault:secret/ci/app#port", nil, ErrMissingField, []string{"a number", "format=json"}},
		{"object not a string", "vault:secret/ci/app#db", nil, ErrMissingField, []string{"an object"}},
		{"pointer missing key", "vault:secret/ci/app#/db/admins", nil, ErrMissingField, []string{`no key "admins" under "/db"`}},
		{"pointer bad index", "vault:secret/ci/app#/db/users/7", nil, ErrMissingField, []string{"1-element array"}},
		{"pointer through scalar", "vault:secret/ci/app#/port/x", nil, ErrMissingField, []string{"not an object or array"}},
		{"not found", "vault:secret/ci/nope#token", nil, ErrNotFound, []string{"secret/data/ci/nope"}},
		{"pinned version missing", "vault:secret/ci/npm#token?version=9", nil, ErrNotFound, nil},
		{"deleted version", "vault:secret/ci/npm#token?version=1",
			func(fv *fakevault.Server, _ *api.Client) { fv.DeleteKVVersion("secret", "ci/npm", 1) },
			ErrNotFound, []string{"version 1 is deleted"}},
		{"permission denied names policy path", "vault:secret/prod/db#password", nil, ErrPermissionDenied,
			[]string{`policy must allow "secret/data/prod/db"`}},
		{"lookup denied suggests split", "vault:secret/ci/npm#token",
			func(fv *fakevault.Server, _ *api.Client) { fv.SetDenyMountLookup(true) },
			ErrPermissionDenied, []string{"sys/internal/ui/mounts/secret/ci/npm", "<mount>//<path>"}},
		{"unmounted path", "vault:nothing/here#f", nil, ErrPermissionDenied, []string{"sys/internal/ui/mounts/nothing/here"}},
		{"non-kv mount suggests logical", "vault:totp/code/ci#code", nil, ErrMountMismatch, []string{`"transit" engine`, "vault:logical:totp/code/ci"}},
		{"engine mismatch", "vault:kv1:secret/ci/npm#token", nil, ErrMountMismatch, []string{"says kv1", "KV v2"}},
		{"version on kv1 mount", "vault:legacy/ci/db#password?version=2", nil, ErrMountMismatch, []string{"KV v1"}},
		{"split disagrees with mount", "vault:secret/ci//npm#token", nil, ErrMountMismatch, []string{`splits the mount at "secret/ci"`}},
		{"path is the mount", "vault:secret#token", nil, ErrMountMismatch, []string{"mount \"secret\" itself"}},
		{"sealed names address", "vault:secret/ci/npm#token",
			func(fv *fakevault.Server, _ *api.Client) { fv.SetSealed(true) }, ErrSealed, []string{"address http://127.0.0.1:"}},
		{"wrapped response refused", "vault:kv2:secret//ci/npm#token",
			func(fv *fakevault.Server, _ *api.Client) { fv.SetForceWrap(true) }, ErrWrapped, []string{"VAULT_WRAP_TTL"}},
		{"logical not found", "vault:logical:totp/code/other#code", nil, ErrNotFound, nil},
		{"no token", "vault:kv2:secret//ci/npm#token",
			func(_ *fakevault.Server, c *api.Client) { c.ClearToken() }, ErrPermissionDenied, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fv, c := newFake(t)
			if tt.setup != nil {
				tt.setup(fv, c)
			}
			_, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, tt.ref))
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want %v", err, tt.kind)
			}
			var ve *Error
			if !errors.As(err, &ve) || ve.Ref == "" {
				t.Fatalf("got %T %v, want an *Error naming the reference", err, err)
			}
			for _, m := range append(tt.msg, ve.Ref) {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			t.Log(err)
			assertNoValues(t, err.Error())
		})
	}
}

func assertNoValues(t *testing.T, s string) {
	t.Helper()
	for _, v := range append(allValues, "reader", fakevault.RootToken) {
		if strings.Contains(s, v) {
			t.Fatalf("message leaks %q: %s", v, s)
		}
	}
}

func TestResolveUnreachableNamesAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	c, err := NewClient(WithAddress(addr), WithMaxRetries(0), WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), NewFetcher(c), mustRef(t, "vault:secret/ci/npm#token"))
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "address "+addr) {
		t.Fatalf("got %v, want ErrUnreachable naming %s", err, addr)
	}
}

func TestResolveLookupDeniedExplicitMountDefaultsToKV2(t *testing.T) {
	fv, c := newFake(t)
	fv.SetDenyMountLookup(true)
	v, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, "vault:secret//ci/npm#token"))
	if err != nil || string(v.Bytes) != npmV2 || v.Version != 2 {
		t.Fatalf("got %v, %v", v, err)
	}
}

func TestAmbientWrapTTLIgnored(t *testing.T) {
	t.Setenv("VAULT_WRAP_TTL", "60s")
	fv, c := newFake(t)
	v, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, "vault:secret/ci/npm#token"))
	if err != nil || string(v.Bytes) != npmV2 {
		t.Fatalf("got %v, %v", v, err)
	}
	for _, r := range fv.Requests() {
		if r.WrapTTL != "" {
			t.Fatalf("request %s asked for wrapping (%s)", r.Path, r.WrapTTL)
		}
	}
}

func TestAmbientVaultTokenIgnored(t *testing.T) {
	t.Setenv("VAULT_TOKEN", fakevault.RootToken)
	fv, _ := newFake(t)
	c := testClient(t, fv, "")
	if c.Token() != "" {
		t.Fatal("NewClient picked up VAULT_TOKEN")
	}
	_, err := Resolve(context.Background(), NewFetcher(c), mustRef(t, "vault:kv2:secret//ci/npm#token"))
	if !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("got %v, want permission denied", err)
	}
	for _, r := range fv.Requests() {
		if r.HasToken {
			t.Fatalf("request %s carried a token", r.Path)
		}
	}
}

func TestNamespaces(t *testing.T) {
	t.Setenv("VAULT_NAMESPACE", "")
	fv, _ := newFake(t)
	c := testClient(t, fv, "reader", WithNamespace("base/"))
	f := NewFetcher(c)
	if _, err := Resolve(context.Background(), f, mustRef(t, "vault:kv2:secret//ci/npm#token")); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(context.Background(), f, mustRef(t, "vault:kv2:secret//ci/npm#token?namespace=other")); err != nil {
		t.Fatal(err)
	}
	reqs := fv.Requests()
	if len(reqs) != 2 || reqs[0].Namespace != "base" || reqs[1].Namespace != "other" {
		t.Fatalf("namespaces seen: %+v", reqs)
	}
}

func TestNewClientOptions(t *testing.T) {
	for _, opt := range []ClientOption{
		WithAddress("vault.example.com"), WithAddress("ftp://x"), WithNamespace("/"), WithNamespace("a//b"),
		WithTimeout(0), WithMaxRetries(-1),
	} {
		if _, err := NewClient(opt); err == nil {
			t.Errorf("option accepted a bad value")
		}
	}
	t.Setenv("VAULT_ADDR", "https://from-env.example:8200")
	c, err := NewClient()
	if err != nil || c.Address() != "https://from-env.example:8200" {
		t.Fatalf("got %v, %v", c, err)
	}
}
