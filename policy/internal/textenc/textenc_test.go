package textenc

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"github.com/safebuild/safebuild/policy/internal/textenc/textenctest"
)

func TestSniffEncoding(t *testing.T) {
	text := "# deploy\r\n$env:TOKEN = 'x'\r\n"
	for _, tc := range []struct {
		name string
		head []byte
		want Encoding
		bom  int
	}{
		{"ascii", []byte(text), Plain, 0},
		{"utf-8", []byte("héllo wörld"), Plain, 0},
		{"utf-8 bom", append([]byte("\xef\xbb\xbf"), text...), UTF8BOM, 3},
		{"utf-16le bom", textenctest.UTF16(text, false, true), UTF16LE, 2},
		{"utf-16be bom", textenctest.UTF16(text, true, true), UTF16BE, 2},
		{"utf-16le", textenctest.UTF16(text, false, false), UTF16LE, 0},
		{"utf-16be", textenctest.UTF16(text, true, false), UTF16BE, 0},
		{"utf-16le some non-ascii", textenctest.UTF16("Paßwort für den Server: geheim123", false, false), UTF16LE, 0},
		{"utf-16le mostly cjk", textenctest.UTF16("密码密码密码密码 = x", false, false), Plain, 0},
		{"too short", textenctest.UTF16("ab", false, false), Plain, 0},
		{"int32 array", []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0}, Plain, 0},
		{"control units", []byte{'A', 0, 1, 0, 'B', 0, 2, 0, 'C', 0, 3, 0}, Plain, 0},
		{"elf", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"), Plain, 0},
		{"empty", nil, Plain, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bom := Sniff(tc.head)
			if got != tc.want || bom != tc.bom {
				t.Errorf("Sniff = %v, %d; want %v, %d", got, bom, tc.want, tc.bom)
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
		{"ascii", textenctest.UTF16("hello\nworld", false, false), false, "hello\nworld"},
		{"be", textenctest.UTF16("hello", true, false), true, "hello"},
		{"bmp and astral", textenctest.UTF16("é€😀x", false, false), false, "é€😀x"},
		{"odd trailing byte", append(textenctest.UTF16("ab", false, false), 'c'), false, "ab\uFFFD"},
		{"lone high surrogate", []byte{0x3d, 0xd8, 'a', 0}, false, "\uFFFDa"},
		{"lone low surrogate", []byte{0x00, 0xde, 'a', 0}, false, "\uFFFDa"},
		{"high surrogate at the end", []byte{'a', 0, 0x3d, 0xd8}, false, "a\uFFFD"},
		{"empty", nil, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time in and out: every boundary inside a unit, a pair and a rune.
			for _, r := range []io.Reader{
				NewUTF16Reader(bytes.NewReader(tc.in), tc.be, nil),
				iotest.OneByteReader(NewUTF16Reader(iotest.OneByteReader(bytes.NewReader(tc.in)), tc.be, nil)),
			} {
				got, err := io.ReadAll(r)
				if err != nil || string(got) != tc.want {
					t.Errorf("got %q, %v; want %q", got, err, tc.want)
				}
			}
		})
	}
	// A read error is returned, not taken for the end.
	d := NewUTF16Reader(io.MultiReader(bytes.NewReader(textenctest.UTF16("abc", false, false)), iotest.ErrReader(io.ErrUnexpectedEOF)), false, nil)
	if _, err := io.ReadAll(d); err != io.ErrUnexpectedEOF {
		t.Errorf("read error: %v", err)
	}
}

// TestNoTranscodingCostOnText: plain text never takes the transcoding path.
func TestNoTranscodingCostOnText(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if e, _ := Sniff([]byte("export A=1\nexport B=2\n")); e != Plain {
			t.Fatal(e)
		}
	})
	if allocs != 0 {
		t.Errorf("Sniff allocates %v times", allocs)
	}
}

func BenchmarkSniffEncoding(b *testing.B) {
	head := bytes.Repeat([]byte("plain ascii text, "), 500)
	for b.Loop() {
		Sniff(head)
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
			NewUTF16Reader(bytes.NewReader(b), be, nil),
			iotest.OneByteReader(NewUTF16Reader(iotest.OneByteReader(bytes.NewReader(b)), be, nil)),
		} {
			got, err := io.ReadAll(r)
			if err != nil || string(got) != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		}
	})
}
