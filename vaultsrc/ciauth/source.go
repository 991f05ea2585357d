package ciauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Source yields an OIDC ID token (a JWT) to log in to Vault with.
type Source interface {
	// Token fetches a token. Sessions call it just before each login and never cache the
	// result, because CI tokens live for minutes.
	Token(ctx context.Context) (string, error)
	// Name says where tokens come from, for messages; it never contains a token.
	Name() string
}

// Default environment variable names.
const (
	// GitLabEnv is the id_tokens entry GitLab jobs are expected to declare.
	GitLabEnv = "VAULT_ID_TOKEN"
	// CircleCIEnv holds CircleCI's OIDC token (the V2 form, whose sub names the source).
	CircleCIEnv = "CIRCLE_OIDC_TOKEN_V2"
	// BuildkiteAgent is the command Buildkite jobs request tokens with.
	BuildkiteAgent = "buildkite-agent"
)

// maxTokenSize bounds what is read from an endpoint, file or command.
const maxTokenSize = 64 << 10

type options struct {
	getenv     func(string) string
	httpClient *http.Client
	envName    string
	file       string
	command    string
	now        func() time.Time
}

// Option configures the constructors in this package.
type Option func(*options) error

// WithGetenv replaces os.Getenv, for tests and for callers that sanitise the environment.
// Default: os.Getenv.
func WithGetenv(fn func(string) string) Option {
	return func(o *options) error {
		if fn == nil {
			return errors.New("WithGetenv: nil function")
		}
		o.getenv = fn
		return nil
	}
}

// WithHTTPClient sets the client used for GitHub's token endpoint. Default: a client with a
// 30s timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) error {
		if c == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		o.httpClient = c
		return nil
	}
}

// WithEnvName names the environment variable holding the token, for GitLab (default
// VAULT_ID_TOKEN), CircleCI (default CIRCLE_OIDC_TOKEN_V2) and Env.
func WithEnvName(name string) Option {
	return func(o *options) error {
		if name == "" || strings.ContainsAny(name, "=\x00") {
			return fmt.Errorf("WithEnvName(%q): want a variable name", name)
		}
		o.envName = name
		return nil
	}
}

// WithFile names the file holding the token, for File. No default.
func WithFile(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("WithFile: empty path")
		}
		o.file = path
		return nil
	}
}

// WithCommand sets the buildkite-agent executable. Default: buildkite-agent from PATH.
func WithCommand(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("WithCommand: empty path")
		}
		o.command = path
		return nil
	}
}

