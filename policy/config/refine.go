package config

// A dot import: builtin.go and refine.go moved here whole from policy/ while other work edits
// their rule data, so they still name policy's types unqualified. Qualify them (policy.Rule)
// once that work is merged, and drop the dot.
import . "github.com/safebuild/safebuild/policy"

// Refinement is safebuild's precision change to one of gitleaks' default rules: allowlists added
// next to the rule when the defaults are loaded, as a user's config would add them with
// [extend] — never an edit of gitleaks' config text. Matches are samples the refined rule must
// still fire on; NonMatches are samples gitleaks' rule fires on that the refined rule must not.
// Both are checked by this package's tests, the NonMatches also against gitleaks itself, and
// every gitleaks rule's generated samples must give gitleaks' result still
// (TestEveryGitleaksRuleSamples): a refinement drops what is not a credential, not what
// gitleaks' own samples call one.
type Refinement struct {
	RuleID              string
	Allowlists          []Allowlist
	Matches, NonMatches []Sample
}

// placeholderRuns are five-character runs of ascending digits or letters: "12345", "abcde",
// "1234567890abcdef" in a value is a hand-made example, not a generated secret (a random
// base-62 secret holds such a run with odds of about one in a million per position).
const placeholderRuns = `(?i)(?:01234|12345|23456|34567|45678|56789|67890|abcde|bcdef|cdefg|defgh|efghi|fghij|ghijk|hijkl|ijklm|jklmn|klmno|lmnop|mnopq|nopqr|opqrs|pqrst|qrstu|rstuv|stuvw|tuvwx|uvwxy|vwxyz)`

// testPaths matches test code and test data by the conventions of Go, Python, JavaScript and
// Ruby: testdata/, test/, tests/, __tests__/, spec/, fixtures/, *_test.go, test_*.py,
// *_test.py, *.test.js, *.spec.ts.
const testPaths = `(?i)(?:^|/)(?:testdata|tests?|__tests__|spec|fixtures?)/|_test\.(?:go|py)$|(?:^|/)test_[^/]*\.py$|\.(?:test|spec)\.[cm]?[jt]sx?$`

// GitleaksRefinements returns the refinements DefaultRules applies to gitleaks' rules.
func GitleaksRefinements() []Refinement {
	return []Refinement{{
		RuleID: "private-key",
		Allowlists: []Allowlist{{
			Description: "code and documentation, not a key: a second header inside the match (code that tells key formats apart), or a placeholder body (<your private key data>, <base64-encoded …>)",
			RegexTarget: TargetMatch,
			Regexes: []string{
				`-----BEGIN[\s\S]*-----BEGIN`,
				`(?i)<[^<>\n]{0,40}\b(?:your|private[ _-]?key|base64|key[ _-]?data)\b[^<>\n]{0,40}>`,
			},
		}},
		Matches: []Sample{
			{Content: "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----"},
		},
		NonMatches: []Sample{
			{Content: "if header == '-----BEGIN OPENSSH PRIVATE KEY-----':\n        return 'SSH'\n    elif header == '-----BEGIN PRIVATE KEY-----':\n        return 'PKCS8'\n    elif header == '-----BEGIN RSA PRIVATE KEY-----':\n"},
			{Content: "#   private_key: |\n      #     -----BEGIN EC PRIVATE KEY-----\n      #     <your private key data>\n      #     -----END EC PRIVATE KEY-----\n"},
			{Content: "var header = '-----BEGIN PRIVATE KEY-----';\nout = '-----BEGIN RSA PRIVATE KEY-----\\r\\n' + body + '-----END RSA PRIVATE KEY-----\\r\\n';\n"},
		},
	}, {
		RuleID: "generic-api-key",
		Allowlists: []Allowlist{
			{
				Description: "identifiers, not secrets: a UUID (a key ID, client ID, tenant ID; providers whose secrets are UUIDs have rules of their own), optionally after a short prefix (T-…)",
				Regexes:     []string{`(?i)^(?:[a-z]{1,8}[-_])?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`},
			},
			{
				Description: "hand-made examples: runs such as 12345 or abcde, or an ellipsis (9cbaf023786cd7...)",
				Regexes:     []string{placeholderRuns, `\.\.\.`},
			},
			{
				Description: "fields that name or page, not authenticate: a secret's ID, a key store's ID, a key's serial number, a pagination token (NextToken), a result key",
				RegexTarget: TargetMatch,
				Regexes:     []string{`(?i)(?:secret[_.-]?id|key[_.-]?store[_.-]?id|key[_.-]?serial[_.-]?number|next[_.-]?(?:continuation[_.-]?)?token|pagination[_.-]?token|result[_.-]?key)\b`},
			},
			{
				Description: "test code and fixtures: a keyword near a value there is a test vector (key: \"a831…\" in vectors_test.go) or a fixture; provider-specific rules still run on these files",
				Paths:       []string{testPaths},
			},
			{
				Description: "OpenPGP key fingerprints and IDs (ENV GPG_KEY=… in official images' Dockerfiles): public",
				RegexTarget: TargetMatch,
				Regexes:     []string{`(?i)(?:gpg|pgp)[_.-]?keys?\b`},
			},
			{
				Description: "names made of words (code, prose) and base64 of readable text, as SecretFilters read them",
				Filters:     []string{"identifier", "base64-text"},
			},
		},
		Matches: []Sample{
			{Content: `api_key = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2"`},
			{Content: `client_secret: "d-FL95Q19q7MQmFpd7hHD0Ty"`},
			{Content: `DB_PASSWORD=S4per-secret-passw0rd-x9`},
			{Content: `auth_token = "5eb86c9196ab03919abcf03857163741"`},
			{Path: "app/config/settings.py", Content: `token = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2"`},
			{Path: "app/contest/config.js", Content: `const apiKey = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2";`},
		},
		NonMatches: []Sample{
			{Content: `api_token: e31060a7-21fc-e277-6240-25983c6c4592`},
			{Content: `api_token: T-55a68eb5-c785-4720-a2ca-8b03903bf641`},
			{Content: `"SecretToken": "1234abcd-12ab-34cd-56ef-1234567890ab",`},
			{Content: `utm_token: abcdefghijklmno1234`},
			{Content: `"IdentityToken": "9cbaf023786cd7..."`},
			{Content: `ENV GOSU_GPG_KEY=B42F6819007F00F88E364FD4036A9C25BF357DD4`},
			{Content: `authtype: "v4-unsigned-body"`},
			{Content: `password := "this_is_Thirty_2_characters_wow_"`},
			{Content: `raw_key: SGVsbG8gZnJvbSBHb29nbGUgQ2xvdWQgUGxhdGZvcm0=`},
			{Content: `SecretID: "fpjqlhnwb19zds35k8wn80lq9"`},
			{Content: `"NextToken": "U2FsdGVkX1+eNkPoZHVl11ip5HUYQPWSWZGmftcmJiHL8JoKEs"`},
			{Path: "chacha20/vectors_test.go", Content: `key: "a8317a9d3c8f1d0e2b6f7a5c4e3d2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0",`},
			{Path: "tests/unit/test_client.py", Content: `token = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2"`},
			{Path: "src/__tests__/auth.test.ts", Content: `const apiKey = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2";`},
		},
	}}
}

// refine adds each refinement's allowlists to its rule in rules.
func refine(rules []Rule, refs []Refinement) {
	for _, ref := range refs {
		for i := range rules {
			if rules[i].ID == ref.RuleID {
				rules[i].Allowlists = append(append([]Allowlist(nil), rules[i].Allowlists...), ref.Allowlists...)
			}
		}
	}
}
