package policy

import (
	"strings"
	"testing"
)

func splitPair(t *testing.T, s string) (string, string) {
	t.Helper()
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		t.Fatalf("sample %q: want NAME=value", s)
	}
	return k, v
}

// TestSecretVarNameSamples checks the rule's own proof: names alone, name=value pairs as
// expanded and as Dockerfile words, and each exception's samples.
func TestSecretVarNameSamples(t *testing.T) {
	r := SecretVarName
	for _, n := range r.Match {
		if !r.SecretName(n) {
			t.Errorf("%q should be a secret name", n)
		}
	}
	for _, n := range r.NoMatch {
		if r.SecretName(n) {
			t.Errorf("%q should not be a secret name", n)
		}
	}
	judge := func(word bool, s string) Judgement {
		k, v := splitPair(t, s)
		if word {
			return r.JudgeWord(k, v)
		}
		return r.Judge(k, v)
	}
	for _, word := range []bool{false, true} {
		secret, notSecret := r.Secret, r.NotSecret
		if word {
			secret, notSecret = r.WordSecret, r.WordNotSecret
		}
		for _, s := range secret {
			if j := judge(word, s); j.Verdict != LiteralSecret {
				t.Errorf("%s (word %v): verdict %v (%v), want LiteralSecret", s, word, j.Verdict, j.Kind)
			}
		}
		for _, s := range notSecret {
			if j := judge(word, s); j.Verdict == LiteralSecret {
				t.Errorf("%s (word %v): judged a literal secret", s, word)
			}
		}
	}
	for _, e := range r.Exceptions {
		if e.Why == "" || len(e.Shapes) == 0 || len(e.Match) == 0 {
			t.Errorf("exception %s: needs a reason, shapes and samples", e.Name)
		}
		for _, s := range e.Match {
			if j := judge(false, s); j.Verdict != NotSecretName {
				t.Errorf("exception %s: %s should be exempt, verdict %v (%v)", e.Name, s, j.Verdict, j.Kind)
			}
			if k, _ := splitPair(t, s); !e.names(strings.ToUpper(strings.Join(r.words(k), "_"))) {
				t.Errorf("exception %s: sample %s is exempt by another exception", e.Name, s)
			}
		}
		for _, s := range e.NoMatch {
			if j := judge(false, s); j.Verdict != LiteralSecret {
				t.Errorf("exception %s: %s should not be exempt, verdict %v (%v)", e.Name, s, j.Verdict, j.Kind)
			}
		}
	}
}

// TestHarmlessValues is the list: a secret-looking name with an empty value, a boolean,
// a number, a duration, a file path, a URL without credentials or a reference is not refused.
func TestHarmlessValues(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  ValueKind
	}{
		{"", ValueEmpty}, {" ", ValueEmpty},
		{"true", ValueBool}, {"No", ValueBool}, {"off", ValueBool},
		{"12", ValueNumber}, {"-1", ValueNumber}, {"0.25", ValueNumber}, {"512Mi", ValueNumber}, {"80%", ValueNumber},
		{"30s", ValueDuration}, {"1h30m", ValueDuration}, {"500ms", ValueDuration}, {"PT15M", ValueDuration}, {"P1D", ValueDuration},
		{"/etc/ssl/private/server.key", ValuePath}, {"./keys", ValuePath}, {"~/.npmrc", ValuePath}, {"/a:/b", ValuePath},
		{`C:\keys\app.pem`, ValuePath}, {"server.key", ValuePath}, {"/", ValuePath},
		{"https://registry.npmjs.org/", ValueURL}, {"https://git@github.com/org/repo", ValueURL}, {"s3://bucket/key", ValueURL},
		{"$TOKEN", ValueReference}, {"${TOKEN}", ValueReference},
		{"xxx", ValuePlaceholder}, {"00000000-0000-0000-0000-000000000000", ValuePlaceholder},
	} {
		if got := SecretVarName.Classify(tc.value); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.value, got, tc.want)
		}
		if j := SecretVarName.Judge("API_TOKEN", tc.value); j.Verdict != HarmlessValue {
			t.Errorf("API_TOKEN=%q: verdict %v, want HarmlessValue", tc.value, j.Verdict)
		}
	}
	for _, v := range []string{"hunter2", "12345678901234567890", "/K7MDENGbPxRfiCYEXAMPLEKEYwJalrXUtnFEMI",
		"https://user:pass@example.com", "https://ghp0123456789ABCDEFabcdef@github.com", "https://api.example.com/?api_key=abc",
		"pa$$word", "changeme", "P", "0x1f2e3d4c5b6a79880f1e2d3c4b5a6978", "aaab", "xx"} {
		if k := SecretVarName.Classify(v); k != ValueLiteral {
			t.Errorf("Classify(%q) = %v, want literal", v, k)
		}
	}
}

