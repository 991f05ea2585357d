package policy

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func TestDecodedFindings(t *testing.T) {
	secretLine := "GITHUB_TOKEN=" + testPAT
	b64 := base64.StdEncoding.EncodeToString([]byte(secretLine))
	twice := base64.StdEncoding.EncodeToString([]byte("x: " + b64))
	cases := []struct {
		name, content string
		depth         int
		want          bool
		tag           string
	}{
		{"base64", "data:\n  env: " + b64 + "\n", 2, true, "decoded:base64"},
		{"base64url", "v=" + base64.RawURLEncoding.EncodeToString([]byte(secretLine+"?>")), 2, true, "decoded:base64"},
		{"percent", "url=https://ci.example/hook?env=" + percentAll(secretLine) + "&x=1\n", 2, true, "decoded:percent"},
		{"hex", "blob " + hex.EncodeToString([]byte(secretLine)) + "\n", 2, true, "decoded:hex"},
		{"nested, depth 2", "v: " + twice, 2, true, "decoded:base64,base64"},
		{"nested, depth 1", "v: " + twice, 1, false, ""},
		{"off", "data:\n  env: " + b64 + "\n", 0, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestScanner(t, WithDecodeDepth(c.depth))
			fs := scanText(t, s, "k8s/secret.yaml", c.content)
			var got *Finding
			for i := range fs {
				if fs[i].RuleID == "github-pat" {
					got = &fs[i]
				}
			}
			if (got != nil) != c.want {
				t.Fatalf("found=%v, want %v (%v)", got != nil, c.want, ruleIDs(fs))
			}
			if got == nil {
				return
			}
			if !strings.Contains(strings.Join(got.Tags, " "), c.tag) {
				t.Errorf("tags %v, want %s", got.Tags, c.tag)
			}
			if strings.Contains(c.content, "\n  env: ") && (got.Line != 2 || got.Column != 8) {
				t.Errorf("location %d:%d, want the encoded run's 2:8", got.Line, got.Column)
			}
		})
	}
}

// percentAll escapes every byte of s.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

// TestUnicodeEscapedFinding: a token written as unicode escapes is found, tagged decoded:unicode
// (codec.TestUnicodeSegments checks the decoding itself).
func TestUnicodeEscapedFinding(t *testing.T) {
	s := newTestScanner(t)
	pat := ""
	for _, r := range "GITHUB_TOKEN=" + testPAT {
		pat += fmt.Sprintf(`\u%04x`, r)
	}
	fs := scanText(t, s, "config.json", `{"env": "`+pat+`"}`)
	if !hasRule(fs, "github-pat") || !strings.Contains(strings.Join(fs[0].Tags, " "), "decoded:unicode") {
		t.Errorf("a unicode-escaped token: %v", fs)
	}
}
