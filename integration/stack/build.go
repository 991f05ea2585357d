package stack

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/sirupsen/logrus"
	"github.com/tonistiigi/fsutil"
)

// BuildOptions is a plain BuildKit Dockerfile build, the baseline safebuild is measured against.
type BuildOptions struct {
	// ContextDir holds the build context and, unless Dockerfile is set, the Dockerfile.
	ContextDir string
	// Dockerfile is the Dockerfile's directory (default ContextDir).
	DockerfileDir string
	// BuildArgs are passed as build-arg:K=V.
	BuildArgs map[string]string
	// Secrets, when set, serves RUN --mount=type=secret over the session.
	Secrets secrets.SecretStore
	// Session holds more attachables for the session, e.g. an SSH agent provider for
	// RUN --mount=type=ssh.
	Session []session.Attachable
	// OCILayout, when set, is the directory the image is exported to as an OCI layout.
	OCILayout string
	// OCIArchive and DockerArchive, when set, are files the image is exported to as an OCI
	// archive (a tar of a layout) and a docker-archive (`docker save` format).
	OCIArchive, DockerArchive string
	// Name is the image name recorded in archives (optional).
	Name string
	// Push, when set, is the reference the image is pushed to.
	Push string
	// CacheExport, when set, is a registry reference the build cache is exported to (mode=max).
	CacheExport string
	// Progress, when set, receives BuildKit's plain progress output.
	Progress io.Writer
}

// Build runs BuildKit's own Dockerfile frontend (dockerfile.v0) with o.
func (b *BuildKit) Build(ctx context.Context, o BuildOptions) error {
	dfDir := o.DockerfileDir
	if dfDir == "" {
		dfDir = o.ContextDir
	}
	ctxFS, err := fsutil.NewFS(o.ContextDir)
	if err != nil {
		return err
	}
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return err
	}
	attrs := map[string]string{}
	for k, v := range o.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	opt := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS},
	}
	if o.Secrets != nil {
		opt.Session = []session.Attachable{secretsprovider.NewSecretProvider(o.Secrets)}
	}
	opt.Session = append(opt.Session, o.Session...)
	if o.OCILayout != "" {
		if err := os.MkdirAll(o.OCILayout, 0o700); err != nil {
			return err
		}
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: client.ExporterOCI, Attrs: map[string]string{"tar": "false"}, OutputDir: o.OCILayout})
	}
	for _, ex := range [][2]string{{client.ExporterOCI, o.OCIArchive}, {client.ExporterDocker, o.DockerArchive}} {
		typ, file := ex[0], ex[1]
		if file == "" {
			continue
		}
		attrs := map[string]string{}
		if o.Name != "" {
			attrs["name"] = o.Name
		}
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: typ, Attrs: attrs, Output: fileOutput(file)})
	}
	if o.Push != "" {
		opt.Exports = append(opt.Exports, client.ExportEntry{Type: client.ExporterImage, Attrs: map[string]string{"name": o.Push, "push": "true"}})
	}
	if o.CacheExport != "" {
		opt.CacheExports = append(opt.CacheExports, client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": o.CacheExport, "mode": "max"}})
	}
	c, err := b.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var ch chan *client.SolveStatus
	done := make(chan struct{})
	if o.Progress != nil {
		ch = make(chan *client.SolveStatus)
		go func() {
			defer close(done)
			printProgress(o.Progress, ch)
		}()
	} else {
		close(done)
	}
	_, err = c.Solve(ctx, nil, opt, ch)
	<-done
	if err != nil {
		return fmt.Errorf("building %s: %w", o.ContextDir, err)
	}
	return nil
}

// printProgress prints vertex names as they start and log lines as they arrive.
func printProgress(w io.Writer, ch chan *client.SolveStatus) {
	seen := map[string]bool{}
	for st := range ch {
		for _, v := range st.Vertexes {
			if v.Started != nil && !seen[v.Digest.String()] {
				seen[v.Digest.String()] = true
				fmt.Fprintf(w, "#%s\n", v.Name)
			}
		}
		for _, l := range st.Logs {
			w.Write(l.Data)
		}
	}
}

// QuietClientLogs drops the BuildKit client's informational logrus warnings (such as "failed
// check for fsverity support" from the OCI content store), which are noise in test and demo output.
func QuietClientLogs() {
	logrus.SetLevel(logrus.ErrorLevel)
}

// fileOutput is an exporter output that writes to path.
func fileOutput(path string) func(map[string]string) (io.WriteCloser, error) {
	return func(map[string]string) (io.WriteCloser, error) {
		return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	}
}

// Prune empties buildkitd's build cache, so that the next build can only reuse what it imports.
func (b *BuildKit) Prune(ctx context.Context) error {
	c, err := b.Client(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Prune(ctx, nil, client.PruneAll); err != nil {
		return fmt.Errorf("pruning the build cache: %w", err)
	}
	return nil
}
