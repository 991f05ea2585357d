package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// secretFlag matches flag names that would put a credential on argv. Credentials come from
// files, stdin, the environment or Vault, never from a flag value.
var secretFlag = regexp.MustCompile(`(?i)(token|passw|apikey|api-key|credential|private-key|secret-value)`)

// TestCommandConventions walks the command tree: every command says what it does, every runnable
// command has an example and uses RunE, and no flag takes a secret value.
func TestCommandConventions(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		name := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s: no Short", name)
		}
		if c.Run != nil {
			t.Errorf("%s: uses Run; use RunE so errors reach main", name)
		}
		if c.RunE != nil && c.HasParent() && c.Example == "" {
			t.Errorf("%s: no Example", name)
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "bool" && secretFlag.MatchString(f.Name) {
				t.Errorf("%s: flag --%s looks like it takes a secret value on argv", name, f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}

func TestVersion(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"safebuild ", "commit:", "buildkit:", "go:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
}
