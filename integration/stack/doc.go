// Package stack starts and stops safebuild's real test stack: a buildkitd built from the buildkit
// module pinned in go.mod (run as root with Debian's runc), Debian's distribution registry, a
// busybox base image built with that buildkitd and pushed to the registry, and a dev-mode Vault
// server configured with KV v1/v2, a JWT auth method and a CI role. Every component listens on
// 127.0.0.1 or a unix socket in a temporary directory and is stopped, by PID, in Stop.
package stack
