package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"
	"github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/safebuild/safebuild/vaultsrc/ciauth"
)

// DefaultServiceAccountTokenFile is where Kubernetes mounts a pod's service-account token.
const DefaultServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

type authOptions struct {
	mount     string
	tokenEnv  string
	tokenFile string
	wrapped   bool
}

// AuthOption configures the auth method constructors.
type AuthOption func(*authOptions) error

// WithMount sets the auth mount path. Default: the method's name (jwt, approle,
// kubernetes).
func WithMount(path string) AuthOption {
	return func(o *authOptions) error {
		path = strings.Trim(path, "/")
		if path == "" || strings.Contains(path, "//") || strings.ContainsAny(path, "?#") {
			return fmt.Errorf("auth mount %q: want a path such as jwt or ci/jwt", path)
		}
		o.mount = path
		return nil
	}
}

// WithTokenEnv reads the credential from an environment variable: the Vault token for
// NewTokenAuth (default VAULT_TOKEN). Not valid with WithTokenFile.
func WithTokenEnv(name string) AuthOption {
	return func(o *authOptions) error {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return fmt.Errorf("token env %q: want a variable name", name)
		}
		o.tokenEnv = name
		return nil
	}
}

// WithTokenFile reads the credential from a file: the Vault token for NewTokenAuth, the
// service-account token for NewKubernetesAuth (default DefaultServiceAccountTokenFile).
func WithTokenFile(path string) AuthOption {
	return func(o *authOptions) error {
		if path == "" {
			return errors.New("token file: empty path")
		}
		o.tokenFile = path
		return nil
	}
}

// WithWrappedSecretID says the AppRole secret_id is a response-wrapping token, unwrapped
// (once, single use) just before login. Default: plain secret_id.
func WithWrappedSecretID() AuthOption {
	return func(o *authOptions) error { o.wrapped = true; return nil }
}

func newAuthOptions(def string, opts []AuthOption) (*authOptions, error) {
	o := &authOptions{mount: def}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.tokenEnv != "" && o.tokenFile != "" {
		return nil, errors.New("choose one of token env and token file")
	}
	return o, nil
}

// JWTAuth logs in to Vault's JWT auth method with an ID token from a ciauth.Source,
// fetched just before login.
type JWTAuth struct {
	role  string
	mount string
	src   ciauth.Source
}

var _ api.AuthMethod = (*JWTAuth)(nil)

// NewJWTAuth returns the JWT login for role with tokens from src. Options: WithMount.
func NewJWTAuth(role string, src ciauth.Source, opts ...AuthOption) (*JWTAuth, error) {
	if role == "" {
		return nil, errors.New("jwt auth: a role is required")
	}
	if src == nil {
		return nil, errors.New("jwt auth: an ID token source is required")
	}
	o, err := newAuthOptions("jwt", opts)
	if err != nil {
		return nil, err
	}
	return &JWTAuth{role: role, mount: o.mount, src: src}, nil
}

// String names the method for messages.
func (a *JWTAuth) String() string {
	return fmt.Sprintf("jwt role %q at auth/%s (ID token from %s)", a.role, a.mount, a.src.Name())
}

// Login implements api.AuthMethod: POST auth/<mount>/login {"role","jwt"}.
func (a *JWTAuth) Login(ctx context.Context, c *api.Client) (*api.Secret, error) {
	jwt, err := a.src.Token(ctx)
	if err != nil {
		return nil, err
	}
	return c.Logical().WriteWithContext(ctx, "auth/"+a.mount+"/login", map[string]any{"role": a.role, "jwt": jwt})
}

// KubernetesAuth logs in with the pod's service-account token.
type KubernetesAuth struct {
	role, mount, tokenFile string
}

var _ api.AuthMethod = (*KubernetesAuth)(nil)

