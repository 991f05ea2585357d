package policy

import (
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// NameRule judges a variable — an ARG, ENV, build-arg, or a build-arg recorded in an image's
// history — by its name and its value together. A name says a variable holds a secret when its
// head word (the last one, trailing modifiers such as _PROD or _V2 dropped) is a secret word, or
// when any of its words is a strong secret word (PASSWORD, TOKEN, SECRET, …). Such a variable
// is refused only when its value is a literal: an empty value, a boolean, a number, a duration,
// a file path, a URL without credentials or a $VAR reference shows that it holds no secret.
// Exceptions (…_ENABLED, …_PATH, …_ID, …_USR) exempt a name when the value has the shape the
// exception expects, or when there is no value to look at.
//
// The vocabulary is data, and each word list and exception carries samples that a plain unit
// test checks. The rule imports nothing from BuildKit, so that image scans judge history entries
// with it too.
type NameRule struct {
	ID, Description, URL string
	// Confidence is how sure a finding of this rule is (medium: a name and a literal value,
	// with no provider format to confirm it), for reports to grade findings by.
	Confidence Confidence
	// Strong are secret words that make a name secret wherever they stand in it, and as the
	// end of a compound word (GITHUBTOKEN); Weak only as the name's head (API_KEY, NPM_AUTH),
	// so that KEY_SERVICE or AUTH_MODE are not secret names. Lower case.
	Strong, Weak []string
	// Compound are weak words that also end a compound word (ROOTPASS, DBPWD), except the
	// words in NotCompound (BYPASS, COMPASS). Lower case.
	Compound, NotCompound []string
	// Modifiers are trailing words that qualify a name without changing what it holds
	// (GITHUB_TOKEN_PROD, CI_JOB_JWT_V2); numbers are modifiers too. Lower case.
	Modifiers []string
	// Exceptions exempt secret-looking names whose value has the expected shape.
	Exceptions []NameException
	// Bindings are the suffixes a CI credential binding adds to a variable's name: Jenkins binds
	// a username/password credential NAME as NAME (user:password), NAME_USR and NAME_PSW. A
	// name is a secret name too when NAME+suffix is among the variables around it (JudgeAmong).
	Bindings []string
	// Match and NoMatch are names alone (no value known) that must and must not be secret
	// names; Secret and NotSecret are NAME=value pairs (value as expanded) that must and must not
	// be judged LiteralSecret; WordSecret and WordNotSecret are the same for Dockerfile words
	// (JudgeWord). All are checked by a plain unit test.
	Match, NoMatch            []string
	Secret, NotSecret         []string
	WordSecret, WordNotSecret []string

	once                                 sync.Once
	strong, weak, modifiers, notCompound map[string]bool
}

// NameException exempts names matching Name (and not Unless) when the value is empty, a
// reference, or has one of Shapes. With no value known (an ARG without a default) the name
// alone exempts. Name and Unless match the name normalized to upper-case words joined by "_"
// with trailing modifiers dropped (githubToken_PATH_prod → GITHUB_TOKEN_PATH).
type NameException struct {
	Name, Unless *regexp.Regexp
	Shapes       []Shape
	// Why says what such a name holds, for documentation.
	Why string
	// Match are NAME=value pairs the exception exempts; NoMatch pairs it does not (the value
	// contradicts the name, or Unless applies).
	Match, NoMatch []string
}

// Shape is the kind of value an exception expects.
type Shape string

// The shapes an exception can expect.
const (
	ShapeAny      Shape = "any value"
	ShapeBool     Shape = "boolean"
	ShapeNumber   Shape = "number"
	ShapeDuration Shape = "duration"
	ShapePath     Shape = "file path"
	ShapeURL      Shape = "URL without credentials"
	ShapeWord     Shape = "word"
	ShapeID       Shape = "identifier"
	ShapeKeyIDs   Shape = "key fingerprints"
	ShapeHex      Shape = "hex digest"
)

// ValueKind is what a variable's value shows about it.
type ValueKind int

// Value kinds. Every kind but ValueLiteral shows that the value is not a secret.
const (
	// ValueLiteral is none of the others: it may be a secret.
	ValueLiteral ValueKind = iota
	ValueEmpty
	ValueBool
	ValueNumber
	ValueDuration
	ValuePath
	// ValueURL is a URL without a password, a token-shaped user name, or a secret-named query
	// parameter.
	ValueURL
	// ValueReference is a $VAR or ${VAR} reference (with literal text around it, but no literal
	// ${VAR:-default}): the value comes from elsewhere.
	ValueReference
	// ValuePlaceholder is one character repeated, separators aside (xxxxxxxx,
	// 00000000-0000-0000-0000-000000000000): it carries no secret.
	ValuePlaceholder
)

var valueKindNames = [...]string{"literal", "empty", "boolean", "number", "duration", "file path", "URL without credentials", "reference", "placeholder"}

func (k ValueKind) String() string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return "unknown"
}

