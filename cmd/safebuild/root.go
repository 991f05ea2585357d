package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. There is no package-level command: tests build their own.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "safebuild",
		Short: "Build container images that cannot leak secrets",
		Long: `safebuild builds container images that cannot leak secrets: it rejects credentials in
Dockerfiles and build-args, serves build secrets from Vault over the BuildKit session only, and scans
every layer a build produced before anything is exported. It also audits images that already exist.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newVersionCmd())
	root.AddCommand(newBuildCmd())
	root.AddCommand(newVaultCmd())
	root.AddCommand(newScanCmd())
	root.AddCommand(newPromoteCmd())
	root.AddCommand(newLintCmd())
	return root
}

// exitError carries a process exit code through cobra to main: 1 for "findings", 2 for errors.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode maps an error returned by the command tree to the process exit code: an exitError
// keeps its own code, anything else is a usage or runtime error (2).
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 2
}
