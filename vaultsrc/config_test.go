package vaultsrc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	in := `
frontend: {ignored: true}     # other parts of safebuild.yaml are not ours
vault:
  address: https://vault.example.com:8200
  namespace: team/ci/
  auth:
    method: jwt
    mount: gh-jwt
    role: safebuild-myrepo
    audience: https://vault.example.com
    ci: github
secrets:
  npm_token: {path: secret/ci/npm, field: token}
  db_pass:   {engine: kv1, mount: legacy, path: ci/db, field: password}
  pinned:    {engine: kv2, mount: /secret/, path: ci/npm, field: /a/b, version: 3, namespace: other}
  whole:     {path: secret/ci/app, format: json}
  totp:      {engine: logical, path: totp/code/ci, field: code}
  short:     vault:kv2:secret//ci/npm#token?version=2
  quoted:    "vault:secret/ci/x.y#a.b"
`
	c, err := ParseConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vault.Address != "https://vault.example.com:8200" || c.Vault.Namespace != "team/ci" {
		t.Errorf("vault block = %+v", c.Vault)
	}
	a := c.Vault.Auth
	if a.Method != "jwt" || a.Mount != "gh-jwt" || a.Role != "safebuild-myrepo" || a.Audience != "https://vault.example.com" || a.CI != "github" {
		t.Errorf("auth = %+v", a)
	}
	want := map[string]Ref{
		"npm_token": {Path: "secret/ci/npm", Field: "token"},
		"db_pass":   {Engine: EngineKV1, Mount: "legacy", Path: "ci/db", Field: "password"},
		"pinned":    {Engine: EngineKV2, Mount: "secret", Path: "ci/npm", Field: "/a/b", Version: 3, Namespace: "other"},
		"whole":     {Path: "secret/ci/app", Format: FormatJSON},
		"totp":      {Engine: EngineLogical, Path: "totp/code/ci", Field: "code"},
		"short":     {Engine: EngineKV2, Mount: "secret", Path: "ci/npm", Field: "token", Version: 2},
		"quoted":    {Path: "secret/ci/x.y", Field: "a.b"},
	}
	if len(c.Secrets) != len(want) {
		t.Fatalf("got %d secrets, want %d: %+v", len(c.Secrets), len(want), c.Secrets)
	}
	for id, w := range want {
		if got := c.Secrets[id]; got != w {
			t.Errorf("secret %s = %+v, want %+v", id, got, w)
		}
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte("vault:\n  auth: {role: r}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vault.Auth.Method != "jwt" || len(c.Secrets) != 0 {
		t.Fatalf("got %+v", c)
	}
	if c, err := ParseConfig(nil); err != nil || c == nil {
		t.Fatalf("empty file: %v", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		line, col int
		msg       string
	}{
		{"not yaml", "vault:\n  address: [\n", 2, 1, "did not find"},
		{"top level list", "- a\n", 1, 1, "mapping at the top level"},
		{"vault not mapping", "vault: x\n", 1, 8, "want a mapping"},
		{"unknown vault key", "vault:\n  adress: x\n", 2, 3, `vault.adress: unknown key`},
		{"bad address", "vault:\n  address: vault.example.com\n", 2, 12, "want http(s)"},
		{"address not string", "vault:\n  address: [a]\n", 2, 12, "want a string"},
		{"bad namespace", "vault:\n  namespace: a//b\n", 2, 14, "vault namespace"},
		{"duplicate key", "vault:\n  address: http://a\n  address: http://b\n", 3, 3, "given twice"},
		{"unknown auth key", "vault:\n  auth: {method: jwt, role: r, token: x}\n", 2, 32, "unknown key"},
		{"unknown method", "vault:\n  auth: {method: ldap}\n", 2, 18, `unknown method "ldap"`},
		{"unknown ci", "vault:\n  auth: {role: r, ci: jenkins}\n", 2, 23, `unknown CI "jenkins"`},
		{"jwt without role", "vault:\n  auth: {method: jwt}\n", 2, 9, "needs a role"},
		{"wrapped not bool", "vault:\n  auth: {method: approle, wrapped_secret_id: maybe}\n", 2, 46, "true or false"},
		{"secrets not mapping", "secrets: [a]\n", 1, 10, "mapping of secret ids"},
		{"bad id", "secrets:\n  \"npm token\": vault:secret/x#f\n", 2, 3, "secret id"},
		{"duplicate id", "secrets:\n  a: vault:secret/x#f\n  a: vault:secret/y#f\n", 3, 3, "given twice"},
		{"short form error column", "secrets:\n  a: vault:secret/x#f?version=x\n", 2, 31, "positive integer"},
		{"quoted short form column", "secrets:\n  a: \"vault:secret/x#f?version=x\"\n", 2, 32, "positive integer"},
		{"unknown secret key", "secrets:\n  a: {path: secret/x, feild: f}\n", 2, 23, "secrets.a.feild: unknown key"},
		{"missing path", "secrets:\n  a: {field: f}\n", 2, 6, "secrets.a.path: missing"},
		{"unknown engine", "secrets:\n  a: {path: secret/x, field: f, engine: kv3}\n", 2, 41, `unknown engine "kv3"`},
		{"bad version", "secrets:\n  a: {path: secret/x, field: f, version: two}\n", 2, 42, "positive integer"},
		{"bad format", "secrets:\n  a: {path: secret/x, field: f, format: yaml}\n", 2, 41, `unknown format "yaml"`},
		{"path error blamed on path", "secrets:\n  a: {path: secret/../x, field: f}\n", 2, 13, "secrets.a.path:"},
		{"version on kv1 blamed on version", "secrets:\n  a: {engine: kv1, path: x/y, field: f, version: 2}\n", 2, 50, "secrets.a.version: version pins only KV v2"},
		{"no field blamed on field", "secrets:\n  a: {path: secret/x}\n", 2, 6, "secrets.a.field:"},
		{"reserved character", "secrets:\n  a: {path: secret/x, field: \"a?b\"}\n", 2, 30, "reserves"},
		{"reserved in path", "secrets:\n  a: {path: \"secret/x#y\", field: f}\n", 2, 13, "reserves"},
		{"split in path", "secrets:\n  a: {path: secret//x, field: f}\n", 2, 13, "mount:"},
		{"field not string", "secrets:\n  a: {path: secret/x, field: [f]}\n", 2, 30, "want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.in))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not contain %q", err, tt.msg)
			}
			if ce.Line != tt.line || ce.Column != tt.col {
				t.Fatalf("error at %d:%d, want %d:%d: %v", ce.Line, ce.Column, tt.line, tt.col, err)
			}
		})
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "safebuild.yaml")
	if err := os.WriteFile(p, []byte("secrets:\n  a: vault:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2:") {
		t.Fatalf("got %v, want it to start with %s:2:", err, p)
	}
}
