package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	buildflags "github.com/moby/buildkit/cmd/buildctl/build"
	"github.com/spf13/cobra"

	"github.com/safebuild/safebuild/build"
	"github.com/safebuild/safebuild/frontend"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/vaultsrc"
)

// defaultBuildKitAddr is where buildkitd listens when BUILDKIT_HOST and --addr are unset.
const defaultBuildKitAddr = "unix:///run/buildkit/buildkitd.sock"

// buildOptions are the flags of `safebuild build`, named as docker build names them.
type buildOptions struct {
	file, config, target, progress, addr string
	iidFile, metadataFile                string
	tags, buildArgs, labels, secretSpecs []string
	platforms, outputs                   []string
	cacheFrom, cacheTo                   []string
	push, noCache                        bool
	minConfidence                        string
}

func newBuildCmd() *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build [flags] PATH",
		Short: "Build an image like docker build, with secrets from Vault and nothing leaked",
		Long: `Build the Dockerfile in PATH with safebuild's frontend, run in-process against any buildkitd
(--addr, else $BUILDKIT_HOST). Secrets reach RUN --mount=type=secret steps from Vault over the
BuildKit session, in memory only; every id must map to a Vault reference (safebuild.yaml in PATH,
or --secret id=ID,src=vault:REF). The Vault login token is revoked when the build ends, however it
ends. The image is exported to a private OCI layout first; outputs (-o, --push) are written only
after it passes the gate, so a refused build leaves nothing behind.`,
		Example: `  # Build, and write an OCI archive only if the image is clean
  safebuild build -o out.tar .

  # Push to a registry; the npm token comes from Vault, logging in with the CI's OIDC token
  safebuild build -t registry.example.com/app:1 --push \
      --secret id=npm_token,src=vault:secret/ci/npm#token .`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd.Context(), cmd, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "Dockerfile path (default PATH/Dockerfile)")
	f.StringVar(&o.config, "config", "", "safebuild.yaml with the Vault settings and secret ids (default PATH/safebuild.yaml when present)")
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "image name; pushed with --push, recorded in -o type=docker")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (KEY alone takes the value from the environment)")
	f.StringArrayVar(&o.labels, "label", nil, "image label KEY=VALUE")
	f.StringArrayVar(&o.secretSpecs, "secret", nil, "secret id mapped to Vault: id=ID,src=vault:REF")
	f.StringArrayVar(&o.platforms, "platform", nil, "target platform(s), e.g. linux/amd64")
	f.StringArrayVarP(&o.outputs, "output", "o", nil, "output: PATH (OCI archive), type=oci|docker,dest=PATH, type=image,name=REF,push=true")
	f.StringVar(&o.target, "target", "", "build stage to build")
	f.StringVar(&o.progress, "progress", "auto", "progress output: auto, plain, tty, quiet, rawjson")
	f.StringVar(&o.addr, "addr", "", "buildkitd address (default $BUILDKIT_HOST, else "+defaultBuildKitAddr+")")
	f.BoolVar(&o.push, "push", false, "push every --tag to its registry")
	f.StringArrayVar(&o.cacheFrom, "cache-from", nil, "reuse build cache: type=registry,ref=REF (or REF alone), type=local,src=DIR, type=gha, …; what it provides is in the image and gated with it")
	f.StringArrayVar(&o.cacheTo, "cache-to", nil, "export build cache: type=registry,ref=REF[,mode=min|max]; it is exported to a private directory, every layer of it (with mode=max, build stages too) scanned like the image, and pushed only if clean")
	f.StringVar(&o.iidFile, "iidfile", "", "write the image ID (config digest; the index digest for several platforms) to this file, after the build passed")
	f.StringVar(&o.metadataFile, "metadata-file", "", "write the build result (digests, written outputs) as JSON to this file, after the build passed")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use the build cache")
	f.StringVar(&o.minConfidence, "min-confidence", build.DefaultMinConfidence.String(), "least confidence of a layer-scan finding that refuses the build: low, medium, high (lower ones are reported only; canaries are high)")
	return cmd
}

