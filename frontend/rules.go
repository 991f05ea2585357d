package frontend

//go:generate go test -run TestRulesDoc -update .

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
)

// Severity says what a violation of a Dockerfile rule does to a build.
type Severity int

const (
	// Refuse stops the build before anything runs; `safebuild lint` exits 1 and `--check`
	// reports a build error.
	Refuse Severity = iota + 1
	// Warn is reported (a build warning, a lint warning) and refuses nothing.
	Warn
)

// String returns "refuse" or "warn".
func (s Severity) String() string {
	switch s {
	case Refuse:
		return "refuse"
	case Warn:
		return "warn"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// RuleInfo is what every Dockerfile rule declares, whatever its message takes: a stable ID, a
// one-line description, the URL of its documentation, its severity, how sure its violations
// are, and the samples that prove it.
type RuleInfo struct {
	ID, Description, URL string
	Severity             Severity
	// Confidence grades the rule's violations for reports; unset means the engine rule's own
	// grade (secret-in-dockerfile, secret-build-arg report what an engine rule found).
	Confidence policy.Confidence
	// Match are inputs the rule must flag (at Sample.Line), NoMatch inputs it must not; a plain
	// unit test runs Check on each.
	Match, NoMatch []Sample
}

// Sample is a rule's test input: a Dockerfile and the build-args it is built with.
type Sample struct {
	Dockerfile string
	BuildArgs  map[string]string
	// Line is the Dockerfile line a Match sample is flagged at; 0 for a build-arg.
	Line int
}

// Rule is one Dockerfile check, as Check runs them: its RuleInfo and the check itself. Every
// Rule is a *TypedRule; the check is sealed inside this package.
type Rule interface {
	Info() *RuleInfo
	check(c *checkRun) error
}

// TypedRule is a Dockerfile rule whose message takes the arguments of F, as BuildKit's
// linter.LinterRule[F]. The check decides whether the rule fired; Format says what is wrong and
// what to do instead, from names and redacted excerpts only, never a value.
type TypedRule[F any] struct {
	RuleInfo
	Format F
	run    func(r *TypedRule[F], c *checkRun) error
}

var _ Rule = (*TypedRule[func() string])(nil)

// Info returns the rule's ID, description, URL, severity and samples.
func (r *TypedRule[F]) Info() *RuleInfo { return &r.RuleInfo }

func (r *TypedRule[F]) check(c *checkRun) error { return r.run(r, c) }

// docURL is where docs/dockerfile-rules.md, generated from Rules, is published.
const docURL = "https://github.com/safebuild/safebuild/blob/main/docs/dockerfile-rules.md"

func ruleURL(id string) string { return docURL + "#" + id }

// The Dockerfile rules.
var (
	// RuleSecretNamedVariable refuses an ENV, or an ARG default, whose name says it holds a
	// secret and whose value is a literal (policy.SecretVarName judges name and value).
	RuleSecretNamedVariable = &TypedRule[func(instruction, name string) string]{
		RuleInfo: RuleInfo{
			ID:          policy.SecretVarName.ID,
			Description: "An ENV value or ARG default whose name says it holds a secret is a literal: it is recorded in the image config and history",
			URL:         ruleURL(policy.SecretVarName.ID),
			Severity:    Refuse,
			Confidence:  policy.SecretVarName.Confidence,
			Match: []Sample{
				{Dockerfile: "FROM scratch\nENV GITHUB_TOKEN=abc123\n", Line: 2},
				{Dockerfile: "FROM scratch\nENV A=1 \\\n    DB_PASSWORD=\"hunter2 x\"\n", Line: 2},
				{Dockerfile: "ARG NEXUS_PSW=o6%vS5PoNQ3eLUm8\nFROM scratch\n", Line: 1},
				{Dockerfile: "FROM scratch\nENV NPM_TOKEN ${NPM_TOKEN:-npm_local_dev}\n", Line: 2},
			},
			NoMatch: []Sample{
				{Dockerfile: "FROM scratch\nENV SSL_CERT_KEY=/etc/ssl/private/server.key AUTH_ENABLED=true PASSWORD_MIN_LENGTH=12\n"},
				{Dockerfile: "FROM scratch\nENV API_TOKEN=\"\" TOKEN_TTL=1h NPM_TOKEN=$NPM_TOKEN TOKEN_URL=https://auth.example.com/token\n"},
				{Dockerfile: "FROM scratch\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D PUBLIC_KEY=ssh-ed25519\n"},
				{Dockerfile: "FROM scratch\nENV NEXUS_USR=ci-deployer AUTH_TYPE=oauth2\n"},
			},
		},
		Format: func(instruction, name string) string {
			where := "ENV values are recorded in the image config and history"
			if instruction == "ARG" {
				where = "ARG values are recorded in the image history"
			}
			return fmt.Sprintf("%s %s: the name says it holds a secret and its value is written in the Dockerfile; %s. Serve it with RUN --mount=type=secret,id=%s instead",
				instruction, name, where, strings.ToLower(name))
		},
		run: checkSecretNamedVariables,
	}

	// RuleSecretNamedArg refuses an ARG in a build stage whose name says it holds a secret and
	// that has no default: its value comes from a build-arg, and BuildKit records it in the
	// ARG's history entry and in every later RUN's ("RUN |2 NEXUS_USR=… NEXUS_PSW=… /bin/sh -c …").
	RuleSecretNamedArg = &TypedRule[func(name string) string]{
		RuleInfo: RuleInfo{
			ID:          "secret-named-arg",
			Description: "A build stage declares an ARG whose name says it holds a secret: the build-arg's value is recorded in the image history",
			URL:         ruleURL("secret-named-arg"),
			Severity:    Refuse,
			Confidence:  policy.SecretVarName.Confidence,
			Match: []Sample{
				{Dockerfile: "FROM scratch\nARG NEXUS_USR\nARG NEXUS_PSW\nRUN true\n", Line: 3},
				{Dockerfile: "FROM scratch\nARG GITHUB_TOKEN\n", Line: 2},
				{Dockerfile: "FROM scratch\nARG NPM_TOKEN\n", BuildArgs: map[string]string{"NPM_TOKEN": "o6%vS5PoNQ3eLUm8"}, Line: 2},
				// Jenkins' credential NEXUS is bound as NEXUS (user:password), NEXUS_USR, NEXUS_PSW.
				{Dockerfile: "FROM scratch\nARG NEXUS\nARG NEXUS_USR\nRUN true\n", Line: 2},
			},
			NoMatch: []Sample{
				{Dockerfile: "FROM scratch\nARG NEXUS_USR\nARG TOKEN_PATH\nARG AWS_ACCESS_KEY_ID\nRUN true\n"},
				{Dockerfile: "FROM scratch\nARG GITHUB_TOKEN\n", BuildArgs: map[string]string{"GITHUB_TOKEN": "/run/secrets/gh"}},
				{Dockerfile: "ARG NPM_TOKEN\nFROM scratch\n"},
			},
		},
		Format: func(name string) string {
			return fmt.Sprintf("ARG %s: the name says it holds a secret, and a build-arg's value is recorded in the image history (this ARG's entry and every later RUN's \"|N %s=…\" prefix). Mount it with RUN --mount=type=secret,id=%s instead",
				name, name, strings.ToLower(name))
		},
		run: checkSecretNamedArgs,
	}

	// RuleSecretNamedMetaArg warns about an ARG before the first FROM whose name says it holds
	// a secret: its value is used in FROM lines only and recorded nowhere, but redeclaring it in
	// a stage would record it.
	RuleSecretNamedMetaArg = &TypedRule[func(name string) string]{
		RuleInfo: RuleInfo{
			ID:          "secret-named-meta-arg",
			Description: "An ARG before the first FROM has a name that says it holds a secret: redeclared in a stage, its value would be recorded in the image history",
			URL:         ruleURL("secret-named-meta-arg"),
			Severity:    Warn,
			Confidence:  policy.ConfidenceLow,
			Match:       []Sample{{Dockerfile: "ARG REGISTRY_TOKEN\nFROM scratch\n", Line: 1}},
			NoMatch:     []Sample{{Dockerfile: "ARG BASE\nARG TOKEN_FILE\nFROM scratch\n"}},
		},
		Format: func(name string) string {
			return fmt.Sprintf("ARG %s: the name says it holds a secret; FROM lines do not record it, but an ARG %s in a stage would put its value in the image history", name, name)
		},
		run: checkSecretNamedMetaArgs,
	}

	// RuleUndeclaredSecretMount refuses a RUN --mount=type=secret whose id the client does not
	// serve (checked only when the client declares its ids, as `safebuild build` does).
	RuleUndeclaredSecretMount = &TypedRule[func(id, declared string) string]{
		RuleInfo: RuleInfo{
			ID:          "undeclared-secret-mount",
			Description: "A RUN --mount=type=secret names an id that is not mapped to a Vault reference",
			URL:         ruleURL("undeclared-secret-mount"),
			Severity:    Refuse,
			Confidence:  policy.ConfidenceHigh,
			Match: []Sample{
				{Dockerfile: "FROM scratch\nRUN --mount=type=secret,id=aws,env=AWS true\n", Line: 2},
				{Dockerfile: "FROM scratch\nRUN --mount=type=secret,target=/run/secrets/db true\n", Line: 2},
			},
			NoMatch: []Sample{{Dockerfile: "FROM scratch\nRUN --mount=type=secret,id=npm_token true\n"}},
		},
		Format: func(id, declared string) string {
			return fmt.Sprintf("RUN --mount=type=secret,id=%s: %q is not mapped to a Vault reference (declared: %s); add it to safebuild.yaml or pass --secret id=%s,src=vault:PATH#FIELD", id, id, declared, id)
		},
		run: checkSecretMounts,
	}

	// RuleSecretInDockerfile refuses a secret the detection engine finds anywhere in the
	// Dockerfile's text (a RUN line, a LABEL, a comment); the violation's RuleID is the engine
	// rule's.
	RuleSecretInDockerfile = &TypedRule[func(engineRule, excerpt string) string]{
		RuleInfo: RuleInfo{
			ID:          "secret-in-dockerfile",
			Description: "A secret is written in the Dockerfile: it ends up in the image, its history, or the build's provenance",
			URL:         ruleURL("secret-in-dockerfile"),
			Severity:    Refuse,
			Match: []Sample{
				{Dockerfile: "FROM scratch\nRUN echo //registry.npmjs.org/:_authToken=npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7 > /root/.npmrc\n", Line: 2},
				{Dockerfile: "FROM scratch\nLABEL deploy.key=AKIAHBRPOIGF3CBFNOBM\n", Line: 2},
			},
			NoMatch: []Sample{
				{Dockerfile: "FROM scratch\nRUN --mount=type=secret,id=npm_token,env=NPM_TOKEN npm ci\n"},
				// A generic rule's keyword near a random-looking value, overruled by what the
				// name says the value is (a commit as a version, a key's fingerprint).
				{Dockerfile: "ARG PROTOC_GOOGLEAPIS_VERSION=2af421884dd468d565137215c946ebe4e245ae26\nFROM scratch\nENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n"},
			},
		},
		Format: func(engineRule, excerpt string) string {
			return fmt.Sprintf("a secret is written in the Dockerfile (%s, %s): it ends up in the image or its history; serve it from Vault through RUN --mount=type=secret", engineRule, excerpt)
		},
		run: checkSecretsInDockerfile,
	}

	// RuleSecretBuildArg refuses a build-arg value in which the detection engine finds a
	// secret; the violation's RuleID is the engine rule's.
	RuleSecretBuildArg = &TypedRule[func(name, engineRule, excerpt string) string]{
		RuleInfo: RuleInfo{
			ID:          "secret-build-arg",
			Description: "A build-arg value holds a secret: build-arg values are recorded in the image history and the build's provenance",
			URL:         ruleURL("secret-build-arg"),
			Severity:    Refuse,
			Match:       []Sample{{Dockerfile: "FROM scratch\nARG NPM\n", BuildArgs: map[string]string{"NPM": "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"}}},
			NoMatch:     []Sample{{Dockerfile: "FROM scratch\nARG VERSION\n", BuildArgs: map[string]string{"VERSION": "1.2.3"}}},
		},
		Format: func(name, engineRule, excerpt string) string {
			return fmt.Sprintf("--build-arg %s holds a secret (%s, %s): build-arg values are recorded in the image history; use --secret id=%s,src=vault:PATH#FIELD", name, engineRule, excerpt, strings.ToLower(name))
		},
		run: checkSecretBuildArgs,
	}

	// RuleSecretNamedBuildArg refuses a build-arg whose name says it holds a secret and whose
	// value is a literal, even when no engine rule recognizes the value (a Jenkins NAME_PSW).
	RuleSecretNamedBuildArg = &TypedRule[func(name string) string]{
		RuleInfo: RuleInfo{
			ID:          imagescan.RuleSecretNamedBuildArg,
			Description: "A build-arg whose name says it holds a secret has a literal value: build-arg values are recorded in the image history and the build's provenance",
			URL:         ruleURL(imagescan.RuleSecretNamedBuildArg),
			Severity:    Refuse,
			Confidence:  policy.SecretVarName.Confidence,
			Match: []Sample{
				{Dockerfile: "FROM scratch\nARG NEXUS_PSW\n", BuildArgs: map[string]string{"NEXUS_PSW": "o6%vS5PoNQ3eLUm8#Sxf!X", "NEXUS_USR": "ci-deployer"}},
				{Dockerfile: "FROM scratch\n", BuildArgs: map[string]string{"DB_PASSWORD": "hunter2"}},
				{Dockerfile: "FROM scratch\n", BuildArgs: map[string]string{"NEXUS": "ci-deployer:o6%vS5PoNQ3eLUm8", "NEXUS_PSW": "o6%vS5PoNQ3eLUm8"}},
			},
			NoMatch: []Sample{{Dockerfile: "FROM scratch\nARG GOOGLE_APPLICATION_CREDENTIALS\n", BuildArgs: map[string]string{
				"GOOGLE_APPLICATION_CREDENTIALS": "/run/secrets/gcp.json", "AUTH_ENABLED": "true", "NEXUS_USR": "ci-deployer"}}},
		},
		Format: func(name string) string {
			return fmt.Sprintf("--build-arg %s: the name says it holds a secret and its value is a literal; build-arg values are recorded in the image history. Use --secret id=%s,src=vault:PATH#FIELD", name, strings.ToLower(name))
		},
		run: checkSecretNamedBuildArgs,
	}
)

// Rules are the Dockerfile rules in the order Check runs them; docs/dockerfile-rules.md is
// generated from this table.
var Rules = []Rule{
	RuleSecretNamedVariable,
	RuleSecretNamedArg,
	RuleSecretNamedMetaArg,
	RuleUndeclaredSecretMount,
	RuleSecretInDockerfile,
	RuleSecretBuildArg,
	RuleSecretNamedBuildArg,
}

// checkSecretNamedVariables runs RuleSecretNamedVariable over ENV values and ARG defaults.
func checkSecretNamedVariables(r *TypedRule[func(string, string) string], c *checkRun) error {
	c.assignments(func(instruction string, loc []parser.Range, key, raw string) {
		if policy.SecretVarName.JudgeAmong(key, raw, true, c.hasVar).Verdict != policy.LiteralSecret {
			return
		}
		c.add(&r.RuleInfo, "", loc, r.Format(instruction, key))
		c.mask.assignment(loc, key, raw)
	})
	return nil
}

// assignments calls fn for every ENV value and ARG default (raw, as written) in the
// Dockerfile, in order.
func (c *checkRun) assignments(fn func(instruction string, loc []parser.Range, key, raw string)) {
	for _, a := range c.metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				fn("ARG", a.Location(), kv.Key, *kv.Value)
			}
		}
	}
	for _, st := range c.stages {
		for _, cmd := range st.Commands {
			switch x := cmd.(type) {
			case *instructions.ArgCommand:
				for _, kv := range x.Args {
					if kv.Value != nil {
						fn("ARG", x.Location(), kv.Key, *kv.Value)
					}
				}
			case *instructions.EnvCommand:
				for _, kv := range x.Env {
					fn("ENV", x.Location(), kv.Key, kv.Value)
				}
			}
		}
	}
}

