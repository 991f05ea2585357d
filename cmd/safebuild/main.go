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
	// The BuildKit client and containerd's content store log through logrus; their warnings and
	// errors (fsverity support, a content ref "locked" while the cache export retries) are noise
	// for a build tool's user: what fails is returned as an error.
	logrus.SetLevel(logrus.FatalLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "safebuild:", err)
		os.Exit(exitCode(err))
	}
}
