package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/safebuild/safebuild/policy/internal/rx"
)

// Default window geometry: fragments are read in windows of defaultWindow bytes, overlapping by
// rx.ReachCap bytes on each side.
const defaultWindow = 1 << 20

// options holds what NewScanner's Options set.
type options struct {
	rules       *Ruleset
	jobs        int
	canaries    []Canary
	binary      bool
	secrets     bool
	ignoreAllow bool
	ignore      map[string]bool
	window      int
	decodeDepth int
}

// Option configures a Scanner. Each option rejects bad values.
type Option func(*options) error

// WithRules sets the ruleset the scanner runs. It is required: package policy/config returns the
// default ruleset (config.Default: gitleaks' default rules and safebuild's build rules) and
// loads gitleaks TOML configs (config.LoadFile).
func WithRules(rs *Ruleset) Option {
	return func(o *options) error {
		if rs == nil {
			return errors.New("WithRules: nil ruleset")
		}
		o.rules = rs
		return nil
	}
}

// WithJobs sets how many fragments are scanned in parallel. Default: runtime.GOMAXPROCS(0).
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 1024 {
			return fmt.Errorf("WithJobs: %d jobs: accepted 1..1024", n)
		}
		o.jobs = n
		return nil
	}
}

// WithCanaries adds exact values to look for, in every encoding the engine knows. Each value
// must be at least MinCanaryLen bytes and each name unique and non-empty. The scanner keeps its
// own copies of the values and wipes them on Close. Canaries are looked for in all content,
// including binary fragments and allowlisted paths. Default: none.
func WithCanaries(cs ...Canary) Option {
	return func(o *options) error {
		o.canaries = append(o.canaries, cs...)
		return nil
	}
}

// WithBinary makes the scanner run its rules over binary content too. Default: false (binary
// fragments are skipped, except for canaries).
func WithBinary(scan bool) Option {
	return func(o *options) error { o.binary = scan; return nil }
}

// WithSecrets makes findings carry the raw secret in Finding.Secret (never for canaries).
// Default: false. Only for an explicit user request such as --show-secrets.
func WithSecrets(show bool) Option {
	return func(o *options) error { o.secrets = show; return nil }
}

// WithIgnoreAllowComments makes the scanner report findings on lines that carry a
// "gitleaks:allow" comment. Default: false (such lines are skipped, as in gitleaks).
func WithIgnoreAllowComments(ignore bool) Option {
	return func(o *options) error { o.ignoreAllow = ignore; return nil }
}

// WithIgnore suppresses findings by gitleaks fingerprint ("path:rule-id:line", as in
// .gitleaksignore) or by Finding.Fingerprint. Default: none.
func WithIgnore(fingerprints ...string) Option {
	return func(o *options) error {
		if o.ignore == nil {
			o.ignore = map[string]bool{}
		}
		for _, f := range fingerprints {
			if f == "" {
				return errors.New("WithIgnore: empty fingerprint")
			}
			o.ignore[f] = true
		}
		return nil
	}
}

// WithWindow sets the size of the windows large fragments are read in. Memory per job is about
// 2×(size+128 KiB). Default: 1 MiB; accepted: 64 KiB..256 MiB.
func WithWindow(size int) Option {
	return func(o *options) error {
		if size < rx.ReachCap || size > 256<<20 {
			return fmt.Errorf("WithWindow: %d bytes: accepted %d..%d", size, rx.ReachCap, 256<<20)
		}
		o.window = size
		return nil
	}
}

// WithDecodeDepth sets how many times encoded runs (base64, hex, percent, unicode) are decoded and the result
// scanned again, as gitleaks' --max-decode-depth. Default: 5, as gitleaks; accepted: 0 (off)..8.
func WithDecodeDepth(n int) Option {
	return func(o *options) error {
		if n < 0 || n > 8 {
			return fmt.Errorf("WithDecodeDepth: %d: accepted 0..8", n)
		}
		o.decodeDepth = n
		return nil
	}
}

// Scanner finds credentials in content. It is safe for concurrent use; Close it when done to wipe
// its canary values.
type Scanner struct {
	opts     options
	canaries *canarySet
	memo     archiveMemo // archives walked, by their bytes (archivememo.go)
	pool     sync.Pool
}

