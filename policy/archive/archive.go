// Package archive opens archives found inside scanned content — zip (jar, war, ear, whl), tar,
// tar.gz/tgz (apk), tar.zst and gz — and yields their members, recursively to a bounded depth
// and within a byte budget, with paths like "opt/app/app.jar!BOOT-INF/classes/application.yml".
// Nothing is extracted to disk: a zip, which needs random access, is held in memory up to a limit.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Kind is an archive format.
type Kind int

// The formats Walk opens.
const (
	None Kind = iota
	Zip
	Tar
	Gzip // a gzip stream: a tar inside is opened as a tar, anything else as one member
	Zstd
)

// Sep joins an archive's path and a member's path.
const Sep = "!"

// Options bound a walk. Zero values take the defaults.
type Options struct {
	// MaxDepth is how many archives deep members are opened. Default 3; 0 keeps the default,
	// negative turns nested archives off.
	MaxDepth int
	// MaxBytes is the most decompressed bytes read from one top-level archive, all levels
	// together. Default 1 GiB.
	MaxBytes int64
	// MaxZipBytes is the largest zip held in memory to be opened. Default 256 MiB.
	MaxZipBytes int64
	// MaxEntries is the most members read from one top-level archive. Default 100,000.
	MaxEntries int
}

func (o Options) withDefaults() Options {
	if o.MaxDepth == 0 {
		o.MaxDepth = 3
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxZipBytes <= 0 {
		o.MaxZipBytes = 256 << 20
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 100_000
	}
	return o
}

// LimitError says which bound a walk hit; the members before it were yielded.
type LimitError struct {
	Path  string
	Limit string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s; the rest was not scanned", e.Path, e.Limit)
}

// Detect tells an archive by its name, confirmed by its first bytes (head may be short).
func Detect(name string, head []byte) Kind {
	n := strings.ToLower(name)
	switch {
	case hasSuffix(n, ".zip", ".jar", ".war", ".ear", ".whl", ".aar", ".nupkg", ".egg"):
		if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
			return Zip
		}
	case hasSuffix(n, ".tar.gz", ".tgz", ".apk", ".gz", ".crate"):
		if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
			return Gzip
		}
	case hasSuffix(n, ".tar.zst", ".tzst", ".zst"):
		if bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			return Zstd
		}
	case hasSuffix(n, ".tar"):
		if len(head) >= 262 && string(head[257:262]) == "ustar" {
			return Tar
		}
	}
	return None
}

func hasSuffix(s string, sufs ...string) bool {
	for _, x := range sufs {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

// Member is one file inside an archive.
type Member struct {
	// Path is the archive path joined with the member's, with Sep between levels.
	Path string
	// Content reads the member; valid until the walk function returns.
	Content io.Reader
	// Depth is 1 for members of the top-level archive.
	Depth int
}

// Walk reads r, the content of the file called name, and, when it is an archive, calls fn for
// every regular member that is not itself an archive opened further. It reports whether r was
// an archive. A bound that is hit ends the walk with a *LimitError; members yielded before stay
// yielded.
func Walk(ctx context.Context, name string, r io.Reader, o Options, fn func(Member) error) (bool, error) {
	o = o.withDefaults()
	if o.MaxDepth < 0 {
		return false, nil
	}
	br := bufio.NewReaderSize(r, 512)
	head, _ := br.Peek(512)
	kind := Detect(name, head)
	if kind == None {
		return false, nil
	}
	w := &walker{ctx: ctx, o: o, fn: fn, budget: o.MaxBytes}
	return true, w.open(name, kind, br, 1)
}

type walker struct {
	ctx     context.Context
	o       Options
	fn      func(Member) error
	budget  int64
	entries int
}

// budgeted counts decompressed bytes against the walk's budget.
type budgeted struct {
	r    io.Reader
	w    *walker
	path string
}

func (b *budgeted) Read(p []byte) (int, error) {
	if b.w.budget <= 0 {
		return 0, &LimitError{Path: b.path, Limit: fmt.Sprintf("more than %d MiB decompressed", b.w.o.MaxBytes>>20)}
	}
	if int64(len(p)) > b.w.budget {
		p = p[:b.w.budget]
	}
	n, err := b.r.Read(p)
	b.w.budget -= int64(n)
	return n, err
}

func (w *walker) open(name string, kind Kind, r io.Reader, depth int) error {
	switch kind {
	case Zip:
		return w.zip(name, r, depth)
	case Tar:
		return w.tar(name, r, depth)
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		return w.stream(name, strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".tgz"), &budgeted{zr, w, name}, depth)
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		return w.stream(name, strings.TrimSuffix(name, ".zst"), &budgeted{zr, w, name}, depth)
	}
	return nil
}

// stream handles a decompressed stream: a tar inside is walked, anything else is one member.
func (w *walker) stream(archive, inner string, r io.Reader, depth int) error {
	br := bufio.NewReaderSize(r, 512)
	head, _ := br.Peek(512)
	if len(head) >= 262 && string(head[257:262]) == "ustar" {
		return w.tar(archive, br, depth)
	}
	return w.member(archive+Sep+path.Base(inner), br, depth)
}

func (w *walker) tar(name string, r io.Reader, depth int) error {
	tr := tar.NewReader(r)
	for {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return err
			}
			return fmt.Errorf("%s: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := w.member(name+Sep+clean(h.Name), tr, depth); err != nil {
			return err
		}
	}
}

func (w *walker) zip(name string, r io.Reader, depth int) error {
	dt, err := io.ReadAll(io.LimitReader(r, w.o.MaxZipBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(dt)) > w.o.MaxZipBytes {
		return &LimitError{Path: name, Limit: fmt.Sprintf("zip larger than %d MiB is not opened", w.o.MaxZipBytes>>20)}
	}
	zr, err := zip.NewReader(bytes.NewReader(dt), int64(len(dt)))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, f := range zr.File {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() || !f.Mode().IsRegular() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s%s%s: %w", name, Sep, f.Name, err)
		}
		err = w.member(name+Sep+clean(f.Name), &budgeted{rc, w, name}, depth)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// member yields one member, or opens it when it is itself an archive within the depth.
func (w *walker) member(p string, r io.Reader, depth int) error {
	w.entries++
	if w.entries > w.o.MaxEntries {
		return &LimitError{Path: p, Limit: fmt.Sprintf("more than %d members", w.o.MaxEntries)}
	}
	if depth < w.o.MaxDepth {
		br := bufio.NewReaderSize(r, 512)
		head, _ := br.Peek(512)
		if k := Detect(p, head); k != None {
			return w.open(p, k, br, depth+1)
		}
		r = br
	}
	return w.fn(Member{Path: p, Content: r, Depth: depth})
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }
