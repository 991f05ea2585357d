package integration

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/safebuild/safebuild/integration/stack"
)

// st is the stack every integration test in this package shares; nil under -short.
var st *stack.Stack

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	stack.QuietClientLogs()
	s, err := stack.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st = s
	code := m.Run()
	if safebuildBin != "" {
		os.RemoveAll(filepath.Dir(safebuildBin))
	}
	if err := s.Stop(code != 0); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the stack:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// needStack skips a test under -short; otherwise the stack is up (TestMain failed otherwise).
func needStack(t *testing.T) *stack.Stack {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the real stack (run without -short, as root)")
	}
	return st
}
