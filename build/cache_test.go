package build

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
)

func TestNewCacheExport(t *testing.T) {
	reg := func(attrs map[string]string) client.CacheOptionsEntry {
		return client.CacheOptionsEntry{Type: "registry", Attrs: attrs}
	}
	ce, err := newCacheExport([]client.CacheOptionsEntry{reg(map[string]string{"ref": "127.0.0.1:5000/cache/app:1", "mode": "max", "compression": "zstd"})}, "/stage")
	if err != nil {
		t.Fatal(err)
	}
	e := ce.solveEntry()
	if e.Type != "local" || e.Attrs["dest"] != "/stage/cache" || e.Attrs["mode"] != "max" || e.Attrs["compression"] != "zstd" || e.Attrs["ref"] != "" {
		t.Errorf("the solve exports %+v; want a local export to the stage, with the options but no ref", e)
	}
	if ce, err := newCacheExport(nil, "/stage"); ce != nil || err != nil {
		t.Errorf("no --cache-to: %v, %v", ce, err)
	}
	for _, c := range []struct {
		entries []client.CacheOptionsEntry
		want    string
	}{
		{[]client.CacheOptionsEntry{{Type: "local", Attrs: map[string]string{"dest": "/tmp/c"}}}, "only type=registry"},
		{[]client.CacheOptionsEntry{reg(map[string]string{"ref": "a/b:1"}), reg(map[string]string{"ref": "a/c:1"})}, "one cache export"},
		{[]client.CacheOptionsEntry{reg(map[string]string{"ref": "a/b:1", "mode": "all"})}, "mode=all"},
		{[]client.CacheOptionsEntry{reg(map[string]string{"ref": "Not A Ref"})}, `ref="Not A Ref"`},
	} {
		if _, err := newCacheExport(c.entries, "/stage"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.entries, err, c.want)
		}
	}
}