// Verdict is a NameRule's judgement on a variable.
type Verdict int

const (
	// NotSecretName: the name does not say the variable holds a secret, or an exception for
	// the name is confirmed by the value.
	NotSecretName Verdict = iota
	// HarmlessValue: the name says secret, but the value shows it holds none (Judgement.Kind
	// says how).
	HarmlessValue
	// LiteralSecret: the name says secret and the value is a literal: refuse it.
	LiteralSecret
)

// Judgement is a NameRule's verdict on one variable.
type Judgement struct {
	Verdict Verdict
	// Kind is the value's kind (for HarmlessValue and LiteralSecret).
	Kind ValueKind
}

// SecretName reports whether name alone — no value known — says the variable holds a secret.
// Exceptions apply by name alone.
func (r *NameRule) SecretName(name string) bool {
	r.init()
	words := r.words(name)
	if len(words) == 0 || r.Exempt(name) {
		return false
	}
	return r.secretWords(words)
}

// Exempt reports whether an exception names the variable: its name says what the value is
// (a version, an identifier, a checksum, a path, a switch…) rather than that it is a secret.
func (r *NameRule) Exempt(name string) bool {
	r.init()
	norm := strings.ToUpper(strings.Join(r.words(name), "_"))
	for i := range r.Exceptions {
		if r.Exceptions[i].names(norm) {
			return true
		}
	}
	return false
}

// Binding reports whether name is the base of a credential binding: a NAME whose NAME_PSW or
// NAME_USR (Bindings) is a variable too, as has reports.
func (r *NameRule) Binding(name string, has func(string) bool) bool {
	for _, suffix := range r.Bindings {
		if has(name + suffix) {
			return true
		}
	}
	return false
}

// JudgeAmong is Judge (JudgeWord when word is set) for a variable among others, as has reports:
// the base of a credential binding (Binding) with a literal value is a LiteralSecret whatever its
// name says.
func (r *NameRule) JudgeAmong(name, value string, word bool, has func(string) bool) Judgement {
	j := r.judge(name, value, word)
	if j.Verdict == NotSecretName && j.Kind == ValueLiteral && r.Binding(name, has) {
		j.Verdict = LiteralSecret
	}
	return j
}

// Judge judges name=value, the value as it is (expanded: a build-arg, a history entry). A '$'
// in it is a literal character.
func (r *NameRule) Judge(name, value string) Judgement {
	return r.judge(name, value, false)
}

// JudgeWord judges name=word, where word is an ARG default or an ENV value as written in a
// Dockerfile: surrounding quotes are dropped, \ escapes a character, and $NAME or ${NAME…} is a
// reference. A value that holds a reference comes from elsewhere (ValueReference), unless a
// ${NAME:-default} default is itself a literal.
func (r *NameRule) JudgeWord(name, word string) Judgement {
	return r.judge(name, word, true)
}

func (r *NameRule) judge(name, value string, word bool) Judgement {
	r.init()
	words := r.words(name)
	if len(words) == 0 {
		return Judgement{}
	}
	kind := r.classify(value, word)
	norm := strings.ToUpper(strings.Join(words, "_"))
	secret := r.secretWords(words)
	for i := range r.Exceptions {
		e := &r.Exceptions[i]
		if !e.names(norm) {
			continue
		}
		if kind == ValueEmpty || kind == ValueReference || e.fits(r, value, word, kind) {
			return Judgement{Verdict: NotSecretName, Kind: kind}
		}
		// The value contradicts the exception's qualifier (API_KEY_FILE=sk_live_…): judge the
		// name without it too.
		secret = secret || len(words) > 1 && r.secretWords(words[:len(words)-1])
		break
	}
	if !secret {
		return Judgement{Verdict: NotSecretName, Kind: kind}
	}
	if kind == ValueLiteral {
		return Judgement{Verdict: LiteralSecret, Kind: kind}
	}
	return Judgement{Verdict: HarmlessValue, Kind: kind}
}

