package policy

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy/internal/textenc/textenctest"
)

// TestTranscodedFindings: UTF-16 (both byte orders, with and without a BOM) and UTF-8 with a BOM
// are scanned as text, at the decoded text's lines and columns, as a plain copy would be.
func TestTranscodedFindings(t *testing.T) {
	s := newTestScanner(t)
	text := "# deploy helper\r\n$env:GITHUB_TOKEN = \"" + testPAT + "\"\r\n"
	plain := scanText(t, s, "deploy.ps1", text)
	if len(plain) != 1 || plain[0].Line != 2 || plain[0].Column != 22 {
		t.Fatalf("plain: %+v", plain)
	}
	for name, content := range map[string][]byte{
		"utf-16le bom": textenctest.UTF16(text, false, true),
		"utf-16be bom": textenctest.UTF16(text, true, true),
		"utf-16le":     textenctest.UTF16(text, false, false),
		"utf-16be":     textenctest.UTF16(text, true, false),
		"utf-8 bom":    append([]byte("\xef\xbb\xbf"), text...),
	} {
		t.Run(name, func(t *testing.T) {
			fs := scanText(t, s, "deploy.ps1", string(content))
			if len(fs) != 1 || fs[0].RuleID != plain[0].RuleID || fs[0].Line != 2 || fs[0].Column != 22 ||
				fs[0].SecretSHA256 != plain[0].SecretSHA256 {
				t.Errorf("got %+v, want %s at 2:22", fs, plain[0].RuleID)
			}
		})
	}
	// Past the first window: a large UTF-16 file, the token on its last line.
	big := strings.Repeat("Write-Host 'filler line of a long script'\r\n", 40_000) + "$t = '" + testPAT + "'\r\n"
	fs := scanText(t, s, "big.ps1", string(textenctest.UTF16(big, false, true)))
	if len(fs) != 1 || fs[0].Line != 40_001 || fs[0].Column != 7 {
		t.Errorf("large UTF-16 file: %+v", fs)
	}
	// Binary after the encoding check: UTF-16 whose decoded text is binary is still binary.
	bin := textenctest.UTF16("\x00\x01\x02"+testPAT, false, true)
	if fs := scanText(t, s, "x.bin", string(bin)); len(fs) != 0 {
		t.Errorf("UTF-16 binary scanned as text: %+v", fs)
	}
}

// TestCanariesOnTranscodedContent: canaries are found in transcoded text in every encoding
// they know, and in the raw bytes of content that only looks like UTF-16 (a BOM put in front
// of a raw value must not hide it).
func TestCanariesOnTranscodedContent(t *testing.T) {
	v := []byte("canary-value-0123456789abcdef")
	s := canaryScanner(t, Canary{Name: "vault:secret/ci#token", Value: v})
	scan := func(content []byte) []Finding {
		var out []Finding
		_, err := s.ScanReader(t.Context(), Origin{Kind: OriginFile, Path: "f"}, bytes.NewReader(content),
			func(f Finding) error { out = append(out, f); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for enc, text := range map[string]string{
		"raw":    "line1\r\n$x = '" + string(v) + "'\r\n",
		"base64": "line1\r\n$x = '" + base64.StdEncoding.EncodeToString(v) + "'\r\n",
	} {
		for _, be := range []bool{false, true} {
			fs := scan(textenctest.UTF16(text, be, true))
			if len(fs) != 1 || fs[0].Line != 2 || fs[0].Column != 7 {
				t.Errorf("%s in UTF-16 (be=%v): %+v", enc, be, fs)
			}
			for _, f := range fs {
				assertNoValue(t, f, v)
			}
		}
	}
	// A fake BOM, then the raw value far past the first window and the transcoder's chunks.
	fake := append([]byte{0xff, 0xfe}, bytes.Repeat([]byte("A\x00"), 600_000)...)
	fake = append(fake, "\n\n"+string(v)...)
	if fs := scan(fake); len(fs) != 1 || fs[0].Line != 3 || fs[0].Column != 1 {
		t.Errorf("raw value behind a fake BOM: %+v", fs)
	}
	// Across every raw chunk boundary the tap sees.
	for i := 0; i < 40; i++ {
		c := append([]byte{0xfe, 0xff}, bytes.Repeat([]byte{0}, 32<<10-i)...)
		c = append(c, v...)
		if fs := scan(c); len(fs) != 1 {
			t.Errorf("raw value at chunk offset %d: %d findings", i, len(fs))
		}
	}
}
