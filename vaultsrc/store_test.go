package vaultsrc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// memFetcher serves KV v2 data from memory and counts reads.
type memFetcher struct {
	mu    sync.Mutex
	data  map[string]map[string]any // full path -> fields
	ver   map[string]int
	reads atomic.Int32
	gate  chan struct{} // if set, reads wait for it
	fail  error         // if set, the next read fails with it
}

var _ Fetcher = (*memFetcher)(nil)

func (m *memFetcher) LookupMount(_ context.Context, _, path string) (Mount, error) {
	return Mount{Path: strings.SplitN(path, "/", 2)[0], Type: "kv", KVVersion: 2}, nil
}

func (m *memFetcher) ReadKV(ctx context.Context, _ string, mt Mount, path string, _ int) (*Data, error) {
	m.reads.Add(1)
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail; err != nil {
		m.fail = nil
		return nil, err
	}
	full := mt.Path + "/" + path
	d, ok := m.data[full]
	if !ok {
		return nil, &Error{Op: "reading", Kind: ErrNotFound, Path: full}
	}
	return &Data{Fields: d, Version: m.ver[full]}, nil
}

func (m *memFetcher) ReadLogical(context.Context, string, string) (*Data, error) {
	return nil, errors.New("not used")
}

func newMem() *memFetcher {
	return &memFetcher{
		data: map[string]map[string]any{
			"secret/a":   {"v": "value-a"},
			"secret/b":   {"v": "value-b"},
			"secret/e":   {"v": ""},
			"secret/big": {"v": strings.Repeat("x", MaxSecretSize+1)},
			"secret/max": {"v": strings.Repeat("y", MaxSecretSize)},
		},
		ver: map[string]int{"secret/a": 7, "secret/b": 3},
	}
}

func newTestStore(t *testing.T, f Fetcher, opts ...StoreOption) *Store {
	t.Helper()
	refs := map[string]Ref{}
	for _, id := range []string{"a", "b", "e", "big", "max"} {
		refs[id] = mustRef(t, "vault:secret/"+id+"#v")
	}
	s, err := NewStore(f, refs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreUndeclaredIsNotFound(t *testing.T) {
	f := newMem()
	s := newTestStore(t, f)
	v, err := s.GetSecret(context.Background(), "nope")
	if !errors.Is(err, secrets.ErrNotFound) || v != nil {
		t.Fatalf("got %q, %v; want secrets.ErrNotFound", v, err)
	}
	// Through BuildKit's provider it becomes a gRPC NotFound, which buildkitd reports as
	// a missing secret rather than serving an empty one.
	p := secretsprovider.NewSecretProvider(s).(interface {
		GetSecret(context.Context, *secrets.GetSecretRequest) (*secrets.GetSecretResponse, error)
	})
	if _, err := p.GetSecret(context.Background(), &secrets.GetSecretRequest{ID: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("provider: %v, want NotFound", err)
	}
	resp, err := p.GetSecret(context.Background(), &secrets.GetSecretRequest{ID: "a"})
	if err != nil || string(resp.Data) != "value-a" {
		t.Fatalf("provider: %v, %v", resp, err)
	}
	if f.reads.Load() != 1 {
		t.Fatalf("%d reads, want 1", f.reads.Load())
	}
}

func TestStoreLazyAndCached(t *testing.T) {
	f := newMem()
	s := newTestStore(t, f)
	if n := f.reads.Load(); n != 0 {
		t.Fatalf("NewStore read %d secrets, want none", n)
	}
	for range 3 {
		v, err := s.GetSecret(context.Background(), "a")
		if err != nil || string(v) != "value-a" {
			t.Fatalf("got %q, %v", v, err)
		}
		v[0] = 'X' // the caller owns its copy
	}
	if n := f.reads.Load(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

func TestStoreConcurrentSingleFetch(t *testing.T) {
	f := newMem()
	f.gate = make(chan struct{})
	s := newTestStore(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			v, err := s.GetSecret(context.Background(), "b")
			if err == nil && string(v) != "value-b" {
				err = errors.New("wrong value")
			}
			errs <- err
		})
	}
	time.Sleep(20 * time.Millisecond)
	close(f.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.reads.Load(); n != 1 {
		t.Fatalf("%d reads, want 1", n)
	}
}

func TestStoreRefusesLargeAndEmpty(t *testing.T) {
	s := newTestStore(t, newMem())
	_, err := s.GetSecret(context.Background(), "big")
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), `"big"`) || strings.Contains(err.Error(), "xxxx") {
		t.Fatalf("got %v, want ErrTooLarge naming the id", err)
	}
	if v, err := s.GetSecret(context.Background(), "max"); err != nil || len(v) != MaxSecretSize {
		t.Fatalf("a value of exactly MaxSecretSize: %d bytes, %v", len(v), err)
	}
	if _, err := s.GetSecret(context.Background(), "e"); !errors.Is(err, ErrEmpty) {
		t.Fatalf("got %v, want ErrEmpty", err)
	}
	small := newTestStore(t, newMem(), WithMaxSize(4))
	if _, err := small.GetSecret(context.Background(), "a"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("WithMaxSize: got %v", err)
	}
	for _, n := range []int{0, MaxSecretSize + 1} {
		if _, err := NewStore(newMem(), nil, WithMaxSize(n)); err == nil {
			t.Errorf("WithMaxSize(%d) accepted", n)
		}
	}
}

func TestStoreErrorsNameIDAndAreNotCached(t *testing.T) {
	f := newMem()
	s := newTestStore(t, f)
	f.fail = &Error{Op: "reading", Kind: ErrUnreachable, Address: "http://vault:8200"}
	_, err := s.GetSecret(context.Background(), "a")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), `secret "a": reading vault:secret/a#v`) {
		t.Fatalf("got %v", err)
	}
	if v, err := s.GetSecret(context.Background(), "a"); err != nil || string(v) != "value-a" {
		t.Fatalf("retry: %q, %v", v, err)
	}
}

