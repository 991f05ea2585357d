package frontend

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/safebuild/safebuild/policy"
)

// OptSecrets is the frontend option listing the secret ids the client can serve (comma
// separated). When it is set, a RUN --mount=type=secret with any other id is refused before the
// build starts; `safebuild build` always sets it.
const OptSecrets = "safebuild:secrets"

// OptSecretIDs is the frontend option mapping each secret id the client serves to the id the
// build's LLB carries (a JSON object). It declares the ids as OptSecrets does; `safebuild build`
// maps each to its Vault reference pinned to a version, so that rotation busts the cache.
const OptSecretIDs = "safebuild:secret-ids"

// RuleUndeclaredSecret is the ID of the check that every secret mount maps to a declared id.
const RuleUndeclaredSecret = "undeclared-secret-mount"

// Violation is one reason a Dockerfile or its build-args are refused.
type Violation struct {
	// RuleID is the engine rule, policy.SecretVarName.ID or RuleUndeclaredSecret.
	RuleID string
	// Message says what is wrong and what to do instead; it never holds a secret value.
	Message string
	// Line is the 1-based Dockerfile line, 0 for build-args.
	Line int
	// Location is the Dockerfile range, nil for build-args.
	Location []parser.Range
}

// RefusedError carries every violation found before the build ran.
type RefusedError struct {
	Filename   string
	Violations []Violation
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build refused before it ran (%d problem(s)):", len(e.Violations))
	for _, v := range e.Violations {
		if v.Line > 0 {
			fmt.Fprintf(&b, "\n  %s:%d: %s [%s]", e.Filename, v.Line, v.Message, v.RuleID)
		} else {
			fmt.Fprintf(&b, "\n  %s [%s]", v.Message, v.RuleID)
		}
	}
	return b.String()
}

// CheckOptions are the inputs of Check besides the Dockerfile.
type CheckOptions struct {
	// Filename names the Dockerfile in messages.
	Filename string
	// BuildArgs are the build-arg values the build was given.
	BuildArgs map[string]string
	// Scanner is the detection engine (without canaries: no secret is known yet).
	Scanner *policy.Scanner
	// DeclaredSecrets are the secret ids the client serves; nil skips the check.
	DeclaredSecrets map[string]bool
}

// Check refuses, before anything runs: ARG and ENV names that say they hold a secret, secret
// values written anywhere in the Dockerfile, secret values passed as build-args, and secret
// mounts whose id the client does not serve.
func Check(ctx context.Context, dt []byte, o CheckOptions) ([]Violation, error) {
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, err
	}
	var vs []Violation
	nameRule := policy.SecretVarName
	checkName := func(kind, name string, loc []parser.Range) {
		if nameRule.Matches(name) {
			vs = append(vs, Violation{RuleID: nameRule.ID, Location: loc, Line: firstLine(loc),
				Message: fmt.Sprintf("%s %s: the name says it holds a secret, and %s values are recorded in the image; use RUN --mount=type=secret,id=%s instead", kind, name, kind, strings.ToLower(name))})
		}
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			checkName("ARG", kv.Key, a.Location())
		}
	}
	for _, st := range stages {
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					checkName("ARG", kv.Key, c.Location())
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					checkName("ENV", kv.Key, c.Location())
				}
			case *instructions.RunCommand:
				if o.DeclaredSecrets == nil {
					continue
				}
				if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
					return nil, err
				}
				for _, m := range instructions.GetMounts(c) {
					if m.Type != instructions.MountTypeSecret {
						continue
					}
					id := m.CacheID
					if m.Source != "" {
						id = m.Source
					}
					if id == "" && m.Target != "" {
						id = path.Base(m.Target)
					}
					if !o.DeclaredSecrets[id] {
						vs = append(vs, Violation{RuleID: RuleUndeclaredSecret, Location: c.Location(), Line: firstLine(c.Location()),
							Message: fmt.Sprintf("RUN --mount=type=secret,id=%s: %q is not mapped to a Vault reference (declared: %s); add it to safebuild.yaml or pass --secret id=%s,src=vault:PATH#FIELD", id, id, declaredList(o.DeclaredSecrets), id)})
					}
				}
			}
		}
	}
	if o.Scanner != nil {
		emit := func(f policy.Finding) error {
			loc := []parser.Range{{Start: parser.Position{Line: f.Line}, End: parser.Position{Line: f.Line}}}
			vs = append(vs, Violation{RuleID: f.RuleID, Line: f.Line, Location: loc,
				Message: fmt.Sprintf("a secret is written in the Dockerfile (%s): it ends up in the image or its history; serve it from Vault through RUN --mount=type=secret", f.Redacted)})
			return nil
		}
		origin := policy.Origin{Kind: OriginDockerfile, Path: o.Filename}
		if _, err := o.Scanner.ScanReader(ctx, origin, bytes.NewReader(dt), emit); err != nil {
			return nil, fmt.Errorf("scanning %s: %w", o.Filename, err)
		}
		for _, k := range slices.Sorted(maps.Keys(o.BuildArgs)) {
			emitArg := func(f policy.Finding) error {
				vs = append(vs, Violation{RuleID: f.RuleID,
					Message: fmt.Sprintf("--build-arg %s holds a secret (%s): build-arg values are recorded in the image history; use --secret id=%s,src=vault:PATH#FIELD", k, f.Redacted, strings.ToLower(k))})
				return nil
			}
			// Scanned as KEY=VALUE, so rules that need the name as context can fire.
			origin := policy.Origin{Kind: OriginBuildArg, Path: k}
			if _, err := o.Scanner.ScanReader(ctx, origin, strings.NewReader(k+"="+o.BuildArgs[k]), emitArg); err != nil {
				return nil, fmt.Errorf("scanning build-arg %s: %w", k, err)
			}
		}
	}
	sort.SliceStable(vs, func(i, j int) bool {
		li, lj := vs[i].Line, vs[j].Line
		if (li == 0) != (lj == 0) {
			return li != 0 // Dockerfile lines before build-args
		}
		return li < lj
	})
	return vs, nil
}

// Origin kinds of what Check scans.
const (
	OriginDockerfile = "dockerfile"
	OriginBuildArg   = "build-arg"
)

func firstLine(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

func declaredList(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}
