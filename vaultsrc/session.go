package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
)

// ErrLoginRefused: Vault refused the login (bad role, audience, claims, signature, expiry).
var ErrLoginRefused = errors.New("login refused")

type sessionOptions struct {
	renew         bool
	revoke        *bool
	revokeTimeout time.Duration
}

// SessionOption configures Login.
type SessionOption func(*sessionOptions) error

// WithRenewal turns token renewal through a LifetimeWatcher on or off. Default: on, for
// renewable tokens; it needs update on auth/token/renew-self.
func WithRenewal(on bool) SessionOption {
	return func(o *sessionOptions) error { o.renew = on; return nil }
}

// WithRevokeOnClose says whether Close revokes the token. Default: true for tokens the
// session logged in for, false for TokenAuth (a borrowed token).
func WithRevokeOnClose(on bool) SessionOption {
	return func(o *sessionOptions) error { o.revoke = &on; return nil }
}

// WithRevokeTimeout bounds the revoke-self call Close makes. Default: 10s.
func WithRevokeTimeout(d time.Duration) SessionOption {
	return func(o *sessionOptions) error {
		if d <= 0 {
			return fmt.Errorf("revoke timeout %s: want a positive duration", d)
		}
		o.revokeTimeout = d
		return nil
	}
}

// Session is one Vault login for the length of one build: it holds the token in memory
// only, renews it while the build runs, and revokes it on Close, which also ends every
// dynamic-secret lease the token created.
type Session struct {
	client  *api.Client
	auth    *api.SecretAuth
	method  string
	opts    sessionOptions
	watcher *api.LifetimeWatcher
	done    chan struct{}

	mu     sync.Mutex
	closed bool
}

// Login logs client in with method and starts renewal. client should come from NewClient
// (no ambient token, no wrapping); on success it carries the session's token until Close.
func Login(ctx context.Context, client *api.Client, method api.AuthMethod, opts ...SessionOption) (*Session, error) {
	if client == nil || method == nil {
		return nil, errors.New("vaultsrc.Login: nil client or method")
	}
	o := sessionOptions{renew: true, revokeTimeout: 10 * time.Second}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.revoke == nil {
		b, borrowed := method.(interface{ borrowed() bool })
		on := !(borrowed && b.borrowed())
		o.revoke = &on
	}
	name := fmt.Sprintf("%T", method)
	if str, ok := method.(fmt.Stringer); ok {
		name = str.String()
	}
	client.ClearToken()
	client.SetWrappingLookupFunc(noWrapping)
	s, err := client.Auth().Login(ctx, method)
	if err != nil {
		client.ClearToken()
		return nil, loginError(err, name, client.Address())
	}
	sess := &Session{client: client, auth: s.Auth, method: name, opts: o, done: make(chan struct{})}
	if o.renew && s.Auth.Renewable {
		w, err := client.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: s})
		if err != nil {
			_ = sess.Close()
			return nil, fmt.Errorf("starting token renewal: %w", err)
		}
		sess.watcher = w
		go w.Start()
		go sess.watch()
	} else {
		close(sess.done)
	}
	return sess, nil
}

// watch drains the watcher's channels until it stops.
func (s *Session) watch() {
	defer close(s.done)
	for {
		select {
		case <-s.watcher.DoneCh():
			return
		case <-s.watcher.RenewCh():
		}
	}
}

// loginError classifies a login failure; Vault answers 400 for a token it rejects.
func loginError(err error, method, addr string) error {
	// Drop api.Auth's "unable to log in to auth method: " wrapper; the Error says it already.
	if u := errors.Unwrap(err); u != nil && strings.HasPrefix(err.Error(), "unable to log in") {
		err = u
	}
	var re *api.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusForbidden) {
		return &Error{Op: "logging in with", Ref: method, Kind: ErrLoginRefused, Err: err}
	}
	if re == nil && !transportError(err) && !errors.Is(err, context.Canceled) {
		// No request reached Vault: the credential could not be obtained.
		return &Error{Op: "logging in with", Ref: method, Kind: ErrCredential, Err: err}
	}
	return classify(err, "logging in with", method, "", addr)
}

// Client returns the logged-in client. It stops working after Close.
func (s *Session) Client() *api.Client { return s.client }

// Fetcher returns a Fetcher reading with the session's token.
func (s *Session) Fetcher() *ClientFetcher { return NewFetcher(s.client) }

// Accessor is the login token's accessor (not the token): safe to log, useful to audit.
func (s *Session) Accessor() string { return s.auth.Accessor }

// Policies are the policies Vault attached to the login token.
func (s *Session) Policies() []string { return append([]string(nil), s.auth.Policies...) }

// Close stops renewal and revokes the token with revoke-self, on a fresh context so it
// still works after the build's context was cancelled (Ctrl-C, SIGTERM). The client
// carries no token afterwards. Close is idempotent; the error names what the policy must
// allow when revocation is denied.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.watcher != nil {
		s.watcher.Stop()
		select {
		case <-s.done:
		case <-time.After(s.opts.revokeTimeout):
			// A renewal is stuck on an unresponsive Vault; revoke regardless.
		}
	}
	defer s.client.ClearToken()
	if !*s.opts.revoke {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.revokeTimeout)
	defer cancel()
	err := s.client.Auth().Token().RevokeSelfWithContext(ctx, "")
	if err == nil {
		return nil
	}
	e := classify(err, "revoking the login token of", s.method, "auth/token/revoke-self", s.client.Address())
	var ve *Error
	if errors.As(e, &ve) && ve.Kind == ErrPermissionDenied {
		ve.Detail = "the token lives until its TTL; token_no_default_policy=true removes this grant, add it to the role's policy"
	}
	return e
}

// Connect logs in as vc describes: a client from vc's address and namespace (else the
// VAULT_* environment), the auth method of vc.Auth, and Login with opts.
func Connect(ctx context.Context, vc VaultConfig, opts ...SessionOption) (*Session, error) {
	var copts []ClientOption
	if vc.Address != "" {
		copts = append(copts, WithAddress(vc.Address))
	}
	if vc.Namespace != "" {
		copts = append(copts, WithNamespace(vc.Namespace))
	}
	c, err := NewClient(copts...)
	if err != nil {
		return nil, err
	}
	m, err := AuthFromConfig(vc.Auth)
	if err != nil {
		return nil, err
	}
	return Login(ctx, c, m, opts...)
}
