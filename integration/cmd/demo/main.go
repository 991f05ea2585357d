// Command demo shows the problem safebuild solves on the real stack: examples/leaky built with
// plain BuildKit leaves every planted credential in the exported image, and examples/clean, whose
// token is served from Vault over the BuildKit session, leaves none. Run it with `make demo`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/safebuild/safebuild/integration/stack"
)

// planted are the fake credentials examples/leaky hides, and where each comes from.
var planted = []struct{ name, value string }{
	{"ENV GITHUB_TOKEN", "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"},
	{"build-arg NPM_TOKEN", leakyNPMToken},
	{".npmrc _authToken (COPY app/)", "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"},
	{"deploy key (copied, then rm'd)", "MC4CAQAwBQYDK2VwBCIEIO2EqEKjiJHAb5bN9Hn7TppqPOQYTKLz1BzmPteZfBXm"},
}

const leakyNPMToken = "npm_KLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFR"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) (retErr error) {
	stack.QuietClientLogs()
	root, err := stack.ModuleRoot()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "starting the stack: buildkitd, registry, Vault, busybox base image…")
	s, err := stack.Start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(retErr != nil); err != nil && retErr == nil {
			retErr = err
		}
	}()
	work, err := os.MkdirTemp("", "safebuild-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	fmt.Fprintf(w, "\n== 1. examples/leaky, built with plain BuildKit ==\n")
	leaky := filepath.Join(work, "leaky")
	err = s.BuildKit.Build(ctx, stack.BuildOptions{
		ContextDir: filepath.Join(root, "examples", "leaky"),
		BuildArgs:  map[string]string{"BASE": s.BaseImage, "NPM_TOKEN": leakyNPMToken},
		OCILayout:  leaky,
	})
	if err != nil {
		return err
	}
	needles := make([][]byte, len(planted))
	for i, p := range planted {
		needles[i] = []byte(p.value)
	}
	hits, err := stack.SearchLayout(leaky, needles...)
	if err != nil {
		return err
	}
	kinds, err := blobKinds(leaky)
	if err != nil {
		return err
	}
	found := make([][]string, len(planted))
	for _, h := range hits {
		where := kinds[h.Blob] + " " + short(h.Blob)
		if h.Entry != "" {
			where += " /" + h.Entry
		}
		found[h.Needle] = append(found[h.Needle], where)
	}
	for i, p := range planted {
		fmt.Fprintf(w, "  %-32s ", p.name)
		if len(found[i]) == 0 {
			fmt.Fprintln(w, "not found")
			continue
		}
		fmt.Fprintln(w, "LEAKED in "+strings.Join(found[i], ", "))
	}

	fmt.Fprintf(w, "\n== 2. examples/clean, npm token served from Vault (secret/ci/npm#token) ==\n")
	vc, err := s.Vault.Client()
	if err != nil {
		return err
	}
	const token = "npm_vAu1tServedT0kenNeverInTheImage0001"
	if _, err := vc.KVv2("secret").Put(ctx, "ci/npm", map[string]any{"token": token}); err != nil {
		return fmt.Errorf("writing secret/ci/npm: %w", err)
	}
	clean := filepath.Join(work, "clean")
	err = s.BuildKit.Build(ctx, stack.BuildOptions{
		ContextDir: filepath.Join(root, "examples", "clean"),
		BuildArgs:  map[string]string{"BASE": s.BaseImage},
		Secrets:    stack.KVSecrets(vc, "secret", map[string]stack.KVRef{"npm_token": {Path: "ci/npm", Field: "token"}}),
		OCILayout:  clean,
	})
	if err != nil {
		return err
	}
	hits, err = stack.SearchLayout(clean, []byte(token))
	if err != nil {
		return err
	}
	if len(hits) > 0 {
		return fmt.Errorf("the Vault-served token leaked into %v", hits)
	}
	fmt.Fprintln(w, "  the step used the token; it is in no layer, config or manifest")
	fmt.Fprintln(w, "\nsafebuild's gates (next issues) fail build 1 before export and let build 2 through.")
	return nil
}

// blobKinds labels the blobs of an OCI layout as index, manifest, config or layer.
func blobKinds(dir string) (map[string]string, error) {
	kinds := map[string]string{}
	var idx ocispec.Index
	if err := readJSON(filepath.Join(dir, "index.json"), &idx); err != nil {
		return nil, err
	}
	for _, d := range idx.Manifests {
		kinds[d.Digest.String()] = "manifest"
		var m ocispec.Manifest
		if err := readJSON(filepath.Join(dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()), &m); err != nil {
			return nil, err
		}
		kinds[m.Config.Digest.String()] = "image config"
		for i, l := range m.Layers {
			kinds[l.Digest.String()] = fmt.Sprintf("layer %d", i)
		}
	}
	return kinds, nil
}

func readJSON(path string, v any) error {
	dt, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(dt, v)
}

func short(dgst string) string {
	if len(dgst) > 19 {
		return dgst[:19]
	}
	return dgst
}
