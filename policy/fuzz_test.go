package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

// FuzzWindowReader checks that the windows' own parts tile the input exactly, in order, and that
// each window knows the line and column its first byte is at.
func FuzzWindowReader(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), uint16(4), uint8(2))
	f.Add(bytes.Repeat([]byte("x"), 100), uint16(7), uint8(3))
	f.Add([]byte{}, uint16(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, size uint16, overlap uint8) {
		ov := int(overlap%64) + 1
		sz := max(int(size%512), ov)
		wr := newWindowReader(nil, sz, ov)
		wr.reset(iotestHalfReader{bytes.NewReader(data)})
		next := 0
		for {
			ok, err := wr.next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			w := &wr.w
			if int(w.base)+w.ownStart != next {
				t.Fatalf("own part starts at %d, want %d", int(w.base)+w.ownStart, next)
			}
			if !bytes.Equal(w.buf, data[w.base:int(w.base)+len(w.buf)]) {
				t.Fatal("window content differs from the input")
			}
			before := data[:w.base]
			if want := 1 + bytes.Count(before, []byte{'\n'}); w.line != want {
				t.Fatalf("line %d, want %d", w.line, want)
			}
			if want := len(before) - (bytes.LastIndexByte(before, '\n') + 1); w.col != want {
				t.Fatalf("col %d, want %d", w.col, want)
			}
			next = int(w.base) + w.ownEnd
		}
		if next != len(data) {
			t.Fatalf("own parts cover %d bytes of %d", next, len(data))
		}
		if wr.read != int64(len(data)) {
			t.Fatalf("read %d bytes of %d", wr.read, len(data))
		}
	})
}

// iotestHalfReader returns short reads, as pipes and network streams do.
type iotestHalfReader struct{ r *bytes.Reader }

func (h iotestHalfReader) Read(p []byte) (int, error) {
	return h.r.Read(p[:(len(p)+1)/2])
}

// FuzzCanary plants a value, encoded one of several ways, in arbitrary content: it must be found,
// and no finding may carry the value.
func FuzzCanary(f *testing.F) {
	f.Add([]byte("some content\n"), []byte("s3cr3t-value"), uint8(0), uint16(3))
	f.Add([]byte("\x00\x01binary"), []byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"), uint8(5), uint16(1))
	f.Fuzz(func(t *testing.T, data, value []byte, enc uint8, at uint16) {
		if len(value) < MinCanaryLen || len(value) > 256 {
			return
		}
		var planted string
		switch enc % 7 {
		case 0:
			planted = string(value)
		case 1:
			planted = hex.EncodeToString(value)
		case 2:
			planted = url.QueryEscape(string(value))
		case 3:
			planted = base64.StdEncoding.EncodeToString(value)
		case 4:
			planted = base64.RawURLEncoding.EncodeToString(append([]byte("k"), value...))
		case 5:
			planted = base64.StdEncoding.EncodeToString(append([]byte("ab"), value...))
		case 6:
			planted = strings.ToUpper(hex.EncodeToString(value))
		}
		k := int(at) % (len(data) + 1)
		content := string(data[:k]) + " " + planted + " " + string(data[k:])
		s := canaryScanner(t, Canary{Name: "fuzz", Value: value})
		fs := scanText(t, s, "f", content)
		if len(fs) == 0 {
			t.Fatalf("planted %q (enc %d) not found", planted, enc%7)
		}
		for _, f := range fs {
			if strings.Contains(f.Description, string(value)) || f.Redacted != "" || f.Secret != "" {
				t.Fatal("finding carries the value")
			}
		}
	})
}
