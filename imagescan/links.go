package imagescan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
)

// Hard links. A tar hard-link entry has no bytes: its content is the target's, an earlier
// entry of the same layer. It is scanned under its own path and judged by it (rule paths,
// allowlists), as a directory scan of the extracted filesystem would: a link whose target sits
// under an allowlisted path must not hide the content at the link's own path.
//
// The common case costs nothing: a link is only recorded during the walk, and once the layer
// is scanned, a link whose path the scanner judges like its target's (Scanner.JudgedAlike;
// most links: git's and perl's binaries, files deduplicated in one directory) gets the
// target's content findings under its own path, and its own path-only findings, without
// reading anything. Only a link judged differently, or whose target is an archive (its
// members' paths start with the link's), is read again: one more pass over the layer's
// stream for all such links, scanning each target's bytes under each link's path. A link whose
// target is not in its layer (a layer made by hand: the OCI spec says extracting it may fail)
// is looked for in the lower layers, top down, as extraction over them would resolve it; a
// target no layer has is reported as a notice, and there is nothing to scan.

// layerLinks collects one layer's hard links while it is walked, and scans them (resolve) once
// the walk and every file's scan are done.
type layerLinks struct {
	seed  maphash.Seed
	files []fileRef // the regular files, for "is the target in this layer, before the link?"

	mu       sync.Mutex
	archives map[string]bool // regular files whose bytes are archives
	links    []image.Entry
}

func newLayerLinks() *layerLinks { return &layerLinks{seed: maphash.MakeSeed()} }

// fileRef is a regular file of the layer: its path's hash and its entry's index.
type fileRef struct {
	hash  uint64
	index int
}

// file records a regular file; it is called in stream order, from the walk.
func (ll *layerLinks) file(e image.Entry) {
	ll.files = append(ll.files, fileRef{maphash.String(ll.seed, e.Path), e.Index})
}

// link records a hard-link entry.
func (ll *layerLinks) link(e image.Entry) {
	ll.links = append(ll.links, image.Entry{Path: e.Path, Link: e.Link, Index: e.Index})
}

// note records whether the file about to be scanned at p is an archive, by its first bytes, and
// returns a reader of the whole content. It is called from several goroutines.
func (ll *layerLinks) note(p string, r io.Reader) io.Reader {
	r, isArchive := sniffArchive(r)
	if isArchive {
		ll.mu.Lock()
		if ll.archives == nil {
			ll.archives = map[string]bool{}
		}
		ll.archives[p] = true
		ll.mu.Unlock()
	}
	return r
}

// sniffArchive tells whether r's bytes are an archive, and returns a reader of all of them.
func sniffArchive(r io.Reader) (io.Reader, bool) {
	if br, ok := r.(*bytes.Reader); ok {
		var b [archive.HeadLen]byte
		n, _ := br.ReadAt(b[:], 0)
		return r, archive.Detect(b[:n]) != archive.None
	}
	bf := bufio.NewReaderSize(r, 512)
	head, _ := bf.Peek(archive.HeadLen)
	return bf, archive.Detect(head) != archive.None
}

// linkScan is what resolve needs from the layer's scan.
type linkScan struct {
	ctx   context.Context
	sc    *policy.Scanner
	layer *image.Layer
	lower []*image.Layer // the layers below, base first
	lim   image.Limits
	// findings are the layer's findings once every file is scanned; scan scans content under
	// a path as a file of the layer, reporting its findings to emit; emit reports a finding of
	// the layer; notice reports what cannot be scanned.
	findings []policy.Finding
	scan     func(p string, r io.Reader, emit func(policy.Finding) error) error
	emit     func(policy.Finding) error
	notice   func(string)
}

