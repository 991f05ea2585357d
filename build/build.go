package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/client"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"

	"github.com/safebuild/safebuild/frontend"
)

// Gate decides, before anything leaves the build, whether the image in the OCI layout at dir may
// be exported. A non-nil error stops the build with no output written.
type Gate func(ctx context.Context, layoutDir string) error

// Options is one `safebuild build`.
type Options struct {
	// Address is buildkitd's address, e.g. "unix:///run/buildkit/buildkitd.sock".
	Address string
	// ContextDir is the build context; Dockerfile the Dockerfile's path (default
	// ContextDir/Dockerfile).
	ContextDir, Dockerfile string
	BuildArgs, Labels      map[string]string
	Target                 string
	Platforms              []string
	NoCache                bool
	// Secrets serves RUN --mount=type=secret for the ids in SecretIDs; a Dockerfile mounting
	// any other id is refused before the build starts.
	Secrets   secrets.SecretStore
	SecretIDs []string
	// LLBSecretIDs, when set, maps ids of SecretIDs to the ids the build's LLB carries instead
	// (the frontend rewrites them; Secrets is still asked for the original ids). `safebuild
	// build` maps each id to its pinned Vault reference, so that rotation busts the cache.
	LLBSecretIDs map[string]string
	// CacheImports are build caches to reuse layers from (docker build's --cache-from). What
	// they provide ends up in the image and is gated with it.
	CacheImports []client.CacheOptionsEntry
	// CacheExports (docker build's --cache-to; one, type=registry) is exported to a private
	// directory during the solve, every layer of it is put through Gate too (with mode=max that
	// includes build stages the image does not contain), and it is pushed only after that.
	CacheExports []client.CacheOptionsEntry
	// Outputs are written only after Gate passes.
	Outputs []Output
	// Progress receives BuildKit's progress display in ProgressMode ("auto", "plain", "tty",
	// "quiet", "rawjson"); nil discards it.
	Progress     io.Writer
	ProgressMode string
	// Redact masks known secret values in build log lines before they reach Progress.
	Redact func([]byte) []byte
	// Gate checks the built image before export.
	Gate Gate
	// StageDir is where the private OCI layout is written (default: a new directory under
	// the system temp directory); it is removed when Run returns.
	StageDir string
}

// Result describes a build that passed its gate.
type Result struct {
	// Digest is the digest of the image (or index) the build produced.
	Digest string
	// ConfigDigest is the image config's digest (docker's image ID); empty for an index.
	ConfigDigest string
	// Written lists the outputs written, in order ("oci:out.tar", "registry:host/app:1").
	Written []string
}

