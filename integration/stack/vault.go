package stack

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/vault/api"
)

// The stack's Vault layout: what tests and examples can rely on.
const (
	// JWTMount is the path of the JWT auth method.
	JWTMount = "jwt"
	// VaultAudience is the audience every CI role binds.
	VaultAudience = "https://vault.safebuild.test"
	// CIPolicy is the policy CI roles get: read under secret/ci, kv1/ci and transit exports,
	// sign SSH keys with ssh/sign/build, sign with and read the verdict key, plus renew-self,
	// revoke-self and lookup-self (which token_no_default_policy would otherwise take away).
	CIPolicy = "safebuild-ci"
	// GitHubRole accepts GitHub-Actions-shaped tokens for GitHubRepository on refs/heads/main.
	GitHubRole       = "github"
	GitHubIssuer     = "https://token.actions.githubusercontent.com"
	GitHubRepository = "safebuild/demo"
	GitHubRef        = "refs/heads/main"
	// GitLabRole accepts GitLab-shaped tokens for GitLabProject on the protected branch main.
	GitLabRole    = "gitlab"
	GitLabIssuer  = "https://gitlab.safebuild.test"
	GitLabProject = "safebuild/demo"
	GitLabRef     = "main"
	jwtKeyID      = "safebuild-stack"
)

// Vault is a running dev-mode Vault server configured for safebuild's tests: KV v2 at secret/,
// KV v1 at kv1/, transit at transit/ with the verdict key, the SSH secrets engine at ssh/ with a
// CA and a signing role, a JWT auth method at jwt/ that trusts a key generated for this stack,
// the CI policy and the GitHub and GitLab roles, an AppRole per test workload at approle/, and
// a file audit device.
type Vault struct {
	// Address is "http://127.0.0.1:PORT".
	Address string
	// RootToken is the dev server's root token (a throwaway value for this server only).
	RootToken string
	// SSHCAPublicKey is the SSH CA's public key in authorized_keys form: what sshd's
	// TrustedUserCAKeys holds.
	SSHCAPublicKey string
	// VerdictPublicKey is the PEM public key (version 1) of transit/keys/VerdictKey, for offline
	// verification.
	VerdictPublicKey string
	// AuditLog is the file audit device's output: one JSON object per line, a "request" and a
	// "response" entry per request, values HMAC'd. It lives in the stack's log directory, so it is
	// kept when a test fails. It holds what happened after Start configured Vault.
	AuditLog string
	// Workloads are the AppRole identities of WorkloadNames, in that order.
	Workloads []Workload
	key       *ecdsa.PrivateKey
	proc      *process
}

const ciPolicy = `path "secret/data/ci/*" { capabilities = ["read"] }
path "secret/metadata/ci/*" { capabilities = ["read"] }
path "kv1/ci/*" { capabilities = ["read"] }
path "transit/export/*" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "` + SSHMount + `/sign/` + SSHRole + `" { capabilities = ["update"] }
path "transit/sign/` + VerdictKey + `" { capabilities = ["update"] }
path "transit/keys/` + VerdictKey + `" { capabilities = ["read"] }
`

// startVault runs the dev server, configures it, writes kv (KV v2 paths under secret/ to their
// data) and enables the audit device last.
func startVault(ctx context.Context, bins *Binaries, dir, logDir string, kv map[string]map[string]any) (*Vault, error) {
	home := filepath.Join(dir, "vault-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	v := &Vault{Address: "http://127.0.0.1:" + strconv.Itoa(port), RootToken: "root-" + hex.EncodeToString(tok), AuditLog: auditLogPath(logDir)}
	args := []string{"server", "-dev", "-dev-no-store-token",
		"-dev-root-token-id=" + v.RootToken,
		"-dev-listen-address=127.0.0.1:" + strconv.Itoa(port)}
	// HOME points into the stack's directory: nothing the server does touches the real home.
	p, err := startProcess("vault", logDir, bins.Vault, args, baseEnv("HOME="+home))
	if err != nil {
		return nil, err
	}
	v.proc = p
	err = p.waitReady(ctx, 60*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, v.Address+"/v1/sys/health")
	})
	if err == nil {
		err = v.configure(ctx, kv)
	}
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, err
	}
	return v, nil
}

// Client returns an API client with the root token. The ambient VAULT_* environment (token,
// namespace, wrapping TTL) is cleared so that it cannot change what tests see.
func (v *Vault) Client() (*api.Client, error) {
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = v.Address
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.ClearNamespace()
	c.SetWrappingLookupFunc(func(string, string) string { return "" })
	c.SetToken(v.RootToken)
	return c, nil
}