// Classify says what a value (as expanded) shows about itself.
func (r *NameRule) Classify(value string) ValueKind {
	r.init()
	return r.classify(value, false)
}

func (r *NameRule) init() {
	r.once.Do(func() {
		set := func(ws []string) map[string]bool {
			m := make(map[string]bool, len(ws))
			for _, w := range ws {
				m[w] = true
			}
			return m
		}
		r.strong, r.weak, r.modifiers, r.notCompound = set(r.Strong), set(r.Weak), set(r.Modifiers), set(r.NotCompound)
	})
}

// words splits a variable name into lower-case words: at '_', '-', '.', other non-alphanumeric
// characters and camelCase boundaries (apiKey, APIKey). Trailing modifiers are dropped, but
// never the last word.
func (r *NameRule) words(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, c := range rs {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			flush()
			continue
		}
		if i > 0 && unicode.IsUpper(c) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, c)
	}
	flush()
	for len(out) > 1 && r.modifier(out[len(out)-1]) {
		out = out[:len(out)-1]
	}
	return out
}

var versionWord = regexp.MustCompile(`^v?[0-9]+$`)

func (r *NameRule) modifier(w string) bool {
	return r.modifiers[w] || versionWord.MatchString(w)
}

func (r *NameRule) secretWords(words []string) bool {
	head := words[len(words)-1]
	if r.strong[head] || r.weak[head] {
		return true
	}
	for _, w := range words {
		if r.strong[w] {
			return true
		}
		for _, s := range r.Strong {
			if len(w) > len(s)+1 && strings.HasSuffix(w, s) {
				return true
			}
		}
		if w == head && !r.notCompound[w] {
			for _, s := range r.Compound {
				if len(w) > len(s)+1 && strings.HasSuffix(w, s) {
					return true
				}
			}
		}
	}
	return false
}

func (e *NameException) names(norm string) bool {
	return e.Name.MatchString(norm) && (e.Unless == nil || !e.Unless.MatchString(norm))
}

// fits reports whether value has one of the exception's shapes.
func (e *NameException) fits(r *NameRule, value string, word bool, kind ValueKind) bool {
	if word {
		var ref bool
		value, ref, _ = shellWord(value)
		if ref {
			return true
		}
	}
	v := strings.TrimSpace(value)
	for _, s := range e.Shapes {
		switch s {
		case ShapeAny:
			return true
		case ShapeBool:
			if kind == ValueBool || v == "0" || v == "1" {
				return true
			}
		case ShapeNumber:
			if kind == ValueNumber || kind == ValueBool {
				return true
			}
		case ShapeDuration:
			if kind == ValueDuration || kind == ValueNumber {
				return true
			}
		case ShapePath:
			if kind == ValuePath {
				return true
			}
		case ShapeURL:
			if kind == ValueURL || (kind == ValueLiteral && hostName.MatchString(v)) {
				return true
			}
		case ShapeWord:
			if kind != ValueLiteral || (plainWord.MatchString(v) && !randomLooking(v)) {
				return true
			}
		case ShapeID:
			if kind != ValueLiteral || identifier.MatchString(v) {
				return true
			}
		case ShapeKeyIDs:
			if keyIDs.MatchString(v) {
				return true
			}
		case ShapeHex:
			if hexDigest.MatchString(v) {
				return true
			}
		}
	}
	return false
}

