package policy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/safebuild/safebuild/policy/archive"
)

// Origin says where scanned content came from. Kind is the artefact ("file" now; image layers,
// image configs, Dockerfile instructions and build-args later), Ref identifies it (a layer
// digest, an instruction), and Path is the file path inside it.
type Origin struct {
	Kind string
	Ref  string
	Path string
}

// OriginFile is the Kind of content read from the local filesystem.
const OriginFile = "file"

// sourceTree reports whether the origin is a file of a source tree (OriginFile), judged with
// gitleaks' full global path allowlist; anything else (image layers, configs, attestations,
// build steps) is image content, judged with the image allowlist (see imageAllowlist).
func (o Origin) sourceTree() bool { return o.Kind == OriginFile }

// String returns Kind, or Kind:Ref when Ref is set: the "origin" of JSON reports.
func (o Origin) String() string {
	if o.Ref == "" {
		return o.Kind
	}
	return o.Kind + ":" + o.Ref
}

// Fragment is one piece of content to scan: a file, or later a layer entry or config field.
type Fragment struct {
	Origin Origin
	// Size is the content length, or -1 when unknown.
	Size int64
	// Open returns the content. The scanner calls it at most once, possibly from another
	// goroutine and after the Source's yield returned, and closes what it returns.
	Open func() (io.ReadCloser, error)
	// Archives, when set, opens content that is an archive (by its bytes) member by member
	// within these bounds, as Scanner.ScanFile does; nil scans the content as it is.
	Archives *archive.Options
}

// Source yields fragments to scan. Fragments must be yielded in a stable order; yield returns
// an error when the scan stops, which the source should return.
type Source interface {
	Fragments(ctx context.Context, yield func(Fragment) error) error
}

// FS is a Source over a file or a directory tree of the local filesystem. A symlink given as
// Root is followed; symlinks below it are not, and non-regular files are ignored. Paths are
// reported as Root joined with the path below it, with forward slashes. Files whose bytes are
// an archive (zip, jar, tar, gzip, zstd, xz, bzip2, whatever their names) are opened and their
// members scanned as "release.pkg!config/settings.env", within Archives' bounds.
type FS struct {
	// Root is the file or directory to scan.
	Root string
	// Archives bounds the archives opened; the zero value takes archive.Options' defaults
	// (3 levels deep, 1 GiB decompressed per archive), a negative MaxDepth opens none.
	Archives archive.Options
}

var _ Source = (*FS)(nil)

// Fragments walks Root in lexical order and yields each regular file.
func (s *FS) Fragments(ctx context.Context, yield func(Fragment) error) error {
	fi, err := os.Stat(s.Root)
	if err != nil {
		return fmt.Errorf("scanning %s: %w", s.Root, err)
	}
	if fi.Mode().IsRegular() {
		return yield(s.fragment(s.Root, fi.Size()))
	}
	if !fi.IsDir() {
		return fmt.Errorf("scanning %s: not a regular file or directory (%s)", s.Root, fi.Mode().Type())
	}
	root := s.Root
	if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		root = filepath.Clean(root) + string(filepath.Separator) // WalkDir follows "link/"
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			// An unreadable sub-directory is reported by the caller's stats, not fatal.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return yield(s.fragment(p, -1)) // no lstat per file: the size is not needed to scan
	})
}

func (s *FS) fragment(p string, size int64) Fragment {
	return Fragment{
		Origin:   Origin{Kind: OriginFile, Path: filepath.ToSlash(p)},
		Size:     size,
		Open:     func() (io.ReadCloser, error) { return openFile(p) },
		Archives: &s.Archives,
	}
}

// Bytes is a Source of in-memory fragments, for tests and for small inputs such as build-args.
type Bytes map[string][]byte

var _ Source = Bytes(nil)

// Fragments yields one fragment per entry, in path order, with Origin.Kind "file".
func (b Bytes) Fragments(ctx context.Context, yield func(Fragment) error) error {
	for _, k := range slices.Sorted(maps.Keys(b)) {
		data := b[k]
		err := yield(Fragment{
			Origin: Origin{Kind: OriginFile, Path: k},
			Size:   int64(len(data)),
			Open: func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(data)), nil
			},
		})
		if err != nil {
			return err
		}
	}
	return nil
}
