package codec

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A GitHub PAT-shaped value, as the engine's tests use.
const testPAT = "ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x"

func TestDecodeSkipsBinaryAndIdentifiers(t *testing.T) {
	in := []byte("TestLoadConfigExtendDefault MIIEvQIBADANBgkqhkiG9w0BAQEFAASC deadbeefdeadbeefdeadbeefdeadbeef")
	for _, seg := range Segments(in, 0, len(in)) {
		t.Errorf("decoded non-text run %q", in[seg.Start:seg.End])
	}
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
			for _, seg := range Segments(buf, part[0], part[1]) {
				if seg.Start != p || seg.Enc != "base64" {
					t.Fatalf("run at %d: decoded %q at %d", p, buf[seg.Start:seg.End], seg.Start)
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
			got = string(segs[0].Data)
		}
		if got != c.want {
			t.Errorf("%q: decoded %q, want %q", c.in, got, c.want)
		}
	}
}
