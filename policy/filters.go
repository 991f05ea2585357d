package policy

import (
	"encoding/base64"
	"strings"
	"unicode"
)

// SecretFilter is a named test of a secret that a regex cannot express, used by allowlists
// (Allowlist.Filters, `filters = [...]` in a TOML allowlist): a secret it matches is not a
// credential. Each has samples it matches and samples it does not, checked by this package's
// tests.
type SecretFilter struct {
	// Name is what allowlists refer to it by.
	Name string
	// Description says what the filter recognises, and why that is not a credential.
	Description string
	// Match reports whether secret is of the filtered kind.
	Match func(secret []byte) bool
	// Matches and NonMatches are secrets it must and must not match.
	Matches, NonMatches []string
}

// SecretFilters returns the filters allowlists may name, by name.
func SecretFilters() map[string]SecretFilter {
	out := map[string]SecretFilter{}
	for _, f := range secretFilters {
		out[f.Name] = f
	}
	return out
}

// filterNames lists the filters' names, in declaration order.
func filterNames() []string {
	names := make([]string, len(secretFilters))
	for i, f := range secretFilters {
		names[i] = f.Name
	}
	return names
}

var secretFilters = []SecretFilter{
	{
		Name: "identifier",
		Description: "a name made of words, as code names and prose are (handleCertificateVerify, v4-unsigned-body, " +
			"this_is_Thirty_2_characters): at least two words of four or more letters that read as words (vowels, no " +
			"run of four consonants) make most of it. A random secret of any length almost never splits so.",
		Match: isIdentifier,
		Matches: []string{"handleCertificateVerify", "v4-unsigned-body", "this_is_Thirty_2_characters_wow_",
			"self.icinga2_url", "PrivateKeyAttributesV4", "is_mixin_scan=True"},
		NonMatches: []string{"j4JyCYfefWHhgFgiZUqRm63AXHNZQyPGBfJtAzmN", "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2", "kX9mQ2vLp7wZ",
			"5eb86c9196ab03919abcf03857163741", "S3cr3tP4ssw0rd", "deploy:S3cr3tP4ss", "conta1n3rize14"},
	},
	{
		Name: "base64-text",
		Description: "base64 (either alphabet, padded or not) of readable text: prose with spaces, or words as the " +
			"identifier filter reads them (\"Hello from Google Cloud Platform\", \"user:password\", \"mysteriousPaginationToken\"). " +
			"Documentation examples are written so; the base64 of a real token or of a random password is not.",
		Match: isBase64Text,
		Matches: []string{"SGVsbG8gZnJvbSBHb29nbGUgQ2xvdWQgUGxhdGZvcm0=", "dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNz",
			"bXlzdGVyaW91c1BhZ2luYXRpb25Ub2tlbg==", "QXp1cmVEaWFtb25kOmh1bnRlcjI="},
		NonMatches: []string{
			"ZGVwbG95OlM0cGVyLXNlY3JldC1wYXNzd29yZA==",                     // deploy:S4per-secret-password: a password that is not words alone
			"Ym90OmdocF9hQjNjRDVlRjdnSDlpSjFrTDNtTjVvUDdxUjlzVDF1VjN3WA==", // bot:ghp_…
			"Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2", "dGhl"},
	},
}

// minWordLen is the length from which a run of letters counts as a word.
const minWordLen = 4

// isIdentifier reports whether s reads as a name made of words (see the "identifier" filter).
func isIdentifier(s []byte) bool {
	if len(s) == 0 || leet(string(s)) {
		return false
	}
	var long, short, wordLetters int
	for _, w := range camelWords(string(s)) {
		if len(w) < minWordLen {
			short++
			continue
		}
		if !wordlike(w) {
			return false
		}
		long++
		wordLetters += len(w)
	}
	if long < 2 || short > long || wordLetters*10 < len(s)*6 {
		return false
	}
	// A long run of digits is a number, an ID or a key, not part of a name.
	digits := 0
	for _, c := range s {
		if '0' <= c && c <= '9' {
			if digits++; digits >= 5 {
				return false
			}
		} else {
			digits = 0
		}
	}
	return true
}

// camelWords splits s into runs of letters, and each run at camel-case boundaries:
// "handleTLSVerify2" gives handle, TLS, Verify.
func camelWords(s string) []string {
	var out []string
	rs := []rune(s)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			out = append(out, string(rs[start:end]))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) || r > unicode.MaxASCII {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		switch {
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i) // handle|Verify
			start = i
		case unicode.IsLower(r) && unicode.IsUpper(prev) && i-1 > start:
			flush(i - 1) // TLS|Verify
			start = i - 1
		}
	}
	flush(len(rs))
	return out
}

// wordlike reports whether a run of letters reads as a word: a quarter or more vowels (y
// counted) and no run of four consonants.
func wordlike(w string) bool {
	vowels, run := 0, 0
	for _, r := range strings.ToLower(w) {
		if strings.ContainsRune("aeiouy", r) {
			vowels++
			run = 0
			continue
		}
		if run++; run >= 4 {
			return false
		}
	}
	return vowels*4 >= len(w)
}

// isBase64Text reports whether s is base64 of readable text (see the "base64-text" filter).
func isBase64Text(s []byte) bool {
	t := strings.TrimRight(string(s), "=")
	if len(t) < 8 {
		return false
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(t, "-_") {
		enc = base64.RawURLEncoding
	}
	dec, err := enc.DecodeString(t)
	if err != nil || len(dec) == 0 {
		return false
	}
	dec = []byte(strings.TrimRight(string(dec), "\r\n"))
	for _, c := range dec {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	letters, spaces := 0, 0
	for _, c := range dec {
		switch {
		case c == ' ':
			spaces++
		case 'a' <= c|0x20 && c|0x20 <= 'z':
			letters++
		}
	}
	if spaces > 0 && letters*10 >= len(dec)*6 {
		return true
	}
	// user:password and other word pairs: every part a name made of words.
	for _, part := range strings.FieldsFunc(string(dec), func(r rune) bool { return r == ':' || r == '@' }) {
		if !isWords(part) {
			return false
		}
	}
	return true
}

// isWords reports whether s is one or more words (as the identifier filter reads them) and
// little else: "password", "AzureDiamond", "hunter2", "user".
func isWords(s string) bool {
	if leet(s) {
		return false
	}
	letters := 0
	for _, w := range camelWords(s) {
		if len(w) >= minWordLen && !wordlike(w) {
			return false
		}
		letters += len(w)
	}
	return letters >= 3 && letters*10 >= len(s)*7
}

// leet reports whether a digit stands between two letters ("S4per", "p4ssw0rd"): passwords are
// written so, names and prose are not.
func leet(s string) bool {
	isLetter := func(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
	for i := 1; i+1 < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' && isLetter(s[i-1]) {
			j := i + 1
			for j < len(s) && '0' <= s[j] && s[j] <= '9' {
				j++
			}
			if j < len(s) && isLetter(s[j]) {
				return true
			}
		}
	}
	return false
}
