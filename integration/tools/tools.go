//go:build tools

// Package tools pins the BuildKit daemon and CLI to the buildkit version in go.mod, so the
// integration stack builds them from inside this module (`go install
// github.com/moby/buildkit/cmd/buildkitd@v…` fails on buildkit's exclude directives).
package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
