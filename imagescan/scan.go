package imagescan

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
)

// Origin kinds of image content. Image findings leave Origin.Ref empty, so that a fingerprint
// (rule, kind, path, secret) stays the same when a rebuild changes the layer's digest: baselines
// keep working. The layer itself is in Finding.Layer.
const (
	OriginLayer  = "layer"
	OriginConfig = "config"
	// OriginManifest is a manifest or index annotation.
	OriginManifest = "manifest"
)

// Layer and Finding are the engine's own types: image findings are policy.Findings whose Image,
// Platform and Layer are set.
type (
	Layer   = policy.Layer
	Finding = policy.Finding
)

// RuleIncomplete is the rule ID of a finding that says part of the image could not be scanned
// (an archive past a bound): a gate cannot vouch for what it did not read, so it fails closed.
const RuleIncomplete = policy.RuleIncomplete

// Options tune Scan.
type Options struct {
	// Jobs is how many layers are read at once. Default: GOMAXPROCS.
	Jobs int
	// Archives bounds the archives opened inside layers (depth, bytes, members).
	Archives archive.Options
	// Layers bounds each layer's decompressed size and entry count.
	Layers image.Limits
	// Cache, when set, replays layers scanned before with the same key (see Cache).
	Cache *Cache
	// RequireAll makes ScanSet report an index entry the store does not hold as an error, not
	// a notice: for gates (promote, the build gate), which must not vouch for an index they did
	// not read whole. Default false: `scan` lists it and scans what is there.
	RequireAll bool
	// BuildArgs are the build-args the image was built with, when known (the build gate): they
	// delimit build-arg values in history entries exactly (see HistoryFindings).
	BuildArgs map[string]string
}

// IncompleteError says which parts of an image could not be scanned: a corrupt or truncated
// layer, a blob the store or registry does not serve, an unreadable config. Everything else was
// scanned and its findings emitted; a gate must still refuse, since it cannot vouch for what it
// did not read.
type IncompleteError struct {
	Problems []policy.Problem
}

func (e *IncompleteError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return fmt.Sprintf("scan incomplete: %s", strings.Join(msgs, "; "))
}

// Scan scans img with sc and calls emit for each finding, sorted by layer, path and line, once
// every layer has been read (a finding's RemovedInLayer needs the later layers' whiteouts). A
// layer or config that cannot be read does not stop the others: every finding is emitted, then
// Scan returns an *IncompleteError naming each part that broke. ScanSet scans a whole Set, and
// also reports notices.
func Scan(ctx context.Context, sc *policy.Scanner, img *image.Image, o Options, emit func(Finding) error) (policy.Stats, error) {
	stats, problems, _, err := scanImage(ctx, sc, img, o, emit)
	if err == nil && len(problems) > 0 {
		err = &IncompleteError{Problems: problems}
	}
	return stats, err
}

