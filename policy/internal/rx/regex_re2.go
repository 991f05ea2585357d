//go:build !safebuild_stdregex

package rx

import re2 "github.com/wasilibs/go-re2"

var _ Regex = (*re2.Regexp)(nil)

// compileEngine compiles rule regexes with RE2 through github.com/wasilibs/go-re2 (v1.13: RE2
// translated from WebAssembly to Go, no cgo and no start-up compilation), the engine family
// gitleaks' release binaries use. It was picked by measurement over Go's regexp (build with
// -tags safebuild_stdregex to compare; see integration/bench/README.md).
func compileEngine(expr string) (Regex, error) { return re2.Compile(expr) }
