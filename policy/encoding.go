package policy

import (
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// textEncoding is how a fragment's text is encoded, as its first bytes tell.
type textEncoding int

const (
	encPlain   textEncoding = iota // ASCII, UTF-8 without a BOM, or anything else: read as it is
	encUTF8BOM                     // UTF-8 after a byte order mark, which is dropped
	encUTF16LE
	encUTF16BE
)

// sniffUnits is how many leading bytes decide whether text without a BOM is UTF-16.
const sniffUnits = 1024

// sniffEncoding tells UTF-8 with a byte order mark and UTF-16 (little or big endian, with a BOM,
// or without one when NUL bytes sit every other byte of ASCII text) from a fragment's first
// bytes, and returns how many leading bytes (the BOM) to drop. Anything else is encPlain: plain
// ASCII and UTF-8 cost two byte compares.
func sniffEncoding(head []byte) (textEncoding, int) {
	if len(head) < 2 {
		return encPlain, 0
	}
	switch {
	case head[0] == 0xef && len(head) >= 3 && head[1] == 0xbb && head[2] == 0xbf:
		return encUTF8BOM, 3
	case head[0] == 0xff && head[1] == 0xfe:
		return encUTF16LE, 2
	case head[0] == 0xfe && head[1] == 0xff:
		return encUTF16BE, 2
	case head[1] == 0 && head[0] != 0 && utf16Text(head, false):
		return encUTF16LE, 0
	case head[0] == 0 && head[1] != 0 && utf16Text(head, true):
		return encUTF16BE, 0
	}
	return encPlain, 0
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
func (e textEncoding) String() string {
	switch e {
	case encUTF8BOM:
		return "utf-8-bom"
	case encUTF16LE:
		return "utf-16le"
	case encUTF16BE:
		return "utf-16be"
	}
	return "plain"
}

// prefixReader reads head, then r (nil: nothing more). It gives back the bytes a scan read to
// look at a fragment's start.
type prefixReader struct {
	head []byte
	r    io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	if p.r == nil {
		return 0, io.EOF
	}
	return p.r.Read(b)
}

// utf16Reader transcodes UTF-16 to UTF-8 as it is read. Unpaired surrogates and a trailing odd
// byte become U+FFFD. tap, when set, sees every raw byte once, in order, before it is decoded
// (the canary matcher looks at the raw bytes too), and its error ends the read.
type utf16Reader struct {
	src     io.Reader
	be      bool
	raw     []byte
	r0, r1  int // raw[r0:r1] is read and not yet decoded
	eof     bool
	err     error
	pend    []byte // the rest of a rune that did not fit the caller's buffer
	pendBuf [utf8.UTFMax]byte
	tap     func(raw []byte, eof bool) error
	read    int64 // raw bytes read from src
}

func newUTF16Reader(src io.Reader, be bool, buf []byte) *utf16Reader {
	if cap(buf) < 32<<10 {
		buf = make([]byte, 32<<10)
	}
	return &utf16Reader{src: src, be: be, raw: buf[:cap(buf)]}
}

func (d *utf16Reader) Read(p []byte) (int, error) {
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
func (d *utf16Reader) next() (rune, bool) {
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

func (d *utf16Reader) unit() rune {
	u := d.peekUnit()
	d.r0 += 2
	return u
}

func (d *utf16Reader) peekUnit() rune {
	a, b := d.raw[d.r0], d.raw[d.r0+1]
	if d.be {
		return rune(a)<<8 | rune(b)
	}
	return rune(b)<<8 | rune(a)
}

// fill moves the undecoded bytes to the front and reads until at least 4 are there, or the
// content ends.
func (d *utf16Reader) fill() {
	d.r1 = copy(d.raw, d.raw[d.r0:d.r1])
	d.r0 = 0
	for d.r1 < 4 && !d.eof {
		m, err := d.src.Read(d.raw[d.r1:])
		if m > 0 && d.tap != nil && d.err == nil {
			if terr := d.tap(d.raw[d.r1:d.r1+m], false); terr != nil {
				d.err, d.eof = terr, true
			}
		}
		d.r1 += m
		d.read += int64(m)
		if err != nil {
			d.eof = true
			if !errors.Is(err, io.EOF) {
				d.err = err
			} else if d.tap != nil && d.err == nil {
				d.err = d.tap(nil, true)
			}
		}
	}
	if d.err != nil {
		// A read error ends the content where it happened: what is decoded is not to be
		// trusted to be whole.
		d.r0, d.r1 = 0, 0
	}
}

// canaryTap runs the canary matcher over the raw bytes of a fragment that is scanned
// transcoded: content that only looks like UTF-16 (a crafted BOM before a canary's raw value)
// must not hide the value from the matcher. It keeps the tail of each chunk so that a value
// across two chunks is seen whole, and counts lines in the raw bytes.
type canaryTap struct {
	s    *canarySet
	o    Origin
	emit func(Finding) error
	keep int // bytes carried to the next chunk: the longest pattern plus base64's look-behind
	buf  []byte
	w    window
}

func newCanaryTap(s *canarySet, o Origin, emit func(Finding) error) *canaryTap {
	longest := 0
	for _, p := range s.pats {
		longest = max(longest, p.end-p.start)
	}
	return &canaryTap{s: s, o: o, emit: emit, keep: longest + 8, w: window{line: 1}}
}

// feed matches the canaries in chunk, holding back the last bytes a longer match might need
// until the next chunk or the end.
func (t *canaryTap) feed(chunk []byte, eof bool) error {
	t.buf = append(t.buf, chunk...)
	w := &t.w
	w.buf = t.buf
	w.ownEnd = len(t.buf)
	if !eof {
		w.ownEnd = max(w.ownStart, len(t.buf)-t.keep)
	}
	if w.ownEnd > w.ownStart {
		if err := t.s.find(t.o, w, t.emit); err != nil {
			return err
		}
	}
	// Carry 8 bytes of look-behind and everything not yet owned.
	from := max(0, w.ownEnd-8)
	advance(w, from)
	t.buf = t.buf[:copy(t.buf, t.buf[from:])]
	w.ownStart = w.ownEnd - from
	return nil
}

// advance moves w's line and column past buf[:n], which is about to be dropped.
func advance(w *window, n int) {
	dropped := w.buf[:n]
	nl := -1
	for i, c := range dropped {
		if c == '\n' {
			w.line++
			nl = i
		}
	}
	if nl >= 0 {
		w.col = n - nl - 1
	} else {
		w.col += n
	}
	w.base += int64(n)
}