// checkSecretNamedArgs runs RuleSecretNamedArg: a stage ARG without a default is refused when
// its name is a secret name, unless the build-arg given for it shows it holds none.
func checkSecretNamedArgs(r *TypedRule[func(string) string], c *checkRun) error {
	for _, st := range c.stages {
		for _, cmd := range st.Commands {
			a, ok := cmd.(*instructions.ArgCommand)
			if !ok {
				continue
			}
			for _, kv := range a.Args {
				if kv.Value != nil || !c.secretName(kv.Key) {
					continue
				}
				if v, given := c.o.BuildArgs[kv.Key]; given && policy.SecretVarName.JudgeAmong(kv.Key, v, false, c.hasVar).Verdict != policy.LiteralSecret {
					continue
				}
				c.add(&r.RuleInfo, "", a.Location(), r.Format(kv.Key))
			}
		}
	}
	return nil
}

// checkSecretNamedMetaArgs runs RuleSecretNamedMetaArg over the ARGs before the first FROM.
func checkSecretNamedMetaArgs(r *TypedRule[func(string) string], c *checkRun) error {
	for _, a := range c.metaArgs {
		for _, kv := range a.Args {
			if kv.Value == nil && c.secretName(kv.Key) {
				c.add(&r.RuleInfo, "", a.Location(), r.Format(kv.Key))
			}
		}
	}
	return nil
}