// scanImage is Scan returning the parts it could not scan as problems, and what it could not
// look at by design as notices (a hard link to a file no layer holds). Its error is the
// context's, or emit's.
func scanImage(ctx context.Context, sc *policy.Scanner, img *image.Image, o Options, emit func(Finding) error) (policy.Stats, []policy.Problem, []policy.Problem, error) {
	start := time.Now()
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var (
		mu       sync.Mutex
		stats    policy.Stats
		findings []Finding
		problems []policy.Problem
	)
	platform := img.PlatformString()
	broken := func(l *Layer, err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, policy.Problem{Image: img.Source, Platform: platform, Manifest: img.Digest, Layer: l, Message: err.Error()})
	}
	var notices []policy.Problem
	noted := func(l *Layer, msg string) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, policy.Problem{Image: img.Source, Platform: platform, Manifest: img.Digest, Layer: l, Message: msg})
	}
	layers, err := img.Layers()
	if err != nil {
		broken(nil, err)
	}
	collect := func(l *Layer) func(policy.Finding) error {
		return func(f policy.Finding) error {
			mu.Lock()
			defer mu.Unlock()
			f.Image, f.Platform, f.Layer = img.Source, platform, l
			findings = append(findings, f)
			return nil
		}
	}
	addStats := func(st policy.Stats) {
		mu.Lock()
		defer mu.Unlock()
		stats.Add(st)
	}

	if err := scanConfig(ctx, sc, img, o.BuildArgs, collect(nil), addStats); err != nil {
		if ctx.Err() != nil {
			return stats, nil, nil, err
		}
		broken(nil, err)
	}
	// A created_by that holds a secret (a token written into a RUN line) must not be repeated
	// in every layer finding's report: name the history entry instead.
	secretHistory := map[string]bool{}
	for _, f := range findings {
		if strings.HasPrefix(f.Origin.Path, "History[") && strings.HasSuffix(f.Origin.Path, "].created_by") {
			secretHistory[f.Origin.Path] = true
		}
	}
	historyOf := layerHistory(img)
	wo := image.NewWhiteouts()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	// Small files are read off the layer's tar stream into pooled buffers and scanned by a
	// shared pool of workers: a layer is one sequential stream, so without this one big layer
	// would keep a single core busy while the other waits.
	pool := newFilePool(gctx, jobs)
	for _, l := range layers {
		info := &Layer{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, CreatedBy: RedactCreatedBy(l.CreatedBy)}
		if h, ok := historyOf[l.Index]; ok && secretHistory[h] {
			info.CreatedBy = instruction(l.CreatedBy) + " (holds a secret: see " + h + ")"
		}
		g.Go(func() error {
			if o.Cache != nil {
				if e, ok := o.Cache.get(l, o); ok {
					if fs, err := fromCached(e.Findings); err == nil {
						wo.AddLayer(l.Index, e.Whiteouts, e.Opaque)
						emitL := collect(info)
						for _, f := range fs {
							emitL(f)
						}
						addStats(e.Stats)
						return nil
					}
				}
			}
			var (
				layerFindings []policy.Finding
				layerStats    policy.Stats
				lmu           sync.Mutex
			)
			emitAll := collect(info)
			emitL := func(f policy.Finding) error {
				lmu.Lock()
				layerFindings = append(layerFindings, f)
				lmu.Unlock()
				return emitAll(f)
			}
			addLayerStats := func(st policy.Stats) {
				lmu.Lock()
				layerStats.Add(st)
				lmu.Unlock()
				addStats(st)
			}
			wrapErr := func(p string, err error) error {
				if err == nil {
					return nil
				}
				return fmt.Errorf("layer %d (%s), %s: %w", l.Index, l.Digest, p, err)
			}
			scanTo := func(p string, r io.Reader, emit func(policy.Finding) error) error {
				st, err := ScanFile(gctx, sc, policy.Origin{Kind: OriginLayer, Path: p}, r, o.Archives, emit)
				addLayerStats(st)
				return wrapErr(p, err)
			}
			links := newLayerLinks()
			scanEntry := func(p string, r io.Reader) error { return scanTo(p, links.note(p, r), emitL) }
			pending := pool.batch()
			err := image.WalkLayer(gctx, l, wo, o.Layers, func(e image.Entry) error {
				if e.Link != "" {
					links.link(e)
					return nil
				}
				if e.Content == nil {
					return nil
				}
				links.file(e)
				if e.Header.Size <= smallFile {
					return pool.submit(pending, e.Path, e.Content, e.Header.Size, func(p string, r io.Reader) error { return scanEntry(p, r) })
				}
				return scanEntry(e.Path, e.Content)
			})
			if werr := pending.wait(); err == nil {
				err = werr
			}
			if err == nil {
				lmu.Lock()
				found := slices.Clone(layerFindings)
				lmu.Unlock()
				c := *info
				err = links.resolve(&linkScan{ctx: gctx, sc: sc, layer: l, lower: lowerLayers(layers, l), lim: o.Layers,
					findings: found, scan: scanTo, emit: emitL, notice: func(msg string) { noted(&c, msg) }})
			}
			if err == nil && o.Cache != nil {
				files, opaque := wo.Layer(l.Index)
				o.Cache.put(l, o, &cacheEntry{Findings: toCached(layerFindings), Whiteouts: files, Opaque: opaque, Stats: layerStats})
			}
			if err != nil && gctx.Err() == nil {
				// A broken layer is reported; the others are still scanned.
				c := *info
				broken(&c, err)
				return nil
			}
			return err
		})
	}
	gerr := g.Wait()
	pool.close()
	if gerr != nil {
		return stats, nil, nil, gerr
	}

	for i := range findings {
		if l := findings[i].Layer; l != nil {
			// Findings share one Layer per layer; give each its own copy to annotate.
			c := *l
			if r, ok := wo.RemovedIn(findings[i].Origin.Path, l.Index); ok {
				c.RemovedInLayer = &r
			}
			findings[i].Layer = &c
		}
	}
	Sort(findings)
	sort.SliceStable(problems, func(i, j int) bool { return problemLayer(problems[i]) < problemLayer(problems[j]) })
	stats.Duration = time.Since(start)
	for _, f := range findings {
		if err := emit(f); err != nil {
			return stats, nil, nil, err
		}
	}
	return stats, problems, notices, nil
}

