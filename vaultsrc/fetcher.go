package vaultsrc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Mount describes the secret engine mounted at a path, as sys/internal/ui/mounts reports it.
type Mount struct {
	// Path is the mount path without slashes at either end, e.g. "secret" or "team/kv".
	Path string
	// Type is the engine type, e.g. "kv", "transit", "database".
	Type string
	// KVVersion is 1 or 2 for KV mounts, 0 for anything else.
	KVVersion int
}

// Data is what one read returned. Values are as Vault's JSON decoder produced them
// (string, json.Number, bool, nil, []any, map[string]any).
type Data struct {
	// Fields is the secret's data map (for KV v2 the inner "data").
	Fields map[string]any
	// Version is the KV v2 version read; 0 for other engines.
	Version int
	// LeaseID is set for dynamic secrets; the lease dies with the login token.
	LeaseID string
}

// Fetcher is the narrow seam between vaultsrc and a Vault server: everything the resolver
// needs, and nothing more, so tests can swap in a fake. Namespace "" means the client's own.
type Fetcher interface {
	// LookupMount asks sys/internal/ui/mounts/<path> which engine serves path.
	LookupMount(ctx context.Context, namespace, path string) (Mount, error)
	// ReadKV reads path inside a KV mount; version pins a KV v2 version (0 = latest).
	ReadKV(ctx context.Context, namespace string, m Mount, path string, version int) (*Data, error)
	// ReadLogical reads any other engine's path as is.
	ReadLogical(ctx context.Context, namespace, path string) (*Data, error)
}

// ClientFetcher is the Fetcher over a *api.Client.
type ClientFetcher struct {
	client *api.Client
}

var _ Fetcher = (*ClientFetcher)(nil)

// NewFetcher returns a Fetcher reading through client. It pins the client's wrapping lookup
// to "never wrap", so an ambient VAULT_WRAP_TTL cannot turn reads into empty wrapped
// responses; a wrapped answer that still arrives is refused with ErrWrapped.
func NewFetcher(client *api.Client) *ClientFetcher {
	client.SetWrappingLookupFunc(noWrapping)
	return &ClientFetcher{client: client}
}

// noWrapping is the wrapping lookup that never asks Vault to wrap a response.
func noWrapping(string, string) string { return "" }

func (f *ClientFetcher) ns(namespace string) *api.Client {
	if namespace == "" {
		return f.client
	}
	return f.client.WithNamespace(namespace)
}

// LookupMount implements Fetcher.
func (f *ClientFetcher) LookupMount(ctx context.Context, namespace, path string) (Mount, error) {
	apiPath := "sys/internal/ui/mounts/" + path
	s, err := f.ns(namespace).Logical().ReadWithContext(ctx, apiPath)
	if err != nil {
		return Mount{}, classify(err, "looking up the mount of", "", apiPath, f.client.Address())
	}
	if err := checkWrapped(s, apiPath); err != nil {
		return Mount{}, err
	}
	if s == nil || s.Data == nil {
		return Mount{}, &Error{Op: "looking up the mount of", Kind: ErrNotFound, Path: apiPath,
			Detail: "no secret engine is mounted there"}
	}
	m := Mount{Path: strings.Trim(str(s.Data["path"]), "/"), Type: str(s.Data["type"])}
	if m.Path == "" {
		return Mount{}, &Error{Op: "looking up the mount of", Kind: ErrNotFound, Path: apiPath,
			Detail: "no secret engine is mounted there"}
	}
	if m.Type == "kv" || m.Type == "generic" {
		m.KVVersion = 1
		if opts, ok := s.Data["options"].(map[string]any); ok && str(opts["version"]) == "2" {
			m.KVVersion = 2
		}
	}
	return m, nil
}

// ReadKV implements Fetcher.
func (f *ClientFetcher) ReadKV(ctx context.Context, namespace string, m Mount, path string, version int) (*Data, error) {
	if m.KVVersion != 2 {
		apiPath := m.Path + "/" + path
		s, err := f.read(ctx, namespace, apiPath, nil)
		if err != nil {
			return nil, err
		}
		return &Data{Fields: s.Data, LeaseID: s.LeaseID}, nil
	}
	apiPath := m.Path + "/data/" + path
	var q url.Values
	if version > 0 {
		q = url.Values{"version": {strconv.Itoa(version)}}
	}
	s, err := f.read(ctx, namespace, apiPath, q)
	if err != nil {
		return nil, err
	}
	d := &Data{}
	meta, _ := s.Data["metadata"].(map[string]any)
	if v, ok := meta["version"].(json.Number); ok {
		n, _ := v.Int64()
		d.Version = int(n)
	}
	inner, ok := s.Data["data"].(map[string]any)
	if !ok {
		detail := "no data"
		switch {
		case meta["destroyed"] == true:
			detail = fmt.Sprintf("version %d is destroyed", d.Version)
		case str(meta["deletion_time"]) != "":
			detail = fmt.Sprintf("version %d is deleted", d.Version)
		}
		return nil, &Error{Op: "reading", Kind: ErrNotFound, Path: apiPath, Detail: detail}
	}
	d.Fields = inner
	return d, nil
}

// ReadLogical implements Fetcher.
func (f *ClientFetcher) ReadLogical(ctx context.Context, namespace, path string) (*Data, error) {
	s, err := f.read(ctx, namespace, path, nil)
	if err != nil {
		return nil, err
	}
	return &Data{Fields: s.Data, LeaseID: s.LeaseID}, nil
}

// read does one GET and turns every way it can come back empty into an error.
func (f *ClientFetcher) read(ctx context.Context, namespace, apiPath string, q url.Values) (*api.Secret, error) {
	s, err := f.ns(namespace).Logical().ReadWithDataWithContext(ctx, apiPath, q)
	if err != nil {
		return nil, classify(err, "reading", "", apiPath, f.client.Address())
	}
	if err := checkWrapped(s, apiPath); err != nil {
		return nil, err
	}
	if s == nil || s.Data == nil {
		return nil, &Error{Op: "reading", Kind: ErrNotFound, Path: apiPath}
	}
	return s, nil
}

func checkWrapped(s *api.Secret, apiPath string) error {
	if s != nil && s.WrapInfo != nil {
		return &Error{Op: "reading", Kind: ErrWrapped, Path: apiPath,
			Detail: "Vault returned a wrapping token instead of data (is VAULT_WRAP_TTL set, or a control group on the path?)"}
	}
	return nil
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}