// checkSecretMounts runs RuleUndeclaredSecretMount when the client declared the ids it serves.
func checkSecretMounts(r *TypedRule[func(string, string) string], c *checkRun) error {
	if c.o.DeclaredSecrets == nil {
		return nil
	}
	for _, st := range c.stages {
		for _, cmd := range st.Commands {
			run, ok := cmd.(*instructions.RunCommand)
			if !ok {
				continue
			}
			if err := run.Expand(func(w string) (string, error) { return w, nil }); err != nil {
				return err
			}
			for _, m := range instructions.GetMounts(run) {
				if m.Type != instructions.MountTypeSecret {
					continue
				}
				id := secretMountID(m)
				if !c.o.DeclaredSecrets[id] {
					c.add(&r.RuleInfo, "", run.Location(), r.Format(id, declaredList(c.o.DeclaredSecrets)))
				}
			}
		}
	}
	return nil
}

// checkSecretsInDockerfile runs RuleSecretInDockerfile: the engine over the Dockerfile's text.
func checkSecretsInDockerfile(r *TypedRule[func(string, string) string], c *checkRun) error {
	fs, err := c.scan(policy.Origin{Kind: OriginDockerfile, Path: c.o.Filename}, string(c.dt))
	if err != nil {
		return fmt.Errorf("scanning %s: %w", c.o.Filename, err)
	}
	for _, f := range fs {
		if strings.Contains(f.RuleID, "generic") && c.namedNotSecret(f) {
			continue
		}
		loc := lineRange(f.Line)
		c.add(&r.RuleInfo, f.RuleID, loc, r.Format(f.RuleID, f.Redacted))
		c.vs[len(c.vs)-1].Confidence = f.Confidence
		c.mask.finding(f)
	}
	return nil
}