func runBuild(ctx context.Context, cmd *cobra.Command, o *buildOptions, contextDir string) (retErr error) {
	minConf, err := policy.ParseConfidence(o.minConfidence)
	if err != nil {
		return fmt.Errorf("--min-confidence: %w", err)
	}
	ro := build.Options{
		Address:      o.addr,
		ContextDir:   contextDir,
		Dockerfile:   o.file,
		Target:       o.target,
		Platforms:    splitCSV(o.platforms),
		NoCache:      o.noCache,
		Progress:     cmd.ErrOrStderr(),
		ProgressMode: o.progress,
	}
	if ro.Address == "" {
		ro.Address = os.Getenv("BUILDKIT_HOST")
	}
	if ro.Address == "" {
		ro.Address = defaultBuildKitAddr
	}
	if ro.CacheExports, err = buildflags.ParseExportCache(o.cacheTo); err != nil {
		return fmt.Errorf("--cache-to: %w", err)
	}
	if ro.CacheImports, err = buildflags.ParseImportCache(o.cacheFrom); err != nil {
		return fmt.Errorf("--cache-from: %w", err)
	}
	if ro.BuildArgs, err = parseKeyValues("--build-arg", o.buildArgs, true); err != nil {
		return err
	}
	if ro.Labels, err = parseKeyValues("--label", o.labels, false); err != nil {
		return err
	}
	for _, s := range o.outputs {
		out, err := build.ParseOutput(s)
		if err != nil {
			return err
		}
		if out.Type == "docker" && len(out.Names) == 0 {
			out.Names = o.tags
		}
		ro.Outputs = append(ro.Outputs, out)
	}
	if o.push {
		if len(o.tags) == 0 {
			return errors.New("--push needs at least one --tag")
		}
		ro.Outputs = append(ro.Outputs, build.Output{Type: "image", Names: o.tags, Push: true})
	}

	cfg, err := loadBuildConfig(o, contextDir)
	if err != nil {
		return err
	}
	var canaries func() []policy.Canary
	if len(cfg.Secrets) > 0 {
		sess, err := vaultsrc.Connect(ctx, cfg.Vault)
		if err != nil {
			return err
		}
		// Revoke the login token however the build ends; Close uses a fresh context, so
		// this works after Ctrl-C or SIGTERM too.
		defer func() {
			if err := sess.Close(); err != nil && retErr == nil {
				retErr = err
			}
		}()
		refs, llbIDs := pinSecrets(ctx, sess.Fetcher(), cfg.Secrets, cmd.ErrOrStderr())
		ro.LLBSecretIDs = llbIDs
		masker := &masker{}
		store, err := vaultsrc.NewStore(sess.Fetcher(), refs, vaultsrc.WithOnServe(masker.add))
		if err != nil {
			return err
		}
		defer store.Close()
		defer masker.wipe()
		ro.Secrets = store
		for id := range cfg.Secrets {
			ro.SecretIDs = append(ro.SecretIDs, id)
		}
		sort.Strings(ro.SecretIDs)
		ro.Redact = masker.redact
		canaries = func() []policy.Canary {
			var cs []policy.Canary
			for _, c := range store.Canaries() {
				cs = append(cs, policy.Canary(c))
			}
			return cs
		}
	}
	ro.Gate = build.ScanGate(minConf, canaries, ro.BuildArgs, cmd.ErrOrStderr())

	res, err := build.Run(ctx, ro)
	var refused *build.RefusedError
	var dfRefused *frontend.RefusedError
	if errors.As(err, &refused) || errors.As(err, &dfRefused) {
		return &exitError{code: 1, err: err}
	}
	if err != nil {
		return err
	}
	if err := writeResultFiles(o, res); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "built %s\n", res.Digest)
	for _, out := range res.Written {
		fmt.Fprintf(w, "wrote %s\n", out)
	}
	if len(res.Written) == 0 {
		fmt.Fprintln(cmd.ErrOrStderr(), "no output requested (-o, --push): the image stays in the build cache only")
	}
	return nil
}

// pinSecrets pins each KV v2 reference to its current version and returns the pinned references
// and the ids the LLB carries for them (id=<pinned reference>): BuildKit's cache key holds a
// secret mount's id, not its value, so a step that mounted a secret since rotated runs again
// instead of reusing the old layer. A version that cannot be read is a warning on w, and the
// reference stays unpinned.
func pinSecrets(ctx context.Context, f vaultsrc.Fetcher, secrets map[string]vaultsrc.Ref, w io.Writer) (map[string]vaultsrc.Ref, map[string]string) {
	refs, llbIDs := map[string]vaultsrc.Ref{}, map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(secrets)) {
		ref := secrets[id]
		pinned, err := vaultsrc.Pin(ctx, f, ref)
		if err != nil {
			fmt.Fprintf(w, "safebuild: warning: %v: the version of %s is unknown, so cached steps that mount it are reused after it rotates (grant read on its metadata, or pin ?version=N)\n", err, id)
			pinned = ref
		}
		refs[id] = pinned
		llbIDs[id] = id + "=" + pinned.String()
	}
	return refs, llbIDs
}

