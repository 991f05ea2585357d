package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Sentinel errors, matched with errors.Is against any *Error this package returns.
var (
	// ErrPermissionDenied: Vault refused the token (HTTP 403).
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotFound: nothing at the path, or the KV version is deleted or destroyed.
	ErrNotFound = errors.New("not found")
	// ErrMissingField: the secret exists but has no such field, or it is not a string.
	ErrMissingField = errors.New("missing field")
	// ErrSealed: the Vault server is sealed.
	ErrSealed = errors.New("vault is sealed")
	// ErrUnreachable: no HTTP answer from the address (DNS, connect, TLS, timeout).
	ErrUnreachable = errors.New("vault unreachable")
	// ErrWrapped: Vault answered with a response-wrapping token instead of data, usually
	// because of an ambient VAULT_WRAP_TTL.
	ErrWrapped = errors.New("response is wrapped")
	// ErrTooLarge: the value exceeds what BuildKit accepts for a secret.
	ErrTooLarge = errors.New("secret too large")
	// ErrEmpty: the value is empty; an empty secret is refused rather than served.
	ErrEmpty = errors.New("secret is empty")
	// ErrCredential: the credential to log in with could not be obtained (CI token source,
	// token or secret_id file or variable).
	ErrCredential = errors.New("no login credential")
	// ErrMountMismatch: the reference does not fit the mount Vault reports (engine, KV
	// version, explicit split).
	ErrMountMismatch = errors.New("reference does not match the mount")
	// ErrServer: any other failure talking to Vault.
	ErrServer = errors.New("vault error")
)

// Error is what reading from or logging in to Vault fails with. It names what was being
// done and why it failed, never a secret value or a token.
type Error struct {
	// Ref is the reference being resolved, or the auth method when logging in.
	Ref string
	// Op is what was being attempted, such as "reading" or "logging in".
	Op string
	// Kind is one of the sentinel errors above.
	Kind error
	// Path is the Vault API path involved; on ErrPermissionDenied the policy must allow it.
	Path string
	// Address is the Vault address, set on ErrUnreachable and ErrSealed.
	Address string
	// Detail is a short explanation safe to print.
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

// Error renders a one-line explanation for the person who has to fix it.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Ref != "" {
		fmt.Fprintf(&b, " %s", e.Ref)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	switch {
	case errors.Is(e.Kind, ErrPermissionDenied) && e.Path != "":
		fmt.Fprintf(&b, ": the token's policy must allow %q", e.Path)
	case e.Path != "":
		fmt.Fprintf(&b, " at %q", e.Path)
	}
	if e.Address != "" {
		fmt.Fprintf(&b, " (address %s)", e.Address)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(safeCause(e.Err))
	}
	return b.String()
}

// Unwrap returns the kind and the cause so errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// safeCause renders a cause without anything a server might have echoed back: for Vault
// API errors only the HTTP status and Vault's own error strings (never a raw body).
func safeCause(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		if re.RawError || len(re.Errors) == 0 {
			return fmt.Sprintf("HTTP %d", re.StatusCode)
		}
		msgs := make([]string, 0, len(re.Errors))
		for _, m := range re.Errors {
			// Vault often sends a multierror: "1 error occurred:\n\t* permission denied\n\n".
			if _, rest, ok := strings.Cut(m, "occurred:"); ok {
				m = strings.ReplaceAll(rest, "* ", "")
			}
			if m = strings.Join(strings.Fields(m), " "); m != "" {
				msgs = append(msgs, m)
			}
		}
		if len(msgs) == 0 {
			return fmt.Sprintf("HTTP %d", re.StatusCode)
		}
		return fmt.Sprintf("HTTP %d: %s", re.StatusCode, strings.Join(msgs, "; "))
	}
	return err.Error()
}

// classify turns an error from the Vault client into an *Error of the right kind.
func classify(err error, op, ref, path, addr string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	out := &Error{Op: op, Ref: ref, Path: path, Err: err, Kind: ErrServer}
	var re *api.ResponseError
	switch {
	case errors.As(err, &re):
		switch {
		case re.StatusCode == http.StatusForbidden:
			out.Kind = ErrPermissionDenied
		case re.StatusCode == http.StatusNotFound:
			out.Kind = ErrNotFound
		case re.StatusCode == http.StatusServiceUnavailable && sealedMessage(re.Errors):
			out.Kind, out.Address = ErrSealed, addr
		}
	case errors.Is(err, api.ErrSecretNotFound):
		out.Kind = ErrNotFound
	case errors.Is(err, context.Canceled):
		out.Kind = context.Canceled
	case transportError(err):
		// No HTTP answer at all: DNS, connection refused, TLS, deadline.
		out.Kind, out.Address = ErrUnreachable, addr
	}
	return out
}

// transportError says whether err means no HTTP answer arrived.
func transportError(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded)
}

func sealedMessage(msgs []string) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m), "sealed") {
			return true
		}
	}
	return false
}
