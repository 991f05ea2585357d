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
	"github.com/safebuild/safebuild/policy/config"
)

// OptSecrets is the frontend option listing the secret ids the client can serve (comma
// separated). When it is set, a RUN --mount=type=secret with any other id is refused before the
// build starts; `safebuild build` always sets it.
const OptSecrets = "safebuild:secrets"

// OptSecretIDs is the frontend option mapping each secret id the client serves to the id the
// build's LLB carries (a JSON object). It declares the ids as OptSecrets does; `safebuild build`
// maps each to its Vault reference pinned to a version, so that rotation busts the cache.
const OptSecretIDs = "safebuild:secret-ids"

// Origin kinds of what Check scans.
const (
	OriginDockerfile = "dockerfile"
	OriginBuildArg   = "build-arg"
)

// Violation is one reason a Dockerfile or its build-args are refused or warned about. It never
// holds a secret value.
type Violation struct {
	// Rule is the Dockerfile rule that fired.
	Rule *RuleInfo
	// RuleID is Rule.ID, or for secret-in-dockerfile and secret-build-arg the ID of the engine
	// rule that found the secret (github-pat).
	RuleID string
	// Message says what is wrong and what to do instead.
	Message string
	// Line is the 1-based Dockerfile line, 0 for build-args.
	Line int
	// Location is the Dockerfile range, nil for build-args.
	Location []parser.Range
	// BuildArg names the build-arg a build-arg violation is about.
	BuildArg string
	// Confidence is the rule's, or for an engine rule's finding the finding's.
	Confidence policy.Confidence
}

// Severity is the severity of the violated rule.
func (v Violation) Severity() Severity { return v.Rule.Severity }

// Result is what Check found.
type Result struct {
	// Violations are sorted: Dockerfile lines in order, then build-args by name.
	Violations []Violation
	// Source is the Dockerfile with every detected secret value — in the Dockerfile or given as
	// a build-arg — replaced by '*'s of the same length, so that lines and columns stay right.
	// It is what may be shown of the Dockerfile (error sources, lint results).
	Source []byte
	mask   func(string) string
}

// Refused returns the violations of Refuse rules.
func (r *Result) Refused() []Violation {
	return r.bySeverity(Refuse)
}

// Warnings returns the violations of Warn rules.
func (r *Result) Warnings() []Violation {
	return r.bySeverity(Warn)
}

func (r *Result) bySeverity(s Severity) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Severity() == s {
			out = append(out, v)
		}
	}
	return out
}

// Mask replaces every detected secret value in s by '*'s, for text that may quote the
// Dockerfile or a build-arg (a parser error, another linter's message).
func (r *Result) Mask(s string) string {
	if r == nil || r.mask == nil {
		return s
	}
	return r.mask(s)
}

// RefusedError carries every violation of a Refuse rule found before the build ran.
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
	// Filename names the Dockerfile in messages. Default: "Dockerfile".
	Filename string
	// BuildArgs are the build-arg values the build is given.
	BuildArgs map[string]string
	// Rules are the detection engine's rules. Default: config.Default() (policy/config).
	Rules *policy.Ruleset
	// DeclaredSecrets are the secret ids the client serves; nil skips the check.
	DeclaredSecrets map[string]bool
}

// Check runs every rule of Rules over the Dockerfile dt and its build-args, before anything
// runs: secret-named ARG and ENV variables judged with their values, secret values written in
// the Dockerfile or passed as build-args, and secret mounts whose id the client does not serve.
// It returns a parse error for a Dockerfile BuildKit cannot parse.
//
// To mask what it found, Check scans with a scanner that keeps the raw values (WithSecrets);
// they stay inside Check: violations hold only names and redacted excerpts, and Result only a
// masked copy of the Dockerfile.
func Check(ctx context.Context, dt []byte, o CheckOptions) (*Result, error) {
	if o.Filename == "" {
		o.Filename = "Dockerfile"
	}
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Filename, err)
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Filename, err)
	}
	c := &checkRun{ctx: ctx, o: o, dt: dt, stages: stages, metaArgs: metaArgs, mask: newMasker(dt), engineFlagged: map[string]bool{}}
	defer c.close()
	for _, r := range Rules {
		if err := r.check(c); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.Info().ID, err)
		}
	}
	sort.SliceStable(c.vs, func(i, j int) bool {
		li, lj := c.vs[i].Line, c.vs[j].Line
		if (li == 0) != (lj == 0) {
			return li != 0 // Dockerfile lines before build-args
		}
		if li != lj {
			return li < lj
		}
		return c.vs[i].BuildArg < c.vs[j].BuildArg
	})
	// Messages are made of names, rule IDs and redacted excerpts only: they are not masked
	// (a short value may be part of a name: NAGIOSADMIN_PASS=nagios).
	return &Result{Violations: c.vs, Source: c.mask.source(), mask: c.mask.text()}, nil
}

