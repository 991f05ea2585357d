// Package ciauth fetches the OIDC ID tokens CI systems hand to jobs (GitHub Actions, GitLab,
// Buildkite, CircleCI, or any file or environment variable) for a Vault JWT login.
package ciauth