func TestStoreServedCanariesAndHook(t *testing.T) {
	var hooked []string
	s := newTestStore(t, newMem(), WithOnServe(func(id string, v []byte) { hooked = append(hooked, id+"="+string(v)) }))
	for _, id := range []string{"b", "a", "a", "big"} {
		_, _ = s.GetSecret(context.Background(), id)
	}
	served := s.Served()
	if len(served) != 2 || served[0].ID != "a" || served[0].Version != 7 || served[1].ID != "b" || served[1].Version != 3 {
		t.Fatalf("Served() = %+v", served)
	}
	if served[0].Ref.String() != "vault:secret/a#v" {
		t.Fatalf("Served()[0].Ref = %s", served[0].Ref)
	}
	c := s.Canaries()
	if len(c) != 2 || string(c[0].Value) != "value-a" || string(c[1].Value) != "value-b" ||
		c[0].Name != "a (vault:secret/a#v)" || c[1].Name != "b (vault:secret/b#v)" {
		t.Fatalf("Canaries() = %q", c)
	}
	c[0].Value[0] = 'X'
	if string(s.Canaries()[0].Value) != "value-a" {
		t.Fatal("Canaries returned the cache itself")
	}
	if strings.Join(hooked, ",") != "b=value-b,a=value-a" {
		t.Fatalf("hook saw %q", hooked)
	}
	if _, err := NewStore(newMem(), nil, WithOnServe(nil)); err == nil {
		t.Fatal("WithOnServe(nil) accepted")
	}
}

func TestStoreCloseWipes(t *testing.T) {
	s := newTestStore(t, newMem())
	if _, err := s.GetSecret(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	cached := s.cache["a"].val
	s.mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cached, make([]byte, len(cached))) {
		t.Fatalf("cache not zeroed: %q", cached)
	}
	if _, err := s.GetSecret(context.Background(), "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if len(s.Canaries()) != 0 {
		t.Fatal("canaries survive Close")
	}
	if got := s.Served(); len(got) != 1 || got[0].Version != 7 {
		t.Fatalf("Served() after Close = %+v, want the record kept", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestStoreCloseDuringFetch(t *testing.T) {
	f := newMem()
	f.gate = make(chan struct{})
	s := newTestStore(t, f)
	done := make(chan error)
	go func() {
		_, err := s.GetSecret(context.Background(), "a")
		done <- err
	}()
	for f.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	close(f.gate)
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
	if len(s.Canaries()) != 0 {
		t.Fatal("value cached after Close")
	}
}

func TestStoreCancelledWaiterAndRetry(t *testing.T) {
	f := newMem()
	f.gate = make(chan struct{})
	s := newTestStore(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() {
		_, err := s.GetSecret(ctx, "a")
		first <- err
	}()
	for f.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan []byte)
	go func() {
		v, _ := s.GetSecret(context.Background(), "a")
		second <- v
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first: %v", err)
	}
	close(f.gate)
	if v := <-second; string(v) != "value-a" {
		t.Fatalf("second caller got %q after the first was cancelled", v)
	}
}

func TestNewStoreValidates(t *testing.T) {
	if _, err := NewStore(nil, nil); err == nil {
		t.Error("nil fetcher accepted")
	}
	if _, err := NewStore(newMem(), map[string]Ref{"bad id": {Path: "x", Field: "f"}}); err == nil {
		t.Error("bad id accepted")
	}
	if _, err := NewStore(newMem(), map[string]Ref{"a": {Path: "x"}}); err == nil {
		t.Error("reference without field accepted")
	}
}

func TestStoreOverFakeVault(t *testing.T) {
	_, c := newFake(t)
	s, err := NewStore(NewFetcher(c), map[string]Ref{
		"npm":  mustRef(t, "vault:secret/ci/npm#token"),
		"old":  mustRef(t, "vault:secret/ci/npm#token?version=1"),
		"db":   mustRef(t, "vault:legacy/ci/db#password"),
		"totp": mustRef(t, "vault:logical:totp/code/ci#code"),
		"deny": mustRef(t, "vault:secret/prod/db#password"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{"npm": npmV2, "old": npmV1, "db": dbPW, "totp": "123456"}
	for id, w := range want {
		if v, err := s.GetSecret(context.Background(), id); err != nil || string(v) != w {
			t.Fatalf("%s: %q, %v", id, v, err)
		}
	}
	_, err = s.GetSecret(context.Background(), "deny")
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), `secret "deny"`) || !strings.Contains(err.Error(), "secret/data/prod/db") {
		t.Fatalf("got %v", err)
	}
	assertNoValues(t, err.Error())
	var versions []string
	for _, sv := range s.Served() {
		versions = append(versions, sv.ID+"="+string(rune('0'+sv.Version)))
	}
	if strings.Join(versions, ",") != "db=0,npm=2,old=1,totp=0" {
		t.Fatalf("Served() = %v", versions)
	}
}
