// Command vault is HashiCorp Vault's CLI and server, built from the Vault Go module for the
// integration stack's dev-mode server. It lives in its own module so that Vault's dependency
// graph never enters safebuild's go.mod.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
