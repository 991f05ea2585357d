// Package image opens container images wherever they live — an OCI layout directory, an OCI or
// docker archive, a registry, a containerd store — and presents each platform's image as its
// config, its history and every layer diff as a stream of tar entries, with the whiteouts that
// later layers apply. It reads; deciding what is a secret is the detection engine's job.
package image
