package vaultsrc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"
)

// MaxRoleTTL is the longest token_ttl NewRoleTemplate writes: a build token should die
// soon after the build, and renewal covers longer builds.
const MaxRoleTTL = 15 * time.Minute

// RoleSpec describes the CI identity a Vault JWT role admits and what it may read.
type RoleSpec struct {
	// CI is "github" (default) or "gitlab"; it decides the claim names.
	CI string
	// Repository is owner/repo on GitHub, group[/subgroup]/project on GitLab.
	Repository string
	// Branch is the branch name (not refs/heads/...).
	Branch string
	// Audience is the aud the CI's ID token carries, the role's bound_audiences.
	Audience string
	// Role names the role; default safebuild-<repository>-<branch>, slugged.
	Role string
	// Policy names the policy; default the role's name.
	Policy string
	// Mount is the JWT auth mount; default jwt.
	Mount string
	// Issuer is the CI's OIDC issuer, shown in the auth/<mount>/config hint; default
	// GitHub's, or https://gitlab.com.
	Issuer string
	// Paths are the Vault API paths (as in a policy, "*" and "+" allowed) granted read.
	Paths []string
	// TTL is token_ttl; default 10m, at most MaxRoleTTL.
	TTL time.Duration
	// MaxTTL is token_max_ttl, the limit of renewal; default 1h.
	MaxTTL time.Duration
}

// RoleTemplate is a minimal JWT role and its policy, ready to print; safebuild never
// applies it.
type RoleTemplate struct {
	// Spec is the validated spec with defaults filled in.
	Spec RoleSpec
	// PolicyName and PolicyHCL are the policy.
	PolicyName, PolicyHCL string
	// RolePath is auth/<mount>/role/<name>.
	RolePath string
	// Role is the role's JSON body.
	Role map[string]any
}

var (
	githubRepo = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	gitlabRepo = regexp.MustCompile(`^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$`)
	roleName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	policyPath = regexp.MustCompile(`^[A-Za-z0-9_.+*@=:/-]+$`)
)

// NewRoleTemplate validates spec and builds the role and policy: exact (not glob)
// bound_claims, bound_audiences, a short token_ttl, token_no_default_policy=true and the
// revoke-self and renew-self grants that option otherwise takes away.
func NewRoleTemplate(spec RoleSpec) (*RoleTemplate, error) {
	if err := fillRoleDefaults(&spec); err != nil {
		return nil, err
	}
	var claims map[string]any
	var userClaim string
	switch spec.CI {
	case "github":
		userClaim = "repository"
		claims = map[string]any{"repository": spec.Repository, "ref": "refs/heads/" + spec.Branch, "ref_type": "branch"}
	case "gitlab":
		userClaim = "project_path"
		claims = map[string]any{"project_path": spec.Repository, "ref": spec.Branch, "ref_type": "branch", "ref_protected": "true"}
	}
	t := &RoleTemplate{
		Spec:       spec,
		PolicyName: spec.Policy,
		RolePath:   "auth/" + spec.Mount + "/role/" + spec.Role,
		Role: map[string]any{
			"role_type":               "jwt",
			"bound_audiences":         []string{spec.Audience},
			"user_claim":              userClaim,
			"bound_claims_type":       "string",
			"bound_claims":            claims,
			"token_policies":          []string{spec.Policy},
			"token_ttl":               vaultDuration(spec.TTL),
			"token_max_ttl":           vaultDuration(spec.MaxTTL),
			"token_type":              "service",
			"token_no_default_policy": true,
		},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# safebuild builds of %s, branch %s: read the build secrets, nothing else.\n", spec.Repository, spec.Branch)
	for _, p := range spec.Paths {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [\"read\"]\n}\n", p)
	}
	b.WriteString("# token_no_default_policy=true takes these away; safebuild renews its token during long builds\n")
	b.WriteString("# and revokes it when the build ends.\n")
	for _, p := range []string{"auth/token/renew-self", "auth/token/revoke-self"} {
		fmt.Fprintf(&b, "path %q {\n  capabilities = [\"update\"]\n}\n", p)
	}
	t.PolicyHCL = b.String()
	return t, nil
}

func fillRoleDefaults(s *RoleSpec) error {
	if s.CI == "" {
		s.CI = "github"
	}
	var errs []error
	switch s.CI {
	case "github":
		if !githubRepo.MatchString(s.Repository) {
			errs = append(errs, fmt.Errorf("repository %q: want owner/repo", s.Repository))
		}
		if s.Issuer == "" {
			s.Issuer = "https://token.actions.githubusercontent.com"
		}
	case "gitlab":
		if !gitlabRepo.MatchString(s.Repository) {
			errs = append(errs, fmt.Errorf("repository %q: want group/project or group/subgroup/project", s.Repository))
		}
		if s.Issuer == "" {
			s.Issuer = "https://gitlab.com"
		}
	default:
		return fmt.Errorf("ci %q: want github or gitlab", s.CI)
	}
	if err := checkBranch(s.Branch); err != nil {
		errs = append(errs, err)
	}
	if s.Audience == "" || strings.ContainsAny(s.Audience, " \t\n\"'") {
		errs = append(errs, fmt.Errorf("audience %q: want the aud your CI puts in the ID token, e.g. https://vault.example.com", s.Audience))
	}
	if s.Role == "" {
		s.Role = slug("safebuild-" + s.Repository + "-" + s.Branch)
	}
	if s.Policy == "" {
		s.Policy = s.Role
	}
	for _, n := range []string{s.Role, s.Policy} {
		if !roleName.MatchString(n) {
			errs = append(errs, fmt.Errorf("name %q: want letters, digits, '_', '.' or '-'", n))
		}
	}
	if s.Mount == "" {
		s.Mount = "jwt"
	}
	if err := WithMount(s.Mount)(&authOptions{}); err != nil {
		errs = append(errs, err)
	}
	s.Mount = strings.Trim(s.Mount, "/")
	if s.TTL == 0 {
		s.TTL = 10 * time.Minute
	}
	if s.MaxTTL == 0 {
		s.MaxTTL = time.Hour
	}
	if s.TTL < time.Minute || s.TTL > MaxRoleTTL {
		errs = append(errs, fmt.Errorf("ttl %s: want 1m to %s", s.TTL, MaxRoleTTL))
	}
	if s.MaxTTL < s.TTL || s.MaxTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("max ttl %s: want between the ttl (%s) and 24h", s.MaxTTL, s.TTL))
	}
	if len(s.Paths) == 0 {
		errs = append(errs, errors.New("no secret paths: name at least one path the builds read"))
	}
	seen := map[string]bool{}
	var paths []string
	for _, p := range s.Paths {
		p = strings.TrimPrefix(p, "/")
		if !policyPath.MatchString(p) {
			errs = append(errs, fmt.Errorf("path %q: want a Vault API path such as secret/data/ci/npm", p))
			continue
		}
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	s.Paths = paths
	return errors.Join(errs...)
}