// Run builds, gates, then exports. On any error nothing is written to an output.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.ContextDir == "" {
		return nil, errors.New("no build context given")
	}
	dockerfile := o.Dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(o.ContextDir, "Dockerfile")
	}
	if fi, err := os.Stat(dockerfile); err != nil {
		return nil, fmt.Errorf("Dockerfile: %w", err)
	} else if fi.IsDir() {
		return nil, fmt.Errorf("Dockerfile %s is a directory", dockerfile)
	}
	if fi, err := os.Stat(o.ContextDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %s: not a directory", o.ContextDir)
	}
	for _, out := range o.Outputs {
		if err := out.validate(); err != nil {
			return nil, err
		}
	}
	stage, err := os.MkdirTemp(o.StageDir, "safebuild-stage-")
	if err != nil {
		return nil, fmt.Errorf("creating the private export directory: %w", err)
	}
	defer os.RemoveAll(stage)
	layoutDir := filepath.Join(stage, "oci")
	cache, err := newCacheExport(o.CacheExports, stage)
	if err != nil {
		return nil, err
	}

	ctxFS, err := fsutil.NewFS(o.ContextDir)
	if err != nil {
		return nil, err
	}
	dfFS, err := fsutil.NewFS(filepath.Dir(dockerfile))
	if err != nil {
		return nil, err
	}
	attrs := map[string]string{"filename": filepath.Base(dockerfile)}
	for _, k := range slices.Sorted(maps.Keys(o.BuildArgs)) {
		attrs["build-arg:"+k] = o.BuildArgs[k]
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		attrs["label:"+k] = o.Labels[k]
	}
	if o.Target != "" {
		attrs["target"] = o.Target
	}
	if len(o.Platforms) > 0 {
		attrs["platform"] = strings.Join(o.Platforms, ",")
	}
	if o.NoCache {
		attrs["no-cache"] = ""
	}
	attrs[frontend.OptSecrets] = strings.Join(o.SecretIDs, ",")
	if len(o.LLBSecretIDs) > 0 {
		dt, err := json.Marshal(o.LLBSecretIDs)
		if err != nil {
			return nil, err
		}
		attrs[frontend.OptSecretIDs] = string(dt)
	}
	// The gate scans the exported blobs, with canaries; the frontend need not scan twice.
	attrs[frontend.OptScanLayers] = "false"
	opt := client.SolveOpt{
		CacheImports:  o.CacheImports,
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
		Exports: []client.ExportEntry{{
			Type:      client.ExporterOCI,
			Attrs:     map[string]string{"tar": "false"},
			OutputDir: layoutDir,
		}},
	}
	if cache != nil {
		opt.CacheExports = []client.CacheOptionsEntry{cache.solveEntry()}
	}
	if o.Secrets != nil {
		store := o.Secrets
		if len(o.LLBSecretIDs) > 0 {
			store = mappedStore{store: store, ids: invert(o.LLBSecretIDs)}
		}
		opt.Session = []session.Attachable{secretsprovider.NewSecretProvider(store)}
	}

	c, err := client.New(ctx, o.Address)
	if err != nil {
		return nil, fmt.Errorf("connecting to buildkitd at %s: %w", o.Address, err)
	}
	defer c.Close()

	ch, done, err := startProgress(ctx, o)
	if err != nil {
		return nil, err
	}
	// The build function runs in this process: keep its own error, whose type (a refusal)
	// the gRPC round trip through buildkitd would flatten.
	var buildErr error
	build := func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		res, err := frontend.Build(ctx, c)
		buildErr = err
		return res, err
	}
	resp, err := c.Build(ctx, opt, "safebuild", build, ch)
	if perr := <-done; err == nil && perr != nil {
		err = perr
	}
	var refused *frontend.RefusedError
	if errors.As(buildErr, &refused) {
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	res := &Result{Digest: resp.ExporterResponse["containerimage.digest"], ConfigDigest: resp.ExporterResponse["containerimage.config.digest"]}
	if o.Gate != nil {
		if err := o.Gate(ctx, layoutDir); err != nil {
			return nil, err
		}
		if cache != nil {
			scanDir := filepath.Join(stage, "cache-scan")
			n, err := cache.scanLayout(scanDir)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				if err := o.Gate(ctx, scanDir); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, out := range o.Outputs {
		written, err := writeOutput(ctx, layoutDir, out)
		if err != nil {
			return nil, err
		}
		res.Written = append(res.Written, written...)
	}
	if cache != nil {
		if err := cache.push(ctx); err != nil {
			return nil, fmt.Errorf("the image was written (%s), but %w", strings.Join(res.Written, ", "), err)
		}
		res.Written = append(res.Written, "cache:"+cache.ref.String())
	}
	return res, nil
}

// startProgress shows BuildKit's progress in the chosen mode, masking secret values in logs.
// done yields the display's error once the build has closed the status channel.
func startProgress(ctx context.Context, o Options) (chan *client.SolveStatus, <-chan error, error) {
	ch := make(chan *client.SolveStatus)
	done := make(chan error, 1)
	w := o.Progress
	mode := progressui.DisplayMode(o.ProgressMode)
	if w == nil {
		w, mode = io.Discard, progressui.QuietMode
	}
	if mode == "" {
		mode = progressui.AutoMode
	}
	d, err := progressui.NewDisplay(w, mode)
	if err != nil {
		return nil, nil, fmt.Errorf("--progress %s: %w", mode, err)
	}
	shown := ch
	if o.Redact != nil {
		shown = make(chan *client.SolveStatus)
		go func() {
			defer close(shown)
			for st := range ch {
				for _, l := range st.Logs {
					l.Data = o.Redact(l.Data)
				}
				shown <- st
			}
		}()
	}
	go func() {
		// The display must drain the channel even after ctx ends, or the build blocks.
		_, err := d.UpdateFrom(context.WithoutCancel(ctx), shown)
		done <- err
	}()
	return ch, done, nil
}

// mappedStore serves the LLB's secret ids from a store that knows the original ids. An id the
// mapping does not know is not served: every mount was mapped by the frontend.
type mappedStore struct {
	store secrets.SecretStore
	ids   map[string]string // LLB id -> original id
}

func (m mappedStore) GetSecret(ctx context.Context, id string) ([]byte, error) {
	orig, ok := m.ids[id]
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", id, secrets.ErrNotFound)
	}
	return m.store.GetSecret(ctx, orig)
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}
