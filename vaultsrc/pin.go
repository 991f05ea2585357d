package vaultsrc

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
)

// VersionFetcher is implemented by Fetchers that can tell a KV v2 secret's current version
// without reading the secret. ClientFetcher does, from <mount>/metadata/<path>.
type VersionFetcher interface {
	CurrentVersion(ctx context.Context, namespace string, m Mount, path string) (int, error)
}

// Pin returns ref pinned to the KV v2 version it names now (version=N), read from the secret's
// metadata, never from its value. A reference already pinned, to a KV v1 secret or to another
// engine, or a Fetcher that cannot tell versions, returns ref unchanged.
//
// Builds pin their references before the solve and put the pinned reference into BuildKit's
// secret ids: BuildKit's cache key holds the id, not the value (moby/buildkit#2547), so a step
// that mounts a rotated secret runs again instead of reusing a layer made with the old one.
func Pin(ctx context.Context, f Fetcher, ref Ref) (Ref, error) {
	vf, ok := f.(VersionFetcher)
	if !ok || ref.Version != 0 || ref.Engine == EngineLogical || ref.Engine == EngineKV1 {
		return ref, nil
	}
	m, path, err := kvMount(ctx, f, ref)
	if err != nil {
		return Ref{}, withRef(err, ref)
	}
	if m.KVVersion != 2 {
		return ref, nil
	}
	v, err := vf.CurrentVersion(ctx, ref.Namespace, m, path)
	if err != nil {
		return Ref{}, withRef(err, ref)
	}
	ref.Version = v
	return ref, nil
}

func withRef(err error, ref Ref) error {
	var e *Error
	if errors.As(err, &e) && e.Ref == "" {
		e.Ref = ref.String()
	}
	return err
}

// CurrentVersion implements VersionFetcher.
func (f *ClientFetcher) CurrentVersion(ctx context.Context, namespace string, m Mount, path string) (int, error) {
	apiPath := m.Path + "/metadata/" + path
	s, err := f.read(ctx, namespace, apiPath, url.Values{})
	if err != nil {
		return 0, err
	}
	n, ok := s.Data["current_version"].(json.Number)
	if !ok {
		return 0, &Error{Op: "reading", Kind: ErrNotFound, Path: apiPath, Detail: "no current_version in the metadata"}
	}
	v, err := n.Int64()
	if err != nil || v <= 0 {
		return 0, &Error{Op: "reading", Kind: ErrNotFound, Path: apiPath, Detail: "the secret has no version yet"}
	}
	return int(v), nil
}
