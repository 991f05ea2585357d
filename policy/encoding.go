package policy

import "io"

// Reading a fragment's text encoding is package textenc's; here is what the engine adds around
// it: the bytes read to sniff a fragment's start given back (prefixReader), and the canaries run
// over the raw bytes of content that is read transcoded (canaryTap).

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
