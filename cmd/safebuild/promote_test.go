package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestPromoteCommand(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	pushEnv := func(tag string, env ...string) {
		img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Env: env}})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref(t, reg+"/stage/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}
	pushEnv("clean", "PATH=/bin")
	pushEnv("leaky", "GITHUB_TOKEN="+cmdTestPAT)

	out, code := runCLI(t, "promote", reg+"/stage/app:leaky", "registry:"+reg+"/prod/app:1")
	if code != 1 || !strings.Contains(out, "github-pat") || !strings.Contains(out, "refused: 1 findings") || strings.Contains(out, cmdTestPAT) {
		t.Fatalf("leaky: exit %d\n%s", code, out)
	}
	if _, err := remote.Head(ref(t, reg+"/prod/app:1")); err == nil {
		t.Fatal("a refused image reached prod")
	}
	if out, code := runCLI(t, "promote", "--dry-run", reg+"/stage/app:clean", reg+"/prod/app:1"); code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if _, err := remote.Head(ref(t, reg+"/prod/app:1")); err == nil {
		t.Fatal("a dry run wrote prod")
	}
	if out, code := runCLI(t, "promote", "--format", "json", reg+"/stage/app:clean", reg+"/prod/app:1"); code != 0 || !strings.Contains(out, `"findings": []`) {
		t.Fatalf("clean: exit %d\n%s", code, out)
	}
	if _, err := remote.Head(ref(t, reg+"/prod/app:1")); err != nil {
		t.Fatalf("prod after promotion: %v", err)
	}
	if out, code := runCLI(t, "promote", reg+"/stage/app:clean"); code != 2 {
		t.Errorf("one argument: exit %d\n%s", code, out)
	}
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
