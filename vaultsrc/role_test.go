package vaultsrc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoleTemplateGitHub(t *testing.T) {
	tmpl, err := NewRoleTemplate(RoleSpec{
		Repository: "Octo-Org/octo.repo", Branch: "release/1.x", Audience: testAud,
		Paths: []string{"secret/data/ci/*", "/secret/data/ci/*", "legacy/ci/db"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.RolePath != "auth/jwt/role/safebuild-octo-org-octo-repo-release-1-x" || tmpl.PolicyName != "safebuild-octo-org-octo-repo-release-1-x" {
		t.Fatalf("names: %s %s", tmpl.RolePath, tmpl.PolicyName)
	}
	r := tmpl.Role
	want := map[string]any{
		"role_type":               "jwt",
		"bound_audiences":         []string{testAud},
		"user_claim":              "repository",
		"bound_claims_type":       "string",
		"bound_claims":            map[string]any{"repository": "Octo-Org/octo.repo", "ref": "refs/heads/release/1.x", "ref_type": "branch"},
		"token_policies":          []string{tmpl.PolicyName},
		"token_ttl":               "10m",
		"token_max_ttl":           "1h",
		"token_type":              "service",
		"token_no_default_policy": true,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("role = %#v\nwant %#v", r, want)
	}
	wantHCL := []string{
		"path \"legacy/ci/db\" {\n  capabilities = [\"read\"]\n}",
		"path \"secret/data/ci/*\" {\n  capabilities = [\"read\"]\n}",
		"path \"auth/token/renew-self\" {\n  capabilities = [\"update\"]\n}",
		"path \"auth/token/revoke-self\" {\n  capabilities = [\"update\"]\n}",
	}
	last := -1
	for _, w := range wantHCL {
		i := strings.Index(tmpl.PolicyHCL, w)
		if i < 0 || i < last {
			t.Fatalf("policy lacks (or misorders) %q:\n%s", w, tmpl.PolicyHCL)
		}
		last = i
	}
	if strings.Count(tmpl.PolicyHCL, "secret/data/ci/*") != 1 {
		t.Fatal("duplicate path not removed")
	}
}

func TestRoleTemplateGitLab(t *testing.T) {
	tmpl, err := NewRoleTemplate(RoleSpec{
		CI: "gitlab", Repository: "group/sub/project", Branch: "main", Audience: testAud,
		Role: "builds", Mount: "/gitlab-jwt/", Paths: []string{"kv/data/x"}, TTL: 15 * time.Minute, MaxTTL: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := tmpl.Role["bound_claims"].(map[string]any)
	if claims["project_path"] != "group/sub/project" || claims["ref"] != "main" || claims["ref_protected"] != "true" ||
		tmpl.Role["user_claim"] != "project_path" || tmpl.RolePath != "auth/gitlab-jwt/role/builds" || tmpl.Role["token_ttl"] != "15m" {
		t.Fatalf("role = %#v, path %s", tmpl.Role, tmpl.RolePath)
	}
	var out bytes.Buffer
	if err := tmpl.WriteCommands(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "oidc_discovery_url=https://gitlab.com") {
		t.Fatalf("commands:\n%s", out.String())
	}
}

func TestRoleTemplateErrors(t *testing.T) {
	ok := RoleSpec{Repository: "o/r", Branch: "main", Audience: testAud, Paths: []string{"secret/data/x"}}
	tests := []struct {
		name string
		mut  func(*RoleSpec)
		msg  string
	}{
		{"unknown ci", func(s *RoleSpec) { s.CI = "jenkins" }, `ci "jenkins"`},
		{"repo without owner", func(s *RoleSpec) { s.Repository = "repo" }, "want owner/repo"},
		{"repo glob", func(s *RoleSpec) { s.Repository = "o/*" }, "want owner/repo"},
		{"gitlab repo", func(s *RoleSpec) { s.CI = "gitlab"; s.Repository = "project" }, "group/project"},
		{"no branch", func(s *RoleSpec) { s.Branch = "" }, "branch: required"},
		{"full ref", func(s *RoleSpec) { s.Branch = "refs/heads/main" }, "without refs/heads/"},
		{"branch glob", func(s *RoleSpec) { s.Branch = "release/*" }, "globs"},
		{"no audience", func(s *RoleSpec) { s.Audience = "" }, "audience"},
		{"ttl too long", func(s *RoleSpec) { s.TTL = 16 * time.Minute }, "ttl 16m0s"},
		{"ttl too short", func(s *RoleSpec) { s.TTL = time.Second }, "ttl 1s"},
		{"max below ttl", func(s *RoleSpec) { s.MaxTTL = 5 * time.Minute }, "max ttl"},
		{"no paths", func(s *RoleSpec) { s.Paths = nil }, "no secret paths"},
		{"path with quote", func(s *RoleSpec) { s.Paths = []string{`a" { } path "b`} }, "want a Vault API path"},
		{"bad role name", func(s *RoleSpec) { s.Role = "a b" }, `name "a b"`},
		{"bad mount", func(s *RoleSpec) { s.Mount = "a//b" }, "auth mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			s.Paths = append([]string(nil), ok.Paths...)
			tt.mut(&s)
			_, err := NewRoleTemplate(s)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want an error containing %q", err, tt.msg)
			}
		})
	}
}

func TestRoleTemplateJSON(t *testing.T) {
	tmpl, err := NewRoleTemplate(RoleSpec{Repository: "o/r", Branch: "main", Audience: testAud, Paths: []string{"secret/data/x"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		PolicyName string         `json:"policy_name"`
		Policy     string         `json:"policy"`
		RolePath   string         `json:"role_path"`
		Role       map[string]any `json:"role"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.PolicyName != "safebuild-o-r-main" || doc.Role["token_no_default_policy"] != true || !strings.Contains(doc.Policy, "revoke-self") {
		t.Fatalf("json = %s", out.String())
	}
}

func TestPolicyPath(t *testing.T) {
	tests := map[string]string{
		"vault:kv2:secret//ci/npm#t":        "secret/data/ci/npm",
		"vault:secret//ci/npm#t":            "secret/data/ci/npm",
		"vault:kv1:legacy//ci/db#p":         "legacy/ci/db",
		"vault:logical:totp/code/ci#code":   "totp/code/ci",
		"vault:team/kv//ci/npm#t?version=2": "team/kv/data/ci/npm",
	}
	for in, want := range tests {
		got, err := PolicyPath(mustRef(t, in))
		if err != nil || got != want {
			t.Errorf("PolicyPath(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := PolicyPath(mustRef(t, "vault:secret/ci/npm#t")); err == nil || !strings.Contains(err.Error(), "<mount>//<path>") {
		t.Errorf("detected mount: %v", err)
	}
}
