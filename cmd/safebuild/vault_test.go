package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runVault(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"vault", "role"}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestVaultRoleCommands(t *testing.T) {
	out, err := runVault(t, "--repository", "octo-org/octo-repo", "--branch", "main",
		"--audience", "https://vault.example.com", "--path", "secret/data/ci/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"vault policy write safebuild-octo-org-octo-repo-main - <<'EOF'",
		`path "secret/data/ci/*" {`,
		`path "auth/token/revoke-self" {`,
		`path "auth/token/renew-self" {`,
		"vault write auth/jwt/role/safebuild-octo-org-octo-repo-main - <<'EOF'",
		`"bound_audiences": [`,
		`"bound_claims_type": "string"`,
		`"ref": "refs/heads/main"`,
		`"repository": "octo-org/octo-repo"`,
		`"token_no_default_policy": true`,
		`"token_ttl": "10m"`,
		"# safebuild only prints these commands",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	// The role JSON between the heredoc markers is valid JSON for `vault write -`.
	_, after, _ := strings.Cut(out, "vault write auth/jwt/role/safebuild-octo-org-octo-repo-main - <<'EOF'\n")
	body, _, _ := strings.Cut(after, "\nEOF")
	var role map[string]any
	if err := json.Unmarshal([]byte(body), &role); err != nil {
		t.Fatalf("role body is not JSON: %v\n%s", err, body)
	}
}

func TestVaultRoleFromConfigAsJSON(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "safebuild.yaml")
	err := os.WriteFile(cfg, []byte(`
vault:
  auth: {role: builds, mount: gl-jwt, audience: https://vault.example.com, ci: gitlab}
secrets:
  npm: vault:kv2:secret//ci/npm#token
  db: {engine: kv1, mount: legacy, path: ci/db, field: password}
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	out, err := runVault(t, "--ci", "gitlab", "--repository", "group/project", "--branch", "main",
		"--config", cfg, "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Policy   string         `json:"policy"`
		RolePath string         `json:"role_path"`
		Role     map[string]any `json:"role"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.RolePath != "auth/gl-jwt/role/builds" || !strings.Contains(doc.Policy, `path "secret/data/ci/npm"`) ||
		!strings.Contains(doc.Policy, `path "legacy/ci/db"`) {
		t.Fatalf("got %s", out)
	}
}

func TestVaultRoleErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "safebuild.yaml")
	os.WriteFile(cfg, []byte("secrets:\n  npm: vault:secret/ci/npm#token\n"), 0o600)
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"--branch", "main"}, `"repository" not set`},
		{[]string{"--repository", "o/r", "--branch", "main", "--audience", "a", "--path", "p", "--ttl", "1h"}, "ttl 1h0m0s"},
		{[]string{"--repository", "o/r", "--branch", "main", "--audience", "a", "--path", "p", "--output", "yaml"}, "--output"},
		{[]string{"--repository", "o/r", "--branch", "main", "--audience", "a"}, "no secret paths"},
		{[]string{"--repository", "o/r", "--branch", "main", "--audience", "a", "--config", cfg}, "<mount>//<path>"},
		{[]string{"--repository", "o/r", "--branch", "main", "--audience", "a", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		_, err := runVault(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%v: got %v, want an error containing %q", tt.args, err, tt.msg)
		}
	}
}
