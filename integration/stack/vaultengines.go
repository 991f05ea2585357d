package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
)

// The Vault parts for short-lived credentials (registry account, SSH certificates), signed
// verdicts (transit), and runtime footprints (AppRole workloads, file audit device).
const (
	// RegistryCredsPath is the KV v2 secret holding the authenticated registry's account, in
	// safebuild's reference form (mount "secret", path "ci/registry"): fields "username", "password".
	RegistryCredsPath = "secret/ci/registry"
	// SSHMount is the SSH secrets engine's mount; its CA signs user certificates.
	SSHMount = "ssh"
	// SSHRole is the signing role: key_type=ca, user certificates only, principal SSHUser only
	// (the default), TTL 10 minutes. The CI policy may update SSHMount/sign/SSHRole.
	SSHRole = "build"
	// SSHUser is the one principal SSHRole signs for, and the login of the stack's git server.
	SSHUser = "git"
	// VerdictKey is the transit key (ecdsa-p256) that signs scan verdicts; the CI policy may sign
	// with it (transit/sign/VerdictKey) and read its public key (transit/keys/VerdictKey).
	VerdictKey = "safebuild-verdict"
	// AppRoleMount is the AppRole auth method's mount, one role per entry of Workloads.
	AppRoleMount = "approle"
)

// Workload is a test workload's identity in Vault: the AppRole role Name at AppRoleMount,
// whose tokens carry only Policy. Policy can read every KV v2 secret under Prefix; the stack
// seeds two of them, Declared and Undeclared, each with the field "value". A test declares
// Declared as the workload's runtime footprint; reading Undeclared is then a deviation that
// Vault itself allows (the case a footprint watch exists for), and reading another workload's
// secret is one Vault denies.
type Workload struct {
	// Name is the role name, e.g. "web".
	Name string
	// RoleID is the role's role-id; a secret-id comes from Vault.SecretID.
	RoleID string
	// Policy is the policy name, "safebuild-workload-NAME".
	Policy string
	// Prefix is "secret/runtime/NAME/", the readable subtree, in reference form.
	Prefix string
	// Declared and Undeclared are "secret/runtime/NAME/db" and "secret/runtime/NAME/admin".
	Declared, Undeclared string
}

// WorkloadNames are the workloads the stack's Vault has an AppRole for.
var WorkloadNames = []string{"web", "batch"}

const workloadPolicy = `path "secret/data/runtime/%[1]s/*" { capabilities = ["read"] }
path "secret/metadata/runtime/%[1]s/*" { capabilities = ["read"] }
`

// configureEngines mounts and configures the SSH CA, the verdict key and the AppRole workloads,
// and writes kv (KV v2 paths under secret/ to data). It runs before the audit device is on.
func (v *Vault) configureEngines(ctx context.Context, c *api.Client, kv map[string]map[string]any) error {
	sys := c.Sys()
	if err := sys.MountWithContext(ctx, SSHMount, &api.MountInput{Type: "ssh"}); err != nil {
		return fmt.Errorf("vault: mounting the SSH secrets engine at %s/: %w", SSHMount, err)
	}
	// An ed25519 CA: generated at once, where Vault's default (RSA 4096) takes seconds.
	ca, err := c.Logical().WriteWithContext(ctx, SSHMount+"/config/ca", map[string]any{"generate_signing_key": true, "key_type": "ssh-ed25519"})
	if err != nil {
		return fmt.Errorf("vault: generating the SSH CA at %s/config/ca: %w", SSHMount, err)
	}
	pub, _ := ca.Data["public_key"].(string)
	if !strings.HasPrefix(pub, "ssh-") {
		return fmt.Errorf("vault: %s/config/ca returned no public key", SSHMount)
	}
	v.SSHCAPublicKey = strings.TrimSpace(pub)
	writes := []struct {
		path string
		data map[string]any
	}{
		{SSHMount + "/roles/" + SSHRole, map[string]any{
			"key_type":                "ca",
			"allow_user_certificates": true,
			"allowed_users":           SSHUser,
			"default_user":            SSHUser,
			"ttl":                     "10m",
			"max_ttl":                 "30m",
		}},
		{"transit/keys/" + VerdictKey, map[string]any{"type": "ecdsa-p256"}},
	}
	for path, data := range kv {
		writes = append(writes, struct {
			path string
			data map[string]any
		}{"secret/data/" + path, map[string]any{"data": data}})
	}
	for _, w := range writes {
		if _, err := c.Logical().WriteWithContext(ctx, w.path, w.data); err != nil {
			return fmt.Errorf("vault: configuring %s: %w", w.path, err)
		}
	}
	key, err := c.Logical().ReadWithContext(ctx, "transit/keys/"+VerdictKey)
	if err != nil || key == nil {
		return fmt.Errorf("vault: reading transit/keys/%s: %v", VerdictKey, err)
	}
	if keys, ok := key.Data["keys"].(map[string]any); ok {
		if k1, ok := keys["1"].(map[string]any); ok {
			v.VerdictPublicKey, _ = k1["public_key"].(string)
		}
	}
	if !strings.Contains(v.VerdictPublicKey, "PUBLIC KEY") {
		return fmt.Errorf("vault: transit/keys/%s has no PEM public key for version 1", VerdictKey)
	}
	return v.configureWorkloads(ctx, c)
}

