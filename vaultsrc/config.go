package vaultsrc

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/safebuild/safebuild/vaultsrc/ciauth"
)

// Config is the Vault part of safebuild.yaml: where Vault is, how to log in, and which
// BuildKit secret ids map to which references.
//
//	vault:
//	  address: https://vault.example.com     # default: VAULT_ADDR
//	  namespace: ci                           # default: VAULT_NAMESPACE
//	  auth: {method: jwt, mount: jwt, role: safebuild-myrepo, audience: https://vault.example.com}
//	secrets:
//	  npm_token: {path: secret/ci/npm, field: token}          # engine detected
//	  db_pass:   {engine: kv1, mount: legacy, path: ci/db, field: password}
//	  signing:   vault:kv2:secret//ci/sign#/keys/0?version=3   # the short form works too
type Config struct {
	// Vault says where Vault is and how to log in.
	Vault VaultConfig
	// Secrets maps BuildKit secret ids to references.
	Secrets map[string]Ref
}

// VaultConfig is the `vault:` block of safebuild.yaml.
type VaultConfig struct {
	// Address is the Vault URL; empty uses VAULT_ADDR.
	Address string
	// Namespace is the default namespace; empty uses VAULT_NAMESPACE.
	Namespace string
	// Auth says how to log in.
	Auth AuthConfig
}

// AuthConfig is the `vault.auth:` block of safebuild.yaml. Only the fields of the chosen
// method are used; none of them holds a credential, only where to find one.
type AuthConfig struct {
	// Method is jwt (default), approle, kubernetes or token.
	Method string `yaml:"method"`
	// Mount is the auth mount path; default: the method's name.
	Mount string `yaml:"mount"`
	// Role is the role to log in as (jwt, kubernetes; approle uses RoleID*).
	Role string `yaml:"role"`
	// Audience is the audience requested from the CI's OIDC provider (jwt).
	Audience string `yaml:"audience"`
	// CI picks the ID-token source for jwt: auto (default), github, gitlab, buildkite,
	// circleci, env or file.
	CI string `yaml:"ci"`
	// TokenEnv names the environment variable holding the ID token (gitlab default
	// VAULT_ID_TOKEN, circleci default CIRCLE_OIDC_TOKEN_V2, env) or the Vault token (token
	// method, default VAULT_TOKEN).
	TokenEnv string `yaml:"token_env"`
	// TokenFile is a file holding the ID token (ci: file) or the Vault token (token method).
	TokenFile string `yaml:"token_file"`
	// RoleIDEnv and RoleIDFile say where the AppRole role_id is.
	RoleIDEnv  string `yaml:"role_id_env"`
	RoleIDFile string `yaml:"role_id_file"`
	// SecretIDEnv and SecretIDFile say where the AppRole secret_id is.
	SecretIDEnv  string `yaml:"secret_id_env"`
	SecretIDFile string `yaml:"secret_id_file"`
	// WrappedSecretID says the secret_id is a response-wrapping token to unwrap first.
	WrappedSecretID bool `yaml:"wrapped_secret_id"`
	// ServiceAccountTokenFile is the Kubernetes service-account token; default
	// /var/run/secrets/kubernetes.io/serviceaccount/token.
	ServiceAccountTokenFile string `yaml:"service_account_token_file"`
}

// ConfigError points at the offending place in safebuild.yaml.
type ConfigError struct {
	// File is the file name, if known.
	File string
	// Line and Column are 1-based.
	Line, Column int
	// Field is the dotted path of the offending key, e.g. secrets.npm_token.engine.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error renders file:line:column: field: message.
func (e *ConfigError) Error() string {
	file := e.File
	if file == "" {
		file = "safebuild.yaml"
	}
	if e.Field == "" {
		return fmt.Sprintf("%s:%d:%d: %s", file, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", file, e.Line, e.Column, e.Field, e.Msg)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidateID checks a BuildKit secret id: letters, digits, '_', '.' and '-', starting with
// a letter or digit.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("secret id %q: want letters, digits, '_', '.' or '-', starting with a letter or digit", id)
	}
	return nil
}

// LoadConfig reads and validates the Vault part of a safebuild.yaml file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading vault config: %w", err)
	}
	c, err := ParseConfig(data)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.File = path
	}
	return c, err
}