var (
	plainWord  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@_/+,-]{0,63}$`)
	identifier = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,255}$`)
	keyIDs     = regexp.MustCompile(`^(?:0[xX])?[0-9A-Fa-f]{8,40}(?:[\s,;]+(?:0[xX])?[0-9A-Fa-f]{8,40})*$`)
	hexDigest  = regexp.MustCompile(`^(?:[a-z0-9]+:)?[0-9A-Fa-f]{16,128}$`)
	hostName   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}(?::[0-9]{1,5})?$`)
)

// classify says what value shows about itself; word marks a Dockerfile word (quotes, escapes
// and references).
func (r *NameRule) classify(value string, word bool) ValueKind {
	literal := false // a '$' that a Dockerfile word escaped or quoted is a character
	if word {
		lit, ref, defaults := shellWord(value)
		if ref {
			for _, d := range defaults {
				if r.classify(d, false) == ValueLiteral {
					return ValueLiteral
				}
			}
			return ValueReference
		}
		value, literal = lit, true
	}
	v := strings.TrimSpace(value)
	switch {
	case v == "":
		return ValueEmpty
	case !literal && soleRef.MatchString(v):
		return ValueReference
	case boolWord[strings.ToLower(v)]:
		return ValueBool
	case number.MatchString(v):
		return ValueNumber
	case duration.MatchString(v) || isoDuration.MatchString(v) && len(v) > 1:
		return ValueDuration
	case isPathList(v):
		return ValuePath
	case repeated(v):
		return ValuePlaceholder
	}
	if k, ok := r.classifyURL(v); ok {
		return k
	}
	return ValueLiteral
}

var (
	boolWord = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
		"y": true, "n": true, "enabled": true, "disabled": true, "enable": true, "disable": true}
	// number: at most 10 integer digits (a limit, a port, a size), optionally a fraction and a
	// size unit or percent. Longer digit strings may be PINs or account numbers.
	number      = regexp.MustCompile(`^[+-]?[0-9]{1,10}(?:\.[0-9]+)?(?:[kKmMgGtTpP][iI]?[bB]?|[bB]|%)?$`)
	duration    = regexp.MustCompile(`^(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+$`)
	isoDuration = regexp.MustCompile(`^P(?:[0-9]+[YMWD])*(?:T(?:[0-9]+(?:\.[0-9]+)?[HMS])+)?$`)
	pathStart   = regexp.MustCompile(`^(?:/|\./|\.\./|~/|[A-Za-z]:[\\/])`)
	windowsPath = regexp.MustCompile(`^[A-Za-z]:[\\/]`)
	soleRef     = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})$`)
	pathChars   = regexp.MustCompile(`^[^\s"'<>|*?]+$`)
	fileName    = regexp.MustCompile(`(?i)^[A-Za-z0-9_][A-Za-z0-9._-]*\.(?:key|pem|crt|cer|der|csr|p8|p12|pfx|jks|keystore|truststore|json|ya?ml|toml|txt|conf|cfg|ini|env|properties|asc|gpg|pgp|pub|sock|db|sqlite|htpasswd|netrc|npmrc)$`)
)

// isPathList reports whether v is a file path, a bare file name with a known extension, or a
// list of paths joined by ':' or ','. A segment that looks random (a base64 key starting with
// '/') is not a path.
func isPathList(v string) bool {
	if fileName.MatchString(v) {
		return true
	}
	if !pathStart.MatchString(v) || !pathChars.MatchString(v) {
		return false
	}
	paths := []string{v}
	if !windowsPath.MatchString(v) {
		paths = strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ',' })
	}
	for _, p := range paths {
		if !pathStart.MatchString(p) {
			return false
		}
		for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
			if randomLooking(seg) {
				return false
			}
		}
	}
	return true
}

// classifyURL returns ValueURL for a URL without credentials, ValueLiteral for one that holds
// them (a password, a token-shaped user name, a secret-named query parameter), and false when
// v is not a URL.
func (r *NameRule) classifyURL(v string) (ValueKind, bool) {
	i := strings.Index(v, "://")
	if i <= 0 || strings.ContainsAny(v, " \t\n") {
		return 0, false
	}
	for j, c := range v[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')) {
			return 0, false
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return ValueLiteral, true
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok || randomLooking(u.User.Username()) {
			return ValueLiteral, true
		}
	}
	for k, vs := range u.Query() {
		if !r.SecretName(k) {
			continue
		}
		for _, qv := range vs {
			if qv != "" && !strings.HasPrefix(qv, "$") {
				return ValueLiteral, true
			}
		}
	}
	return ValueURL, true
}

// repeated reports whether v is one character repeated at least three times, separators
// (-_.:/ and spaces) aside.
func repeated(v string) bool {
	var first rune
	n := 0
	for _, c := range v {
		if strings.ContainsRune("-_.:/ ", c) {
			continue
		}
		if n == 0 {
			first = c
		} else if c != first {
			return false
		}
		n++
	}
	return n >= 3
}