func (v *Vault) configureWorkloads(ctx context.Context, c *api.Client) error {
	if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, AppRoleMount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return fmt.Errorf("vault: enabling AppRole auth at %s/: %w", AppRoleMount, err)
	}
	for _, name := range WorkloadNames {
		w := Workload{
			Name:       name,
			Policy:     "safebuild-workload-" + name,
			Prefix:     "secret/runtime/" + name + "/",
			Declared:   "secret/runtime/" + name + "/db",
			Undeclared: "secret/runtime/" + name + "/admin",
		}
		role := "auth/" + AppRoleMount + "/role/" + name
		writes := []struct {
			path string
			data map[string]any
		}{
			{"sys/policy/" + w.Policy, map[string]any{"policy": fmt.Sprintf(workloadPolicy, name)}},
			{role, map[string]any{
				"token_policies": []string{w.Policy},
				"token_ttl":      "10m",
				"token_max_ttl":  "15m",
				"secret_id_ttl":  "10m",
			}},
		}
		for _, p := range []string{w.Declared, w.Undeclared} {
			val, err := randomHex(16)
			if err != nil {
				return err
			}
			writes = append(writes, struct {
				path string
				data map[string]any
			}{"secret/data/" + strings.TrimPrefix(p, "secret/"), map[string]any{"data": map[string]any{"value": val}}})
		}
		for _, wr := range writes {
			if _, err := c.Logical().WriteWithContext(ctx, wr.path, wr.data); err != nil {
				return fmt.Errorf("vault: configuring %s: %w", wr.path, err)
			}
		}
		sec, err := c.Logical().ReadWithContext(ctx, role+"/role-id")
		if err != nil || sec == nil {
			return fmt.Errorf("vault: reading %s/role-id: %v", role, err)
		}
		w.RoleID, _ = sec.Data["role_id"].(string)
		if w.RoleID == "" {
			return fmt.Errorf("vault: %s/role-id returned no role_id", role)
		}
		v.Workloads = append(v.Workloads, w)
	}
	return nil
}

// enableAudit turns on the file audit device, writing JSON lines to v.AuditLog. It runs last, so
// the log holds what tests do, not the stack's own set-up.
func (v *Vault) enableAudit(ctx context.Context, c *api.Client) error {
	err := c.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &api.EnableAuditOptions{
		Type:    "file",
		Options: map[string]string{"file_path": v.AuditLog},
	})
	if err != nil {
		return fmt.Errorf("vault: enabling the file audit device (%s): %w", v.AuditLog, err)
	}
	return nil
}

// Workload returns the workload called name, or an error listing the known ones.
func (v *Vault) Workload(name string) (Workload, error) {
	for _, w := range v.Workloads {
		if w.Name == name {
			return w, nil
		}
	}
	return Workload{}, fmt.Errorf("no workload %q in the stack's Vault (have %s)", name, strings.Join(WorkloadNames, ", "))
}

// SecretID mints a fresh secret-id (valid 10 minutes) for the workload's AppRole, with the root token.
func (v *Vault) SecretID(ctx context.Context, workload string) (string, error) {
	if _, err := v.Workload(workload); err != nil {
		return "", err
	}
	c, err := v.Client()
	if err != nil {
		return "", err
	}
	path := "auth/" + AppRoleMount + "/role/" + workload + "/secret-id"
	sec, err := c.Logical().WriteWithContext(ctx, path, nil)
	if err != nil {
		return "", fmt.Errorf("vault: minting a secret-id at %s: %w", path, err)
	}
	id, _ := sec.Data["secret_id"].(string)
	if id == "" {
		return "", fmt.Errorf("vault: %s returned no secret_id", path)
	}
	return id, nil
}

// LoginWorkload logs in as the workload through its AppRole (a fresh secret-id) and returns a
// client holding only that token: what a running workload would use.
func (v *Vault) LoginWorkload(ctx context.Context, workload string) (*api.Client, error) {
	w, err := v.Workload(workload)
	if err != nil {
		return nil, err
	}
	sid, err := v.SecretID(ctx, workload)
	if err != nil {
		return nil, err
	}
	c, err := v.Client()
	if err != nil {
		return nil, err
	}
	c.ClearToken()
	auth, err := approle.NewAppRoleAuth(w.RoleID, &approle.SecretID{FromString: sid}, approle.WithMountPath(AppRoleMount))
	if err != nil {
		return nil, err
	}
	if _, err := c.Auth().Login(ctx, auth); err != nil {
		return nil, fmt.Errorf("vault: AppRole login of workload %q at auth/%s: %w", workload, AppRoleMount, err)
	}
	return c, nil
}

// SignSSHKey has the stack's SSH CA sign publicKey (authorized_keys form) through SSHRole for
// principal SSHUser, valid for ttl, with the root token. It returns the certificate in
// authorized_keys form ("ssh-ed25519-cert-v01@openssh.com AAAA…").
func (v *Vault) SignSSHKey(ctx context.Context, publicKey string, ttl time.Duration) (string, error) {
	c, err := v.Client()
	if err != nil {
		return "", err
	}
	path := SSHMount + "/sign/" + SSHRole
	sec, err := c.Logical().WriteWithContext(ctx, path, map[string]any{
		"public_key":       publicKey,
		"valid_principals": SSHUser,
		"ttl":              ttl.String(),
	})
	if err != nil {
		return "", fmt.Errorf("vault: signing an SSH key at %s: %w", path, err)
	}
	cert, _ := sec.Data["signed_key"].(string)
	if cert == "" {
		return "", fmt.Errorf("vault: %s returned no signed_key", path)
	}
	return strings.TrimSpace(cert), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func auditLogPath(logDir string) string { return filepath.Join(logDir, "vault-audit.log") }
