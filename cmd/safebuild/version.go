package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what `safebuild version` prints, read from the binary's build information so
// that a plain `go build` reports the commit it was built from without any -ldflags.
type versionInfo struct {
	Version  string
	Commit   string
	Modified bool
	BuildKit string
	Go       string
}

func readVersionInfo() versionInfo {
	v := versionInfo{Version: "(devel)", Commit: "unknown", BuildKit: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/moby/buildkit" {
			v.BuildKit = d.Version
			if d.Replace != nil {
				v.BuildKit = d.Replace.Version
			}
		}
	}
	return v
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print safebuild's version, commit and the BuildKit version it embeds",
		Example: "  safebuild version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := readVersionInfo()
			commit := v.Commit
			if v.Modified {
				commit += " (modified)"
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "safebuild %s\ncommit:   %s\nbuildkit: %s\ngo:       %s\n",
				v.Version, commit, v.BuildKit, v.Go)
			return err
		},
	}
}