// randomLooking reports whether s looks like generated key material rather than a word: at
// least 16 characters, with upper and lower case letters and digits, or with letters, digits
// and high entropy.
func randomLooking(s string) bool {
	if len(s) < 16 {
		return false
	}
	var upper, lower, digit bool
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	if upper && lower && digit {
		return true
	}
	return digit && (upper || lower) && entropy(s) >= 3.7
}

// shellWord reads a Dockerfile word as BuildKit's shell lexer would, without an environment:
// it returns the literal text (quotes dropped, escapes applied, references removed), whether it
// held a reference, and the literal defaults of ${NAME:-default}, ${NAME-default},
// ${NAME:=default} and ${NAME:+alternative} forms.
func shellWord(w string) (lit string, ref bool, defaults []string) {
	var b strings.Builder
	var quote rune
	rs := []rune(w)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && quote != '\'' && i+1 < len(rs):
			i++
			b.WriteRune(rs[i])
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case c == quote:
			quote = 0
		case c == '$' && quote != '\'' && i+1 < len(rs):
			n, isRef, def := reference(rs[i+1:])
			if !isRef {
				b.WriteRune(c)
				continue
			}
			ref = true
			if def != "" {
				d, _, dd := shellWord(def)
				defaults = append(defaults, d)
				defaults = append(defaults, dd...)
			}
			i += n
		default:
			b.WriteRune(c)
		}
	}
	return b.String(), ref, defaults
}

// reference parses what follows a '$': NAME or {…}. It returns how many runes it used, whether
// it is a reference, and the default or alternative text of ${NAME:-x} forms.
func reference(rs []rune) (n int, ok bool, def string) {
	isName := func(c rune, first bool) bool {
		return c == '_' || unicode.IsLetter(c) || !first && unicode.IsDigit(c)
	}
	if rs[0] != '{' {
		for n < len(rs) && isName(rs[n], n == 0) {
			n++
		}
		return n, n > 0, ""
	}
	depth := 0
	for i, c := range rs {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				body := string(rs[1:i])
				j := 0
				for j < len(body) && isName(rune(body[j]), j == 0) {
					j++
				}
				if j == 0 {
					return i + 1, false, ""
				}
				rest := body[j:]
				for _, op := range []string{":-", ":=", ":+", "-", "=", "+"} {
					if strings.HasPrefix(rest, op) {
						return i + 1, true, rest[len(op):]
					}
				}
				return i + 1, true, ""
			}
		}
	}
	return 0, false, ""
}

// exception builds a NameException from a regular expression over normalized names.
func exception(name, unless string, why string, shapes []Shape, match, noMatch []string) NameException {
	e := NameException{Name: regexp.MustCompile(name), Shapes: shapes, Why: why, Match: match, NoMatch: noMatch}
	if unless != "" {
		e.Unless = regexp.MustCompile(unless)
	}
	return e
}

