package stack

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"
	"github.com/moby/buildkit/session/secrets"
)

// KVRef names one field of a KV v2 secret.
type KVRef struct{ Path, Field string }

// KVSecrets is the smallest Vault-backed BuildKit secret store: each id maps to a field of a KV v2
// secret under mount, read when a build step mounts it. It exists to prove the harness and to
// serve the plain-BuildKit baseline; vaultsrc is safebuild's real store.
func KVSecrets(c *api.Client, mount string, refs map[string]KVRef) secrets.SecretStore {
	return &kvSecrets{client: c, mount: mount, refs: refs}
}

type kvSecrets struct {
	client *api.Client
	mount  string
	refs   map[string]KVRef
}

var _ secrets.SecretStore = (*kvSecrets)(nil)

func (s *kvSecrets) GetSecret(ctx context.Context, id string) ([]byte, error) {
	ref, ok := s.refs[id]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", id, secrets.ErrNotFound)
	}
	kv, err := s.client.KVv2(s.mount).Get(ctx, ref.Path)
	if err != nil {
		return nil, fmt.Errorf("secret %q: reading %s/%s: %w", id, s.mount, ref.Path, err)
	}
	v, ok := kv.Data[ref.Field].(string)
	if !ok {
		return nil, fmt.Errorf("secret %q: %s/%s has no string field %q", id, s.mount, ref.Path, ref.Field)
	}
	return []byte(v), nil
}
