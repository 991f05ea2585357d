package policy

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"

	"github.com/h2non/filetype"

	"github.com/safebuild/safebuild/policy/archive"
	"github.com/safebuild/safebuild/policy/internal/codec"
	"github.com/safebuild/safebuild/policy/internal/kwset"
	"github.com/safebuild/safebuild/policy/internal/rx"
	"github.com/safebuild/safebuild/policy/internal/textenc"
)

// allowSignature on a line suppresses findings on it, as in gitleaks.
var allowSignature = []byte("gitleaks:allow")

// sniffLen is how much of a fragment's start decides whether it is binary.
const sniffLen = 8192

type span struct{ start, end int }

// cand is a finding before global filtering, positions relative to the window buffer.
type cand struct {
	rule   *compiledRule
	start  int
	end    int
	line   int
	col    int
	secret []byte
	match  []byte
	req    []RequiredFinding // for a composite rule: the required findings near it
}

// detector is one worker's reusable state: window buffer, keyword hits, spans.
type detector struct {
	s       *Scanner
	rs      *Ruleset
	wr      *windowReader
	hits    []kwset.Hit
	ghits   []kwset.Hit // anchoredGroups' own, as it runs while hits is being walked
	found   [][2]int
	active  []bool // rule runs on this fragment
	pathOK  []bool // rule applies to this fragment's path (active, or skipReport)
	anyPart bool   // keep matches outside the window's own part (required rules' runs)
	aux     map[int32][]cand
	spans   [][]span
	starts  [][]int // for rules with anch: where their keyword hits start
	touched []int32
	cands   []cand
	inImage bool // the fragment is image or build content, not a source tree's file (judgePath)
	// archHead and textHead hold a fragment's first window when its content is read again
	// from the start: walked as an archive, or transcoded (an archive's member may be, while
	// the archive is read); utf16buf is the transcoder's raw buffer.
	archHead, textHead, utf16buf []byte
}

func newDetector(s *Scanner) *detector {
	rs := s.opts.rules
	size := s.opts.window
	return &detector{
		s:      s,
		rs:     rs,
		wr:     newWindowReader(nil, size, rx.ReachCap),
		active: make([]bool, len(rs.rules)),
		pathOK: make([]bool, len(rs.rules)),
		spans:  make([][]span, len(rs.rules)),
		starts: make([][]int, len(rs.rules)),
	}
}

// scan reads one fragment, from r or from open(), and emits its findings. With arch set and not
// off, content whose bytes are an archive is scanned member by member (scanArchive).
func (d *detector) scan(ctx context.Context, o Origin, r io.Reader, open func() (io.ReadCloser, error), arch *archive.Options, emit func(Finding) error) (Stats, error) {
	st := Stats{Files: 1}
	rulesOn, err := d.judgePath(o, emit)
	if err != nil {
		return st, err
	}
	// Inside images an archive is opened whatever its own path: a zip named firmware.bin holds
	// text members, judged by their own paths. A source tree's allowlisted file is skipped
	// whole, archive or not, as gitleaks does.
	openArchive := arch != nil && !arch.Off() && d.inImage
	if !rulesOn && d.s.canaries == nil && !openArchive {
		st.Skipped = 1
		return st, nil
	}
	if r == nil {
		rc, err := open()
		if err != nil {
			st.Skipped = 1
			return st, err
		}
		defer rc.Close()
		r = rc
	}
	return d.scanContent(ctx, o, r, rulesOn, arch, emit, st)
}

// judgePath decides what a fragment's path allows: false when a global allowlist skips it
// (gitleaks' full list for files of a source tree, the image list for everything else: see
// imageAllowlist); otherwise which rules apply to it, and the path-only rules' findings.
func (d *detector) judgePath(o Origin, emit func(Finding) error) (bool, error) {
	lower := strings.ToLower(o.Path)
	d.inImage = !o.sourceTree()
	if d.pathAllowedGlobally(o.Path, lower) {
		return false, nil
	}
	return true, d.pathRules(o, lower, emit)
}

