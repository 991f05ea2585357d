// Package vaultsrc makes HashiCorp Vault the only source of build secrets: secret references,
// Vault authentication (including CI OIDC/JWT login) and the BuildKit session secret store that
// serves values to RUN --mount=type=secret steps from memory only.
package vaultsrc