// namedNotSecret reports whether a finding's secret is the value of an ARG or ENV whose name
// says what it is instead (PROTOC_GOOGLEAPIS_VERSION, GPG_KEY): a generic rule, which only
// saw a keyword near a random-looking value, is then overruled by the name rule's exceptions.
func (c *checkRun) namedNotSecret(f policy.Finding) bool {
	found := false
	c.assignments(func(_ string, loc []parser.Range, key, raw string) {
		if len(loc) > 0 && loc[0].Start.Line <= f.Line && f.Line <= loc[len(loc)-1].End.Line &&
			f.Secret != "" && strings.Contains(raw, f.Secret) && policy.SecretVarName.Exempt(key) {
			found = true
		}
	})
	return found
}

// checkSecretBuildArgs runs RuleSecretBuildArg: the engine over each build-arg, scanned as
// KEY=VALUE so that rules which need the name as context can fire.
func checkSecretBuildArgs(r *TypedRule[func(string, string, string) string], c *checkRun) error {
	for _, k := range c.buildArgNames() {
		v := c.o.BuildArgs[k]
		fs, err := c.scan(policy.Origin{Kind: OriginBuildArg, Path: k}, k+"="+v)
		if err != nil {
			return fmt.Errorf("scanning build-arg %s: %w", k, err)
		}
		for _, f := range fs {
			c.addBuildArg(&r.RuleInfo, f.RuleID, k, r.Format(k, f.RuleID, f.Redacted))
			c.vs[len(c.vs)-1].Confidence = f.Confidence
			c.mask.value(f.Secret)
		}
		if len(fs) > 0 {
			c.mask.value(v)
			c.engineFlagged[k] = true
		}
	}
	return nil
}

// checkSecretNamedBuildArgs runs RuleSecretNamedBuildArg over the build-args no engine rule
// flagged.
func checkSecretNamedBuildArgs(r *TypedRule[func(string) string], c *checkRun) error {
	for _, k := range c.buildArgNames() {
		v := c.o.BuildArgs[k]
		if c.engineFlagged[k] || policy.SecretVarName.JudgeAmong(k, v, false, c.hasVar).Verdict != policy.LiteralSecret {
			continue
		}
		c.addBuildArg(&r.RuleInfo, "", k, r.Format(k))
		c.mask.value(v)
	}
	return nil
}
