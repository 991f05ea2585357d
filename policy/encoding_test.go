package policy

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
)

func utf16Bytes(s string, be, bom bool) []byte {
	var out []byte
	if bom {
		if be {
			out = append(out, 0xfe, 0xff)
		} else {
			out = append(out, 0xff, 0xfe)
		}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if be {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

func TestSniffEncoding(t *testing.T) {
	text := "# deploy\r\n$env:TOKEN = 'x'\r\n"
	for _, tc := range []struct {
		name string
		head []byte
		want textEncoding
		bom  int
	}{
		{"ascii", []byte(text), encPlain, 0},
		{"utf-8", []byte("héllo wörld"), encPlain, 0},
		{"utf-8 bom", append([]byte("\xef\xbb\xbf"), text...), encUTF8BOM, 3},
		{"utf-16le bom", utf16Bytes(text, false, true), encUTF16LE, 2},
		{"utf-16be bom", utf16Bytes(text, true, true), encUTF16BE, 2},
		{"utf-16le", utf16Bytes(text, false, false), encUTF16LE, 0},
		{"utf-16be", utf16Bytes(text, true, false), encUTF16BE, 0},
		{"utf-16le some non-ascii", utf16Bytes("Paßwort für den Server: geheim123", false, false), encUTF16LE, 0},
		{"utf-16le mostly cjk", utf16Bytes("密码密码密码密码 = x", false, false), encPlain, 0},
		{"too short", utf16Bytes("ab", false, false), encPlain, 0},
		{"int32 array", []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}, encPlain, 0},
		{"control units", []byte{'A', 0, 1, 0, 'B', 0, 2, 0, 'C', 0, 3, 0}, encPlain, 0},
		{"elf", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"), encPlain, 0},
		{"empty", nil, encPlain, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bom := sniffEncoding(tc.head)
			if got != tc.want || bom != tc.bom {
				t.Errorf("sniffEncoding = %v, %d; want %v, %d", got, bom, tc.want, tc.bom)
			}
		})
	}
}

func TestUTF16Reader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		be   bool
		want string
	}{
		{"ascii", utf16Bytes("hello\nworld", false, false), false, "hello\nworld"},
		{"be", utf16Bytes("hello", true, false), true, "hello"},
		{"bmp and astral", utf16Bytes("é€😀x", false, false), false, "é€😀x"},
		{"odd trailing byte", append(utf16Bytes("ab", false, false), 'c'), false, "ab\uFFFD"},
		{"lone high surrogate", []byte{0x3d, 0xd8, 'a', 0}, false, "\uFFFDa"},
		{"lone low surrogate", []byte{0x00, 0xde, 'a', 0}, false, "\uFFFDa"},
		{"high surrogate at the end", []byte{'a', 0, 0x3d, 0xd8}, false, "a\uFFFD"},
		{"empty", nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time in and out: every boundary inside a unit, a pair and a rune.
			for _, r := range []io.Reader{
				newUTF16Reader(bytes.NewReader(tc.in), tc.be, nil),
				iotest.OneByteReader(newUTF16Reader(iotest.OneByteReader(bytes.NewReader(tc.in)), tc.be, nil)),
			} {
				got, err := io.ReadAll(r)
				if err != nil || string(got) != tc.want {
					t.Errorf("got %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
	// A read error is returned, not taken for the end.
	d := newUTF16Reader(io.MultiReader(bytes.NewReader(utf16Bytes("abc", false, false)), iotest.ErrReader(io.ErrUnexpectedEOF)), false, nil)
	if _, err := io.ReadAll(d); err != io.ErrUnexpectedEOF {
		t.Errorf("read error: %v", err)
	}
}

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
		"utf-16le bom": utf16Bytes(text, false, true),
		"utf-16be bom": utf16Bytes(text, true, true),
		"utf-16le":     utf16Bytes(text, false, false),
		"utf-16be":     utf16Bytes(text, true, false),
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
	fs := scanText(t, s, "big.ps1", string(utf16Bytes(big, false, true)))
	if len(fs) != 1 || fs[0].Line != 40_001 || fs[0].Column != 7 {
		t.Errorf("large UTF-16 file: %+v", fs)
	}
	// Binary after the encoding check: UTF-16 whose decoded text is binary is still binary.
	bin := utf16Bytes("\x00\x01\x02"+testPAT, false, true)
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
			fs := scan(utf16Bytes(text, be, true))
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

// TestNoTranscodingCostOnText: plain text never takes the transcoding path.
func TestNoTranscodingCostOnText(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if e, _ := sniffEncoding([]byte("export A=1\nexport B=2\n")); e != encPlain {
			t.Fatal(e)
		}
	})
	if allocs != 0 {
		t.Errorf("sniffEncoding allocates %v times", allocs)
	}
}

func BenchmarkSniffEncoding(b *testing.B) {
	head := bytes.Repeat([]byte("plain ascii text, "), 500)
	for b.Loop() {
		sniffEncoding(head)
	}
}

// FuzzUTF16Reader checks the streaming transcoder against unicode/utf16.Decode, reading one
// byte at a time and all at once.
func FuzzUTF16Reader(f *testing.F) {
	f.Add([]byte("h\x00i\x00"), false)
	f.Add([]byte{0x3d, 0xd8, 0x00, 0xde, 'a', 0}, false)
	f.Add([]byte{0xd8, 0x3d, 'x'}, true)
	f.Fuzz(func(t *testing.T, b []byte, be bool) {
		units := make([]uint16, len(b)/2)
		for i := range units {
			if be {
				units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
			} else {
				units[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
			}
		}
		want := string(utf16.Decode(units))
		if len(b)%2 == 1 {
			want += "\uFFFD"
		}
		for _, r := range []io.Reader{
			newUTF16Reader(bytes.NewReader(b), be, nil),
			iotest.OneByteReader(newUTF16Reader(iotest.OneByteReader(bytes.NewReader(b)), be, nil)),
		} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		}
	})
}
