// Command safebuild-frontend is safebuild's BuildKit frontend image entrypoint: put
// `# syntax=<registry>/safebuild/frontend` on a Dockerfile's first line (or pass
// `--frontend gateway.v0 --opt source=<ref>`) and BuildKit runs frontend.Build over stdin/stdout.
package main

import (
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"
	_ "github.com/moby/buildkit/util/grpcutil/encoding/proto"

	"github.com/safebuild/safebuild/frontend"
)

func main() {
	if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
		// stderr reaches buildkitd's log; the user sees the error BuildKit returns.
		fmt.Fprintf(os.Stderr, "safebuild frontend: %v\n", err)
		os.Exit(1)
	}
}