func (v *Vault) configure(ctx context.Context, kv map[string]map[string]any) error {
	c, err := v.Client()
	if err != nil {
		return err
	}
	sys := c.Sys()
	if err := sys.MountWithContext(ctx, "kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		return fmt.Errorf("vault: mounting KV v1 at kv1/: %w", err)
	}
	if err := sys.MountWithContext(ctx, "transit", &api.MountInput{Type: "transit"}); err != nil {
		return fmt.Errorf("vault: mounting transit at transit/: %w", err)
	}
	if err := sys.EnableAuthWithOptionsWithContext(ctx, JWTMount, &api.EnableAuthOptions{Type: "jwt"}); err != nil {
		return fmt.Errorf("vault: enabling JWT auth at %s/: %w", JWTMount, err)
	}
	v.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&v.key.PublicKey)
	if err != nil {
		return err
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	writes := []struct {
		path string
		data map[string]any
	}{
		{"auth/" + JWTMount + "/config", map[string]any{
			"jwt_validation_pubkeys": []string{pub},
			"jwt_supported_algs":     []string{"ES256"},
		}},
		{"sys/policy/" + CIPolicy, map[string]any{"policy": ciPolicy}},
		{"auth/" + JWTMount + "/role/" + GitHubRole, ciRole("sub", map[string]any{
			"iss": GitHubIssuer, "repository": GitHubRepository, "ref": GitHubRef,
		})},
		{"auth/" + JWTMount + "/role/" + GitLabRole, ciRole("sub", map[string]any{
			"iss": GitLabIssuer, "project_path": GitLabProject, "ref": GitLabRef, "ref_type": "branch", "ref_protected": "true",
		})},
	}
	for _, w := range writes {
		if _, err := c.Logical().WriteWithContext(ctx, w.path, w.data); err != nil {
			return fmt.Errorf("vault: configuring %s: %w", w.path, err)
		}
	}
	if err := v.configureEngines(ctx, c, kv); err != nil {
		return err
	}
	return v.enableAudit(ctx, c)
}

func ciRole(userClaim string, bound map[string]any) map[string]any {
	return map[string]any{
		"role_type":               "jwt",
		"bound_audiences":         []string{VaultAudience},
		"user_claim":              userClaim,
		"bound_claims_type":       "string",
		"bound_claims":            bound,
		"token_policies":          []string{CIPolicy},
		"token_no_default_policy": true,
		"token_ttl":               "10m",
		"token_max_ttl":           "15m",
		"token_type":              "service",
	}
}

// SignJWT signs claims with the key the stack's JWT auth method trusts.
func (v *Vault) SignJWT(claims map[string]any) (string, error) {
	return SignJWTWith(v.key, jwtKeyID, claims)
}

// SignJWTWith signs claims (ES256) with any key: tests use it to forge tokens Vault must refuse.
func SignJWTWith(key *ecdsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(sig).Claims(claims).Serialize()
}

// GitHubClaims returns the claims of a GitHub Actions ID token for GitHubRepository on
// GitHubRef, valid from now for five minutes. Tests change fields to make bad tokens.
func GitHubClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":              GitHubIssuer,
		"aud":              VaultAudience,
		"sub":              "repo:" + GitHubRepository + ":ref:" + GitHubRef,
		"iat":              now.Unix(),
		"nbf":              now.Add(-5 * time.Second).Unix(),
		"exp":              now.Add(5 * time.Minute).Unix(),
		"jti":              strconv.FormatInt(now.UnixNano(), 36),
		"repository":       GitHubRepository,
		"repository_owner": "safebuild",
		"ref":              GitHubRef,
		"ref_type":         "branch",
		"event_name":       "push",
		"run_id":           "42",
		"workflow":         "build",
		"job_workflow_ref": GitHubRepository + "/.github/workflows/build.yml@" + GitHubRef,
	}
}

// GitLabClaims returns the claims of a GitLab CI id_token for GitLabProject on the protected
// branch GitLabRef, valid from now for five minutes.
func GitLabClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":            GitLabIssuer,
		"aud":            VaultAudience,
		"sub":            "project_path:" + GitLabProject + ":ref_type:branch:ref:" + GitLabRef,
		"iat":            now.Unix(),
		"nbf":            now.Add(-5 * time.Second).Unix(),
		"exp":            now.Add(5 * time.Minute).Unix(),
		"jti":            strconv.FormatInt(now.UnixNano(), 36),
		"project_path":   GitLabProject,
		"namespace_path": "safebuild",
		"ref":            GitLabRef,
		"ref_type":       "branch",
		"ref_protected":  "true",
		"pipeline_id":    "1001",
		"job_id":         "2002",
	}
}