// scanContent reads r in windows and runs the rules (when rulesOn) and the canaries over it.
// Its first window decides how: an archive (when arch allows) is walked member by member,
// UTF-16 and UTF-8 with a BOM are transcoded, then binary content is left to the canaries.
func (d *detector) scanContent(ctx context.Context, o Origin, r io.Reader, rulesOn bool, arch *archive.Options, emit func(Finding) error, st Stats) (Stats, error) {
	canaries := d.s.canaries
	wr := d.wr
	wr.reset(r)
	defer func() { wr.r = nil }()
	var dec *textenc.UTF16Reader
	read := func() int64 {
		if dec != nil {
			return dec.Consumed()
		}
		return wr.read
	}
	fail := func(err error) (Stats, error) {
		st.Bytes = read()
		st.Skipped = 1
		return st, err
	}
	ok, err := wr.next()
	if err != nil {
		return fail(err)
	}
	if ok && arch != nil && !arch.Off() && archive.Detect(wr.w.buf) != archive.None {
		return d.scanArchive(ctx, o, r, rulesOn || d.inImage, *arch, emit)
	}
	if !rulesOn && canaries == nil {
		st.Skipped = 1
		st.Bytes = read()
		return st, nil
	}
	if ok {
		if enc, bom := textenc.Sniff(wr.w.buf); enc != textenc.Plain {
			d.textHead = append(d.textHead[:0], wr.w.buf[bom:]...)
			src := &prefixReader{head: d.textHead, r: r}
			if wr.eof {
				src.r = nil
			}
			if enc == textenc.UTF8BOM {
				wr.reset(src)
			} else {
				dec = textenc.NewUTF16Reader(src, enc == textenc.UTF16BE, d.utf16buf)
				d.utf16buf = dec.Buffer()
				if canaries != nil {
					dec.Tap = newCanaryTap(canaries, o, emit).feed
				}
				wr.reset(dec)
			}
			if ok, err = wr.next(); err != nil {
				return fail(err)
			}
		}
	}
	if ok && rulesOn && !d.s.opts.binary && isBinary(wr.w.buf[:min(len(wr.w.buf), sniffLen)]) {
		rulesOn = false
		if canaries == nil {
			st.Skipped = 1
			st.Bytes = read()
			return st, nil
		}
	}
	for ok {
		if err := ctx.Err(); err != nil {
			st.Bytes = read()
			return st, err
		}
		w := &wr.w
		if rulesOn {
			if err := d.detectWindow(o, w, emit); err != nil {
				st.Bytes = read()
				return st, err
			}
			if err := d.detectDecoded(o, w, d.s.opts.decodeDepth, emit); err != nil {
				st.Bytes = read()
				return st, err
			}
		}
		if canaries != nil {
			if err := canaries.find(o, w, emit); err != nil {
				st.Bytes = read()
				return st, err
			}
		}
		if ok, err = wr.next(); err != nil {
			return fail(err)
		}
	}
	st.Bytes = read()
	return st, nil
}

// detectDecoded decodes the encoded runs that start in w's own part and runs the rules over the
// decoded text, recursively up to depth.
func (d *detector) detectDecoded(o Origin, w *window, depth int, emit func(Finding) error) error {
	if depth <= 0 {
		return nil
	}
	for _, seg := range codec.Segments(w.buf, w.ownStart, w.ownEnd) {
		sub := &window{buf: seg.Data, line: 1, ownEnd: len(seg.Data), decoded: seg.Enc}
		if w.decoded != "" {
			sub.decoded = w.decoded + "," + seg.Enc
			sub.atLine, sub.atColumn = w.atLine, w.atColumn
		} else {
			sub.atLine = w.line + bytes.Count(w.buf[:seg.Start], []byte{'\n'})
			sub.atColumn = column(w, seg.Start)
		}
		if err := d.detectWindow(o, sub, emit); err != nil {
			return err
		}
		if err := d.detectDecoded(o, sub, depth-1, emit); err != nil {
			return err
		}
	}
	return nil
}