// NewScanner returns a Scanner configured by opts, which must include WithRules.
func NewScanner(opts ...Option) (*Scanner, error) {
	o := options{jobs: runtime.GOMAXPROCS(0), window: defaultWindow, decodeDepth: 5}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.rules == nil {
		return nil, errors.New("NewScanner: no ruleset: pass WithRules (config.Default() for the default rules)")
	}
	s := &Scanner{opts: o}
	if len(o.canaries) > 0 {
		cs, err := newCanarySet(o.canaries)
		if err != nil {
			return nil, err
		}
		s.canaries = cs
		s.opts.canaries = nil
	}
	s.pool.New = func() any { return newDetector(s) }
	return s, nil
}

// Close wipes the scanner's copies of canary values. The scanner must not be used afterwards.
func (s *Scanner) Close() error {
	if s.canaries != nil {
		s.canaries.wipe()
	}
	s.memo.wipe()
	return nil
}

// FileError is a fragment that could not be read.
type FileError struct {
	Origin Origin
	Err    error
}

func (e *FileError) Error() string { return fmt.Sprintf("reading %s: %v", e.Origin.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// maxFileErrors bounds how many unreadable fragments a Scan error lists.
const maxFileErrors = 20

// Scan scans every fragment src yields, in parallel, and calls emit for each finding (never
// concurrently). Fragments that cannot be read do not stop the scan: they are counted as skipped
// and returned, joined, as *FileError values once the scan is over. An error from emit or from
// the source stops the scan and is returned.
func (s *Scanner) Scan(ctx context.Context, src Source, emit func(Finding) error) (Stats, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu       sync.Mutex
		stats    Stats
		fileErrs []error
		nErrs    int
	)
	lockedEmit := func(f Finding) error {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := emit(f); err != nil {
			cancel(err)
			return err
		}
		return nil
	}
	frags := make(chan Fragment, s.opts.jobs*4)
	var wg sync.WaitGroup
	for range s.opts.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := s.pool.Get().(*detector)
			defer s.pool.Put(d)
			for fr := range frags {
				st, err := s.scanFragment(ctx, d, fr, lockedEmit)
				mu.Lock()
				stats.Add(st)
				if err != nil && ctx.Err() == nil {
					nErrs++
					if len(fileErrs) < maxFileErrors {
						fileErrs = append(fileErrs, &FileError{Origin: fr.Origin, Err: err})
					}
				}
				mu.Unlock()
			}
		}()
	}
	srcErr := src.Fragments(ctx, func(fr Fragment) error {
		select {
		case frags <- fr:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(frags)
	wg.Wait()
	stats.Duration = time.Since(start)
	if cause := context.Cause(ctx); cause != nil {
		return stats, cause
	}
	if srcErr != nil {
		return stats, srcErr
	}
	if nErrs > len(fileErrs) {
		fileErrs = append(fileErrs, fmt.Errorf("and %d more unreadable files", nErrs-len(fileErrs)))
	}
	return stats, errors.Join(fileErrs...)
}

// ScanReader scans one fragment read from r, in the calling goroutine, and calls emit for each
// finding. It is what gates that walk their own inputs (image layers) call. The content is
// scanned as it is, never opened as an archive (ScanFile does that); UTF-16 and UTF-8 with a
// byte order mark are transcoded first, lines and columns counting the decoded text.
func (s *Scanner) ScanReader(ctx context.Context, origin Origin, r io.Reader, emit func(Finding) error) (Stats, error) {
	start := time.Now()
	d := s.pool.Get().(*detector)
	defer s.pool.Put(d)
	st, err := d.scan(ctx, origin, r, nil, nil, emit)
	st.Duration = time.Since(start)
	return st, err
}

func (s *Scanner) scanFragment(ctx context.Context, d *detector, fr Fragment, emit func(Finding) error) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, nil
	}
	return d.scan(ctx, fr.Origin, nil, fr.Open, fr.Archives, emit)
}

// SortFindings orders findings by origin, path, line, column and rule ID, the order every
// report uses.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Origin.String() != b.Origin.String() {
			return a.Origin.String() < b.Origin.String()
		}
		if a.Origin.Path != b.Origin.Path {
			return a.Origin.Path < b.Origin.Path
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.RuleID < b.RuleID
	})
}