// SecretVarName is safebuild's secret-name rule. It widens BuildKit's SecretsUsedInArgOrEnv
// vocabulary to the CI systems safebuild supports (Jenkins binds a username/password credential
// as NAME_USR and NAME_PSW; GitLab's CI_JOB_TOKEN, CI_REGISTRY_PASSWORD; GitHub's GITHUB_TOKEN;
// Buildkite's BUILDKITE_AGENT_ACCESS_TOKEN; Azure's SYSTEM_ACCESSTOKEN) and judges the value
// with the name, so that a path, a flag or a reference is not refused.
var SecretVarName = &NameRule{
	ID:          "secret-named-variable",
	Description: "A variable whose name says it holds a secret has a literal value: ARG, ENV and build-arg values are recorded in the image config and history",
	URL:         "https://github.com/safebuild/safebuild/blob/main/docs/dockerfile-rules.md#secret-named-variable",
	Confidence:  ConfidenceMedium,
	Strong: []string{"password", "passwords", "passwd", "psw", "pword", "passphrase", "secret", "secrets",
		"token", "tokens", "credential", "credentials", "creds", "apikey", "apikeys", "accesskey", "secretkey",
		"privatekey", "accesstoken", "authtoken", "clientsecret"},
	Bindings:    []string{"_PSW", "_USR"},
	Weak:        []string{"key", "keys", "auth", "pass", "pwd", "pat", "jwt"},
	Compound:    []string{"pass", "pwd"},
	NotCompound: []string{"bypass", "compass", "overpass", "underpass", "surpass", "trespass", "askpass", "sshpass", "impass"},
	Modifiers:   []string{"prod", "production", "dev", "development", "staging", "stage", "test", "ci", "old", "new", "current", "previous", "next", "primary", "secondary", "backup", "default", "raw", "b64", "base64", "encoded", "value", "val", "str", "string", "data"},
	Exceptions: []NameException{
		exception(`(?:^|_)(?:USR|USER|USERNAME|LOGIN|EMAIL)$`, "",
			"a user name: Jenkins binds a username/password credential as NAME_USR and NAME_PSW", []Shape{ShapeAny},
			[]string{"NEXUS_USR=ci-deployer", "DOCKER_AUTH_USER=deploy", "DB_PASSWORD_USERNAME=admin"}, nil),
		exception(`^(?:PWD|OLDPWD)$`, "", "the shell's working directory", []Shape{ShapePath},
			[]string{"PWD=/app"}, []string{"PWD=hunter2hunter2"}),
		exception(`(?:^|_)(?:PUBLIC|PUBLISHABLE|PUB)(?:_|$)`, "", "a public or publishable key, meant to be seen", []Shape{ShapeAny},
			[]string{"PUBLIC_KEY=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvQ3", "STRIPE_PUBLISHABLE_KEY=pk_live_51H", "SSH_KEY_PUB=ssh-rsa AAAA"}, nil),
		exception(`(?:^|_)(?:ENABLED|ENABLE|DISABLED|DISABLE|REQUIRED|REQUIRE|ALLOWED|ALLOW|SKIP|FORCE|STRICT|INSECURE|VERIFY|DEBUG|ONLY)$`, "",
			"a switch", []Shape{ShapeBool},
			[]string{"AUTH_ENABLED=true", "PASSWORD_RESET_DISABLED=no", "TOKEN_VERIFY=1"}, []string{"AUTH_ENABLED=hunter2hunter2", "TOKEN_REQUIRED=hunter2hunter2"}),
		exception(`(?:^|_)(?:LENGTH|LEN|SIZE|BITS|COUNT|MIN|MAX|LIMIT|ATTEMPTS|RETRIES|PORT|ROUNDS|ITERATIONS|COST|WORKERS|THRESHOLD)$`, "",
			"a limit or a size", []Shape{ShapeNumber},
			[]string{"PASSWORD_MIN_LENGTH=12", "KEY_SIZE=4096", "AUTH_MAX_ATTEMPTS=5"}, []string{"PASSWORD_MIN_LENGTH=twelve-chars!"}),
		exception(`(?:^|_)(?:TTL|TIMEOUT|EXPIRY|EXPIRES|EXPIRATION|EXPIRE|LIFETIME|INTERVAL|AGE|DURATION|VALIDITY|DAYS|HOURS|SECONDS|MINUTES|LEEWAY)$`, "",
			"a duration", []Shape{ShapeDuration},
			[]string{"TOKEN_TTL=1h", "JWT_EXPIRY=3600", "SESSION_SECRET_MAX_AGE=P30D"}, []string{"TOKEN_TTL=9f8e7d6c5b4a39281706f5e4"}),
		exception(`(?:^|_)(?:PATH|PATHS|FILE|FILES|FILENAME|DIR|DIRECTORY|FOLDER|LOCATION|MOUNT|SOCK|SOCKET)$`, "",
			"where a secret is read from at run time, not the secret", []Shape{ShapePath},
			[]string{"TOKEN_PATH=/run/secrets/token", "SSH_AUTH_SOCK=/ssh-agent", "KEY_FILE=server.key"}, []string{"API_KEY_FILE=sk_live_0123456789abcdef"}),
		exception(`(?:^|_)(?:URL|URI|URLS|ENDPOINT|HOST|HOSTNAME|SERVER|ADDR|ADDRESS|DOMAIN|ISSUER|AUDIENCE|REALM|ORIGIN|REDIRECT|CALLBACK|PROXY)$`, "",
			"where a secret is served from", []Shape{ShapeURL},
			[]string{"TOKEN_URL=https://auth.example.com/oauth/token", "VAULT_TOKEN_HOST=vault.example.com:8200"},
			[]string{"TOKEN_URL=https://deploy:hunter2@auth.example.com", "TOKEN_ENDPOINT=hunter2hunter2"}),
		exception(`(?:^|_)(?:ID|IDS|KEYID|KID|FINGERPRINT|THUMBPRINT|ARN|OCID)$`, `(?:^|_)SECRET_IDS?$`,
			"names a key or a client, which is not the secret (a Vault AppRole SECRET_ID is)", []Shape{ShapeID},
			[]string{"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "OAUTH_CLIENT_ID=0oa1b2c3d4e5f6g7h8i9", "KMS_KEY_ARN=arn:aws:kms:eu-west-1:111122223333:key/1234abcd"},
			[]string{"VAULT_SECRET_ID=6a7f0c4e-58d2-4b1a-9f3e-2c1d0b9a8e7f", "TOKEN_ID=o6%vS5PoNQ3eLUm8#Sxf!X"}),
		exception(`(?:^|_)(?:TYPE|KIND|ALGORITHM|ALGORITHMS|ALG|MODE|METHOD|METHODS|SCHEME|STRATEGY|PROVIDER|PROVIDERS|BACKEND|FORMAT|HEADER|NAME|NAMES|VERSION|REGION|POLICY|ENGINE|SCOPE|SCOPES|ROLE|ROLES|LEVEL|PREFIX|FIELD|PARAM|CLASS|PLUGIN|SERVICE|MANAGER|HELPER|STORE|TOOL|CHARSET|ENCODING)$`, "",
			"a setting about secrets, not a secret", []Shape{ShapeWord},
			[]string{"AUTH_TYPE=oauth2", "JWT_ALGORITHM=RS256", "POSTGRES_HOST_AUTH_METHOD=trust", "SECRET_NAME=prod/db", "GIT_CREDENTIAL_HELPER=store", "TOKEN_HEADER=Authorization"},
			[]string{"TOKEN_HEADER=Bearer 0123456789abcdef", "SECRET_NAME=o6%vS5PoNQ3eLUm8#Sxf!X", "TOKEN_TYPE=Zq7pRfW2nXs9LkT4yVb8HcM1"}),
		exception(`(?:^|_)(?:CACHE|SORT|PRIMARY|PARTITION|ROUTING|LOOKUP|MAP|INDEX|SHARD|HASH|FOREIGN|UNIQUE|COMPOSITE|ROW|GROUP|DEDUP|IDEMPOTENCY)_KEYS?$`, "",
			"a key in the data-structure sense", []Shape{ShapeWord},
			[]string{"CACHE_KEY=v1-deps", "PARTITION_KEY=tenant_id"}, []string{"CACHE_KEY=o6%vS5PoNQ3eLUm8#Sxf!X"}),
		exception(`(?:^|_)(?:GPG|PGP|GNUPG|SIGNING)_KEYS?$`, "",
			"the fingerprints of the keys that sign a download (official images' GPG_KEY)", []Shape{ShapeKeyIDs},
			[]string{"GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", "GPG_KEYS=B42F6819007F00F88E364FD4036A9C25BF357DD4 7937DFD2AB06298B2293C3187D33FF9D0246406D"},
			[]string{"GPG_KEY=-----BEGIN PGP PRIVATE KEY BLOCK-----"}),
		exception(`(?:^|_)(?:SHA|SHA1|SHA256|SHA512|CHECKSUM|DIGEST|SUM)$`, "",
			"a checksum of a download", []Shape{ShapeHex},
			[]string{"KEYCLOAK_TOKEN_SHA256=3f2a5c0e9b8d7f6e5d4c3b2a19081726354453627180a9b8c7d6e5f4a3b2c1d0"}, nil),
	},
	Match: []string{"GITHUB_TOKEN", "API_KEY", "aws_secret_access_key", "DB_PASSWORD", "NPM_AUTH", "TOKEN", "apikey", "CREDENTIALS",
		"NEXUS_PSW", "MYSQL_ROOT_PASSWD", "DB_PWD", "GCP_CREDENTIALS", "AWS_SECRET_ACCESS_KEY", "GPG_PRIVATE_KEY", "SMTP_PASS",
		"CI_JOB_TOKEN", "CI_JOB_JWT_V2", "CI_REGISTRY_PASSWORD", "BUILDKITE_AGENT_ACCESS_TOKEN", "SYSTEM_ACCESSTOKEN", "GH_PAT",
		"githubToken", "npmAuthToken", "GITHUBTOKEN", "GITHUB_TOKEN_PROD", "SECRET_KEY_BASE", "DOCKER_CREDS", "SSH_PASSPHRASE",
		"VAULT_SECRET_ID", "ARTIFACTORY_APIKEY", "LDAP_ROOTPASS", "MYSQL_ROOTPWD"},
	NoMatch: []string{"PUBLIC_KEY", "KEY_FILE", "TOKEN_PATH", "GO_VERSION", "TOKENIZER", "MONKEY", "AUTHOR", "NODE_ENV", "SSH_KEY_PATH",
		"NEXUS_USR", "PWD", "AUTH_ENABLED", "PASSWORD_MIN_LENGTH", "AWS_ACCESS_KEY_ID", "KEY_SERVICE_ADDR", "AUTH0_DOMAIN",
		"TOKENIZERS_PARALLELISM", "KEYCLOAK_VERSION", "GIT_ASKPASS", "SSH_AUTH_SOCK", "AUTH_SERVICE", "PASSWORD_POLICY",
		"PROXY_BYPASS", "COMPASS", "PASSPORT_STRATEGY", "ROOTPASS_FILE"},
	Secret: []string{"NEXUS_PSW=o6%vS5PoNQ3eLUm8#Sxf!X", "API_TOKEN=abc123", "DB_PASSWORD=hunter2", "AUTH_SERVICE_TOKEN=sk-test",
		"DATABASE_PASSWORD=pa$$word", "GITHUB_TOKEN=ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d", "REGISTRY_AUTH=dXNlcjpwYXNz",
		"TOKEN=/K7MDENGbPxRfiCYEXAMPLEKEYwJalrXUtnFEMI", "NPM_TOKEN=https://npm.example.com/?token=abc", "GIT_CREDENTIALS=https://deploy:hunter2@git.example.com",
		"GITHUB_TOKEN=12345678901234567890", "SIGNING_KEY=-----BEGIN PRIVATE KEY-----"},
	NotSecret: []string{"SSL_CERT_KEY=/usr/local/apache2/conf/server.key", "PROXY_SSL_CERT_KEY=/usr/local/apache2/conf/proxy.key",
		"API_TOKEN=", "API_TOKEN=  ", "AUTH_REQUIRED=false", "PASSWORD_LENGTH=12", "TOKEN_REFRESH=30m", "SESSION_SECRET_ROTATION=P1D",
		"GOOGLE_APPLICATION_CREDENTIALS=/run/secrets/gcp.json", "NPM_TOKEN=$NPM_TOKEN", "REGISTRY_PASSWORD=https://registry.example.com/",
		"KEYS_DIR=./keys", "SECRET_KEY=C:\\secrets\\app.key", "API_KEY=42", "SECRETS=off", "PWD=/", "NODE_AUTH_TOKEN=0.5",
		"TOKEN=00000000-0000-0000-0000-000000000000", "API_KEY=xxxxxxxxxxxx", "DB_PASSWORD=********"},
	WordSecret: []string{`NPM_TOKEN="npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"`, `API_KEY='abc$def'`, `DB_PASSWORD=${DB_PASSWORD:-changeme}`,
		`TOKEN=\$HOME`},
	WordNotSecret: []string{`NPM_TOKEN=$NPM_TOKEN`, `NPM_TOKEN=${NPM_TOKEN}`, `AUTH_HEADER="Bearer ${TOKEN}"`, `API_TOKEN=""`, `API_TOKEN=''`,
		`NETRC_PASSWORD="${HOME}/.netrc"`, `DB_PASSWORD=${DB_PASSWORD:-}`, `GIT_TOKEN=$USER:$PASS`, `SSL_CERT_KEY="/etc/ssl/private/server.key"`},
}

// VarFinding is the finding for a variable judged LiteralSecret: name=value found at line and
// column (1-based, of the value) in origin, under ruleID. It holds no part of the value — a
// password has no type prefix worth showing — only its hash, in the fingerprint.
func VarFinding(ruleID, description string, o Origin, line, col int, name, value string) Finding {
	h := sha256Hex([]byte(value))
	return Finding{
		RuleID:       ruleID,
		Description:  description,
		Origin:       o,
		Line:         line,
		Column:       col,
		Redacted:     name + "=*****",
		Entropy:      entropy(value),
		Severity:     SeverityHigh,
		Confidence:   SecretVarName.Confidence,
		Tags:         []string{"name-and-value"},
		SecretSHA256: h,
		Fingerprint:  fingerprint(ruleID, o, h),
	}
}