// checkRun is one Check: the parsed Dockerfile, the options, and what the rules found.
type checkRun struct {
	ctx      context.Context
	o        CheckOptions
	dt       []byte
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	vs       []Violation
	mask     *masker
	sc       *policy.Scanner
	// engineFlagged are the build-args an engine rule found a secret in.
	engineFlagged map[string]bool
	// vars are the ARG and ENV names and build-args (hasVar).
	vars map[string]bool
}

func (c *checkRun) close() {
	if c.sc != nil {
		c.sc.Close()
	}
}

// add records a violation at a Dockerfile location; ruleID "" means the rule's own ID.
func (c *checkRun) add(r *RuleInfo, ruleID string, loc []parser.Range, msg string) {
	if ruleID == "" {
		ruleID = r.ID
	}
	c.vs = append(c.vs, Violation{Rule: r, RuleID: ruleID, Message: msg, Line: firstLine(loc), Location: loc, Confidence: r.Confidence})
}

// addBuildArg records a violation of a build-arg.
func (c *checkRun) addBuildArg(r *RuleInfo, ruleID, name, msg string) {
	if ruleID == "" {
		ruleID = r.ID
	}
	c.vs = append(c.vs, Violation{Rule: r, RuleID: ruleID, Message: msg, BuildArg: name, Confidence: r.Confidence})
}

// hasVar reports whether the Dockerfile declares an ARG or ENV name, or the build is given
// a build-arg of that name (for credential bindings: policy.NameRule.Binding).
func (c *checkRun) hasVar(name string) bool {
	if c.vars == nil {
		c.vars = map[string]bool{}
		for k := range c.o.BuildArgs {
			c.vars[k] = true
		}
		for _, a := range c.metaArgs {
			for _, kv := range a.Args {
				c.vars[kv.Key] = true
			}
		}
		for _, st := range c.stages {
			for _, cmd := range st.Commands {
				switch x := cmd.(type) {
				case *instructions.ArgCommand:
					for _, kv := range x.Args {
						c.vars[kv.Key] = true
					}
				case *instructions.EnvCommand:
					for _, kv := range x.Env {
						c.vars[kv.Key] = true
					}
				}
			}
		}
	}
	return c.vars[name]
}

// secretName reports whether a name alone says it holds a secret, or is the base of a
// credential binding among the Dockerfile's variables and the build-args.
func (c *checkRun) secretName(name string) bool {
	return policy.SecretVarName.SecretName(name) || policy.SecretVarName.Binding(name, c.hasVar)
}

func (c *checkRun) buildArgNames() []string {
	return slices.Sorted(maps.Keys(c.o.BuildArgs))
}

// scan runs the engine over text and returns its findings, raw values included (for masking).
func (c *checkRun) scan(o policy.Origin, text string) ([]policy.Finding, error) {
	if c.sc == nil {
		rs := c.o.Rules
		if rs == nil {
			var err error
			if rs, err = config.Default(); err != nil {
				return nil, err
			}
		}
		sc, err := policy.NewScanner(policy.WithRules(rs), policy.WithJobs(1), policy.WithSecrets(true))
		if err != nil {
			return nil, err
		}
		c.sc = sc
	}
	var fs []policy.Finding
	_, err := c.sc.ScanReader(c.ctx, o, strings.NewReader(text), func(f policy.Finding) error {
		fs = append(fs, f)
		return nil
	})
	return fs, err
}

// secretMountID is the id of a secret mount: its id, else the base name of its target.
func secretMountID(m *instructions.Mount) string {
	id := m.CacheID
	if m.Source != "" {
		id = m.Source
	}
	if id == "" && m.Target != "" {
		id = path.Base(m.Target)
	}
	return id
}

func lineRange(line int) []parser.Range {
	return []parser.Range{{Start: parser.Position{Line: line}, End: parser.Position{Line: line}}}
}

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
