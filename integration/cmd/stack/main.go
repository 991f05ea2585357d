// Command stack brings safebuild's test stack up for a person: it prints how to reach buildkitd
// (unix socket and mTLS), both registries, Vault and the git server, then waits for Ctrl-C and
// stops everything. Run it with `make stack`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/safebuild/safebuild/integration/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(os.Stderr, "starting buildkitd, the registries, Vault, the busybox base image and the git server…")
	s, err := stack.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
	// A person gets every part; tests start the git server only when they need it.
	if _, err := s.SSHD(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stack: the git server did not start (everything else is up):", err)
	}
	for _, e := range s.Env() {
		fmt.Println("export " + e)
	}
	fmt.Fprintf(os.Stderr, "\nVault root token (this throwaway dev server only): %s\n", s.Vault.RootToken)
	fmt.Fprintf(os.Stderr, "authenticated registry %s: account in Vault at %s (vault kv get %s)\n",
		s.AuthRegistry.Host, stack.RegistryCredsPath, stack.RegistryCredsPath)
	fmt.Fprintf(os.Stderr, "buildkitd over mTLS: buildctl --addr %s --tlsdir %s debug workers\n",
		s.BuildKit.TLSAddress, s.BuildKit.TLSClient.Dir)
	fmt.Fprintf(os.Stderr, "SSH certificates: vault write %s/sign/%s public_key=@KEY.pub (CA trusted by the git server)\n",
		stack.SSHMount, stack.SSHRole)
	fmt.Fprintf(os.Stderr, "Vault audit log: %s\nlogs: %s\nCtrl-C stops the stack.\n", s.Vault.AuditLog, s.LogDir)
	<-ctx.Done()
	if err := s.Stop(false); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}