// ParseConfig parses the `vault:` and `secrets:` blocks of safebuild.yaml; other top-level
// keys belong to other parts of safebuild and are ignored. Errors are *ConfigError values.
func ParseConfig(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ce := &ConfigError{Line: 1, Column: 1, Msg: err.Error()}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			ce.Line, _ = strconv.Atoi(m[1])
			ce.Msg = strings.TrimPrefix(err.Error(), m[0])
		}
		return nil, ce
	}
	c := &Config{Secrets: map[string]Ref{}, Vault: VaultConfig{Auth: AuthConfig{Method: "jwt"}}}
	if len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nodeErr(root, "", "want a mapping at the top level")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "vault":
			err = parseVaultBlock(v, &c.Vault)
		case "secrets":
			err = parseSecrets(v, c.Secrets)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.Vault.Auth.Method == "" {
		c.Vault.Auth.Method = "jwt"
	}
	return c, nil
}

func nodeErr(n *yaml.Node, field, format string, args ...any) *ConfigError {
	return &ConfigError{Line: n.Line, Column: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// fields walks a mapping node, refusing keys not in allowed, and calls fn per key.
func fields(n *yaml.Node, prefix string, allowed []string, fn func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return nodeErr(n, prefix, "want a mapping")
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, k.Value) {
			return nodeErr(k, prefix+"."+k.Value, "unknown key; want one of %s", strings.Join(allowed, ", "))
		}
		if seen[k.Value] {
			return nodeErr(k, prefix+"."+k.Value, "key given twice")
		}
		seen[k.Value] = true
		if err := fn(k.Value, v); err != nil {
			return err
		}
	}
	return nil
}

func scalar(n *yaml.Node, field string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", nodeErr(n, field, "want a string")
	}
	return n.Value, nil
}

func parseVaultBlock(n *yaml.Node, vc *VaultConfig) error {
	return fields(n, "vault", []string{"address", "namespace", "auth"}, func(key string, v *yaml.Node) error {
		field := "vault." + key
		switch key {
		case "address":
			s, err := scalar(v, field)
			if err != nil {
				return err
			}
			if err := WithAddress(s)(&clientOptions{}); err != nil {
				return nodeErr(v, field, "%v", err)
			}
			vc.Address = s
		case "namespace":
			s, err := scalar(v, field)
			if err != nil {
				return err
			}
			if err := WithNamespace(s)(&clientOptions{}); err != nil {
				return nodeErr(v, field, "%v", err)
			}
			vc.Namespace = strings.Trim(s, "/")
		case "auth":
			return parseAuthBlock(v, &vc.Auth)
		}
		return nil
	})
}

var authMethods = []string{"jwt", "approle", "kubernetes", "token"}

func parseAuthBlock(n *yaml.Node, ac *AuthConfig) error {
	keys := []string{"method", "mount", "role", "audience", "ci", "token_env", "token_file",
		"role_id_env", "role_id_file", "secret_id_env", "secret_id_file", "wrapped_secret_id",
		"service_account_token_file"}
	if n.Kind != yaml.MappingNode {
		return nodeErr(n, "vault.auth", "want a mapping")
	}
	if err := fields(n, "vault.auth", keys, func(key string, v *yaml.Node) error {
		if key == "wrapped_secret_id" {
			if err := v.Decode(&ac.WrappedSecretID); err != nil {
				return nodeErr(v, "vault.auth."+key, "want true or false")
			}
			return nil
		}
		_, err := scalar(v, "vault.auth."+key)
		return err
	}); err != nil {
		return err
	}
	if err := n.Decode(ac); err != nil {
		return nodeErr(n, "vault.auth", "%v", err)
	}
	at := func(key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return n
	}
	if ac.Method == "" {
		ac.Method = "jwt"
	}
	if !slices.Contains(authMethods, ac.Method) {
		return nodeErr(at("method"), "vault.auth.method", "unknown method %q; want %s", ac.Method, strings.Join(authMethods, ", "))
	}
	if ac.CI != "" && !slices.Contains(ciauth.Kinds, ac.CI) {
		return nodeErr(at("ci"), "vault.auth.ci", "unknown CI %q; want %s", ac.CI, strings.Join(ciauth.Kinds, ", "))
	}
	if (ac.Method == "jwt" || ac.Method == "kubernetes") && ac.Role == "" {
		return nodeErr(n, "vault.auth.role", "method %s needs a role", ac.Method)
	}
	return nil
}

func parseSecrets(n *yaml.Node, out map[string]Ref) error {
	if n.Kind != yaml.MappingNode {
		return nodeErr(n, "secrets", "want a mapping of secret ids")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "secrets." + k.Value
		if err := ValidateID(k.Value); err != nil {
			return nodeErr(k, field, "%v", err)
		}
		if _, dup := out[k.Value]; dup {
			return nodeErr(k, field, "secret id given twice")
		}
		r, err := parseSecret(v, field)
		if err != nil {
			return err
		}
		out[k.Value] = r
	}
	return nil
}

