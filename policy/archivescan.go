package policy

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/safebuild/safebuild/policy/archive"
)

// RuleIncomplete is the rule ID of a finding that says part of some content could not be
// scanned (an archive past a bound, or corrupt): a gate cannot vouch for what it did not read,
// so it fails closed.
const RuleIncomplete = "incomplete-scan"

// ScanFile scans one file's content read from r, in the calling goroutine, as ScanReader does;
// but when the content's bytes are an archive (zip, tar, gzip, zstd, xz, bzip2: whatever its
// name says), it is walked member by member within archives' bounds, each member scanned under
// a path like "app.jar!BOOT-INF/classes/application.yml" and judged by that path. An archive
// past a bound, or corrupt, yields an incomplete-scan finding (RuleIncomplete) at the path where
// it stopped. r is read at random, a zip in place, when it is an archive.ReaderAtSizer.
// archives.MaxDepth < 0 scans the content as it is.
func (s *Scanner) ScanFile(ctx context.Context, origin Origin, r io.Reader, archives archive.Options, emit func(Finding) error) (Stats, error) {
	start := time.Now()
	d := s.pool.Get().(*detector)
	defer s.pool.Put(d)
	st, err := d.scan(ctx, origin, r, nil, &archives, emit)
	st.Duration = time.Since(start)
	return st, err
}

// scanArchive walks the archive whose first window d.wr holds and whose rest r gives, and scans
// each member, judged by its own path; rulesOn false (a source tree's archive whose own path is
// allowlisted) leaves the members to the canaries, as the archive's own bytes would have been.
func (d *detector) scanArchive(ctx context.Context, o Origin, r io.Reader, rulesOn bool, opts archive.Options, emit func(Finding) error) (st Stats, err error) {
	// The same bytes walked before, at another path: replayed when judged alike (archivememo.go).
	var memo *memoEntry
	clean := false // the walk finished without hitting a bound or breaking: replayable
	if ra, ok := r.(archive.ReaderAtSizer); ok {
		if key, kerr := memoKey(ra, opts, rulesOn, d.inImage); kerr == nil {
			e, first := d.s.memo.claim(key)
			if first {
				memo = e
				memo.path = o.Path
				defer func() { d.s.memo.finish(key, memo, err == nil && clean) }()
			} else {
				select {
				case <-e.done:
				case <-ctx.Done():
					return st, ctx.Err()
				}
				if rst, done, rerr := d.replay(o, e, emit); done {
					return rst, rerr
				}
			}
		}
	}
	d.archHead = append(d.archHead[:0], d.wr.w.buf...)
	pr := &prefixReader{head: d.archHead, r: r}
	if d.wr.eof {
		pr.r = nil
	}
	var src io.Reader = pr
	if ra, ok := r.(archive.ReaderAtSizer); ok {
		src = &prefixReaderAt{pr, ra}
	}
	// An error emit returns stops the scan as it is; any other error is the archive's.
	var emitErr error
	guarded := func(f Finding) error {
		if memo != nil {
			memo.findings = append(memo.findings, f)
		}
		if err := emit(f); err != nil {
			emitErr = err
			return err
		}
		return nil
	}
	_, err = archive.Walk(ctx, o.Path, src, opts, func(m archive.Member) error {
		mo := o
		mo.Path = m.Path
		if memo != nil {
			memo.members = append(memo.members, strings.TrimPrefix(m.Path, o.Path))
		}
		mst := Stats{Files: 1}
		on := rulesOn
		if on {
			var err error
			if on, err = d.judgePath(mo, guarded); err != nil {
				return err
			}
		}
		if !on && d.s.canaries == nil {
			mst.Skipped = 1
			st.Add(mst)
			return nil
		}
		mst, err := d.scanContent(ctx, mo, m.Content, on, nil, guarded, mst)
		st.Add(mst)
		return err
	})
	var le *archive.LimitError
	switch {
	case err == nil:
		if memo != nil {
			memo.stats, clean = st, true
		}
		return st, nil
	case emitErr != nil && errors.Is(err, emitErr), ctx.Err() != nil:
		return st, err
	case errors.As(err, &le):
		return st, d.incomplete(o, le.Path, le.Error(), emit)
	default:
		// A corrupt archive is still content: say so, and fail closed.
		return st, d.incomplete(o, o.Path, err.Error(), emit)
	}
}

// incomplete reports that content at path could not be scanned whole, and why.
func (d *detector) incomplete(o Origin, path, why string, emit func(Finding) error) error {
	o.Path = path
	// The fingerprint names the rule and the path only, so that a baseline can accept a known
	// broken archive (a test fixture) whatever the reason's wording.
	return emit(Finding{RuleID: RuleIncomplete, Description: why, Severity: SeverityHigh, Confidence: ConfidenceHigh, Origin: o,
		Fingerprint: fingerprint(RuleIncomplete, o, "")})
}

// prefixReaderAt is a prefixReader over content that can also be read at random.
type prefixReaderAt struct {
	*prefixReader
	ra archive.ReaderAtSizer
}

func (p *prefixReaderAt) ReadAt(b []byte, off int64) (int, error) { return p.ra.ReadAt(b, off) }
func (p *prefixReaderAt) Size() int64                             { return p.ra.Size() }
