// Package containerd opens images in a containerd image store for package image, through the
// containerd v2 client. It is a package of its own so that image's other users do not link the
// containerd client.
package containerd

import (
	"context"

	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/safebuild/safebuild/image"
)

// DefaultNamespace is the namespace `safebuild scan --namespace` defaults to, as ctr does.
const DefaultNamespace = "default"

// Opener returns an image.ContainerdOpener for the containerd at address (a unix socket path) in
// namespace. Each call dials once; the returned closer hangs up.
func Opener(address, namespace string) image.ContainerdOpener {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return func(ctx context.Context, ref string) (image.BlobStore, v1.Descriptor, io.Closer, error) {
		c, err := client.New(address, client.WithDefaultNamespace(namespace), client.WithTimeout(10*time.Second))
		if err != nil {
			return nil, v1.Descriptor{}, nil, fmt.Errorf("containerd at %s: %w", address, err)
		}
		img, err := c.GetImage(ctx, ref)
		if errdefs.IsNotFound(err) {
			// "alpine:3.20" is stored as "docker.io/library/alpine:3.20".
			if n, perr := name.ParseReference(ref); perr == nil && n.Name() != ref {
				img, err = c.GetImage(ctx, n.Name())
			}
		}
		if err != nil {
			c.Close()
			return nil, v1.Descriptor{}, nil, fmt.Errorf("containerd at %s, namespace %s: image %s: %w", address, namespace, ref, err)
		}
		t := img.Target()
		h, err := v1.NewHash(t.Digest.String())
		if err != nil {
			c.Close()
			return nil, v1.Descriptor{}, nil, err
		}
		root := v1.Descriptor{MediaType: types.MediaType(t.MediaType), Digest: h, Size: t.Size, Annotations: t.Annotations}
		return &store{ctx: ctx, cs: c.ContentStore()}, root, c, nil
	}
}

// store reads blobs from a containerd content store. It keeps the context of the Open call:
// image.BlobStore has none of its own, and the store lives no longer than that call's scan.
type store struct {
	ctx context.Context
	cs  content.Store
}

var _ image.BlobStore = (*store)(nil)

func (s *store) Open(d v1.Hash) (io.ReadCloser, error) {
	ra, err := s.cs.ReaderAt(s.ctx, ocispec.Descriptor{Digest: digest.Digest(d.String())})
	if err != nil {
		return nil, blobError(d, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{content.NewReader(ra), ra}, nil
}

func (s *store) Size(d v1.Hash) (int64, error) {
	info, err := s.cs.Info(s.ctx, digest.Digest(d.String()))
	if err != nil {
		return 0, blobError(d, err)
	}
	return info.Size, nil
}

// blobError names the blob; a blob the content store does not hold (a platform that a pull
// did not fetch) also wraps fs.ErrNotExist, as image.BlobStore asks.
func blobError(d v1.Hash, err error) error {
	if errdefs.IsNotFound(err) {
		return fmt.Errorf("blob %s: %w (%w)", d, fs.ErrNotExist, err)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}