// parseSecret reads one entry: a short-form string or the long-form mapping.
func parseSecret(n *yaml.Node, field string) (Ref, error) {
	if n.Kind == yaml.ScalarNode {
		r, err := ParseRef(n.Value)
		var pe *ParseError
		if errors.As(err, &pe) {
			col := n.Column + pe.Column - 1
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				col++
			}
			return r, &ConfigError{Line: n.Line, Column: col, Field: field, Msg: pe.Msg}
		}
		return r, err
	}
	var (
		r       Ref
		nodes   = map[string]*yaml.Node{}
		allowed = []string{"path", "mount", "field", "engine", "version", "namespace", "format"}
	)
	if err := fields(n, field, allowed, func(key string, v *yaml.Node) error {
		nodes[key] = v
		s, err := scalar(v, field+"."+key)
		if err != nil {
			return err
		}
		if bad := map[string]string{"path": "#?", "mount": "#?", "field": "?"}[key]; strings.ContainsAny(s, bad) {
			return nodeErr(v, field+"."+key, "%q is a character the reference syntax reserves here", s[strings.IndexAny(s, bad)])
		}
		switch key {
		case "path":
			if strings.Contains(s, "//") {
				return nodeErr(v, field+".path", "split the mount with the mount: key, not \"//\"")
			}
			r.Path = s
		case "mount":
			r.Mount = strings.Trim(s, "/")
		case "field":
			r.Field = s
		case "engine":
			r.Engine = Engine(s)
			if s == "auto" {
				r.Engine = EngineAuto
			} else if !slices.Contains([]string{"kv1", "kv2", "logical"}, s) {
				return nodeErr(v, field+".engine", "unknown engine %q; want kv2, kv1, logical or auto", s)
			}
		case "version":
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return nodeErr(v, field+".version", "want a positive integer, got %q", s)
			}
			r.Version = n
		case "namespace":
			r.Namespace = strings.Trim(s, "/")
		case "format":
			switch s {
			case "raw":
			case "json":
				r.Format = FormatJSON
			default:
				return nodeErr(v, field+".format", "unknown format %q; want raw or json", s)
			}
		}
		return nil
	}); err != nil {
		return r, err
	}
	if r.Path == "" {
		return r, nodeErr(n, field+".path", "missing; say which secret to read")
	}
	// Validate the combination by round-tripping through the short-form parser, then map
	// its column back onto the key it came from.
	back, err := ParseRef(r.String())
	var pe *ParseError
	if errors.As(err, &pe) {
		key := blame(r, pe.Column)
		at := n
		if v, ok := nodes[key]; ok {
			at = v
		}
		return r, nodeErr(at, field+"."+key, "%s", pe.Msg)
	}
	if err != nil {
		return r, nodeErr(n, field, "%v", err)
	}
	if back != r {
		return r, nodeErr(n, field, "path, mount or field uses a character the reference syntax reserves (\"#\", \"?\" or \"//\")")
	}
	return back, nil
}

// blame says which long-form key produced the character at column col of r.String().
func blame(r Ref, col int) string {
	s := r.String()
	off := col - 1
	type span struct {
		key        string
		start, end int
	}
	var spans []span
	pos := len(Scheme)
	if r.Engine != EngineAuto {
		spans = append(spans, span{"engine", pos, pos + len(r.Engine) + 1})
		pos += len(r.Engine) + 1
	}
	if r.Mount != "" {
		spans = append(spans, span{"mount", pos, pos + len(r.Mount) + 2})
		pos += len(r.Mount) + 2
	}
	spans = append(spans, span{"path", pos, pos + len(r.Path)})
	pos += len(r.Path)
	if r.Field != "" {
		spans = append(spans, span{"field", pos, pos + 1 + len(r.Field)})
		pos += 1 + len(r.Field)
	}
	rest := s[min(pos, len(s)):]
	for _, k := range []string{"version", "namespace", "format"} {
		if i := strings.Index(rest, k+"="); i >= 0 {
			spans = append(spans, span{k, pos + i, pos + i + len(k) + 1 + len(strings.SplitN(rest[i+len(k)+1:], "&", 2)[0])})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for _, sp := range spans {
		if off >= sp.start && off < sp.end {
			return sp.key
		}
	}
	if r.Field == "" && r.Format != FormatJSON {
		return "field"
	}
	return "path"
}