// NewKubernetesAuth returns the Kubernetes login for role. Options: WithMount,
// WithTokenFile (the service-account token; read at login).
func NewKubernetesAuth(role string, opts ...AuthOption) (*KubernetesAuth, error) {
	if role == "" {
		return nil, errors.New("kubernetes auth: a role is required")
	}
	o, err := newAuthOptions("kubernetes", opts)
	if err != nil {
		return nil, err
	}
	if o.tokenEnv != "" {
		return nil, errors.New("kubernetes auth: the service-account token comes from a file (token_file)")
	}
	if o.tokenFile == "" {
		o.tokenFile = DefaultServiceAccountTokenFile
	}
	return &KubernetesAuth{role: role, mount: o.mount, tokenFile: o.tokenFile}, nil
}

// String names the method for messages.
func (a *KubernetesAuth) String() string {
	return fmt.Sprintf("kubernetes role %q at auth/%s", a.role, a.mount)
}

// Login implements api.AuthMethod through api/auth/kubernetes, reading the token now.
func (a *KubernetesAuth) Login(ctx context.Context, c *api.Client) (*api.Secret, error) {
	m, err := kubernetes.NewKubernetesAuth(a.role, kubernetes.WithMountPath(a.mount),
		kubernetes.WithServiceAccountTokenPath(a.tokenFile))
	if err != nil {
		return nil, fmt.Errorf("kubernetes auth: %w", err)
	}
	return m.Login(ctx, c)
}

// Credential says where a non-secret-flag credential lives: an environment variable or a
// file. Exactly one must be set.
type Credential struct {
	Env  string
	File string
}

func (cr Credential) validate(what string) error {
	if (cr.Env == "") == (cr.File == "") {
		return fmt.Errorf("%s: set exactly one of env and file", what)
	}
	return nil
}

func (cr Credential) read(what string) (string, error) {
	if cr.Env != "" {
		v := os.Getenv(cr.Env)
		if v == "" {
			return "", fmt.Errorf("%s: $%s is empty or unset", what, cr.Env)
		}
		return v, nil
	}
	f, err := os.Open(cr.File)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%s: reading %s: %w", what, cr.File, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", what, cr.File)
	}
	return v, nil
}

// AppRoleAuth logs in with an AppRole role_id and secret_id.
type AppRoleAuth struct {
	roleID, secretID Credential
	mount            string
	wrapped          bool
}

var _ api.AuthMethod = (*AppRoleAuth)(nil)

// NewAppRoleAuth returns the AppRole login. Options: WithMount, WithWrappedSecretID.
func NewAppRoleAuth(roleID, secretID Credential, opts ...AuthOption) (*AppRoleAuth, error) {
	if err := roleID.validate("approle role_id"); err != nil {
		return nil, err
	}
	if err := secretID.validate("approle secret_id"); err != nil {
		return nil, err
	}
	o, err := newAuthOptions("approle", opts)
	if err != nil {
		return nil, err
	}
	return &AppRoleAuth{roleID: roleID, secretID: secretID, mount: o.mount, wrapped: o.wrapped}, nil
}

// String names the method for messages.
func (a *AppRoleAuth) String() string { return fmt.Sprintf("approle at auth/%s", a.mount) }

// Login implements api.AuthMethod through api/auth/approle.
func (a *AppRoleAuth) Login(ctx context.Context, c *api.Client) (*api.Secret, error) {
	roleID, err := a.roleID.read("approle role_id")
	if err != nil {
		return nil, err
	}
	sid := &approle.SecretID{FromEnv: a.secretID.Env, FromFile: a.secretID.File}
	opts := []approle.LoginOption{approle.WithMountPath(a.mount)}
	if a.wrapped {
		opts = append(opts, approle.WithWrappingToken())
	}
	m, err := approle.NewAppRoleAuth(roleID, sid, opts...)
	if err != nil {
		return nil, fmt.Errorf("approle auth: %w", err)
	}
	return m.Login(ctx, c)
}

// TokenAuth uses an existing Vault token. It is opt-in only: a Session never revokes a
// token it did not create.
type TokenAuth struct {
	cred Credential
}

var _ api.AuthMethod = (*TokenAuth)(nil)