// resolve scans every recorded link under its own path.
func (ll *layerLinks) resolve(s *linkScan) error {
	if len(ll.links) == 0 {
		return nil
	}
	cmp := func(a, b fileRef) int {
		if a.hash != b.hash {
			return compare(a.hash, b.hash)
		}
		return a.index - b.index
	}
	slices.SortFunc(ll.files, cmp)
	// A link's target is an entry before it (tar writers store the bytes with the first name).
	before := func(l image.Entry) bool {
		i, _ := slices.BinarySearchFunc(ll.files, fileRef{maphash.String(ll.seed, l.Link), -1}, cmp)
		return i < len(ll.files) && ll.files[i].hash == maphash.String(ll.seed, l.Link) && ll.files[i].index < l.Index
	}
	// The layer's content findings by path, for links judged like their targets.
	byPath := map[string][]policy.Finding{}
	for _, f := range s.findings {
		if f.Line > 0 {
			byPath[f.Origin.Path] = append(byPath[f.Origin.Path], f)
		}
	}
	var reread, lower []image.Entry
	for _, l := range ll.links {
		switch {
		case !before(l):
			lower = append(lower, l)
		case ll.archives[l.Link] || !s.sc.JudgedAlike(OriginLayer, l.Link, l.Path):
			reread = append(reread, l)
		default:
			if err := s.relocate(byPath[l.Link], l.Link, l.Path); err != nil {
				return err
			}
		}
	}
	for len(reread) > 0 {
		left, missing, err := s.pass(s.layer, reread, true)
		if err != nil {
			return err
		}
		lower, reread = append(lower, missing...), left
	}
	for i := len(s.lower) - 1; i >= 0 && len(lower) > 0; i-- {
		var missingHere []image.Entry
		for len(lower) > 0 {
			left, missing, err := s.pass(s.lower[i], lower, false)
			if err != nil {
				return err
			}
			missingHere, lower = append(missingHere, missing...), left
		}
		lower = missingHere
	}
	for _, l := range lower {
		s.notice(fmt.Sprintf("layer %d (%s): %s is a hard link to %s, which neither this layer (before the link) nor a lower one holds: nothing to scan under its path",
			s.layer.Index, s.layer.Digest, l.Path, l.Link))
	}
	return nil
}

// relocate reports content judged alike at two paths: the content findings at from under the
// path to, and to's own path-only findings.
func (s *linkScan) relocate(findings []policy.Finding, from, to string) error {
	for _, f := range findings {
		if f.Origin.Path != from || f.Line == 0 {
			continue
		}
		if f, ok := s.sc.Relocate(f, to); ok {
			if err := s.emit(f); err != nil {
				return err
			}
		}
	}
	return s.scan(to, strings.NewReader(""), s.emit)
}

// errPassDone stops a pass over a lower layer once every wanted target was scanned.
var errPassDone = errors.New("every link target found")

// pass walks layer once and, for each target that links in want need, scans its bytes under
// the first link's path and gives the other links judged alike the same findings. In the
// links' own layer (own) a link's target is an entry before it; in a lower layer, any. It
// returns the links left for another pass (a link to a target read for another link and
// judged differently) and those whose target the layer does not hold.
func (s *linkScan) pass(layer *image.Layer, want []image.Entry, own bool) (left, missing []image.Entry, err error) {
	byTarget := map[string][]image.Entry{}
	for _, l := range want {
		byTarget[l.Link] = append(byTarget[l.Link], l)
	}
	served := map[int]bool{} // by link Index
	done := 0
	err = image.WalkLayer(s.ctx, layer, nil, s.lim, func(e image.Entry) error {
		links := byTarget[e.Path]
		if e.Content == nil || len(links) == 0 {
			return nil
		}
		if own {
			links = slices.DeleteFunc(slices.Clone(links), func(l image.Entry) bool { return l.Index < e.Index })
		}
		if len(links) == 0 {
			return nil
		}
		r, isArchive := sniffArchive(e.Content)
		first := links[0]
		var got []policy.Finding
		err := s.scan(first.Path, r, func(f policy.Finding) error {
			got = append(got, f)
			return s.emit(f)
		})
		if err != nil {
			return err
		}
		if !served[first.Index] {
			served[first.Index] = true
			done++
		}
		for _, o := range links[1:] {
			if served[o.Index] || isArchive || !s.sc.JudgedAlike(OriginLayer, first.Path, o.Path) {
				continue
			}
			if err := s.relocate(got, first.Path, o.Path); err != nil {
				return err
			}
			served[o.Index] = true
			done++
		}
		if !own && done == len(want) {
			return errPassDone
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPassDone) {
		return nil, nil, fmt.Errorf("reading hard link targets again: %w", err)
	}
	for _, l := range want {
		switch {
		case served[l.Index]:
		case slices.ContainsFunc(want, func(o image.Entry) bool { return o.Link == l.Link && served[o.Index] }):
			left = append(left, l)
		default:
			missing = append(missing, l)
		}
	}
	return left, missing, nil
}

// lowerLayers returns the layers below l, base first.
func lowerLayers(layers []*image.Layer, l *image.Layer) []*image.Layer {
	var out []*image.Layer
	for _, x := range layers {
		if x.Index < l.Index {
			out = append(out, x)
		}
	}
	return out
}

func compare(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