func problemLayer(p policy.Problem) int {
	if p.Layer == nil {
		return -1
	}
	return p.Layer.Index
}

// Sort orders findings: by image and platform, config and manifest findings before layer
// findings, then attestations and other artifacts (by manifest and blob), then by layer, path,
// line, column and rule ID.
func Sort(fs []Finding) {
	layer := func(f Finding) int {
		switch {
		case f.Artifact != nil:
			return math.MaxInt
		case f.Layer == nil:
			return -1
		}
		return f.Layer.Index
	}
	artifact := func(f Finding) string {
		if f.Artifact == nil {
			return ""
		}
		return f.Artifact.Manifest + " " + f.Artifact.Blob
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.Image != b.Image:
			return a.Image < b.Image
		case a.Platform != b.Platform:
			return a.Platform < b.Platform
		case layer(a) != layer(b):
			return layer(a) < layer(b)
		case artifact(a) != artifact(b):
			return artifact(a) < artifact(b)
		case a.Origin.Kind != b.Origin.Kind:
			return a.Origin.Kind < b.Origin.Kind
		case a.Origin.Path != b.Origin.Path:
			return a.Origin.Path < b.Origin.Path
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Column != b.Column:
			return a.Column < b.Column
		default:
			return a.RuleID < b.RuleID
		}
	})
}

// scanConfig scans img's config and annotations (the annotations also when the config cannot
// be read), with the build-args the image was built with when known.
func scanConfig(ctx context.Context, sc *policy.Scanner, img *image.Image, buildArgs map[string]string, emit func(policy.Finding) error, addStats func(policy.Stats)) error {
	cfg, _, err := img.Config()
	if err != nil {
		st, aerr := ScanConfig(ctx, sc, &v1.ConfigFile{}, img.Annotations, "", nil, emit)
		addStats(st)
		if aerr != nil && ctx.Err() != nil {
			return aerr
		}
		return err
	}
	st, err := ScanConfig(ctx, sc, cfg, img.Annotations, "", buildArgs, emit)
	addStats(st)
	if err != nil {
		return fmt.Errorf("%s: %w", img.Source, err)
	}
	return nil
}

// ScanConfig scans each config field as its own fragment, so that findings name it: Env[3],
// Labels["k"], Cmd, Entrypoint, OnBuild[0], History[7].created_by, and the manifest or index
// annotations; and the build-args history entries record (HistoryFindings, with buildArgs when
// known, else nil). ref (a digest, or "" before export) becomes each finding's Origin.Ref.
func ScanConfig(ctx context.Context, sc *policy.Scanner, cfg *v1.ConfigFile, annotations map[string]string, ref string, buildArgs map[string]string, emit func(policy.Finding) error) (policy.Stats, error) {
	var stats policy.Stats
	type field struct{ kind, path, text string }
	var fields []field
	add := func(kind, path, text string) {
		if text != "" {
			fields = append(fields, field{kind, path, text})
		}
	}
	c := cfg.Config
	for i, e := range c.Env {
		add(OriginConfig, fmt.Sprintf("Env[%d]", i), e)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
		add(OriginConfig, fmt.Sprintf("Labels[%q]", k), k+"="+c.Labels[k])
	}
	add(OriginConfig, "Cmd", strings.Join(c.Cmd, " "))
	add(OriginConfig, "Entrypoint", strings.Join(c.Entrypoint, " "))
	for i, s := range c.OnBuild {
		add(OriginConfig, fmt.Sprintf("OnBuild[%d]", i), s)
	}
	add(OriginConfig, "User", c.User)
	add(OriginConfig, "WorkingDir", c.WorkingDir)
	for i, h := range cfg.History {
		add(OriginConfig, fmt.Sprintf("History[%d].created_by", i), h.CreatedBy)
		add(OriginConfig, fmt.Sprintf("History[%d].comment", i), h.Comment)
	}
	for _, k := range slices.Sorted(maps.Keys(annotations)) {
		add(OriginManifest, fmt.Sprintf("Annotations[%q]", k), k+"="+annotations[k])
	}
	for _, f := range fields {
		o := policy.Origin{Kind: f.kind, Ref: ref, Path: f.path}
		st, err := sc.ScanReader(ctx, o, strings.NewReader(f.text), emit)
		stats.Add(st)
		if err != nil {
			return stats, fmt.Errorf("config %s: %w", f.path, err)
		}
	}
	for _, f := range HistoryFindings(cfg, buildArgs, ref) {
		if err := emit(f); err != nil {
			return stats, err
		}
	}
	return stats, nil
}