func checkBranch(b string) error {
	switch {
	case b == "":
		return errors.New("branch: required")
	case strings.HasPrefix(b, "refs/"):
		return fmt.Errorf("branch %q: give the branch name without refs/heads/", b)
	case strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\\"'") || strings.HasPrefix(b, "-") || strings.HasSuffix(b, "/"):
		return fmt.Errorf("branch %q: not a valid branch name (globs are deliberately not supported)", b)
	}
	for _, r := range b {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("branch %q: control character", b)
		}
	}
	return nil
}

// vaultDuration renders d the way a person writes it in Vault: 10m, 1h, 90s.
func vaultDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// PolicyPath is the API path a policy must allow to read ref. References whose mount is
// detected at build time have no fixed path: split the mount (<mount>//<path>) for them.
func PolicyPath(ref Ref) (string, error) {
	switch {
	case ref.Engine == EngineLogical:
		return ref.FullPath(), nil
	case ref.Mount == "":
		return "", fmt.Errorf("%s: the mount is detected at build time, so the policy path is unknown; "+
			"write it as <mount>//<path> or give the path explicitly", ref)
	case ref.Engine == EngineKV1:
		return ref.Mount + "/" + ref.Path, nil
	}
	// kv2, or detected with an explicit mount (KV v2 is the default).
	return ref.Mount + "/data/" + ref.Path, nil
}

// WriteCommands prints the vault CLI commands that create the policy and the role.
func (t *RoleTemplate) WriteCommands(w io.Writer) error {
	role, err := json.MarshalIndent(t.Role, "", "  ")
	if err != nil {
		return err
	}
	s := t.Spec
	_, err = fmt.Fprintf(w, `# Minimal Vault JWT role for safebuild: %s %s, branch %s.
# safebuild only prints these commands; review them, then run them with a token that may
# write policies and %s.
#
# Once per Vault, the auth method must trust the CI's issuer, e.g.:
#   vault write auth/%s/config oidc_discovery_url=%s bound_issuer=%s

vault policy write %s - <<'EOF'
%sEOF

vault write %s - <<'EOF'
%s
EOF
`, s.CI, s.Repository, s.Branch, t.RolePath, s.Mount, s.Issuer, s.Issuer, t.PolicyName, t.PolicyHCL, t.RolePath, role)
	return err
}

// WriteJSON prints the template as one JSON document:
// {"policy_name","policy","role_path","role"}.
func (t *RoleTemplate) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{
		"policy_name": t.PolicyName,
		"policy":      t.PolicyHCL,
		"role_path":   t.RolePath,
		"role":        t.Role,
	})
}
