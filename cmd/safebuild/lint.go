package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/safebuild/safebuild/frontend"
	"github.com/safebuild/safebuild/policy/report"
)

// lintOptions are the flags of `safebuild lint`; --build-arg, --secret and --config are build's.
type lintOptions struct {
	format, config         string
	buildArgs, secretSpecs []string
}

func newLintCmd() *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint [DOCKERFILE]",
		Short: "Check a Dockerfile and its build-args as build does, without building",
		Long: `lint runs the checks safebuild build runs before anything is built — secret-named ARG and ENV
variables judged with their values, secrets written in the Dockerfile or passed as build-args,
secret mounts not mapped to Vault — without buildkitd or Vault. DOCKERFILE defaults to
./Dockerfile (a directory means its Dockerfile); the secret ids come from safebuild.yaml next to it
(or --config) and --secret, as for build. The rules: docs/dockerfile-rules.md.

No value is printed: the Dockerfile lines shown have every detected value masked.

Exit status: 0 nothing refused (warnings may be printed), 1 the build would be refused, 2 usage
or parse error.`,
		Example: `  safebuild lint
  safebuild lint --build-arg NEXUS_USR --build-arg NEXUS_PSW app/Dockerfile
  safebuild lint --format sarif --secret id=npm_token,src=vault:secret/ci/npm#token . > lint.sarif`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "Dockerfile"
			if len(args) == 1 {
				path = args[0]
			}
			return runLint(cmd.Context(), cmd.OutOrStdout(), o, path)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "text", "output format: "+strings.Join(report.Formats, ", "))
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE (KEY alone takes the value from the environment)")
	f.StringArrayVar(&o.secretSpecs, "secret", nil, "secret id mapped to Vault: id=ID,src=vault:REF")
	f.StringVar(&o.config, "config", "", "safebuild.yaml declaring the secret ids (default: safebuild.yaml next to the Dockerfile, when present)")
	return cmd
}

func runLint(ctx context.Context, w io.Writer, o *lintOptions, path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "Dockerfile")
	}
	if _, err := report.New(o.format); err != nil {
		return err
	}
	dt, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the Dockerfile: %w", err)
	}
	buildArgs, err := parseKeyValues("--build-arg", o.buildArgs, true)
	if err != nil {
		return err
	}
	cfg, err := loadBuildConfig(&buildOptions{config: o.config, secretSpecs: o.secretSpecs}, filepath.Dir(path))
	if err != nil {
		return err
	}
	// As in build, every secret mount must be declared: an empty set declares none.
	declared := map[string]bool{}
	for id := range cfg.Secrets {
		declared[id] = true
	}
	res, err := frontend.Check(ctx, dt, frontend.CheckOptions{Filename: path, BuildArgs: buildArgs, DeclaredSecrets: declared})
	if err != nil {
		return err
	}
	if o.format == "text" {
		writeLintText(w, path, res)
	} else {
		rw, _ := report.New(o.format)
		if err := rw.Write(w, &report.Report{Findings: res.Findings(path)}); err != nil {
			return err
		}
	}
	if n := len(res.Refused()); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s: %d violation(s) refuse this build", path, n)}
	}
	return nil
}

// writeLintText writes one block per violation: where, severity, rule and message, then the
// masked Dockerfile line.
func writeLintText(w io.Writer, path string, res *frontend.Result) {
	lines := strings.Split(string(res.Source), "\n")
	for _, v := range res.Violations {
		where := path + ":" + fmt.Sprint(v.Line)
		if v.Line == 0 {
			where = "--build-arg " + v.BuildArg
		}
		fmt.Fprintf(w, "%s: %s %s: %s\n", where, v.Severity(), v.RuleID, v.Message)
		if v.Line > 0 && v.Line <= len(lines) {
			fmt.Fprintf(w, "  %4d | %s\n", v.Line, lines[v.Line-1])
		}
	}
	refused, warnings := len(res.Refused()), len(res.Warnings())
	switch {
	case refused+warnings == 0:
		fmt.Fprintf(w, "%s: no violations\n", path)
	default:
		fmt.Fprintf(w, "%s: %d refused, %d warning(s); rules: %s\n", path, refused, warnings, "https://github.com/safebuild/safebuild/blob/main/docs/dockerfile-rules.md")
	}
}
