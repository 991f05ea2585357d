package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
)

// Entry is one member of a layer's tar stream.
type Entry struct {
	// Layer is the layer the entry is in.
	Layer *Layer
	// Path is the entry's clean path relative to the root ("etc/passwd"); a name that tried
	// to leave the root ("../x", "/x") is confined to it, and Name keeps the original.
	Path, Name string
	Header     *tar.Header
	// Content reads a regular file's bytes; nil for every other type. It is valid only until
	// the walk function returns.
	Content io.Reader
	// Link is a hard link's target, a clean path like Path ("usr/bin/perl"); "" for every
	// other type. A hard link carries no bytes: its content is the target's, an entry met
	// earlier in the same layer (or, for layers made by hand, a file of a lower layer).
	Link string
	// Index is the entry's position in the layer's tar stream, from 0 (whiteouts included).
	Index int
}

// Whiteouts records what each layer deletes from the layers below it, so that a finding in a
// lower layer can say which later layer "removed" the file — whose bytes stay in the blob.
type Whiteouts struct {
	mu     sync.Mutex
	files  map[int][]string // layer -> paths it whites out
	opaque map[int][]string // layer -> directories it makes opaque
}

// NewWhiteouts returns an empty record.
func NewWhiteouts() *Whiteouts {
	return &Whiteouts{files: map[int][]string{}, opaque: map[int][]string{}}
}

func (w *Whiteouts) add(layer int, p string, opaque bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if opaque {
		w.opaque[layer] = append(w.opaque[layer], p)
	} else {
		w.files[layer] = append(w.files[layer], p)
	}
}

// Layer returns what layer deletes: whited-out paths and opaque directories, sorted.
func (w *Whiteouts) Layer(layer int) (files, opaque []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	files = append([]string(nil), w.files[layer]...)
	opaque = append([]string(nil), w.opaque[layer]...)
	sort.Strings(files)
	sort.Strings(opaque)
	return files, opaque
}

// AddLayer records what layer deletes, as Layer returned it (a result cache replays it).
func (w *Whiteouts) AddLayer(layer int, files, opaque []string) {
	for _, f := range files {
		w.add(layer, f, false)
	}
	for _, d := range opaque {
		w.add(layer, d, true)
	}
}

// RemovedIn returns the first layer above layer that deletes p — a whiteout of p or of a
// directory above it, or an opaque directory above it — and false when none does.
func (w *Whiteouts) RemovedIn(p string, layer int) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var layers []int
	for l := range w.files {
		layers = append(layers, l)
	}
	for l := range w.opaque {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	for _, l := range layers {
		if l <= layer {
			continue
		}
		for _, wp := range w.files[l] {
			if p == wp || strings.HasPrefix(p, wp+"/") {
				return l, true
			}
		}
		for _, d := range w.opaque[l] {
			if d == "" || strings.HasPrefix(p, d+"/") {
				return l, true
			}
		}
	}
	return 0, false
}

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Limits bound what one layer may make the scanner read. Zero values take the defaults.
type Limits struct {
	// MaxBytes is the most uncompressed bytes read from one layer. Default 20 GiB.
	MaxBytes int64
	// MaxEntries is the most tar entries read from one layer. Default 1,000,000.
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 20 << 30
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 1_000_000
	}
	return l
}

// LimitError says a layer went past a bound; what came before was read.
type LimitError struct {
	Layer *Layer
	What  string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("layer %d (%s): %s", e.Layer.Index, e.Layer.Digest, e.What)
}

// countingReader stops a layer's stream at the byte limit.
type countingReader struct {
	r     io.Reader
	left  int64
	limit int64
	layer *Layer
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, &LimitError{Layer: c.layer, What: fmt.Sprintf("decompressed size exceeds the %s limit", humanBytes(c.limit))}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d-byte", n)
	}
}

// WalkLayer reads l's uncompressed tar stream once, within lim: it records l's whiteouts in w
// (unless w is nil: a second pass over a layer) and calls fn for every other entry, in stream
// order. fn's error stops the walk and is returned; a stream past a bound ends with a
// *LimitError, a corrupt one with an error naming the layer.
func WalkLayer(ctx context.Context, l *Layer, w *Whiteouts, lim Limits, fn func(Entry) error) error {
	lim = lim.withDefaults()
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(&countingReader{r: rc, left: lim.MaxBytes, limit: lim.MaxBytes, layer: l})
	entries := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *LimitError
		if errors.As(err, &le) {
			return le
		}
		if err != nil {
			return fmt.Errorf("layer %d (%s): reading the tar stream: %w", l.Index, l.Digest, err)
		}
		if entries++; entries > lim.MaxEntries {
			return &LimitError{Layer: l, What: fmt.Sprintf("more than %d entries", lim.MaxEntries)}
		}
		p := cleanPath(h.Name)
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == whiteoutOpaque:
			if w != nil {
				w.add(l.Index, dir, true)
			}
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			if w != nil {
				w.add(l.Index, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), false)
			}
			continue
		}
		e := Entry{Layer: l, Path: p, Name: h.Name, Header: h, Index: entries - 1}
		switch h.Typeflag {
		case tar.TypeReg:
			e.Content = &entryReader{r: tr, layer: l, path: p}
		case tar.TypeLink:
			e.Link = cleanPath(h.Linkname)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// cleanPath confines a tar name to the image root: "./a/../../b" and "/b" both become "b".
func cleanPath(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// entryReader names the layer and file in a read error (a truncated stream, a header that lies
// about its size), whoever is reading.
type entryReader struct {
	r     io.Reader
	layer *Layer
	path  string
}

func (e *entryReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		var le *LimitError
		if errors.As(err, &le) {
			return n, err
		}
		err = fmt.Errorf("layer %d (%s): reading the tar stream at %s: %w", e.layer.Index, e.layer.Digest, e.path, err)
	}
	return n, err
}