func newOptions(opts []Option) (*options, error) {
	o := &options{getenv: os.Getenv, now: time.Now}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.httpClient == nil {
		o.httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return o, nil
}

// Kinds are the names New accepts.
var Kinds = []string{"auto", "github", "gitlab", "buildkite", "circleci", "env", "file"}

// New returns the source called kind (one of Kinds; "" means auto) for audience.
func New(kind, audience string, opts ...Option) (Source, error) {
	switch kind {
	case "", "auto":
		return Detect(audience, opts...)
	case "github":
		return GitHubActions(audience, opts...)
	case "gitlab":
		return GitLab(audience, opts...)
	case "buildkite":
		return Buildkite(audience, opts...)
	case "circleci":
		return CircleCI(audience, opts...)
	case "env":
		return Env(audience, opts...)
	case "file":
		return File(audience, opts...)
	}
	return nil, fmt.Errorf("unknown CI token source %q; want one of %s", kind, strings.Join(Kinds, ", "))
}

// Detect picks the source for the CI the process runs in, from GITHUB_ACTIONS, GITLAB_CI,
// BUILDKITE and CIRCLECI.
func Detect(audience string, opts ...Option) (Source, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	switch {
	case o.getenv("GITHUB_ACTIONS") == "true":
		return GitHubActions(audience, opts...)
	case o.getenv("GITLAB_CI") == "true":
		return GitLab(audience, opts...)
	case o.getenv("BUILDKITE") == "true":
		return Buildkite(audience, opts...)
	case o.getenv("CIRCLECI") == "true":
		return CircleCI(audience, opts...)
	}
	return nil, errors.New("no CI detected (GITHUB_ACTIONS, GITLAB_CI, BUILDKITE, CIRCLECI are unset): " +
		"choose the ID token source explicitly (ci: env or ci: file)")
}

// github requests a token from the Actions runtime.
type github struct {
	audience string
	o        *options
}

// GitHubActions requests an ID token for audience from ACTIONS_ID_TOKEN_REQUEST_URL with
// ACTIONS_ID_TOKEN_REQUEST_TOKEN, each time Token is called. The job needs
// `permissions: id-token: write`.
func GitHubActions(audience string, opts ...Option) (Source, error) {
	if audience == "" {
		return nil, errors.New("GitHub Actions ID token: an audience is required")
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &github{audience: audience, o: o}, nil
}

var _ Source = (*github)(nil)

// Name implements Source.
func (g *github) Name() string { return "GitHub Actions" }

// Token implements Source.
func (g *github) Token(ctx context.Context) (string, error) {
	raw, bearer := g.o.getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), g.o.getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if raw == "" || bearer == "" {
		return "", errors.New("GitHub Actions ID token: ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are unset; " +
			"give the job `permissions: id-token: write` (fork pull requests never get one)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", errors.New("GitHub Actions ID token: ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL")
	}
	q := u.Query()
	q.Set("audience", g.audience)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("GitHub Actions ID token: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := g.o.httpClient.Do(req)
	if err != nil {
		// Name only the host: the runtime URL identifies the job.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("GitHub Actions ID token: requesting from %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenSize))
	if err != nil {
		return "", fmt.Errorf("GitHub Actions ID token: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GitHub Actions ID token: %s answered HTTP %d", u.Host, resp.StatusCode)
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Value == "" {
		return "", errors.New("GitHub Actions ID token: the answer has no \"value\"")
	}
	return checkJWT(v.Value, g.Name(), g.audience, g.o.now())
}

// env reads a token from an environment variable.
type env struct {
	name, label, audience, hint string
	o                           *options
}

var _ Source = (*env)(nil)

// GitLab reads the ID token GitLab put into the job's environment through
// `id_tokens: {VAULT_ID_TOKEN: {aud: <audience>}}`; WithEnvName changes the name.
func GitLab(audience string, opts ...Option) (Source, error) {
	return newEnv("GitLab", GitLabEnv, audience,
		"declare it with id_tokens: {NAME: {aud: AUDIENCE}} in the job", opts)
}

// CircleCI reads CIRCLE_OIDC_TOKEN_V2 (set in jobs that use a context); WithEnvName changes
// the name. CircleCI fixes its audience to the organization ID.
func CircleCI(audience string, opts ...Option) (Source, error) {
	// The audience is CircleCI's to choose, so it is not checked here.
	_ = audience
	return newEnv("CircleCI", CircleCIEnv, "", "it is set only in jobs that use a context", opts)
}

// Env reads a token from the variable named with WithEnvName (required).
func Env(audience string, opts ...Option) (Source, error) {
	return newEnv("environment", "", audience, "", opts)
}

func newEnv(label, def, audience, hint string, opts []Option) (Source, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	name := o.envName
	if name == "" {
		name = def
	}
	if name == "" {
		return nil, errors.New("environment ID token: name the variable (token_env)")
	}
	return &env{name: name, label: label, audience: audience, hint: hint, o: o}, nil
}

// Name implements Source.
func (e *env) Name() string { return fmt.Sprintf("%s ($%s)", e.label, e.name) }

// Token implements Source.
func (e *env) Token(context.Context) (string, error) {
	v := e.o.getenv(e.name)
	if v == "" {
		msg := fmt.Sprintf("%s ID token: $%s is empty or unset", e.label, e.name)
		if e.hint != "" {
			msg += "; " + e.hint
		}
		return "", errors.New(msg)
	}
	return checkJWT(v, e.Name(), e.audience, e.o.now())
}

// file reads a token from a file.
type file struct {
	path, audience string
	o              *options
}

var _ Source = (*file)(nil)

// File reads a token from the file named with WithFile (required), each time Token is
// called, so a file another process refreshes is picked up.
func File(audience string, opts ...Option) (Source, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.file == "" {
		return nil, errors.New("file ID token: name the file (token_file)")
	}
	return &file{path: o.file, audience: audience, o: o}, nil
}

// Name implements Source.
func (f *file) Name() string { return fmt.Sprintf("file %s", f.path) }

// Token implements Source.
func (f *file) Token(context.Context) (string, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return "", fmt.Errorf("ID token: %w", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenSize))
	if err != nil {
		return "", fmt.Errorf("ID token: reading %s: %w", f.path, err)
	}
	return checkJWT(string(b), f.Name(), f.audience, f.o.now())
}

// buildkite runs `buildkite-agent oidc request-token`.
type buildkite struct {
	audience string
	o        *options
}

var _ Source = (*buildkite)(nil)

// Buildkite runs `buildkite-agent oidc request-token --audience <audience>` and reads the
// token from its standard output. The token is never put on any command line or into any
// environment.
func Buildkite(audience string, opts ...Option) (Source, error) {
	if audience == "" {
		return nil, errors.New("Buildkite ID token: an audience is required")
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.command == "" {
		o.command = BuildkiteAgent
	}
	return &buildkite{audience: audience, o: o}, nil
}

// Name implements Source.
func (b *buildkite) Name() string { return "Buildkite" }

// Token implements Source.
func (b *buildkite) Token(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, b.o.command, "oidc", "request-token", "--audience", b.audience)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxTokenSize}
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	if err := cmd.Run(); err != nil {
		msg := firstLine(stderr.String())
		if msg != "" {
			// The command failed, so there is no token in it to leak.
			return "", fmt.Errorf("Buildkite ID token: %s oidc request-token: %w: %s", b.o.command, err, msg)
		}
		return "", fmt.Errorf("Buildkite ID token: %s oidc request-token: %w", b.o.command, err)
	}
	return checkJWT(stdout.String(), b.Name(), b.audience, b.o.now())
}

type limitedWriter struct {
	w io.Writer
	n int
}

// Write keeps the first n bytes and drops the rest, never failing the writer.
func (l *limitedWriter) Write(p []byte) (int, error) {
	if len(p) > l.n {
		_, _ = l.w.Write(p[:l.n])
		l.n = 0
		return len(p), nil
	}
	l.n -= len(p)
	return l.w.Write(p)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// checkJWT trims tok and checks that it looks like an unexpired JWT for audience, so that a
// wrong source fails here with a clear message rather than at Vault. It does not verify the
// signature: Vault does. Errors never contain the token.
func checkJWT(tok, source, audience string, now time.Time) (string, error) {
	tok = strings.TrimSpace(tok)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", fmt.Errorf("ID token from %s is not a JWT (want three dot-separated parts)", source)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("ID token from %s is not a JWT: its payload is not base64url", source)
	}
	var claims struct {
		Exp json.Number     `json:"exp"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("ID token from %s is not a JWT: its payload is not a JSON object", source)
	}
	if exp, err := claims.Exp.Int64(); err == nil && exp > 0 && now.After(time.Unix(exp, 0).Add(30*time.Second)) {
		return "", fmt.Errorf("ID token from %s expired at %s", source, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	}
	if audience != "" && len(claims.Aud) > 0 {
		var auds []string
		var one string
		if json.Unmarshal(claims.Aud, &one) == nil {
			auds = []string{one}
		} else {
			_ = json.Unmarshal(claims.Aud, &auds)
		}
		found := false
		for _, a := range auds {
			found = found || a == audience
		}
		if !found {
			return "", fmt.Errorf("ID token from %s is for audience %q, not %q", source, auds, audience)
		}
	}
	return tok, nil
}
