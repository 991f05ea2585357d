package frontend

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy"
)

var update = flag.Bool("update", false, "rewrite docs/dockerfile-rules.md from the rule table")

// rulesDocPath is the generated page, relative to this package.
var rulesDocPath = filepath.Join("..", "docs", "dockerfile-rules.md")

// TestRulesDoc fails when docs/dockerfile-rules.md is not what the rule table generates;
// `go generate ./frontend` (go test -run TestRulesDoc -update) rewrites it.
func TestRulesDoc(t *testing.T) {
	want := rulesDoc()
	if *update {
		if err := os.WriteFile(rulesDocPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(rulesDocPath)
	if err != nil {
		t.Fatalf("%v: run go generate ./frontend", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./frontend", rulesDocPath)
	}
}

// rulesDoc renders the rule table and the secret-name vocabulary as Markdown.
func rulesDoc() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Dockerfile rules\n\n")
	p("<!-- Generated from frontend.Rules and policy.SecretVarName by `go generate ./frontend`. Do not edit. -->\n\n")
	p("safebuild checks a Dockerfile and its build-args before anything runs: in `safebuild build`, in the `# syntax=`\n")
	p("frontend image, in `safebuild lint`, and in BuildKit's lint subrequest (`docker buildx build --check`,\n")
	p("`--call=check`), where each violation is a lint warning next to BuildKit's own. A rule that **refuses** stops\n")
	p("the build (`safebuild lint` exits 1, `--check` reports a build error); a **warn** rule is reported and refuses\n")
	p("nothing. `# check=skip=…` turns off BuildKit's rules, not these. Messages name variables and rules, never a\n")
	p("value, and the Dockerfile lines shown with a refusal have every detected value replaced by `*`s.\n\n")
	p("| rule | severity | confidence | what it finds |\n|---|---|---|---|\n")
	for _, r := range Rules {
		i := r.Info()
		conf := i.Confidence.String()
		if conf == "" {
			conf = "the engine rule's"
		}
		p("| [%s](#%s) | %s | %s | %s |\n", i.ID, i.ID, i.Severity, conf, i.Description)
	}
	for _, r := range Rules {
		i := r.Info()
		p("\n## %s\n\n%s.\n\nSeverity: %s.", i.ID, i.Description, i.Severity)
		if i.Confidence != policy.ConfidenceUnset {
			p(" Confidence: %s.", i.Confidence)
		}
		p("\n\nFlagged:\n\n")
		writeSamples(&b, i.Match, true)
		p("Not flagged:\n\n")
		writeSamples(&b, i.NoMatch, false)
	}
	writeNameRule(&b, policy.SecretVarName)
	return b.Bytes()
}

func writeSamples(b *bytes.Buffer, ss []Sample, flagged bool) {
	for _, s := range ss {
		b.WriteString("```dockerfile\n" + s.Dockerfile + "```\n")
		if len(s.BuildArgs) > 0 {
			var args []string
			for _, k := range slices.Sorted(maps.Keys(s.BuildArgs)) {
				args = append(args, "`--build-arg "+k+"="+s.BuildArgs[k]+"`")
			}
			fmt.Fprintf(b, "with %s", strings.Join(args, " "))
			if flagged && s.Line == 0 {
				b.WriteString(" (the build-arg is flagged)")
			}
			b.WriteString("\n")
		}
		if flagged && s.Line > 0 {
			fmt.Fprintf(b, "flagged at line %d\n", s.Line)
		}
		b.WriteString("\n")
	}
}

func writeNameRule(b *bytes.Buffer, r *policy.NameRule) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	code := func(ws []string) string {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = "`" + strings.ReplaceAll(w, "|", `\|`) + "`"
		}
		return strings.Join(out, ", ")
	}
	p("\n## Secret names\n\n")
	p("The `secret-named-*` rules, and image scans reading build-args in history entries, judge a variable by its\n")
	p("name and its value together (`policy.SecretVarName`). A name is split into words at `_`, `-`, `.` and\n")
	p("camelCase; trailing modifiers and numbers are dropped (`GITHUB_TOKEN_PROD`, `CI_JOB_JWT_V2`). It is a secret\n")
	p("name when its last word is a secret word, or any word is a strong one.\n\n")
	p("- Strong words (anywhere, and ending a compound such as `GITHUBTOKEN`): %s\n", code(r.Strong))
	p("- Weak words (only as the last word, so that `AUTH_MODE` or `KEY_SERVICE_ADDR` are not secret names): %s\n", code(r.Weak))
	p("- Weak words that also end a compound (`ROOTPASS`): %s, except in %s\n", code(r.Compound), code(r.NotCompound))
	p("- Modifiers: %s\n", code(r.Modifiers))
	p("- Credential bindings: `NAME` is a secret name too when `NAME` + one of %s is also an ARG, ENV or build-arg\n", code(r.Bindings))
	p("  (Jenkins binds a username/password credential as `NAME`=user:password, `NAME_USR` and `NAME_PSW`)\n\n")
	p("A secret name is refused only with a literal value. These values show that it holds no secret: empty, a\n")
	p("boolean, a number (up to 10 digits), a duration (`30s`, `PT15M`), a file path or a file name with a key or\n")
	p("config extension, a URL without a password, token-shaped user name or secret-named query parameter, a\n")
	p("`$VAR` / `${VAR}` reference (unless its `${VAR:-default}` is a literal), and a placeholder made of one\n")
	p("character repeated (`xxxxxxxx`, `00000000-0000-0000-0000-000000000000`).\n\n")
	p("Refused: %s.\n\nNot refused: %s.\n\n", code(r.Secret), code(r.NotSecret))
	p("### Exceptions\n\n")
	p("An exception exempts a name when its value has the expected shape, or when there is no value (an ARG without\n")
	p("a default). A value of another shape is judged as if the exception did not exist.\n\n")
	p("| names (upper case, modifiers dropped) | unless | expected value | why | exempt | not exempt |\n|---|---|---|---|---|---|\n")
	for _, e := range r.Exceptions {
		unless := ""
		if e.Unless != nil {
			unless = code([]string{e.Unless.String()})
		}
		shapes := make([]string, len(e.Shapes))
		for i, s := range e.Shapes {
			shapes[i] = string(s)
		}
		p("| %s | %s | %s | %s | %s | %s |\n", code([]string{e.Name.String()}), unless, strings.Join(shapes, ", "), e.Why, code(e.Match), code(e.NoMatch))
	}
}
