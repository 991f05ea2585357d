package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
)

// MaxSecretSize is the largest value BuildKit accepts for a session secret; larger values
// are refused before they reach the session.
const MaxSecretSize = secretsprovider.MaxSecretSize

// ErrClosed is returned by Store.GetSecret after Close.
var ErrClosed = errors.New("secret store is closed")

// Served records what the store handed out for one id: enough to bust the build cache when
// a secret rotates, never the value or a hash of it.
type Served struct {
	// ID is the BuildKit secret id.
	ID string
	// Ref is the reference the id maps to.
	Ref Ref
	// Version is the KV v2 version served; 0 for KV v1 and other engines.
	Version int
}

type storeOptions struct {
	onServe func(id string, value []byte)
	maxSize int
}

// StoreOption configures NewStore.
type StoreOption func(*storeOptions) error

// WithOnServe calls fn once per id, the first time its value is fetched, before it is
// handed to BuildKit: the hook through which the in-process scanner learns canaries as soon
// as they exist. value is a copy fn owns; it must not outlive the build or leave the
// process, and fn should wipe it when done. Default: no hook.
func WithOnServe(fn func(id string, value []byte)) StoreOption {
	return func(o *storeOptions) error {
		if fn == nil {
			return errors.New("WithOnServe: nil function")
		}
		o.onServe = fn
		return nil
	}
}

// WithMaxSize lowers the largest value served. Default and upper bound: MaxSecretSize.
func WithMaxSize(n int) StoreOption {
	return func(o *storeOptions) error {
		if n < 1 || n > MaxSecretSize {
			return fmt.Errorf("WithMaxSize(%d): want 1..%d", n, MaxSecretSize)
		}
		o.maxSize = n
		return nil
	}
}

// Store is the BuildKit secrets.SecretStore backed by Vault. It resolves an id only when a
// build step mounts it, keeps values in memory for the build, and wipes them on Close.
// Attach it with secretsprovider.NewSecretProvider(store).
type Store struct {
	fetcher Fetcher
	refs    map[string]Ref
	opts    storeOptions

	mu     sync.Mutex
	closed bool
	cache  map[string]*entry
	served map[string]int // id -> KV version; kept after Close, it holds no secret
}

// entry is one id's value; ready is closed once val/err are set.
type entry struct {
	ready chan struct{}
	val   []byte
	err   error
}

var _ secrets.SecretStore = (*Store)(nil)

// NewStore returns a store serving the ids in refs through f. Ids not in refs are answered
// with secrets.ErrNotFound, never an empty value.
func NewStore(f Fetcher, refs map[string]Ref, opts ...StoreOption) (*Store, error) {
	if f == nil {
		return nil, errors.New("vaultsrc.NewStore: nil fetcher")
	}
	o := storeOptions{maxSize: MaxSecretSize}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	m := make(map[string]Ref, len(refs))
	for id, r := range refs {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
		if back, err := ParseRef(r.String()); err != nil || back != r {
			return nil, fmt.Errorf("secret %q: invalid reference %s: %v", id, r, err)
		}
		m[id] = r
	}
	return &Store{fetcher: f, refs: m, opts: o, cache: map[string]*entry{}, served: map[string]int{}}, nil
}

// GetSecret implements secrets.SecretStore. Concurrent calls for one id share one fetch; a
// failed fetch is not cached, so a later step may retry. The returned slice is a copy the
// caller owns.
func (s *Store) GetSecret(ctx context.Context, id string) ([]byte, error) {
	ref, ok := s.refs[id]
	if !ok {
		return nil, fmt.Errorf("secret id %q is not mapped to a vault reference: %w", id, secrets.ErrNotFound)
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, fmt.Errorf("secret %q: %w", id, ErrClosed)
		}
		e, ok := s.cache[id]
		if !ok {
			e = &entry{ready: make(chan struct{})}
			s.cache[id] = e
			s.mu.Unlock()
			s.fill(ctx, id, ref, e)
		} else {
			s.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if e.err != nil {
			if ctx.Err() == nil && errors.Is(e.err, context.Canceled) {
				continue // another caller's fetch was cancelled; try again with ours
			}
			return nil, e.err
		}
		s.mu.Lock()
		var out []byte
		if !s.closed && e.val != nil {
			out = append([]byte(nil), e.val...)
		}
		s.mu.Unlock()
		if out == nil {
			return nil, fmt.Errorf("secret %q: %w", id, ErrClosed)
		}
		return out, nil
	}
}

// fill fetches one id into e and publishes it.
func (s *Store) fill(ctx context.Context, id string, ref Ref, e *entry) {
	defer close(e.ready)
	v, err := Resolve(ctx, s.fetcher, ref)
	if err == nil {
		switch {
		case len(v.Bytes) > s.opts.maxSize:
			err = &Error{Op: "serving", Ref: ref.String(), Kind: ErrTooLarge,
				Detail: fmt.Sprintf("%d bytes, BuildKit accepts at most %d", len(v.Bytes), s.opts.maxSize)}
		case len(v.Bytes) == 0:
			err = &Error{Op: "serving", Ref: ref.String(), Kind: ErrEmpty}
		}
		if err != nil {
			clear(v.Bytes)
		}
	}
	if err != nil {
		e.err = fmt.Errorf("secret %q: %w", id, err)
		s.mu.Lock()
		if s.cache[id] == e {
			delete(s.cache, id)
		}
		s.mu.Unlock()
		return
	}
	if s.opts.onServe != nil {
		s.opts.onServe(id, append([]byte(nil), v.Bytes...))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		clear(v.Bytes)
		e.err = fmt.Errorf("secret %q: %w", id, ErrClosed)
		return
	}
	e.val = v.Bytes
	s.served[id] = v.Version
}

// Served lists, sorted by id, every id served so far with the KV version it had, also
// after Close. Callers use it to bust the build cache when a secret rotates.
func (s *Store) Served() []Served {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Served, 0, len(s.served))
	for id, v := range s.served {
		out = append(out, Served{ID: id, Ref: s.refs[id], Version: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Canary is one served value and a name that identifies it without revealing it. Its
// shape matches policy.Canary, so a plain conversion hands it to the scanner.
type Canary struct {
	// Name is "<id> (<reference>)", e.g. "npm_token (vault:secret/ci/npm#token)".
	Name string
	// Value is a copy of the secret that the caller owns and should wipe when done.
	Value []byte
}

// Canaries returns every value served so far, in id order. This is the hook the in-process
// scanner uses: it searches layers, logs and exports for these values (and their
// encodings) and fails the build on a hit. Values are copies the caller owns.
func (s *Store) Canaries() []Canary {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.cache))
	for id, e := range s.cache {
		if e.val != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := make([]Canary, len(ids))
	for i, id := range ids {
		out[i] = Canary{Name: id + " (" + s.refs[id].String() + ")", Value: append([]byte(nil), s.cache[id].val...)}
	}
	return out
}

// Close zeroes and drops every cached value; GetSecret fails with ErrClosed afterwards.
// Call it when the build ends, however it ends. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for id, e := range s.cache {
		select {
		case <-e.ready:
			clear(e.val)
			e.val = nil
		default:
			// Still being fetched: fill sees closed and wipes it.
		}
		delete(s.cache, id)
	}
	return nil
}
