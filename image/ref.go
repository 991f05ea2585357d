package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kind is where an image lives.
type Kind string

// The image sources.
const (
	OCILayout     Kind = "oci"
	OCIArchive    Kind = "oci-archive"
	DockerArchive Kind = "docker-archive"
	Registry      Kind = "registry"
	Containerd    Kind = "containerd"
)

var kinds = []Kind{OCILayout, OCIArchive, DockerArchive, Registry, Containerd}

// Ref names an image: a source kind and a target (directory, file or image reference).
type Ref struct {
	Kind   Kind
	Target string
}

func (r Ref) String() string { return string(r.Kind) + ":" + r.Target }

// Holder names what holds the blobs of an image of this kind, for messages: "the archive",
// "the registry".
func (k Kind) Holder() string {
	switch k {
	case OCILayout:
		return "the layout"
	case OCIArchive, DockerArchive:
		return "the archive"
	case Registry:
		return "the registry"
	case Containerd:
		return "the containerd store"
	}
	return "the source"
}

// ErrNotImage is returned by DetectRef for a bare path that holds no image (a plain directory or
// file, which the caller scans as files).
var ErrNotImage = errors.New("not an image")

// ParseRef parses "KIND:TARGET" (oci:DIR, oci-archive:FILE, docker-archive:FILE, registry:REF,
// containerd:REF) or, without a known prefix, detects what a bare path or reference is: a
// directory with an oci-layout file, a tar holding oci-layout or manifest.json, or, when no such
// path exists, a registry reference. A bare path that is no image yields ErrNotImage.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, errors.New("empty image reference")
	}
	if k, target, ok := strings.Cut(s, ":"); ok {
		for _, kind := range kinds {
			if Kind(k) == kind {
				if target == "" {
					return Ref{}, fmt.Errorf("%q: nothing after %q", s, k+":")
				}
				if kind == Registry || kind == Containerd {
					if _, err := name.ParseReference(target); err != nil {
						return Ref{}, fmt.Errorf("%q: not an image reference: %w", s, err)
					}
				}
				return Ref{Kind: kind, Target: target}, nil
			}
		}
	}
	return DetectRef(s)
}

// DetectRef works out what a bare argument names.
func DetectRef(s string) (Ref, error) {
	fi, err := os.Stat(s)
	switch {
	case err == nil && fi.IsDir():
		if _, err := os.Stat(filepath.Join(s, "oci-layout")); err == nil {
			return Ref{Kind: OCILayout, Target: s}, nil
		}
		return Ref{}, fmt.Errorf("%s: %w (a directory without an oci-layout file)", s, ErrNotImage)
	case err == nil:
		k, err := sniffArchive(s)
		if err != nil {
			return Ref{}, err
		}
		return Ref{Kind: k, Target: s}, nil
	case errors.Is(err, os.ErrNotExist):
		if _, perr := name.ParseReference(s); perr == nil && !strings.HasPrefix(s, ".") && !strings.HasPrefix(s, "/") {
			return Ref{Kind: Registry, Target: s}, nil
		}
		return Ref{}, fmt.Errorf("%s: no such file or directory, and not an image reference", s)
	default:
		return Ref{}, err
	}
}

// sniffArchive tells an OCI archive (has oci-layout) from a docker archive (has manifest.json)
// by reading tar headers only.
func sniffArchive(path string) (Kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	docker := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w (not a tar archive)", path, ErrNotImage)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "oci-layout":
			return OCIArchive, nil
		case "manifest.json":
			docker = true
		}
	}
	if docker {
		return DockerArchive, nil
	}
	return "", fmt.Errorf("%s: %w (a tar archive with neither oci-layout nor manifest.json)", path, ErrNotImage)
}
