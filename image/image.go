package image

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Image is one platform's image.
type Image struct {
	// Source names where it came from, e.g. "oci:/tmp/layout".
	Source string
	// Digest is the manifest digest.
	Digest string
	// Platform is the index entry's platform, nil for a single-manifest image.
	Platform *v1.Platform
	// Annotations are the index's and the manifest descriptor's annotations, merged.
	Annotations map[string]string
	img         v1.Image
}

// Layer is one layer of an image, in order from the base up.
type Layer struct {
	// Index is the layer's position, 0 for the base layer.
	Index int
	// Digest is the blob digest, DiffID the digest of the uncompressed tar.
	Digest, DiffID string
	MediaType      string
	// Size is the blob's size in bytes.
	Size int64
	// CreatedBy is the history entry that made the layer ("" when the history does not say).
	CreatedBy string
	layer     v1.Layer
}

// Open returns the layer's uncompressed tar stream. gzip (decompressed ahead, in its own
// goroutine, by klauspost/pgzip: faster than compress/gzip, and it overlaps with the scan) and
// zstd are detected by their magic bytes; layers stored uncompressed are read as they are.
func (l *Layer) Open() (io.ReadCloser, error) {
	wrap := func(err error) error { return fmt.Errorf("layer %d (%s): %w", l.Index, l.Digest, err) }
	if mt := types.MediaType(l.MediaType); mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer {
		rc, err := l.layer.Uncompressed()
		if err != nil {
			return nil, wrap(err)
		}
		return rc, nil
	}
	rc, err := l.layer.Compressed()
	if err != nil {
		return nil, wrap(err)
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := pgzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, wrap(err)
		}
		return &stackedCloser{Reader: zr, closers: []io.Closer{zr, rc}}, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			rc.Close()
			return nil, wrap(err)
		}
		return &stackedCloser{Reader: zr, closers: []io.Closer{zstdCloser{zr}, rc}}, nil
	default:
		return &stackedCloser{Reader: br, closers: []io.Closer{rc}}, nil
	}
}

// stackedCloser reads from a decompressor and closes it and the stream under it.
type stackedCloser struct {
	io.Reader
	closers []io.Closer
}

func (s *stackedCloser) Close() error {
	var first error
	for _, c := range s.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type zstdCloser struct{ d *zstd.Decoder }

func (z zstdCloser) Close() error { z.d.Close(); return nil }

// PlatformString is "os/arch[/variant]": the index entry's platform, else the config's, so that
// the same image reads the same from an index (OCI layout, registry) and from a single manifest
// (docker-archive); "" when neither says.
func (i *Image) PlatformString() string {
	if i.Platform != nil {
		return i.Platform.String()
	}
	cfg, err := i.img.ConfigFile()
	if err != nil || cfg.OS == "" {
		return ""
	}
	p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	return p.String()
}

// Config returns the parsed config and its raw bytes.
func (i *Image) Config() (*v1.ConfigFile, []byte, error) {
	raw, err := i.img.RawConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading the config: %w", i.Source, err)
	}
	cfg, err := i.img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: parsing the config: %w", i.Source, err)
	}
	return cfg, raw, nil
}

// RawManifest returns the manifest's bytes.
func (i *Image) RawManifest() ([]byte, error) { return i.img.RawManifest() }

// Layers lists the image's layers from its manifest, with their diffIDs and history from the
// config. A config that cannot be read (Config says why) or whose diffIDs do not match the
// layers leaves DiffID and CreatedBy empty: the layers are still there to scan.
func (i *Image) Layers() ([]*Layer, error) {
	ls, err := i.img.Layers()
	if err != nil {
		return nil, fmt.Errorf("%s: listing layers: %w", i.Source, err)
	}
	var (
		createdBy []string
		diffIDs   []v1.Hash
	)
	if cfg, err := i.img.ConfigFile(); err == nil && cfg != nil {
		for _, h := range cfg.History {
			if !h.EmptyLayer {
				createdBy = append(createdBy, h.CreatedBy)
			}
		}
		// The config names every diffID; asking the layer would make go-containerregistry
		// decompress the whole blob to compute it.
		if len(cfg.RootFS.DiffIDs) == len(ls) {
			diffIDs = cfg.RootFS.DiffIDs
		}
	}
	out := make([]*Layer, len(ls))
	for n, l := range ls {
		dg, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: layer %d: %w", i.Source, n, err)
		}
		mt, _ := l.MediaType()
		size, _ := l.Size()
		out[n] = &Layer{Index: n, Digest: dg.String(), MediaType: string(mt), Size: size, layer: l}
		if diffIDs != nil {
			out[n].DiffID = diffIDs[n].String()
		}
		if n < len(createdBy) {
			out[n].CreatedBy = createdBy[n]
		}
	}
	return out, nil
}
