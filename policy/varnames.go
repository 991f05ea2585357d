package policy

import "regexp"

// NameRule flags variable names (ARG, ENV, build-args) that say they hold a secret: their values
// are recorded in the image config or history, where every puller can read them.
type NameRule struct {
	ID, Description, URL string
	// Pattern matches a secret-like name; Allow exempts a name Pattern matched.
	Pattern, Allow *regexp.Regexp
	// Match and NoMatch are the rule's proof, checked by a plain unit test.
	Match, NoMatch []string
}

// Matches reports whether name looks like it holds a secret.
func (r *NameRule) Matches(name string) bool {
	return r.Pattern.MatchString(name) && (r.Allow == nil || !r.Allow.MatchString(name))
}

// SecretVarName is BuildKit's SecretsUsedInArgOrEnv rule, enforced rather than linted (a
// `# check=skip=` comment cannot turn it off), with a wider allowlist for names that point at a
// secret without holding one (KEY_FILE, TOKEN_PATH, …).
var SecretVarName = &NameRule{
	ID:          "secret-named-variable",
	Description: "ARG and ENV values are recorded in the image config and history; a secret must reach RUN through --mount=type=secret",
	URL:         "https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/",
	Pattern:     regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`),
	Allow:       regexp.MustCompile(`(?i)(?:_|^)(?:public|file|path|version|url|name)(?:_|$)`),
	Match:       []string{"GITHUB_TOKEN", "API_KEY", "aws_secret_access_key", "DB_PASSWORD", "NPM_AUTH", "TOKEN", "apikey", "CREDENTIALS"},
	NoMatch:     []string{"PUBLIC_KEY", "KEY_FILE", "TOKEN_PATH", "GO_VERSION", "TOKENIZER", "MONKEY", "AUTHOR", "NODE_ENV", "SSH_KEY_PATH"},
}