// writeResultFiles writes --iidfile and --metadata-file as docker buildx does: the image ID is
// the config digest (the image or index digest when there is no single config), and the metadata
// holds the digests and the image names written. Only digests and names: no build input.
func writeResultFiles(o *buildOptions, res *build.Result) error {
	if o.iidFile != "" {
		id := res.ConfigDigest
		if id == "" {
			id = res.Digest
		}
		if err := os.WriteFile(o.iidFile, []byte(id), 0o644); err != nil {
			return fmt.Errorf("--iidfile: %w", err)
		}
	}
	if o.metadataFile != "" {
		md := map[string]any{"containerimage.digest": res.Digest}
		if res.ConfigDigest != "" {
			md["containerimage.config.digest"] = res.ConfigDigest
		}
		var names []string
		for _, w := range res.Written {
			if n, ok := strings.CutPrefix(w, "registry:"); ok {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			md["image.name"] = strings.Join(names, ",")
		}
		md["safebuild.outputs"] = res.Written
		dt, err := json.MarshalIndent(md, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.metadataFile, append(dt, '\n'), 0o644); err != nil {
			return fmt.Errorf("--metadata-file: %w", err)
		}
	}
	return nil
}

// loadBuildConfig reads safebuild.yaml (--config, else PATH/safebuild.yaml when present) and
// adds the --secret mappings; an id declared twice is an error.
func loadBuildConfig(o *buildOptions, contextDir string) (*vaultsrc.Config, error) {
	cfg := &vaultsrc.Config{Secrets: map[string]vaultsrc.Ref{}}
	path := o.config
	if path == "" {
		if p := filepath.Join(contextDir, "safebuild.yaml"); fileExists(p) {
			path = p
		}
	}
	if path != "" {
		c, err := vaultsrc.LoadConfig(path)
		if err != nil {
			return nil, err
		}
		cfg = c
		if cfg.Secrets == nil {
			cfg.Secrets = map[string]vaultsrc.Ref{}
		}
	}
	for _, spec := range o.secretSpecs {
		id, ref, ok, err := vaultsrc.ParseSecretFlag(spec)
		if err != nil {
			return nil, fmt.Errorf("--secret: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("--secret %s: only vault: sources are served (id=ID,src=vault:REF); files and environment variables would put the secret on this machine's disk or environment", redactSpec(spec))
		}
		if _, dup := cfg.Secrets[id]; dup {
			return nil, fmt.Errorf("--secret: id %q is declared twice", id)
		}
		cfg.Secrets[id] = ref
	}
	return cfg, nil
}

// redactSpec keeps only the id of a --secret value in error messages.
func redactSpec(spec string) string {
	for _, f := range strings.Split(spec, ",") {
		if k, _, _ := strings.Cut(f, "="); strings.TrimSpace(k) == "id" {
			return f
		}
	}
	return "(without id)"
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// parseKeyValues parses KEY=VALUE flags; with fromEnv, a bare KEY takes its value from the
// environment as docker build does (and is skipped when unset).
func parseKeyValues(flag string, kvs []string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("%s %q: empty key", flag, k)
		}
		if !ok {
			if !fromEnv {
				return nil, fmt.Errorf("%s %s: want KEY=VALUE", flag, k)
			}
			ev, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = ev
		}
		out[k] = v
	}
	return out, nil
}

func splitCSV(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// masker replaces served secret values (raw, base64, and each line of a multi-line value) in
// build log output. Masking is a courtesy, not the boundary: the gate is what keeps values out
// of images.
type masker struct {
	mu   sync.Mutex
	pats [][]byte
}

func (m *masker) add(_ string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	forms := [][]byte{value, []byte(base64.StdEncoding.EncodeToString(value))}
	for _, line := range bytes.Split(value, []byte("\n")) {
		if len(bytes.TrimSpace(line)) >= 6 {
			forms = append(forms, line)
		}
	}
	for _, f := range forms {
		if len(f) > 0 {
			m.pats = append(m.pats, bytes.Clone(f))
		}
	}
	clear(value)
}

func (m *masker) redact(b []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.pats {
		if bytes.Contains(b, p) {
			b = bytes.ReplaceAll(b, p, []byte("****"))
		}
	}
	return b
}

func (m *masker) wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.pats {
		clear(p)
	}
	m.pats = nil
}
