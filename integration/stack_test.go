package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/safebuild/safebuild/integration/stack"
)

// TestStackVaultLayout checks what the stack promises tests: KV v2 at secret/, KV v1 at kv1/,
// transit at transit/, and JWT roles that take well-formed CI tokens and refuse bad ones. The
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
	for path, want := range map[string]string{"secret/": "kv:2", "kv1/": "kv:1", "transit/": "transit:"} {
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
