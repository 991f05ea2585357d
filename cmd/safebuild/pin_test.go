package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/vaultsrc"
)

// versions is a Fetcher that knows KV v2 versions (and denies one), never values.
type versions map[string]int

func (v versions) LookupMount(_ context.Context, _, path string) (vaultsrc.Mount, error) {
	return vaultsrc.Mount{Path: "secret", Type: "kv", KVVersion: 2}, nil
}
func (v versions) ReadKV(context.Context, string, vaultsrc.Mount, string, int) (*vaultsrc.Data, error) {
	panic("pinning must not read a value")
}
func (v versions) ReadLogical(context.Context, string, string) (*vaultsrc.Data, error) {
	panic("pinning must not read a value")
}
func (v versions) CurrentVersion(_ context.Context, _ string, m vaultsrc.Mount, path string) (int, error) {
	n, ok := v[path]
	if !ok {
		return 0, &vaultsrc.Error{Op: "reading", Kind: vaultsrc.ErrPermissionDenied, Path: m.Path + "/metadata/" + path}
	}
	return n, nil
}

func TestPinSecrets(t *testing.T) {
	mustRef := func(s string) vaultsrc.Ref {
		r, err := vaultsrc.ParseRef(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var warn bytes.Buffer
	refs, ids := pinSecrets(context.Background(), versions{"ci/npm": 4}, map[string]vaultsrc.Ref{
		"npm":    mustRef("vault:secret/ci/npm#token"),
		"pinned": mustRef("vault:secret/ci/npm#token?version=2"),
		"denied": mustRef("vault:secret/ci/other#x"),
	}, &warn)
	want := map[string]string{
		"npm":    "npm=vault:secret/ci/npm#token?version=4",
		"pinned": "pinned=vault:secret/ci/npm#token?version=2",
		"denied": "denied=vault:secret/ci/other#x",
	}
	for id, w := range want {
		if ids[id] != w {
			t.Errorf("%s: LLB id %q, want %q", id, ids[id], w)
		}
		if got := id + "=" + refs[id].String(); got != w {
			t.Errorf("%s: served reference %q, want %q", id, got, w)
		}
	}
	if !strings.Contains(warn.String(), "secret/metadata/ci/other") || !strings.Contains(warn.String(), "version of denied is unknown") || strings.Count(warn.String(), "warning") != 1 {
		t.Errorf("warnings:\n%s", warn.String())
	}
}
