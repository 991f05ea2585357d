// Package vaultsrc makes HashiCorp Vault the only source of build secrets: secret references,
// Vault authentication (including CI OIDC/JWT login) and the BuildKit session secret store that
// serves values to RUN --mount=type=secret steps from memory only.
//
// A build wires it up in four steps:
//
//	cfg, err := vaultsrc.LoadConfig("safebuild.yaml")         // plus ParseSecretFlag per --secret
//	sess, err := vaultsrc.Connect(ctx, cfg.Vault)              // NewClient + AuthFromConfig + Login
//	defer sess.Close()                                         // revoke-self, on a fresh context
//	store, err := vaultsrc.NewStore(sess.Fetcher(), cfg.Secrets)
//	defer store.Close()                                        // zeroes every cached value
//	solveOpt.Session = append(solveOpt.Session, secretsprovider.NewSecretProvider(store))
//
// After the build, store.Served() lists the KV versions served (for cache busting) and
// store.Canaries() the values the scanner must not find anywhere (policy.Canary(c) converts).
//
// Nothing in this package puts a secret value or a token into an error, a log line, a file,
// a command line or a child's environment.
package vaultsrc
