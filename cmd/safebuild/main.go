// Command safebuild builds container images that cannot leak secrets, and audits images that
// already exist. See `safebuild --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

func main() {
	// The BuildKit client logs through logrus; its warnings (e.g. fsverity support of the OCI
	// content store) are noise for a build tool's user.
	logrus.SetLevel(logrus.ErrorLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "safebuild:", err)
		os.Exit(exitCode(err))
	}
}