func TestShellWord(t *testing.T) {
	for _, tc := range []struct {
		in, lit  string
		ref      bool
		defaults []string
	}{
		{`abc`, "abc", false, nil},
		{`"a b"`, "a b", false, nil},
		{`'$X'`, "$X", false, nil},
		{`\$X`, "$X", false, nil},
		{`$X`, "", true, nil},
		{`${X}/y`, "/y", true, nil},
		{`"${X:-d e}"`, "", true, []string{"d e"}},
		{`${X:+--t=${Y:-z}}`, "", true, []string{"--t=", "z"}},
		{`$1abc`, "$1abc", false, nil},
		{`a$`, "a$", false, nil},
	} {
		lit, ref, defs := shellWord(tc.in)
		if lit != tc.lit || ref != tc.ref || strings.Join(defs, "|") != strings.Join(tc.defaults, "|") {
			t.Errorf("shellWord(%q) = %q %v %q, want %q %v %q", tc.in, lit, ref, defs, tc.lit, tc.ref, tc.defaults)
		}
	}
}

func TestVarNameWords(t *testing.T) {
	for in, want := range map[string]string{
		"GITHUB_TOKEN":      "github token",
		"githubToken":       "github token",
		"APIKey":            "api key",
		"CI_JOB_JWT_V2":     "ci job jwt",
		"API_KEY_2":         "api key",
		"TOKEN_PROD":        "token",
		"PROD":              "prod",
		"npm-config.token":  "npm config token",
		"AUTH0_CLIENT_ID":   "auth0 client id",
		"DB_PASSWORD_VALUE": "db password",
	} {
		if got := strings.Join(SecretVarName.words(in), " "); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzJudgeWord: any name and value, as a Dockerfile word or expanded, is judged without a
// panic.
func FuzzJudgeWord(f *testing.F) {
	for _, s := range append(append([]string{}, SecretVarName.WordSecret...), SecretVarName.WordNotSecret...) {
		k, v, _ := strings.Cut(s, "=")
		f.Add(k, v)
	}
	f.Fuzz(func(t *testing.T, name, word string) {
		SecretVarName.JudgeWord(name, word)
		SecretVarName.Judge(name, word)
		SecretVarName.SecretName(name)
	})
}

// TestCredentialBinding: Jenkins binds a username/password credential NEXUS as NEXUS
// (user:password), NEXUS_USR and NEXUS_PSW; the base holds the password too.
func TestCredentialBinding(t *testing.T) {
	vars := map[string]bool{"NEXUS": true, "NEXUS_USR": true, "NEXUS_PSW": true, "OTHER": true}
	has := func(n string) bool { return vars[n] }
	for _, tc := range []struct {
		name, value string
		want        Verdict
	}{
		{"NEXUS", "ci-deployer:o6%vS5PoNQ3eLUm8#Sxf!X", LiteralSecret},
		{"NEXUS_PSW", "o6%vS5PoNQ3eLUm8#Sxf!X", LiteralSecret},
		{"NEXUS_USR", "ci-deployer", NotSecretName},
		{"NEXUS", "", NotSecretName},
		{"OTHER", "ci-deployer:o6%vS5", NotSecretName},
	} {
		if got := SecretVarName.JudgeAmong(tc.name, tc.value, false, has).Verdict; got != tc.want {
			t.Errorf("%s=%s among %v: %v, want %v", tc.name, tc.value, vars, got, tc.want)
		}
	}
}
