// Package integration holds safebuild's tests against the real stack: a buildkitd built from the
// pinned buildkit module, Debian's distribution registry, a busybox base image and a dev-mode Vault
// server, all started and stopped by the stack package. They are skipped under `go test -short`.
package integration