// NewTokenAuth returns the token method. Options: WithTokenEnv (default VAULT_TOKEN),
// WithTokenFile.
func NewTokenAuth(opts ...AuthOption) (*TokenAuth, error) {
	o, err := newAuthOptions("token", opts)
	if err != nil {
		return nil, err
	}
	cr := Credential{Env: o.tokenEnv, File: o.tokenFile}
	if cr.Env == "" && cr.File == "" {
		cr.Env = api.EnvVaultToken
	}
	return &TokenAuth{cred: cr}, nil
}

// String names the method for messages.
func (a *TokenAuth) String() string {
	if a.cred.File != "" {
		return "token from " + a.cred.File
	}
	return "token from $" + a.cred.Env
}

// borrowed marks tokens the session must not revoke.
func (a *TokenAuth) borrowed() bool { return true }

// Login implements api.AuthMethod: it reads the token and looks it up to learn its TTL and
// whether it renews. A token whose policy denies lookup-self is used as is.
func (a *TokenAuth) Login(ctx context.Context, c *api.Client) (*api.Secret, error) {
	tok, err := a.cred.read("vault token")
	if err != nil {
		return nil, err
	}
	out := &api.Secret{Auth: &api.SecretAuth{ClientToken: tok}}
	c2, err := c.CloneWithHeaders()
	if err != nil {
		return nil, err
	}
	c2.SetToken(tok)
	c2.SetWrappingLookupFunc(noWrapping)
	s, err := c2.Auth().Token().LookupSelfWithContext(ctx)
	var re *api.ResponseError
	switch {
	case errors.As(err, &re) && re.StatusCode == 403:
		// Usable but opaque: no renewal.
	case err != nil:
		return nil, err
	case s != nil:
		if ttl, err := s.TokenTTL(); err == nil {
			out.Auth.LeaseDuration = int(ttl.Seconds())
		}
		out.Auth.Renewable, _ = s.TokenIsRenewable()
		out.Auth.Policies, _ = s.TokenPolicies()
	}
	return out, nil
}

// AuthFromConfig builds the auth method an AuthConfig describes. ciOpts reach the ID-token
// source of the jwt method (tests pass ciauth.WithGetenv there).
func AuthFromConfig(ac AuthConfig, ciOpts ...ciauth.Option) (api.AuthMethod, error) {
	var opts []AuthOption
	if ac.Mount != "" {
		opts = append(opts, WithMount(ac.Mount))
	}
	switch ac.Method {
	case "", "jwt":
		if ac.TokenEnv != "" {
			ciOpts = append(ciOpts, ciauth.WithEnvName(ac.TokenEnv))
		}
		if ac.TokenFile != "" {
			ciOpts = append(ciOpts, ciauth.WithFile(ac.TokenFile))
		}
		src, err := ciauth.New(ac.CI, ac.Audience, ciOpts...)
		if err != nil {
			return nil, err
		}
		return NewJWTAuth(ac.Role, src, opts...)
	case "approle":
		if ac.WrappedSecretID {
			opts = append(opts, WithWrappedSecretID())
		}
		return NewAppRoleAuth(Credential{Env: ac.RoleIDEnv, File: ac.RoleIDFile},
			Credential{Env: ac.SecretIDEnv, File: ac.SecretIDFile}, opts...)
	case "kubernetes":
		if ac.ServiceAccountTokenFile != "" {
			opts = append(opts, WithTokenFile(ac.ServiceAccountTokenFile))
		}
		return NewKubernetesAuth(ac.Role, opts...)
	case "token":
		if ac.TokenEnv != "" {
			opts = append(opts, WithTokenEnv(ac.TokenEnv))
		}
		if ac.TokenFile != "" {
			opts = append(opts, WithTokenFile(ac.TokenFile))
		}
		return NewTokenAuth(opts...)
	}
	return nil, fmt.Errorf("unknown auth method %q; want %s", ac.Method, strings.Join(authMethods, ", "))
}
