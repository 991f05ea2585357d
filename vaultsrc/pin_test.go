package vaultsrc

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/vaultsrc/internal/fakevault"
)

func TestPin(t *testing.T) {
	fv, c := newFake(t)
	fv.AddToken("meta", fakevault.Grant{Allowed: []string{"secret/data/ci/*", "secret/metadata/ci/*", "legacy/ci/*"}})
	f := NewFetcher(testClient(t, fv, "meta"))
	ctx := context.Background()
	for in, want := range map[string]string{
		"vault:secret/ci/npm#token":           "vault:secret/ci/npm#token?version=2", // latest is v2
		"vault:secret/ci/npm#token?version=1": "vault:secret/ci/npm#token?version=1", // already pinned
		"vault:legacy/ci/db#password":         "vault:legacy/ci/db#password",         // KV v1: no versions
		"vault:logical:totp/code/ci#code":     "vault:logical:totp/code/ci#code",     // other engines
	} {
		got, err := Pin(ctx, f, mustRef(t, in))
		if err != nil || got.String() != want {
			t.Errorf("Pin(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	// Rotation moves the pin.
	fv.PutKV("secret", "ci/npm", map[string]any{"token": "npm-secret-value-v3"})
	if got, err := Pin(ctx, f, mustRef(t, "vault:secret/ci/npm#token")); err != nil || got.Version != 3 {
		t.Errorf("after rotation: %s, %v; want version 3", got, err)
	}
	// Without read on metadata/ the error names the path to grant; it never holds a value.
	_, err := Pin(ctx, NewFetcher(c), mustRef(t, "vault:secret/ci/npm#token"))
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "secret/metadata/ci/npm") {
		t.Errorf("without metadata read: %v", err)
	}
	for _, v := range allValues {
		if err != nil && strings.Contains(err.Error(), v) {
			t.Errorf("error holds a value: %v", err)
		}
	}
}
