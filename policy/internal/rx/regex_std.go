//go:build safebuild_stdregex

package rx

import "regexp"

// compileEngine compiles rule regexes with Go's regexp under the safebuild_stdregex build tag
// (several times slower on gitleaks' rules; see integration/bench/README.md).
func compileEngine(expr string) (Regex, error) { return regexp.Compile(expr) }
