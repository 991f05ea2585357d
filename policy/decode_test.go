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

func TestDecodeSkipsBinaryAndIdentifiers(t *testing.T) {
	in := []byte("TestLoadConfigExtendDefault MIIEvQIBADANBgkqhkiG9w0BAQEFAASC deadbeefdeadbeefdeadbeefdeadbeef")
	for _, seg := range decodeSegments(in, 0, len(in)) {
		t.Errorf("decoded non-text run %q", in[seg.start:seg.end])
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

// TestDecodeRunAtWindowCut: a run is decoded exactly once, by the window whose own part it starts
// in, wherever it starts relative to the cut between two windows' own parts — also in the last
// bytes before the cut, where it may cover no probe position before it.
func TestDecodeRunAtWindowCut(t *testing.T) {
	run := base64.StdEncoding.EncodeToString([]byte("GITHUB_TOKEN=" + testPAT))
	const cut = 200
	for p := cut - len(run) - 2; p <= cut+2; p++ {
		buf := []byte(strings.Repeat(". ", 150) + strings.Repeat(" ", 200))
		copy(buf[p:], run)
		n := 0
		for _, part := range [][2]int{{0, cut}, {cut, len(buf)}} {
			for _, seg := range decodeSegments(buf, part[0], part[1]) {
				if seg.start != p || seg.enc != "base64" {
					t.Fatalf("run at %d: decoded %q at %d", p, buf[seg.start:seg.end], seg.start)
				}
				n++
			}
		}
		if n != 1 {
			t.Errorf("run at %d (cut at %d): decoded %d times, want once", p, cut, n)
		}
	}
}

func TestUnicodeSegments(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`token: "\u0067\u0068\u0070\u005f"`, "ghp_"},
		{`x = "\\u0061\\U0062c\u0064" end`, "abcd"},                                             // doubly escaped, mixed case, text between kept
		{"U+0074 U+006F U+006B U+0065 U+006E", "token"},                                         // code points, separators dropped
		{strings.Repeat(`\u0061`, 40) + `\uD83D\uDE00`, strings.Repeat("a", 40) + "\U0001F600"}, // a surrogate pair is one character
		{`no escapes: \u12 U+12G \x41 \\n`, ""},                                                 // nothing decodable
		{"a \\u0041\nb \\u0042", "A"},                                                           // one segment per line
	} {
		segs := unicodeSegments([]byte(c.in), 0, len(c.in))
		got := ""
		if len(segs) > 0 {
			got = string(segs[0].data)
		}
		if got != c.want {
			t.Errorf("%q: decoded %q, want %q", c.in, got, c.want)
		}
	}
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
