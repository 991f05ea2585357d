package policy

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/safebuild/safebuild/policy/archive"
)

// Archives met twice. The same archive bytes often sit at several paths of one image — a jar
// copied by two stages, a layer that chmods a tree and so stores it again, a wheel cache — and
// an archive can cost far more to open than its size says (a 428 KB bzip2 file in Go's source
// tree holds 64 MB of text). A Scanner therefore remembers, for each archive it walked whose
// bytes it could read at random, the SHA-256 of those bytes, its members' paths, findings and
// counts. The same bytes met again at another path are not decompressed again when every member
// is judged alike at both paths (Ruleset.pathVerdict: global skips, rule paths, path
// allowlists): the findings are reported again under the new path (Relocate: new fingerprints,
// the ignore list checked at the new paths), and each member's path-only rules run for its new
// path. Anything else — a member judged differently, an archive whose walk hit a bound or broke,
// content read from a stream — is walked again.

// memoMaxMembers bounds the member paths the memo holds, all archives together.
const memoMaxMembers = 1 << 20

type archiveMemo struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*memoEntry
	members int
}

type memoEntry struct {
	done     chan struct{} // closed when the first walk is over
	ok       bool          // the walk finished cleanly and may be replayed
	path     string        // the archive's path at its first walk
	members  []string      // member paths after path
	findings []Finding     // the walk's findings, paths under path
	stats    Stats
}

// memoKey hashes what decides an archive walk's result apart from its path: its bytes, the
// bounds, and how its own path was judged.
func memoKey(ra archive.ReaderAtSizer, opts archive.Options, rulesOn, inImage bool) ([sha256.Size]byte, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d %d %d %d %v %v\n", opts.MaxDepth, opts.MaxBytes, opts.MaxZipBytes, opts.MaxEntries, rulesOn, inImage)
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, ra.Size())); err != nil {
		return [sha256.Size]byte{}, err
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k, nil
}

// claim returns the entry for key: first reports whether the caller walks the archive (and
// must call finish); otherwise the entry was walked or is being walked by another goroutine.
func (m *archiveMemo) claim(key [sha256.Size]byte) (e *memoEntry, first bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[[sha256.Size]byte]*memoEntry{}
	}
	if e, ok := m.entries[key]; ok {
		return e, false
	}
	e = &memoEntry{done: make(chan struct{})}
	m.entries[key] = e
	return e, true
}

// finish records the first walk's outcome and wakes those waiting for it.
func (m *archiveMemo) finish(key [sha256.Size]byte, e *memoEntry, ok bool) {
	m.mu.Lock()
	if ok && m.members+len(e.members) <= memoMaxMembers {
		e.ok = true
		m.members += len(e.members)
	} else {
		e.members, e.findings = nil, nil
		delete(m.entries, key) // a later copy walks again, and may be remembered then
	}
	m.mu.Unlock()
	close(e.done)
}

// wipe forgets every archive (findings may hold secrets WithSecrets(true)).
func (m *archiveMemo) wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.entries {
		select {
		case <-e.done:
			for i := range e.findings {
				e.findings[i].Secret = ""
			}
		default:
		}
	}
	m.entries, m.members = nil, 0
}

// replay reports a remembered walk of the same bytes for the archive at o.Path, when every
// member is judged alike at both paths; false means the archive must be walked.
func (d *detector) replay(o Origin, e *memoEntry, emit func(Finding) error) (Stats, bool, error) {
	if !e.ok {
		return Stats{}, false, nil
	}
	rs := d.rs
	for _, m := range e.members {
		if !sameVerdict(rs.pathVerdict(e.path+m, d.inImage), rs.pathVerdict(o.Path+m, d.inImage)) {
			return Stats{}, false, nil
		}
	}
	for _, m := range e.members {
		mo := o
		mo.Path = o.Path + m
		if _, err := d.judgePath(mo, emit); err != nil {
			return Stats{}, true, err
		}
	}
	for _, f := range e.findings {
		if f.Line == 0 {
			continue // path-only: judgePath reported the new path's
		}
		f.Origin.Kind, f.Origin.Ref = o.Kind, o.Ref
		f, ok := d.s.Relocate(f, o.Path+strings.TrimPrefix(f.Origin.Path, e.path))
		if !ok {
			continue
		}
		if err := emit(f); err != nil {
			return Stats{}, true, err
		}
	}
	return e.stats, true, nil
}

func sameVerdict(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