// byteClass is codec.ByteClass under the name the engine's code used before the decoders moved
// to policy/internal/codec (the partial-canary matcher under way reads it).
var byteClass = codec.ByteClass

// isBinary reports whether content looks binary: a NUL byte, or a file type that gitleaks
// treats as binary (archives, executables, documents: MIME type application/*). File-type
// sniffing is skipped for heads of plain ASCII text, which costs 10 µs a file: the types it
// would find there (PDF, RTF, PostScript) are then scanned as text, which is safe.
func isBinary(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	if isPlainText(head[:min(len(head), 512)]) {
		return false
	}
	kind, err := filetype.Match(head)
	return err == nil && kind.MIME.Type == "application"
}

// isPlainText reports whether b is printable ASCII and whitespace only.
func isPlainText(b []byte) bool {
	for _, c := range b {
		if c >= 0x7f || c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
			return false
		}
	}
	return true
}

// pathAllowedGlobally reports whether a global allowlist skips the whole fragment by path.
func (d *detector) pathAllowedGlobally(path, lower string) bool {
	return d.rs.globallySkipped(path, lower, d.inImage)
}

// globallySkipped reports whether a global allowlist skips path (lower is path lower-cased) by
// path alone. An archive member ("app.tgz!package/yarn.lock") is also judged by its path inside
// the archive, as gitleaks does.
func (rs *Ruleset) globallySkipped(path, lower string, inImage bool) bool {
	inner, innerLower := "", ""
	if i := strings.LastIndex(path, archive.Sep); i >= 0 {
		inner, innerLower = path[i+len(archive.Sep):], lower[i+len(archive.Sep):]
	}
	for _, a := range rs.global {
		if a.pathOnlySkip(path, lower, inImage) || inner != "" && a.pathOnlySkip(inner, innerLower, inImage) {
			return true
		}
	}
	return false
}

// pathOnlySkip reports whether this allowlist skips a fragment (or a rule) by path alone:
// with OR, any path match; with AND, a path match when the allowlist checks nothing else.
// inImage picks the paths that hold inside images (see imageAllowlist).
func (a *compiledAllowlist) pathOnlySkip(path, lower string, inImage bool) bool {
	if !a.hasPaths || path == "" {
		return false
	}
	if a.cond == ConditionAnd && (a.regexes != nil || a.stop != nil || a.filters != nil) {
		return false
	}
	return a.pathsFor(inImage).MatchPath(path, lower)
}

// pathsFor returns the allowlist's paths that hold for a source tree's files or for image
// content.
func (a *compiledAllowlist) pathsFor(inImage bool) rx.PathSet {
	if inImage {
		return a.imagePaths
	}
	return a.paths
}

