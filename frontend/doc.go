// Package frontend is safebuild's BuildKit gateway build function: it parses the Dockerfile,
// rejects secrets in ARG, ENV and build-args, rewrites the LLB so every secret mount maps to a
// declared Vault reference, and scans every layer the build produced before anything is exported.
// The same function runs as a `# syntax=` frontend image and in-process in `safebuild build`.
package frontend
