// Command stack brings safebuild's test stack up for a person: it prints how to reach buildkitd,
// the registry and Vault, then waits for Ctrl-C and stops everything. Run it with `make stack`.
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
	fmt.Fprintln(os.Stderr, "starting buildkitd, the registry, Vault and the busybox base image…")
	s, err := stack.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
	for _, e := range s.Env() {
		fmt.Println("export " + e)
	}
	fmt.Fprintf(os.Stderr, "\nVault root token (this throwaway dev server only): %s\nlogs: %s\nCtrl-C stops the stack.\n", s.Vault.RootToken, s.LogDir)
	<-ctx.Done()
	if err := s.Stop(false); err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}
