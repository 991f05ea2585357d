package vaultsrc

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
)

type clientOptions struct {
	address    string
	namespace  string
	timeout    time.Duration
	maxRetries int
}

// ClientOption configures NewClient.
type ClientOption func(*clientOptions) error

// WithAddress sets the Vault address. Default: VAULT_ADDR, else https://127.0.0.1:8200.
func WithAddress(addr string) ClientOption {
	return func(o *clientOptions) error {
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "unix") || (u.Host == "" && u.Scheme != "unix") {
			return fmt.Errorf("vault address %q: want http(s)://host[:port] or unix:///path", addr)
		}
		o.address = addr
		return nil
	}
}

// WithNamespace sets the Vault namespace every request uses unless a reference names its
// own. Default: VAULT_NAMESPACE, else the root namespace.
func WithNamespace(ns string) ClientOption {
	return func(o *clientOptions) error {
		ns = strings.Trim(ns, "/")
		if ns == "" || strings.Contains(ns, "//") {
			return fmt.Errorf("vault namespace %q: want a path such as team or team/ci", ns)
		}
		o.namespace = ns
		return nil
	}
}

// WithTimeout bounds each request to Vault. Default: VAULT_CLIENT_TIMEOUT, else 60s.
func WithTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) error {
		if d <= 0 {
			return fmt.Errorf("vault timeout %s: want a positive duration", d)
		}
		o.timeout = d
		return nil
	}
}

// WithMaxRetries sets how often a failed request (5xx, connection error) is retried.
// Default: VAULT_MAX_RETRIES, else 2.
func WithMaxRetries(n int) ClientOption {
	return func(o *clientOptions) error {
		if n < 0 {
			return fmt.Errorf("vault max retries %d: want 0 or more", n)
		}
		o.maxRetries = n
		return nil
	}
}

// NewClient builds a Vault client from the standard VAULT_* settings (address, TLS,
// namespace, timeouts) and the options, with two safety changes: it carries no token — an
// ambient VAULT_TOKEN is ignored, the token comes only from the auth method a Session logs
// in with — and it never asks Vault to wrap a response, whatever VAULT_WRAP_TTL says.
func NewClient(opts ...ClientOption) (*api.Client, error) {
	o := clientOptions{maxRetries: -1}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	cfg := api.DefaultConfig()
	if cfg.Error != nil {
		return nil, fmt.Errorf("reading VAULT_* settings: %w", cfg.Error)
	}
	if o.address != "" {
		cfg.Address = o.address
	}
	if o.timeout > 0 {
		cfg.Timeout = o.timeout
	}
	if o.maxRetries >= 0 {
		cfg.MaxRetries = o.maxRetries
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating vault client for %s: %w", cfg.Address, err)
	}
	c.ClearToken()
	c.SetWrappingLookupFunc(noWrapping)
	if o.namespace != "" {
		c.SetNamespace(o.namespace)
	}
	if c.Address() == "" {
		return nil, errors.New("no vault address: set vault.address in safebuild.yaml or VAULT_ADDR")
	}
	return c, nil
}
