package config

// A dot import: builtin.go and refine.go moved here whole from policy/ while other work edits
// their rule data, so they still name policy's types unqualified. Qualify them (policy.Rule)
// once that work is merged, and drop the dot.
import . "github.com/safebuild/safebuild/policy"

// Build-specific rules: the credentials that end up in container images because a build needed
// them (package-manager auth, registry auth, cloud CLI files, git remotes, Vault tokens) and key
// files recognised by name. They complement gitleaks' default rules; rules marked Fallback yield
// to any other rule that finds the same secret on the same line.

// keyHeader matches the header of any PEM, OpenSSH or PGP private key.
const keyHeader = `-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`

// keyMaterial is what must follow keyHeader for a key to be there: line breaks (raw, or escaped
// as in JSON and YAML strings) and the indentation or quote marks of an embedded key (YAML
// blocks, "> " in transcripts, "# " in comments), optional PEM headers (Proc-Type, DEK-Info, Version), then a
// base64 run of 16 or more characters, or base64 lines up to the END line. A header alone is a
// string in code or documentation.
const keyMaterial = `(?:[\s>#]|\\[rn]){1,40}(?:[A-Za-z][\w-]{0,30}: [^\n\\]{0,100}(?:[\s>#]|\\[rn]){1,40}){0,4}(?:[A-Za-z0-9+/=]{16}|(?:[A-Za-z0-9+/=]{1,64}(?:[\s>#]|\\[rn]){1,40}){1,8}-----END)`

// b64Begin is "-----BEGIN" and b64Private is "PRIVATE KEY", base64-encoded at each of the three
// byte offsets a base64 stream can start at (only the characters that do not depend on the
// neighbouring bytes).
const (
	b64Begin   = `(?:LS0tLS1CRUdJ|LS0tQkVH|LS0tLUJFR0lO)`
	b64Private = `(?:UFJJVkFURSBL|SVZBVEUgS0VZ|UklWQVRFIEtF)`
)

// placeholder matches secrets that are obviously not real: template variables, masks, "password".
const placeholder = `(?i)^(?:pass(?:word|wd)?|secret|token|changeme|example|x{3,}|\*{3,}|\.{3,}|<[^>]*>|\$\{?[a-z0-9_]+\}?|%[a-z]|\{\{.*\}\})$`

// urlPlaceholders are the credentials documentation puts in URLs: password words (password,
// passwd, secret, pass…, also inside a longer value: oplog_reader_password, keepthissecret),
// template and bracket forms, masks, and the classic example pairs (scott:tiger, guest:guest,
// someuser:somepassword). Each is data with the url-credentials samples that prove it.
var urlPlaceholders = []Allowlist{
	{
		Description: "password words and masks, also percent-encoded (%3CYourStrong%21Passw0rd%3E)",
		Regexes: []string{
			`(?i)p(?:ass)?w(?:or)?d|pass(?:word|wd|w0rd)?|secret|s3cr3t|changeme|change_me|redacted|example|dummy|placeholder|sample|hunter2|^tiger$|^guest$|^(?:foo|bar|baz|qux|test|demo)$`,
			`^(?:[\[<{(%$*.]|x{3,}$)`, // [password], <password>, {{password}}, (…), %3Cpw%3E, $PASSWORD, ***, ..., xxxxxx
		},
	},
	{
		Description: "the same word as user and password (guest:guest, admin:admin)",
		RegexTarget: TargetMatch,
		Regexes:     []string{`(?i)://(guest|admin|user|test|root|demo):(?:guest|admin|user|test|root|demo)@`},
	},
}

