package vaultsrc

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps vaultsrc a leaf: it must not reach into the scanner (policy) or the
// frontend, and only ciauth may run commands (buildkite-agent, which gets no secret).
func TestImports(t *testing.T) {
	forbidden := []string{"github.com/safebuild/safebuild/policy", "github.com/safebuild/safebuild/frontend", "github.com/spf13/cobra"}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s", path, p)
				}
			}
			if p == "os/exec" && filepath.Dir(path) != "ciauth" {
				t.Errorf("%s imports os/exec; only ciauth may run a command", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
