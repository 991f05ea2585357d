// Package stack starts and stops safebuild's real test stack: a buildkitd built from the buildkit
// module pinned in go.mod (run as root with Debian's runc) on a unix socket and on a loopback TCP
// port behind mutual TLS (certificates minted per stack); Debian's distribution registry twice,
// open and with htpasswd basic auth (a generated account, also stored in Vault); a busybox base
// image built with that buildkitd and pushed to both; and a dev-mode Vault server with KV v1/v2,
// transit (with the verdict signing key), the SSH secrets engine (a CA and a signing role), a JWT
// auth method with CI roles, an AppRole per test workload and a file audit device.
//
// Parts only some tests need start on first use and stop with the stack: containerd
// (StartContainerd), the git server (SSHD: Debian's sshd trusting Vault's SSH CA, serving bare
// repositories over SSH) and the git client image (GitImage). Every component listens on
// 127.0.0.1 or a unix socket, keeps its state in the stack's temporary directory and is stopped,
// by PID, in Stop.
package stack
