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

// WalkLayer reads l's uncompressed tar stream once: it records l's whiteouts in w and calls fn
// for every other entry, in stream order. fn's error stops the walk and is returned.
func WalkLayer(ctx context.Context, l *Layer, w *Whiteouts, fn func(Entry) error) error {
	rc, err := l.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("layer %d (%s): reading the tar stream: %w", l.Index, l.Digest, err)
		}
		p := cleanPath(h.Name)
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case base == whiteoutOpaque:
			w.add(l.Index, dir, true)
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			w.add(l.Index, path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), false)
			continue
		}
		e := Entry{Layer: l, Path: p, Name: h.Name, Header: h}
		if h.Typeflag == tar.TypeReg {
			e.Content = tr
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
