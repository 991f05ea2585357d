// Package image opens container images wherever they live — an OCI layout directory, an OCI or
// docker archive, a registry, a containerd store — and presents what a reference names as a
// Set: each platform's runnable image (its config, its history and every layer diff as a stream
// of tar entries, with the whiteouts that later layers apply), the attestations and other
// artifacts of its index (blobs to read by media type, never as layers), and the index entries
// it could not open (absent from the store, or unreadable). One walker serves every source,
// over go-containerregistry's v1.ImageIndex. It reads; deciding what is a secret is the
// detection engine's job.
package image
