package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// precisionFiles are shapes the false-positive benchmark found in public packages
// (integration/bench/fp): none is a credential, and an image holding them must build.
var precisionFiles = map[string]string{
	// node-forge, jsonwebtoken: code that writes PEM headers
	"app/node-modules/forge/lib/pem.js": "var header = '-----BEGIN PRIVATE KEY-----';\nout = '-----BEGIN RSA PRIVATE KEY-----\\r\\n' + body + '-----END RSA PRIVATE KEY-----\\r\\n';\n",
	"app/node-modules/forge/README.md":  "A key file starts with `-----BEGIN PRIVATE KEY-----` and ends with `-----END PRIVATE KEY-----`.\n",
	// SQLAlchemy, pg, RabbitMQ docs: connection strings with example credentials
	"app/node-modules/pg/README.md": "const pool = new Pool({ connectionString: 'postgres://someuser:somepassword@somehost:381/somedatabase' })\n" +
		"engine = create_engine('postgresql://scott:tiger@localhost/test')\namqp://guest:guest@192.168.0.32:5672//\n",
	// a README's Slack example under a token: field
	"app/node-modules/bot/README.md": "slack:\n  settings:\n    token: xoxb-1234-56789abcdefghijklmnop\n",
	// Ansible module documentation: UUID-shaped example tokens; Docker API docs: truncated tokens
	"app/lib/purefa.py":  "EXAMPLES = r'''\n- purefa_info:\n    fa_url: 10.10.10.2\n    api_token: e31060a7-21fc-e277-6240-25983c6c4592\n'''\n",
	"app/docs/api.yaml":  "IdentityToken: \"9cbaf023786cd7...\"\n",
	"app/docs/config.md": "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"dXNlcjpwYXNzd29yZA==\"}}}\n",
	// the official python image's Dockerfile: an OpenPGP fingerprint
	"app/docker/python.Dockerfile": "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D\n",
	"app/test/keys_test.go":        "var vectors = []struct{ key string }{{key: \"a8317a9d3c8f1d0e2b6f7a5c4e3d2b1a0f9e8d7c6b5a4938271605f4e3d2c1b0\"}}\n",
}

// TestBuildPassesPackageFalsePositives: `safebuild build` of an image that holds the shapes
// public packages are full of (bare PEM headers in code, documentation connection strings, a
// Slack token field in a README, UUID example tokens, a GPG fingerprint) passes the gate;
// the same image plus a real key is refused; a finding only a path suggests (a .p12 key store)
// is reported but does not refuse at the default --min-confidence medium, and refuses at low.
func TestBuildPassesPackageFalsePositives(t *testing.T) {
	s := needStack(t)
	build := func(t *testing.T, extra map[string]string, args ...string) (string, error) {
		t.Helper()
		dir := t.TempDir()
		df := "ARG BASE\nFROM ${BASE}\nCOPY app/ /app/\n"
		files := map[string]string{"Dockerfile": df}
		for k, v := range precisionFiles {
			files[k] = v
		}
		for k, v := range extra {
			files[k] = v
		}
		for name, content := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out := filepath.Join(t.TempDir(), "image.tar")
		all := append([]string{"build", "--progress", "plain", "--build-arg", "BASE=" + s.BaseImage, "-o", out}, args...)
		stdout, stderr, err := safebuildCLI(t, s, append(all, dir)...)
		return stdout + stderr, err
	}

	t.Run("package shapes pass", func(t *testing.T) {
		out, err := build(t, nil)
		if err != nil {
			t.Fatalf("refused: %v\n%s", err, out)
		}
	})
	t.Run("a real key among them is refused", func(t *testing.T) {
		key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n"
		out, err := build(t, map[string]string{"app/node-modules/pkg/.ssh/id_ed25519": key})
		if err == nil || !strings.Contains(out, "id_ed25519") {
			t.Fatalf("not refused, or the key not named (err %v):\n%s", err, out)
		}
		if !strings.Contains(out, "high confidence") {
			t.Errorf("the report does not group by confidence:\n%s", out)
		}
	})
	t.Run("a low-confidence finding is reported, refused only at --min-confidence low", func(t *testing.T) {
		p12 := map[string]string{"app/certs/client.p12": "\x30\x82\x01\x00not really a key store"}
		out, err := build(t, p12)
		if err != nil {
			t.Fatalf("refused at the default threshold: %v\n%s", err, out)
		}
		if !strings.Contains(out, "below --min-confidence medium, not refused") || !strings.Contains(out, "client.p12") {
			t.Errorf("the low finding is not reported:\n%s", out)
		}
		out, err = build(t, p12, "--min-confidence", "low")
		if err == nil {
			t.Fatalf("not refused at --min-confidence low:\n%s", out)
		}
	})
}
