package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/safebuild/safebuild/vaultsrc"
)

// newVaultCmd groups the Vault helpers.
func newVaultCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Helpers for the Vault side of safebuild",
		Example: `  safebuild vault role --repository octo-org/octo-repo --branch main \
      --audience https://vault.example.com --path 'secret/data/ci/*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newVaultRoleCmd())
	return cmd
}

// vaultRoleOptions are the flags of `safebuild vault role`.
type vaultRoleOptions struct {
	ci, repository, branch, audience string
	role, policy, mount, issuer      string
	paths                            []string
	config                           string
	ttl, maxTTL                      time.Duration
	output                           string
}

func newVaultRoleCmd() *cobra.Command {
	o := &vaultRoleOptions{}
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Print (never apply) a minimal Vault JWT role and policy for one repository and branch",
		Long: `Print the vault commands that create a JWT role and its policy for safebuild builds of one
repository and branch: bound_audiences, exact bound_claims (no globs), a token_ttl of at most 15m,
token_no_default_policy=true, read on the secret paths, and the auth/token/renew-self and
auth/token/revoke-self grants that safebuild needs to renew its token and revoke it when the build
ends. Nothing is sent to Vault.

Secret paths come from --path (API paths as a policy writes them) and, with --config, from the
secrets of safebuild.yaml whose mount is explicit (mount: or <mount>//<path>).`,
		Example: `  # GitHub Actions, secrets named explicitly
  safebuild vault role --repository octo-org/octo-repo --branch main \
      --audience https://vault.example.com --path 'secret/data/ci/*'

  # GitLab, secrets taken from safebuild.yaml, as JSON
  safebuild vault role --ci gitlab --repository group/project --branch main \
      --audience https://vault.example.com --config safebuild.yaml --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVaultRole(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ci, "ci", "github", "CI whose ID tokens the role admits: github or gitlab")
	f.StringVar(&o.repository, "repository", "", "repository: owner/repo (GitHub) or group/project (GitLab)")
	f.StringVar(&o.branch, "branch", "", "branch name the role admits, e.g. main")
	f.StringVar(&o.audience, "audience", "", "aud claim of the ID token (default: vault.auth.audience of --config)")
	f.StringVar(&o.role, "role", "", "role name (default: vault.auth.role of --config, else safebuild-<repository>-<branch>)")
	f.StringVar(&o.policy, "policy", "", "policy name (default: the role name)")
	f.StringVar(&o.mount, "mount", "", "JWT auth mount (default: vault.auth.mount of --config, else jwt)")
	f.StringVar(&o.issuer, "issuer", "", "CI's OIDC issuer for the config hint (default: GitHub's, or https://gitlab.com)")
	f.StringArrayVar(&o.paths, "path", nil, "Vault API path the builds read, as in a policy (repeatable)")
	f.StringVar(&o.config, "config", "", "safebuild.yaml to take secret paths and auth defaults from")
	f.DurationVar(&o.ttl, "ttl", 10*time.Minute, "token_ttl, at most 15m")
	f.DurationVar(&o.maxTTL, "max-ttl", time.Hour, "token_max_ttl: how long renewal may keep a token alive")
	f.StringVar(&o.output, "output", "commands", "output format: commands or json")
	_ = cmd.MarkFlagRequired("repository")
	_ = cmd.MarkFlagRequired("branch")
	return cmd
}

func runVaultRole(_ context.Context, w io.Writer, o *vaultRoleOptions) error {
	if o.output != "commands" && o.output != "json" {
		return fmt.Errorf("--output %q: want commands or json", o.output)
	}
	spec := vaultsrc.RoleSpec{
		CI: o.ci, Repository: o.repository, Branch: o.branch, Audience: o.audience,
		Role: o.role, Policy: o.policy, Mount: o.mount, Issuer: o.issuer,
		Paths: o.paths, TTL: o.ttl, MaxTTL: o.maxTTL,
	}
	if o.config != "" {
		if err := specFromConfig(&spec, o.config); err != nil {
			return err
		}
	}
	t, err := vaultsrc.NewRoleTemplate(spec)
	if err != nil {
		return err
	}
	if o.output == "json" {
		return t.WriteJSON(w)
	}
	return t.WriteCommands(w)
}

// specFromConfig fills what the flags left empty from safebuild.yaml.
func specFromConfig(spec *vaultsrc.RoleSpec, path string) error {
	c, err := vaultsrc.LoadConfig(path)
	if err != nil {
		return err
	}
	a := c.Vault.Auth
	if a.Method != "jwt" {
		return fmt.Errorf("%s: vault.auth.method is %q; this role is for jwt", path, a.Method)
	}
	if spec.Audience == "" {
		spec.Audience = a.Audience
	}
	if spec.Role == "" {
		spec.Role = a.Role
	}
	if spec.Mount == "" {
		spec.Mount = a.Mount
	}
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(c.Secrets)) {
		p, err := vaultsrc.PolicyPath(c.Secrets[id])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: secret %s: %w", path, id, err))
			continue
		}
		spec.Paths = append(spec.Paths, p)
	}
	return errors.Join(errs...)
}