// layerHistory maps each layer index to the config field of the history entry that made it
// (empty when the config cannot be read: scanConfig reports that).
func layerHistory(img *image.Image) map[int]string {
	out := map[int]string{}
	cfg, _, err := img.Config()
	if err != nil {
		return out
	}
	layer := 0
	for i, h := range cfg.History {
		if h.EmptyLayer {
			continue
		}
		out[layer] = fmt.Sprintf("History[%d].created_by", i)
		layer++
	}
	return out
}

// instruction is the Dockerfile instruction a created_by starts with ("RUN", "COPY"), or "".
func instruction(createdBy string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(createdBy), " ")
	if w == strings.ToUpper(w) && len(w) > 0 && len(w) <= 12 {
		return w
	}
	return "instruction"
}

// smallFile is the largest layer file read into memory and scanned by the worker pool; larger
// files stream through the scanner on the layer's own goroutine.
const smallFile = 1 << 20

// filePool scans buffered small files on a fixed number of workers.
type filePool struct {
	ctx   context.Context
	tasks chan fileTask
	bufs  sync.Pool
	wg    sync.WaitGroup
}

type fileTask struct {
	path string
	buf  *[]byte
	scan func(string, io.Reader) error
	b    *batch
}

// batch tracks one layer's submitted files and keeps the first error.
type batch struct {
	wg  sync.WaitGroup
	mu  sync.Mutex
	err error
}

func (b *batch) done(err error) {
	if err != nil {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	b.wg.Done()
}

func (b *batch) wait() error {
	b.wg.Wait()
	return b.err
}

func newFilePool(ctx context.Context, workers int) *filePool {
	p := &filePool{ctx: ctx, tasks: make(chan fileTask, workers*2)}
	p.bufs.New = func() any { b := make([]byte, 0, smallFile); return &b }
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.tasks {
				err := t.scan(t.path, bytes.NewReader(*t.buf))
				clear(*t.buf)
				*t.buf = (*t.buf)[:0]
				p.bufs.Put(t.buf)
				t.b.done(err)
			}
		}()
	}
	return p
}

func (p *filePool) batch() *batch { return &batch{} }

// submit reads r (size bytes) into a pooled buffer and queues it; it blocks while the queue
// is full, which bounds memory to a few buffers per worker.
func (p *filePool) submit(b *batch, path string, r io.Reader, size int64, scan func(string, io.Reader) error) error {
	buf := p.bufs.Get().(*[]byte)
	*buf = (*buf)[:size]
	if _, err := io.ReadFull(r, *buf); err != nil {
		p.bufs.Put(buf)
		return err
	}
	b.wg.Add(1)
	select {
	case p.tasks <- fileTask{path: path, buf: buf, scan: scan, b: b}:
		return nil
	case <-p.ctx.Done():
		b.wg.Done()
		p.bufs.Put(buf)
		return p.ctx.Err()
	}
}

// close stops the workers once every queued file is scanned.
func (p *filePool) close() {
	close(p.tasks)
	p.wg.Wait()
}

// ScanFile scans one file's content: as it is, or, when its bytes are an archive (jar, zip,
// tar.gz, xz, …, whatever its name), member by member with paths like
// "app.jar!BOOT-INF/classes/application.yml". An archive past a bound of archives, or corrupt,
// yields an incomplete-scan finding: a gate cannot vouch for bytes it did not read.
// origin.Path is the file's path; its Kind and Ref go to every finding. See
// policy.Scanner.ScanFile.
func ScanFile(ctx context.Context, sc *policy.Scanner, origin policy.Origin, r io.Reader, archives archive.Options, emit func(policy.Finding) error) (policy.Stats, error) {
	return sc.ScanFile(ctx, origin, r, archives, emit)
}