// pathRules decides which rules apply to path and reports path-only rules that fire on it.
func (d *detector) pathRules(o Origin, lower string, emit func(Finding) error) error {
	path := o.Path
	for i, r := range d.rs.rules {
		on := true
		if r.path != nil && !r.path.MatchPath(path, lower) {
			on = false
		}
		for _, a := range r.allow {
			if on && a.pathOnlySkip(path, lower, d.inImage) {
				on = false
			}
		}
		d.pathOK[i] = on && r.re != nil
		d.active[i] = on && r.re != nil && !r.SkipReport
		if on && r.re == nil && !r.SkipReport {
			f := d.newFinding(r, o, 0, 0, "file detected: "+path, nil)
			if d.ignored(&f) {
				continue
			}
			if err := emit(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// detectWindow runs one keyword pass over the window, then each rule's regex only over the
// lines around that rule's keyword hits.
func (d *detector) detectWindow(o Origin, w *window, emit func(Finding) error) error {
	buf := w.buf
	rs := d.rs
	d.touched = d.touched[:0]
	if rs.ac != nil && len(buf) > 0 {
		d.hits = rs.ac.Find(buf, d.hits[:0])
		for _, m := range d.hits {
			for _, ri := range rs.kwRules[m.Keyword] {
				if !d.active[ri] {
					continue
				}
				// (A hit spelled with the Kelvin sign is longer than its keyword: the follow
				// checks, which compare ASCII, let it through.)
				if fs := rs.rules[ri].follows; fs != nil && m.End-m.Start == len(rs.keywords[m.Keyword]) && !rx.AnyFollow(fs, buf, rs.keywords[m.Keyword], m.Start) {
					continue
				}
				if rs.rules[ri].anch != nil {
					d.starts[ri] = append(d.starts[ri], m.Start)
				}
				sr := rs.rules[ri].spread
				sp := span{max(0, m.Start-sr.Before), min(len(buf), m.End+sr.After)}
				l := d.spans[ri]
				if len(l) == 0 {
					d.touched = append(d.touched, ri)
				} else if last := &l[len(l)-1]; sp.start <= last.end && sp.start >= last.start {
					last.end = max(last.end, sp.end)
					continue
				}
				d.spans[ri] = append(l, sp)
			}
		}
	}
	for _, ri := range rs.noKeyword {
		if d.active[ri] {
			if len(d.spans[ri]) == 0 {
				d.touched = append(d.touched, ri)
			}
			d.spans[ri] = append(d.spans[ri][:0], span{0, len(buf)})
		}
	}
	slices.Sort(d.touched)
	d.cands = d.cands[:0]
	for _, ri := range d.touched {
		r, spans := rs.rules[ri], d.mergeSpans(buf, d.spans[ri])
		if r.anch != nil && len(d.starts[ri]) > 0 {
			d.runAnchored(r, w, spans, d.starts[ri], o.Path)
		} else {
			d.runRule(r, w, spans, o.Path)
		}
		d.spans[ri] = d.spans[ri][:0]
		d.starts[ri] = d.starts[ri][:0]
	}
	return d.report(o, w, emit)
}

// snapLimit bounds how far a span is widened to reach a line boundary.
const snapLimit = 4 << 10

// mergeGap joins spans closer than this: scanning a few hundred more bytes costs less than
// another call into the regex engine.
const mergeGap = 256

// mergeSpans sorts spans, widens each to whole lines (up to snapLimit) and merges overlaps.
func (d *detector) mergeSpans(buf []byte, spans []span) []span {
	if !slices.IsSortedFunc(spans, func(a, b span) int { return a.start - b.start }) {
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	}
	out := spans[:0]
	for _, sp := range spans {
		sp.start = lineStart(buf, sp.start)
		sp.end = lineEnd(buf, sp.end)
		if n := len(out); n > 0 && sp.start <= out[n-1].end+mergeGap {
			out[n-1].end = max(out[n-1].end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// lineStart returns the start of the line holding buf[i], looking back at most snapLimit bytes.
func lineStart(buf []byte, i int) int {
	lo := max(0, i-snapLimit)
	if j := bytes.LastIndexByte(buf[lo:i], '\n'); j >= 0 {
		return lo + j + 1
	}
	return lo
}

// lineEnd returns the end of the line holding buf[i-1], including its newline, looking ahead at
// most snapLimit bytes.
func lineEnd(buf []byte, i int) int {
	if i > 0 && buf[i-1] == '\n' {
		return i
	}
	hi := min(len(buf), i+snapLimit)
	if j := bytes.IndexByte(buf[i:hi], '\n'); j >= 0 {
		return i + j + 1
	}
	return hi
}

// runRule runs r's regex over spans and collects candidates that start in the window's own part.
func (d *detector) runRule(r *compiledRule, w *window, spans []span, path string) {
	buf := w.buf
	for _, sp := range spans {
		if !r.pre.Get().Match(buf[sp.start:sp.end]) {
			continue
		}
		if r.lead != nil {
			d.found = r.lead.FindAll(r.pre.Get(), buf[sp.start:sp.end], d.found[:0])
			for _, m := range d.found {
				d.match(r, w, sp.start+m[0], sp.start+m[1], path)
			}
			continue
		}
		for _, m := range r.re.Get().FindAllIndex(buf[sp.start:sp.end], -1) {
			d.match(r, w, sp.start+m[0], sp.start+m[1], path)
		}
	}
}

// runAnchored is runRule for a rule whose matches are a lazy class lead and a rest that starts
// with one of the rule's keywords (gitleaks' [\w.-]{0,50}?(?:kw1|kw2…)… shape): a match of the
// rest can only start where the keyword pass found a keyword, so instead of searching each span
// for the rest, the rest is tried anchored at each hit in the span, in order, as FindAll
// would (leftmost first, resuming after a match), and the lead is extended back from it (see
// rx.LeadRepeat). The anchored search stops where the rest can no longer match — a few dozen
// bytes after a keyword that no operator follows — where the unanchored one read the whole
// line, and needs no reverse search for the start.
func (d *detector) runAnchored(r *compiledRule, w *window, spans []span, starts []int, path string) {
	buf := w.buf
	slices.Sort(starts)
	starts = slices.Compact(starts)
	anch := r.anch.Get()
	i := 0
	for _, sp := range spans {
		pos := sp.start
		for ; i < len(starts) && starts[i] < sp.end; i++ {
			p := starts[i]
			if p < pos {
				continue // before the span (cannot be: spans cover their hits) or inside the last match
			}
			loc := anch.FindIndex(buf[p:sp.end])
			if loc == nil {
				continue
			}
			end := p + loc[1]
			d.match(r, w, r.lead.Start(buf, pos, p), end, path)
			pos = end
		}
	}
}

// anchoredGroups is FindSubmatchIndex(match) of the rest of an anchored rule's regex (see
// runAnchored): its leftmost match in match starts at one of the rule's keywords, so the rest is
// tried anchored at each keyword occurrence, in order. Searching unanchored would make RE2
// build a reverse DFA just to find where the match starts.
func (d *detector) anchoredGroups(r *compiledRule, match []byte) []int {
	d.ghits = d.rs.ac.Find(match, d.ghits[:0])
	slices.SortFunc(d.ghits, func(a, b kwset.Hit) int { return a.Start - b.Start })
	anch := r.anch.Get()
	last := -1
	for _, h := range d.ghits {
		if h.Start == last || !slices.Contains(r.Keywords, d.rs.keywords[h.Keyword]) {
			continue
		}
		last = h.Start
		g := anch.FindSubmatchIndex(match[h.Start:])
		if g == nil {
			continue
		}
		for i := range g {
			if g[i] >= 0 {
				g[i] += h.Start
			}
		}
		return g
	}
	return nil
}

// match trims a regex match at buf[a:b] as gitleaks does and keeps it if it starts in the
// window's own part.
func (d *detector) match(r *compiledRule, w *window, a, b int, path string) {
	buf := w.buf
	// gitleaks trims newlines off the match before using it.
	for a < b && buf[a] == '\n' {
		a++
	}
	for b > a && buf[b-1] == '\n' {
		b--
	}
	if a == b || !d.anyPart && (a < w.ownStart || a >= w.ownEnd) {
		return
	}
	d.candidate(r, w, a, b, path)
}

// candidate applies secret-group extraction, entropy, gitleaks:allow and allowlists to one
// match, as gitleaks does, and keeps it if it survives.
func (d *detector) candidate(r *compiledRule, w *window, a, b int, path string) {
	buf := w.buf
	match := buf[a:b]
	secret := match
	// As gitleaks: the groups come from re-running the regex on the match alone. With a lead,
	// the rest of the regex holds every group, numbered alike, and finds the same match there
	// (see rx.LeadRepeat).
	var g []int
	switch {
	case r.anch != nil:
		g = d.anchoredGroups(r, match)
	case r.lead != nil:
		g = r.pre.Get().FindSubmatchIndex(match)
	default:
		g = r.re.Get().FindSubmatchIndex(match)
	}
	if len(g) >= 4 {
		if r.SecretGroup > 0 {
			if g[2*r.SecretGroup] >= 0 {
				secret = match[g[2*r.SecretGroup]:g[2*r.SecretGroup+1]]
			}
		} else {
			for i := 1; 2*i < len(g); i++ {
				if g[2*i] >= 0 && g[2*i+1] > g[2*i] {
					secret = match[g[2*i]:g[2*i+1]]
					break
				}
			}
		}
	}
	if r.Entropy != 0 && entropy(string(secret)) <= r.Entropy {
		return
	}
	ls, le := lineStart(buf, a), lineEnd(buf, b)
	line := buf[ls:le]
	if !d.s.opts.ignoreAllow && bytes.Contains(line, allowSignature) {
		return
	}
	for _, al := range d.rs.global {
		if al.allows(secret, match, line, path, d.inImage) {
			return
		}
	}
	for _, al := range r.allow {
		if al.allows(secret, match, line, path, d.inImage) {
			return
		}
	}
	d.cands = append(d.cands, cand{rule: r, start: a, end: b, secret: secret, match: match})
}

// allows reports whether the allowlist suppresses a finding, with gitleaks' semantics; inImage
// picks the paths that hold inside images.
func (a *compiledAllowlist) allows(secret, match, line []byte, path string, inImage bool) bool {
	target := secret
	switch a.target {
	case TargetMatch:
		target = match
	case TargetLine:
		target = line
	}
	regexOK := a.regexes != nil && len(target) > 0 && a.regexes.Get().Match(target)
	stopOK := a.stop != nil && len(secret) > 0 && a.stop.Contains(secret)
	filterOK := a.filtered(secret)
	if a.cond == ConditionAnd {
		if a.hasPaths && !a.pathsFor(inImage).MatchPath(path, strings.ToLower(path)) {
			return false
		}
		if a.regexes != nil && !regexOK {
			return false
		}
		if a.stop != nil && !stopOK {
			return false
		}
		if a.filters != nil && !filterOK {
			return false
		}
		return true
	}
	return regexOK || stopOK || filterOK
}

// filtered reports whether one of the allowlist's SecretFilters matches secret.
func (a *compiledAllowlist) filtered(secret []byte) bool {
	for _, f := range a.filters {
		if len(secret) > 0 && f(secret) {
			return true
		}
	}
	return false
}

// report places the candidates (see place), applies composite rules, drops fallback candidates
// covered by a specific rule, then emits the rest.
func (d *detector) report(o Origin, w *window, emit func(Finding) error) error {
	place(w, d.cands)
	if d.rs.composite {
		d.applyRequired(w, o.Path)
	}
	for i := range d.cands {
		c := &d.cands[i]
		if c.rule.generic && d.covered(i) {
			continue
		}
		line, col := c.line, c.col
		if w.decoded != "" {
			line, col = w.atLine, w.atColumn
		}
		f := d.newFinding(c.rule, o, line, col, string(c.match), c.secret)
		f.Required = c.req
		if w.decoded != "" {
			f.Tags = append(append([]string(nil), f.Tags...), "decoded:"+w.decoded)
		}
		if d.ignored(&f) {
			continue
		}
		if err := emit(f); err != nil {
			return err
		}
	}
	return nil
}

// place puts candidates in text order and gives them lines and columns, in one pass over the
// window (a window with many candidates costs linear, not quadratic, time).
func place(w *window, cs []cand) {
	slices.SortStableFunc(cs, func(a, b cand) int { return a.start - b.start })
	cur := newLineCursor(w)
	for i := range cs {
		cs[i].line, cs[i].col = cur.at(cs[i].start)
	}
}

// applyRequired keeps a composite rule's candidates only when every rule it requires has a
// finding in the window within the requirement's distance, as gitleaks does, and records those
// findings on it. A required rule runs, once per window and only when needed, over the whole
// window (not only near its keywords), with its allowlists; its own composite requirements are
// not applied.
func (d *detector) applyRequired(w *window, path string) {
	clear(d.aux)
	kept := d.cands[:0]
	for _, c := range d.cands {
		if len(c.rule.req) == 0 {
			kept = append(kept, c)
			continue
		}
		c.req = nil
		ok := true
		for _, q := range c.rule.req {
			found := false
			for _, a := range d.required(w, q.rule, path) {
				if (q.lines < 0 || abs(a.line-c.line) <= q.lines) && (q.column < 0 || abs(a.col-c.col) <= q.column) {
					found = true
					line, col := a.line, a.col
					if w.decoded != "" {
						line, col = w.atLine, w.atColumn
					}
					c.req = append(c.req, RequiredFinding{RuleID: a.rule.ID, Line: line, Column: col})
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, c)
		}
	}
	d.cands = kept
}

// required returns rule ri's candidates anywhere in the window, with lines and columns.
func (d *detector) required(w *window, ri int32, path string) []cand {
	if cs, ok := d.aux[ri]; ok {
		return cs
	}
	if d.aux == nil {
		d.aux = map[int32][]cand{}
	}
	var cs []cand
	if d.pathOK[ri] {
		saved := d.cands
		d.cands, d.anyPart = nil, true
		d.runRule(d.rs.rules[ri], w, []span{{0, len(w.buf)}}, path)
		cs, d.cands, d.anyPart = d.cands, saved, false
		place(w, cs)
	}
	d.aux[ri] = cs
	return cs
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// covered reports whether another, non-fallback rule found a secret containing candidate i's on
// the same line. Candidates are in text order, so only those on the same line are looked at.
func (d *detector) covered(i int) bool {
	c := &d.cands[i]
	for _, dir := range []int{-1, 1} {
		for j := i + dir; j >= 0 && j < len(d.cands) && d.cands[j].line == c.line; j += dir {
			o := &d.cands[j]
			if o.rule != c.rule && !o.rule.generic && bytes.Contains(o.secret, c.secret) {
				return true
			}
		}
	}
	return false
}

// column returns the 1-based column of offset i in w.
func column(w *window, i int) int {
	if j := bytes.LastIndexByte(w.buf[:i], '\n'); j >= 0 {
		return i - j
	}
	return w.col + i + 1
}

// lineCursor turns increasing offsets in a window into 1-based lines and columns in one pass.
type lineCursor struct {
	w      *window
	pos    int // offset up to which newlines are counted
	line   int // line at pos
	lastNL int // offset of the last newline before pos, or -1
}

func newLineCursor(w *window) *lineCursor {
	return &lineCursor{w: w, line: w.line, lastNL: -1}
}

// at returns the line and column of offset i; offsets must not decrease between calls.
func (c *lineCursor) at(i int) (line, col int) {
	seg := c.w.buf[c.pos:i]
	if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
		c.line += n
		c.lastNL = c.pos + bytes.LastIndexByte(seg, '\n')
	}
	c.pos = i
	if c.lastNL >= 0 {
		return c.line, i - c.lastNL
	}
	return c.line, c.w.col + i + 1
}

func (d *detector) newFinding(r *compiledRule, o Origin, line, col int, match string, secret []byte) Finding {
	h := sha256Hex(secret)
	if secret == nil {
		h = sha256Hex([]byte(match))
	}
	f := Finding{
		RuleID:       r.ID,
		Description:  r.Description,
		Origin:       o,
		Line:         line,
		Column:       col,
		Severity:     r.Severity,
		Confidence:   r.Confidence,
		Tags:         r.Tags,
		SecretSHA256: h,
		Fingerprint:  fingerprint(r.ID, o, h),
	}
	if secret == nil {
		f.Redacted = match
		return f
	}
	f.Entropy = entropy(string(secret))
	f.Redacted = redact(match, string(secret))
	if d.s.opts.secrets {
		f.Secret = string(secret)
	}
	return f
}

func (d *detector) ignored(f *Finding) bool {
	ig := d.s.opts.ignore
	return ig != nil && (ig[f.GitleaksFingerprint()] || ig[f.Fingerprint])
}
