package textenc

import (
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// Encoding is how a fragment's text is encoded, as its first bytes tell (Sniff).
type Encoding int

const (
	Plain   Encoding = iota // ASCII, UTF-8 without a BOM, or anything else: read as it is
	UTF8BOM                 // UTF-8 after a byte order mark, which is dropped
	UTF16LE                 // UTF-16, little endian
	UTF16BE                 // UTF-16, big endian
)

// sniffUnits is how many leading bytes decide whether text without a BOM is UTF-16.
const sniffUnits = 1024

// Sniff tells UTF-8 with a byte order mark and UTF-16 (little or big endian, with a BOM,
// or without one when NUL bytes sit every other byte of ASCII text) from a fragment's first
// bytes, and returns how many leading bytes (the BOM) to drop. Anything else is Plain: plain
// ASCII and UTF-8 cost two byte compares.
func Sniff(head []byte) (Encoding, int) {
	if len(head) < 2 {
		return Plain, 0
	}
	switch {
	case head[0] == 0xef && len(head) >= 3 && head[1] == 0xbb && head[2] == 0xbf:
		return UTF8BOM, 3
	case head[0] == 0xff && head[1] == 0xfe:
		return UTF16LE, 2
	case head[0] == 0xfe && head[1] == 0xff:
		return UTF16BE, 2
	case head[1] == 0 && head[0] != 0 && utf16Text(head, false):
		return UTF16LE, 0
	case head[0] == 0 && head[1] != 0 && utf16Text(head, true):
		return UTF16BE, 0
	}
	return Plain, 0
}

// utf16Text reports whether head reads as UTF-16 text without a BOM: at least 4 code units, none
// of them NUL or an ASCII control other than whitespace, and at least 90% of them ASCII
// (a NUL high byte). Binary data — a NUL unit, a control character — is refused.
func utf16Text(head []byte, be bool) bool {
	n := min(len(head), sniffUnits) &^ 1
	units, ascii := n/2, 0
	if units < 4 {
		return false
	}
	for i := 0; i < n; i += 2 {
		lo, hi := head[i], head[i+1]
		if be {
			lo, hi = hi, lo
		}
		if hi != 0 {
			continue
		}
		switch {
		case lo >= 0x20 && lo < 0x7f, lo == '\t', lo == '\n', lo == '\r', lo == '\f':
			ascii++
		case lo < 0x20 || lo == 0x7f:
			return false
		}
	}
	return ascii*10 >= units*9
}

// String names the encoding as reports would ("utf-16le").
func (e Encoding) String() string {
	switch e {
	case UTF8BOM:
		return "utf-8-bom"
	case UTF16LE:
		return "utf-16le"
	case UTF16BE:
		return "utf-16be"
	}
	return "plain"
}

// UTF16Reader transcodes UTF-16 to UTF-8 as it is read. Unpaired surrogates and a trailing odd
// byte become U+FFFD. A read error of the source ends the content where it happened and is
// returned.
type UTF16Reader struct {
	// Tap, when set, sees every raw byte once, in order, before it is decoded (the canary
	// matcher looks at the raw bytes too), then nil with eof true at the end; its error ends the
	// read.
	Tap func(raw []byte, eof bool) error

	src     io.Reader
	be      bool
	raw     []byte
	r0, r1  int // raw[r0:r1] is read and not yet decoded
	eof     bool
	err     error
	pend    []byte // the rest of a rune that did not fit the caller's buffer
	pendBuf [utf8.UTFMax]byte
	read    int64 // raw bytes read from src
}

// NewUTF16Reader returns a reader of src's UTF-16 (big endian when be) as UTF-8. buf is reused
// as its raw buffer when it holds at least 32 KiB (Buffer returns it for the next reader).
func NewUTF16Reader(src io.Reader, be bool, buf []byte) *UTF16Reader {
	if cap(buf) < 32<<10 {
		buf = make([]byte, 32<<10)
	}
	return &UTF16Reader{src: src, be: be, raw: buf[:cap(buf)]}
}

// Buffer returns the raw buffer, to hand to the next NewUTF16Reader.
func (d *UTF16Reader) Buffer() []byte { return d.raw }

// Consumed returns how many raw bytes were read from the source so far.
func (d *UTF16Reader) Consumed() int64 { return d.read }

// Read reads UTF-8.
func (d *UTF16Reader) Read(p []byte) (int, error) {
	n := 0
	if len(d.pend) > 0 {
		n = copy(p, d.pend)
		d.pend = d.pend[n:]
	}
	for n < len(p) {
		r, ok := d.next()
		if !ok {
			break
		}
		if r < utf8.RuneSelf {
			p[n] = byte(r)
			n++
			continue
		}
		if n+utf8.RuneLen(r) > len(p) {
			k := utf8.EncodeRune(d.pendBuf[:], r)
			m := copy(p[n:], d.pendBuf[:k])
			d.pend = d.pendBuf[m:k]
			n += m
			break
		}
		n += utf8.EncodeRune(p[n:], r)
	}
	if n > 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	return 0, io.EOF
}

// next decodes one rune; false at the end of the content or on a read error (d.err).
func (d *UTF16Reader) next() (rune, bool) {
	if d.r1-d.r0 < 4 && !d.eof {
		d.fill()
	}
	switch d.r1 - d.r0 {
	case 0:
		return 0, false
	case 1:
		d.r0++
		return utf8.RuneError, true
	}
	u := d.unit()
	if !utf16.IsSurrogate(u) {
		return u, true
	}
	if u < 0xdc00 && d.r1-d.r0 >= 2 {
		if u2 := d.peekUnit(); 0xdc00 <= u2 && u2 < 0xe000 {
			d.r0 += 2
			return utf16.DecodeRune(u, u2), true
		}
	}
	return utf8.RuneError, true
}

func (d *UTF16Reader) unit() rune {
	u := d.peekUnit()
	d.r0 += 2
	return u
}

func (d *UTF16Reader) peekUnit() rune {
	a, b := d.raw[d.r0], d.raw[d.r0+1]
	if d.be {
		return rune(a)<<8 | rune(b)
	}
	return rune(b)<<8 | rune(a)
}

// fill moves the undecoded bytes to the front and reads until at least 4 are there, or the
// content ends.
func (d *UTF16Reader) fill() {
	d.r1 = copy(d.raw, d.raw[d.r0:d.r1])
	d.r0 = 0
	for d.r1 < 4 && !d.eof {
		m, err := d.src.Read(d.raw[d.r1:])
		if m > 0 && d.Tap != nil && d.err == nil {
			if terr := d.Tap(d.raw[d.r1:d.r1+m], false); terr != nil {
				d.err, d.eof = terr, true
			}
		}
		d.r1 += m
		d.read += int64(m)
		if err != nil {
			d.eof = true
			if !errors.Is(err, io.EOF) {
				d.err = err
			} else if d.Tap != nil && d.err == nil {
				d.err = d.Tap(nil, true)
			}
		}
	}
	if d.err != nil {
		// A read error ends the content where it happened: what is decoded is not to be
		// trusted to be whole.
		d.r0, d.r1 = 0, 0
	}
}
