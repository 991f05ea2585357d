// Package frontend is safebuild's BuildKit gateway build function: it checks the Dockerfile and
// its build-args against the rule table (Rules, documented in docs/dockerfile-rules.md: secret
// names judged with their values, secrets in the Dockerfile or build-args, undeclared secret
// mounts), answers BuildKit's lint subrequest with those rules' violations, rewrites the LLB so
// every secret mount maps to a declared Vault reference, and scans every layer the build produced
// before anything is exported. What it shows of the Dockerfile has every detected secret masked.
// The same function runs as a `# syntax=` frontend image and in-process in `safebuild build`;
// Check alone backs `safebuild lint`.
package frontend
