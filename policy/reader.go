package policy

import (
	"bytes"
	"errors"
	"io"
)

// window is one bounded view of a fragment's content: buf[ownStart:ownEnd] is the part this
// window reports matches for; the bytes before and after it are context shared with the previous
// and next window, so a match that straddles a window boundary is still seen whole.
type window struct {
	buf      []byte
	base     int64 // offset of buf[0] in the fragment
	line     int   // 1-based line number of buf[0]
	col      int   // 0-based column (in bytes) of buf[0] on its line
	ownStart int
	ownEnd   int
	// decoded is set for text decoded from an encoded run: findings are reported at the run's
	// line and column, tagged "decoded:<decoded>".
	decoded          string
	atLine, atColumn int
}

// windowReader reads a fragment as a sequence of windows of at most size+2*overlap bytes. It
// reuses one buffer, so memory stays flat whatever the fragment's size or line lengths.
type windowReader struct {
	r       io.Reader
	size    int
	overlap int
	buf     []byte
	w       window
	started bool
	eof     bool
	read    int64 // bytes read from r
}

func newWindowReader(buf []byte, size, overlap int) *windowReader {
	if cap(buf) < size+2*overlap {
		buf = make([]byte, size+2*overlap)
	}
	return &windowReader{size: size, overlap: overlap, buf: buf[:size+2*overlap]}
}

func (wr *windowReader) reset(r io.Reader) {
	wr.r = r
	wr.w = window{line: 1}
	wr.started = false
	wr.eof = false
	wr.read = 0
}

// next advances to the next window. It returns false at the end of the content (after the last
// window) or on a read error, which err then reports.
func (wr *windowReader) next() (ok bool, err error) {
	n := 0
	if !wr.started {
		wr.started = true
		n, err = wr.fill(0, wr.size+wr.overlap)
		if err != nil {
			return false, err
		}
		wr.w = window{buf: wr.buf[:n], line: 1}
		wr.w.ownEnd = wr.ownEnd(n)
		return true, nil
	}
	if wr.eof {
		return false, nil
	}
	// Keep overlap bytes before the old ownEnd as look-behind context, and everything after it.
	w := &wr.w
	keepFrom := w.ownEnd - wr.overlap
	dropped := w.buf[:keepFrom]
	if nl := bytes.LastIndexByte(dropped, '\n'); nl >= 0 {
		w.line += bytes.Count(dropped, []byte{'\n'})
		w.col = keepFrom - nl - 1
	} else {
		w.col += keepFrom
	}
	w.base += int64(keepFrom)
	kept := copy(wr.buf, w.buf[keepFrom:])
	n, err = wr.fill(kept, len(wr.buf))
	if err != nil {
		return false, err
	}
	w.buf = wr.buf[:n]
	w.ownStart = wr.overlap
	w.ownEnd = wr.ownEnd(n)
	if w.ownEnd <= w.ownStart {
		// Nothing new: the previous window already owned everything up to EOF.
		return false, nil
	}
	return true, nil
}

func (wr *windowReader) ownEnd(n int) int {
	if wr.eof {
		return n
	}
	return n - wr.overlap
}

// fill reads into buf[from:to] until it is full or the content ends.
func (wr *windowReader) fill(from, to int) (int, error) {
	for from < to && !wr.eof {
		m, err := wr.r.Read(wr.buf[from:to])
		from += m
		wr.read += int64(m)
		if errors.Is(err, io.EOF) {
			wr.eof = true
			break
		}
		if err != nil {
			return from, err
		}
	}
	return from, nil
}
