package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BlobStore reads the blobs of an image store by digest: an OCI layout directory, an OCI archive,
// a containerd content store.
type BlobStore interface {
	// Open returns the blob's bytes exactly as stored (compressed layers stay compressed). A
	// blob the store does not hold is an error that wraps fs.ErrNotExist (IsNotFound).
	Open(d v1.Hash) (io.ReadCloser, error)
	// Size returns the blob's size in bytes, with the same error as Open for an absent blob.
	Size(d v1.Hash) (int64, error)
}

// dirStore is an OCI layout directory.
type dirStore struct{ root string }

var _ BlobStore = dirStore{}

func (s dirStore) path(d v1.Hash) string { return filepath.Join(s.root, "blobs", d.Algorithm, d.Hex) }

func (s dirStore) Open(d v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(s.path(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

func (s dirStore) Size(d v1.Hash) (int64, error) {
	fi, err := os.Stat(s.path(d))
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return fi.Size(), nil
}

// tarStore is an OCI layout inside a tar file, read in place: one pass over the headers records
// where each member's bytes are; blobs are then read through section readers, never extracted.
type tarStore struct {
	f       *os.File
	entries map[string]tarEntry
}

type tarEntry struct{ offset, size int64 }

var _ BlobStore = (*tarStore)(nil)

func openTarStore(file string) (*tarStore, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	s := &tarStore{f: f, entries: map[string]tarEntry{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading the archive: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return nil, err
		}
		s.entries[path.Clean(strings.TrimPrefix(h.Name, "./"))] = tarEntry{offset: off, size: h.Size}
	}
	return s, nil
}

func (s *tarStore) file(name string) (io.ReadCloser, error) {
	e, ok := s.entries[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return io.NopCloser(io.NewSectionReader(s.f, e.offset, e.size)), nil
}

func (s *tarStore) Open(d v1.Hash) (io.ReadCloser, error) {
	rc, err := s.file(path.Join("blobs", d.Algorithm, d.Hex))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return rc, nil
}

func (s *tarStore) Size(d v1.Hash) (int64, error) {
	e, ok := s.entries[path.Join("blobs", d.Algorithm, d.Hex)]
	if !ok {
		return 0, fmt.Errorf("blob %s: %w", d, os.ErrNotExist)
	}
	return e.size, nil
}

func (s *tarStore) Close() error { return s.f.Close() }