// BuildRules returns safebuild's build-specific rules, each with matching and non-matching
// samples. DefaultRules includes them.
func BuildRules() []Rule {
	ph := []Allowlist{{Description: "placeholders", Regexes: []string{placeholder}}}
	return []Rule{
		{
			ID:          "private-key-header",
			Description: "Private key (PEM, OpenSSH, PGP) whose body is short or malformed: a header followed by key material",
			Regex:       keyHeader + keyMaterial,
			Keywords:    []string{"-----begin"},
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"key", "build"},
			Fallback:    true,
			Matches: []Sample{
				{Content: "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"},
				{Content: "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5zsXxBnQzEoGaoAoGCCqGSM49\n"},
				{Content: "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,8A2F4E2D0C1B5A69\n\nq8Xb2kLmN4pR7sT1vW3yZ5aC9dE0fG6h\n"},
				{Content: "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF9xQ2IBCAC7m2Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2\n"},
				// a short body, then the END line
				{Content: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"},
				// escaped newlines, as in JSON and YAML strings
				{Content: `"key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"`},
				// indented in a YAML block, and quoted in a transcript
				{Content: "tls:\n  key: |\n            -----BEGIN PRIVATE KEY-----\n            MIIEvgIBADANBgkqhkiG9w0B\n"},
				{Content: "  $ cat key.pem\n  > -----BEGIN EC PRIVATE KEY-----\n  > MIGkAgEBBDDvoj/bM1HokUjY\n"},
			},
			NonMatches: []Sample{
				{Content: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
				{Content: "-----BEGIN PUBLIC KEY-----\n"},
				// bare headers: code that writes or parses keys, and documentation
				{Content: "-----BEGIN EC PRIVATE KEY-----\n"},
				{Content: `const header = '-----BEGIN PRIVATE KEY-----';`},
				{Content: `pem = "-----BEGIN RSA PRIVATE KEY-----\n" + body + "\n-----END RSA PRIVATE KEY-----"`},
				{Content: "A PEM file starts with `-----BEGIN OPENSSH PRIVATE KEY-----` and ends with the END line."},
				{Content: "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----"},
				{Content: "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----"},
			},
		},
		{
			ID:          "private-key-base64",
			Description: "Base64-encoded private key (a PEM/OpenSSH key stored in a secret, env var or config)",
			Regex:       b64Begin + `[A-Za-z0-9+/]{0,120}?` + b64Private + `[A-Za-z0-9+/]{8,}={0,2}`,
			Keywords:    []string{"LS0tLS1CRUdJ", "LS0tQkVH", "LS0tLUJFR0lO"},
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"key", "build", "base64"},
			Matches: []Sample{
				// base64("-----BEGIN RSA PRIVATE KEY-----\nMIIEow...")
				{Content: `tls.key: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NBUUVBdTFTVTFMZlZMUEhDb3pNeEgyTW80bGdPRWVQek5tMHRSZ2VMZXpWNmZmQXQwZ3VuVlRMdzdvbm
`},
				// base64("{\"k\":\"-----BEGIN OPENSSH PRIVATE KEY-----...") starts at offset 1
				{Content: `eyJrIjoiLS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS1cbmIzQmxibk56YUMxclpYa3RkakVBQUFBQUJHNXZ`},
			},
			NonMatches: []Sample{
				// base64("-----BEGIN CERTIFICATE-----\nMIIB...")
				{Content: `ca.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ5akNDQVhHZ0F3SUJBZ0lVZk5rM2V4YW1wbGU=`},
				// base64("-----BEGIN PUBLIC KEY-----")
				{Content: `LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUlJQklqQU5CZ2txaGtpRzl3MEJBUUVGQUFPQ0FROEFNSUlCQ2dLQ0FRRUE=`},
			},
		},
		{
			ID:          "key-file",
			Description: "Key file (id_rsa, *.pem, *.key, …) holding private key material",
			Path:        `(?i)(?:^|/)(?:id_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?|[^/]+\.(?:pem|key|ppk))$`,
			Regex:       `(?:` + keyHeader + `|PuTTY-User-Key-File-[23]: )`,
			Keywords:    []string{"-----begin", "putty-user-key-file-"},
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"key", "build", "path"},
			Fallback:    true,
			Matches: []Sample{
				{Path: "root/.ssh/id_ed25519", Content: "-----BEGIN OPENSSH PRIVATE KEY-----\n"},
				{Path: "etc/ssl/private/server.key", Content: "-----BEGIN PRIVATE KEY-----\n"},
				{Path: "deploy.ppk", Content: "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"},
			},
			NonMatches: []Sample{
				{Path: "root/.ssh/id_ed25519.pub", Content: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx user@host\n"},
				{Path: "etc/ssl/certs/ca.pem", Content: "-----BEGIN CERTIFICATE-----\nMIIB\n"},
			},
		},
		{
			ID:          "npmrc-auth",
			Description: "npm registry credential (.npmrc _authToken, _auth or _password)",
			Regex:       `(?i)(?:^|[\s:;])_(?:authToken|auth|password)[ \t]*=[ \t]*["']?([^\s"';#]{8,})`,
			Keywords:    []string{"_authtoken", "_auth", "_password"},
			Entropy:     2.5,
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "npm"},
			Fallback:    true, // gitleaks' npm-access-token is more specific for npm_ tokens
			Allowlists: append(append([]Allowlist(nil), ph...), Allowlist{
				Description: "code, not a value: _password = encrypt(password, …)",
				Regexes:     []string{`\(`},
			}),
			Matches: []Sample{
				{Path: "app/.npmrc", Content: "//registry.npmjs.org/:_authToken=npm_q8Xb2kLmN4pR7sT1vW3yZ5aC9dE0fG6hJ2kL\n"},
				{Path: "app/.npmrc", Content: "registry=https://npm.example.com/\n_auth=ZGVwbG95OnM0cGVyLXMzY3JldC1wYXNz\nalways-auth=true\n"},
				{Content: `RUN echo "//npm.pkg.github.com/:_authToken=ghx_7fK2mQ9vL3pW8sR1tY6uZ4aB0cD5eF" > ~/.npmrc`},
			},
			NonMatches: []Sample{
				{Path: "app/.npmrc", Content: "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n"},
				{Path: "app/.npmrc", Content: "_auth=\n"},
				{Content: "  _password = encrypt(password, key)"},
			},
		},
		{
			ID:          "docker-config-auth",
			Description: "Container registry credential (.docker/config.json auths.*.auth or identitytoken)",
			Regex:       `(?i)"(?:auth|identitytoken|registrytoken)"\s{0,10}:\s{0,10}"([A-Za-z0-9+/._~-]{12,}={0,2})"`,
			Keywords:    []string{`"auth"`, `"identitytoken"`, `"registrytoken"`},
			Entropy:     3,
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "docker"},
			Allowlists: append(append([]Allowlist(nil), ph...), Allowlist{
				Description: "documentation examples: base64 of user:password words (dXNlcjpwYXNz, QXp1cmVEaWFtb25kOmh1bnRlcjI=), truncated tokens (9cbaf023786cd7...)",
				Regexes:     []string{`\.\.\.`},
				Filters:     []string{"base64-text"},
			}),
			Matches: []Sample{
				{Path: "root/.docker/config.json", Content: `{"auths":{"registry.example.com":{"auth":"ZGVwbG95OlM0cGVyLXNlY3JldC1wYXNzd29yZA=="}}}`},
				{Content: "{\n  \"auths\": {\n    \"ghcr.io\": {\n      \"auth\": \"Ym90OmdocF9hQjNjRDVlRjdnSDlpSjFrTDNtTjVvUDdxUjlzVDF1VjN3WA==\"\n    }\n  }\n}\n"},
			},
			NonMatches: []Sample{
				{Content: `{"auths":{"registry.example.com":{}},"credsStore":"desktop"}`},
				{Content: `{"auth": "required"}`},
				{Content: `{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNzd29yZA=="}}}`},
				{Content: `{"auths": {"docker.io": {"auth": "QXp1cmVEaWFtb25kOmh1bnRlcjI="}}}`},
				{Content: `"identitytoken": "9cbaf023786cd7..."`},
			},
		},
		{
			ID:          "url-credentials",
			Description: "URL with an embedded user:password (.git-credentials, remote URLs, connection strings)",
			Regex:       `(?i)\b[a-z][a-z0-9+.-]{1,20}://([^\s:@/"'<>\x60]{1,64}):([^\s:@/"'<>\x60]{3,128})@[a-z0-9_.-]+`,
			SecretGroup: 2,
			Keywords:    []string{"://"},
			Entropy:     2,
			Severity:    SeverityHigh,
			Confidence:  ConfidenceMedium,
			Tags:        []string{"build", "url"},
			Allowlists:  append(append([]Allowlist(nil), ph...), urlPlaceholders...),
			Matches: []Sample{
				{Path: "root/.git-credentials", Content: "https://deploy:ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x@github.com\n"},
				{Content: "DATABASE_URL=postgres://app:Xk9#mQ2vLp7w@db.internal:5432/app"},
				{Content: "git clone https://oauth2:glpat-7pX2kQ9mVn4RtY8wZs3L@gitlab.example.com/group/repo.git"},
				{Content: "REDIS_URL=redis://default:Zr7Qp2Lx9Vm4Tb8@localhost:6379"},
				{Content: "amqp://ci:Tb8Nc1Wd6Ys0@rabbit:5672/"},
			},
			NonMatches: []Sample{
				{Content: "https://user:password@example.com"},
				{Content: "https://${GIT_USER}:${GIT_TOKEN}@github.com/org/repo"},
				{Content: "see https://example.com/a:b@c"},
				{Content: "https://github.com/org/repo.git"},
				{Content: "postgres://someuser:somepassword@somehost:381/somedatabase"},
				{Content: "engine = create_engine('postgresql://scott:tiger@localhost/test')"},
				{Content: "amqp://guest:guest@192.168.0.32:5672//"},
				{Content: "redis://[[username]:[password]]@localhost:6379/0"},
				{Content: "mongodb://<user>:<password>@cluster0.mongodb.net"},
				{Content: "sqlserver://SA:%3CYourStrong%21Passw0rd%3E@localhost"},
				{Content: "https://user:s3cr3t@example.com/"},
				{Content: "rediss://default:REDACTED@db.example.com:25061"},
				{Content: "ftp://anonymous:xxxxxx@ftp.example.org"},
				{Content: "http://admin:changeme@localhost:8080"},
				{Content: "mongodb://oplog_reader:oplog_reader_password@server1"},
			},
		},
		{
			ID:          "aws-credentials-file",
			Description: "AWS secret access key or session token (~/.aws/credentials, env files)",
			Regex:       `(?i)\baws_(?:secret_access_key|session_token)\b["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+=]{40,})`,
			Keywords:    []string{"aws_secret_access_key", "aws_session_token"},
			Entropy:     3.5,
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "aws"},
			Allowlists: []Allowlist{{
				Description: "AWS's documented example secret key (wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY) and its variants",
				StopWords:   []string{"EXAMPLEKEY", "EXAMPLE"},
			}},
			Matches: []Sample{
				{Path: "root/.aws/credentials", Content: "[default]\naws_access_key_id = AKIAQ3EGRTW7LYN5S7DX\naws_secret_access_key = 3kV9tQ2xLm7Pz4Rb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9Mq\n"},
				{Content: "ENV AWS_SECRET_ACCESS_KEY=Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9Mq3x"},
			},
			NonMatches: []Sample{
				{Content: "aws_secret_access_key = \n"},
				{Content: "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}"},
				{Content: "aws_secret_access_key = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
				{Content: `"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"`},
			},
		},
		{
			ID:          "kubeconfig-client-key",
			Description: "Kubernetes client private key embedded in a kubeconfig (client-key-data)",
			Regex:       `(?i)\bclient-key-data:[ \t]*["']?([A-Za-z0-9+/]{40,}={0,2})`,
			Keywords:    []string{"client-key-data"},
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "kubernetes", "key"},
			Matches: []Sample{
				{Path: "root/.kube/config", Content: "users:\n- name: admin\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJU\n    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVB\n"},
			},
			NonMatches: []Sample{
				{Content: "    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM4akNDQWRxZ0F3SUJBZ0lJ\n"},
				{Content: "    client-key: /etc/kubernetes/pki/admin.key\n"},
			},
		},
		{
			ID:          "kubeconfig-token",
			Description: "Kubernetes bearer token in a kubeconfig user entry",
			Regex:       `(?m)^[ \t]+(?:token|id-token|refresh-token):[ \t]*["']?([A-Za-z0-9._~+/=-]{20,})["']?[ \t]*$`,
			Keywords:    []string{"token:"},
			Entropy:     3.5,
			Severity:    SeverityHigh,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "kubernetes"},
			Allowlists:  ph,
			// A kubeconfig's tokens sit under a user entry: "users: - name: … user: token: …".
			Required: []Requirement{{RuleID: "kubeconfig-user-entry", WithinLines: intp(8)}},
			Matches: []Sample{
				{Path: "root/.kube/config", Content: "users:\n- name: ci\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjNkM2U0In0.eyJpc3MiOiJrdWJlcm5ldGVzIn0.Qm9ndXNTaWduYXR1cmVYeVp3\n"},
				{Content: "  user:\n    token: kX9mQ2vLp7wZr4Tb8Nc1Wd6Ys0Hf5Ju2\n"},
				{Content: "- name: oidc\n  user:\n    auth-provider:\n      config:\n        client-id: kubernetes\n        id-token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5\n"},
			},
			NonMatches: []Sample{
				{Content: "    token: aaaaaaaaaaaaaaaaaaaaaaaa\n"},
				{Content: "    token: ${K8S_TOKEN}\n"},
				{Content: "token: unindented-top-level-value-xyz\n"},
				// a token field outside a kubeconfig (a README's Slack or Vault example)
				{Content: "slack:\n  channel: '#ops'\n  settings:\n    token: xoxb-1234-56789abcdefghijklmnop\n"},
				{Content: "vault:\n    token: s.jRHAoqElnJDx6J5ExYelCDqx\n"},
			},
		},
		{
			ID:          "kubeconfig-user-entry",
			Description: "A kubeconfig user entry (\"user:\" on its own line): the structure kubeconfig-token needs",
			Regex:       `(?m)^[ \t]*(?:-[ \t]+)?user:[ \t]*\r?$`,
			Keywords:    []string{"user:"},
			Severity:    SeverityLow,
			Tags:        []string{"build", "kubernetes"},
			SkipReport:  true,
			Matches: []Sample{
				{Content: "users:\n- name: ci\n  user:\n    token: x\n"},
				{Content: "- user:\n"},
			},
			NonMatches: []Sample{
				{Content: "  user: admin\n"},
				{Content: "users:\n"},
			},
		},
		{
			ID:          "pypirc-password",
			Description: "Python package index password or token in .pypirc",
			Path:        `(?i)(?:^|/)\.pypirc$`,
			Regex:       `(?im)^[ \t]*password[ \t]*[:=][ \t]*(\S{6,})[ \t]*$`,
			Keywords:    []string{"password"},
			Severity:    SeverityCritical,
			Confidence:  ConfidenceMedium,
			Tags:        []string{"build", "python", "path"},
			Allowlists:  ph,
			Matches: []Sample{
				{Path: "root/.pypirc", Content: "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJDU0ZWE5OTNhLTRhYTgtNDc\n"},
				{Path: "home/ci/.pypirc", Content: "[internal]\nrepository = https://pypi.internal\nusername = ci\npassword: Zr7Qp2Lx9Vm4\n"},
			},
			NonMatches: []Sample{
				{Path: "root/.pypirc", Content: "[pypi]\nusername = __token__\npassword = ${PYPI_TOKEN}\n"},
				{Path: "docs/pypirc.md", Content: "password = Zr7Qp2Lx9Vm4\n"},
			},
		},
		{
			ID:          "netrc-credentials",
			Description: "Machine credentials in .netrc (login and password for a host)",
			Regex:       `(?i)\bmachine[ \t\r\n]{1,10}[^\s]{1,255}[ \t\r\n]{1,10}login[ \t\r\n]{1,10}[^\s]{1,255}[ \t\r\n]{1,10}password[ \t\r\n]{1,10}([^\s]{4,255})`,
			Keywords:    []string{"machine"},
			Severity:    SeverityHigh,
			Confidence:  ConfidenceMedium,
			Tags:        []string{"build", "netrc"},
			Allowlists:  ph,
			Matches: []Sample{
				{Path: "root/.netrc", Content: "machine github.com\n  login deploy\n  password ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x\n"},
				{Content: "RUN echo 'machine artifactory.corp login ci password Zr7Qp2Lx9Vm4Tb8' > ~/.netrc"},
			},
			NonMatches: []Sample{
				{Content: "machine learning password managers are popular"},
				{Path: "root/.netrc", Content: "machine github.com login deploy password ${TOKEN}\n"},
			},
		},
		{
			ID:          "vault-token",
			Description: "HashiCorp Vault token (hvs./hvb./hvr. prefixed, or a legacy s. token next to a Vault token name)",
			Regex:       `(?:\b(hv[sbr]\.[A-Za-z0-9_-]{24,400})\b|(?i:vault[_-]?token|x-vault-token)["']?[ \t]*[:=][ \t]*["']?(s\.[A-Za-z0-9]{24})\b)`,
			Keywords:    []string{"hvs.", "hvb.", "hvr.", "vault_token", "vault-token", "vaulttoken"},
			Entropy:     3,
			Severity:    SeverityCritical,
			Confidence:  ConfidenceHigh,
			Tags:        []string{"build", "vault"},
			Fallback:    true,
			Allowlists: []Allowlist{{
				Description: "hand-written stand-ins in tests and docs (hvs.myvaultgeneratedtoken): real tokens are base62, mixed case",
				Regexes:     []string{`^hv[sbr]\.[a-z]+$`},
			}},
			Matches: []Sample{
				{Content: "VAULT_TOKEN=hvs.CAESIJ4kq2Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9MqGh4KHGh2cy5XWnI3UXAyTHg5Vm00VGI4TmM"},
				{Content: "export VAULT_TOKEN='s.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0'"},
				{Content: `{"token": "hvb.AAAAAQJzZr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9Mq3wXyZ"}`},
			},
			NonMatches: []Sample{
				{Content: "parse the hvs.Token field"},
				{Content: "s.Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0 is a struct field"},
				{Content: `"client_token": "hvs.myvaultgeneratedgithubtoken",`},
			},
		},
		{
			ID:          "env-file-secret",
			Description: "Secret-named variable with a value in a .env file",
			Path:        `(?i)(?:^|/)\.env(?:\.[\w-]+)*$`,
			Regex:       `(?m)^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_]*(?i:secret|passw(?:or)?d|token|api_?key|private_?key|access_?key|credentials?)[A-Za-z0-9_]*[ \t]*=[ \t]*["']?([^\s"'#]{8,})`,
			Keywords:    []string{"secret", "passwd", "password", "token", "apikey", "api_key", "private_key", "privatekey", "access_key", "accesskey", "credential"},
			Entropy:     2.5,
			Severity:    SeverityHigh,
			Confidence:  ConfidenceMedium,
			Tags:        []string{"build", "env", "path"},
			Fallback:    true,
			Allowlists:  ph,
			Matches: []Sample{
				{Path: "app/.env", Content: "DEBUG=1\nDB_PASSWORD=Zr7Qp2Lx9Vm4\n"},
				{Path: "app/.env.production", Content: "export STRIPE_API_KEY=\"rk_live_51HxQ2vLp7wZr4Tb8Nc1Wd6\"\n"},
			},
			NonMatches: []Sample{
				{Path: "app/.env", Content: "DB_PASSWORD=${DB_PASSWORD}\nTOKEN_TTL=3600\n"},
				{Path: "app/config.py", Content: "DB_PASSWORD=Zr7Qp2Lx9Vm4\n"},
			},
		},
		{
			ID:          "credentials-json",
			Description: "Private key or client secret in a credentials.json (cloud service account, OAuth client)",
			Path:        `(?i)(?:^|/)[\w.-]*credentials?[\w.-]*\.json$`,
			Regex:       `"(?:private_key|client_secret|refresh_token)"\s{0,10}:\s{0,10}"([^"]{8,})"`,
			Keywords:    []string{`"private_key"`, `"client_secret"`, `"refresh_token"`},
			Entropy:     3,
			Severity:    SeverityCritical,
			Confidence:  ConfidenceMedium,
			Tags:        []string{"build", "cloud", "path"},
			Fallback:    true,
			Matches: []Sample{
				{Path: "app/credentials.json", Content: `{"type":"service_account","private_key_id":"4c1f","private_key":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}`},
				{Path: "gcloud/application_default_credentials.json", Content: `{"client_id":"764086051850.apps.googleusercontent.com","client_secret":"d-FL95Q19q7MQmFpd7hHD0Ty","refresh_token":"1//0gXk9mQ2vLp7wZr4Tb8Nc1Wd6Ys0Hf5Ju2Ga7"}`},
			},
			NonMatches: []Sample{
				{Path: "app/credentials.json", Content: `{"private_key": "", "client_secret": "CHANGE_ME"}`},
				{Path: "app/settings.json", Content: `{"client_secret":"d-FL95Q19q7MQmFpd7hHD0Ty"}`},
			},
		},
	}
}

func intp(n int) *int { return &n }
