package image

import v1 "github.com/google/go-containerregistry/pkg/v1"

// FromV1 wraps a go-containerregistry image built or read elsewhere (mutate.Append, tarball)
// as a single-platform Image named source.
func FromV1(img v1.Image, source string) *Image {
	return &Image{Source: source, img: img}
}
