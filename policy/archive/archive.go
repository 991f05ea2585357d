// Package archive opens archives found inside scanned content — zip (and jar, war, whl, docx,
// apk…: anything with zip's PK magic), tar, and gzip, zstd, xz and bzip2 streams (a tar inside is
// opened as a tar, anything else is one member) — and yields their members, recursively to a
// bounded depth and within byte and member budgets, with paths like
// "opt/app/app.jar!BOOT-INF/classes/application.yml". Archives are recognised by their bytes,
// never by their names: a zip called release.pkg is opened like one called release.zip. Nothing
// is extracted to disk: a zip, which needs random access, is read in place when the content can
// be read at random (a file, a buffer), otherwise held in memory up to a limit.
package archive

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
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
	Xz
	Bzip2
)

var kindNames = [...]string{"none", "zip", "tar", "gzip", "zstd", "xz", "bzip2"}

// String returns the format's name: "zip", "tar", "gzip", "zstd", "xz", "bzip2" or "none".
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Sep joins an archive's path and a member's path.
const Sep = "!"

// HeadLen is how many leading bytes Detect needs to tell every format (tar's magic is at 257).
const HeadLen = 262

// Options bound a walk. Zero values take the defaults.
type Options struct {
	// MaxDepth is how many archives deep members are opened. Default 3; 0 keeps the default,
	// negative turns archives off.
	MaxDepth int
	// MaxBytes is the most decompressed bytes read from one top-level archive, all levels
	// together. Default 1 GiB.
	MaxBytes int64
	// MaxZipBytes is the largest zip held in memory to be opened, when it cannot be read in
	// place. Default 256 MiB.
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

// Off reports whether o turns archives off (a negative MaxDepth).
func (o Options) Off() bool { return o.MaxDepth < 0 }

// LimitError says which bound a walk hit; the members before it were yielded.
type LimitError struct {
	Path  string
	Limit string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s; the rest was not scanned", e.Path, e.Limit)
}

// Detect tells an archive or compressed stream by its first bytes (head may be short; HeadLen
// bytes tell every format): zip's local-file or end-of-directory signature, gzip's magic with the
// deflate method, zstd's frame magic, xz's stream header, bzip2's header followed by a block or
// end-of-stream magic, or a ustar header. Text never starts with any of them.
func Detect(head []byte) Kind {
	switch {
	case len(head) < 4:
		return None
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")),
		bytes.HasPrefix(head, []byte("PK\x07\x08PK\x03\x04")):
		return Zip
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b, 0x08}):
		return Gzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return Xz
	case len(head) >= 10 && bytes.HasPrefix(head, []byte("BZh")) && '1' <= head[3] && head[3] <= '9' &&
		(bytes.Equal(head[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || bytes.Equal(head[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})):
		return Bzip2
	case isTar(head):
		return Tar
	}
	return None
}

// isTar reports whether head starts with a POSIX ustar or GNU tar header.
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// ReaderAtSizer is content that can also be read at random: Walk reads a zip from it in place
// instead of holding it in memory. *bytes.Reader and *io.SectionReader are such readers.
type ReaderAtSizer interface {
	io.ReaderAt
	Size() int64
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

// Walk reads r, the content of the file called name, and, when its bytes are an archive (see
// Detect), calls fn for every regular member that is not itself an archive opened further. It
// reports whether r was an archive. When r is a ReaderAtSizer positioned at its start, a zip is
// read in place. A bound that is hit ends the walk with a *LimitError, corrupt content with an
// error naming the archive; members yielded before stay yielded.
func Walk(ctx context.Context, name string, r io.Reader, o Options, fn func(Member) error) (bool, error) {
	o = o.withDefaults()
	if o.Off() {
		return false, nil
	}
	ra, _ := r.(ReaderAtSizer)
	br := bufio.NewReaderSize(r, 512)
	head, _ := br.Peek(HeadLen)
	kind := Detect(head)
	if kind == None {
		return false, nil
	}
	w := &walker{ctx: ctx, o: o, fn: fn, budget: o.MaxBytes}
	if kind == Zip && ra != nil {
		return true, w.zipAt(name, ra, ra.Size(), 1)
	}
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

// suffixes are the extensions a compressed stream's name drops to name the one member inside.
var suffixes = map[Kind][]string{
	Gzip:  {".tgz", ".gz"},
	Zstd:  {".tzst", ".zst"},
	Xz:    {".txz", ".xz"},
	Bzip2: {".tbz2", ".tbz", ".bz2"},
}

func (w *walker) open(name string, kind Kind, r io.Reader, depth int) error {
	var zr io.Reader
	switch kind {
	case Zip:
		return w.zip(name, r, depth)
	case Tar:
		return w.tar(name, r, depth)
	case Gzip:
		g, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer g.Close()
		zr = g
	case Zstd:
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer z.Close()
		zr = z
	case Xz:
		x, err := xz.NewReader(r)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		zr = x
	case Bzip2:
		zr = bzip2.NewReader(r)
	default:
		return nil
	}
	inner := path.Base(name)
	for _, s := range suffixes[kind] {
		if strings.HasSuffix(strings.ToLower(inner), s) && len(inner) > len(s) {
			inner = inner[:len(inner)-len(s)]
			break
		}
	}
	return w.stream(name, inner, &budgeted{zr, w, name}, depth)
}

// stream handles a decompressed stream: a tar inside is walked, anything else is one member.
func (w *walker) stream(archive, inner string, r io.Reader, depth int) error {
	br := bufio.NewReaderSize(r, 512)
	head, err := br.Peek(HeadLen)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return w.readErr(archive, err)
	}
	if isTar(head) {
		return w.tar(archive, br, depth)
	}
	return w.member(archive+Sep+inner, br, depth)
}

// readErr names the archive in a decompression error; a *LimitError stays as it is.
func (w *walker) readErr(name string, err error) error {
	var le *LimitError
	if errors.As(err, &le) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
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
			return w.readErr(name, err)
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
		return w.readErr(name, err)
	}
	if int64(len(dt)) > w.o.MaxZipBytes {
		return &LimitError{Path: name, Limit: fmt.Sprintf("zip larger than %d MiB is not opened", w.o.MaxZipBytes>>20)}
	}
	return w.zipAt(name, bytes.NewReader(dt), int64(len(dt)), depth)
}

func (w *walker) zipAt(name string, ra io.ReaderAt, size int64, depth int) error {
	zr, err := zip.NewReader(ra, size)
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
		head, _ := br.Peek(HeadLen)
		if k := Detect(head); k != None {
			return w.open(p, k, br, depth+1)
		}
		r = br
	}
	return w.fn(Member{Path: p, Content: r, Depth: depth})
}

func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }
