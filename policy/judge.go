package policy

import (
	"slices"
	"strings"
)

// JudgedAlike reports whether the scanner decides everything that depends on a content's path
// the same way at paths a and b, for content of origin kind kind: whether a global allowlist
// skips it, which rules apply (rule paths, rule allowlists by path), and which allowlists that
// also check a path match. Content judged alike yields the same findings at a and at b, but for
// their paths (see Relocate): an image scan re-uses a hard link target's findings for the link
// instead of reading the bytes again. Path-only rules (which fire on a path alone) are not part
// of it: scan empty content at the other path for them. It runs every path regex twice; it is
// meant for the rare content with two names.
func (s *Scanner) JudgedAlike(kind, a, b string) bool {
	if a == b {
		return true
	}
	rs := s.opts.rules
	inImage := !Origin{Kind: kind}.sourceTree()
	return slices.Equal(rs.pathVerdict(a, inImage), rs.pathVerdict(b, inImage))
}

// pathVerdict lists every path-dependent decision about content at path, in a fixed order.
func (rs *Ruleset) pathVerdict(path string, inImage bool) []bool {
	lower := strings.ToLower(path)
	v := []bool{rs.globallySkipped(path, lower, inImage)}
	matches := func(as []*compiledAllowlist) {
		for _, a := range as {
			if a.hasPaths && a.cond == ConditionAnd && (a.regexes != nil || a.stop != nil) {
				v = append(v, a.pathsFor(inImage).MatchPath(path, lower))
			}
		}
	}
	matches(rs.global)
	for _, r := range rs.rules {
		on := r.path == nil || r.path.MatchPath(path, lower)
		for _, a := range r.allow {
			if on && a.pathOnlySkip(path, lower, inImage) {
				on = false
			}
		}
		v = append(v, on)
		matches(r.allow)
	}
	return v
}

// Relocate returns f, a finding in some content, as the same content's finding at path: the
// path and the fingerprint change, nothing else. It reports false when the scanner's ignore
// list (WithIgnore) suppresses the finding at its new path. Only findings in the content
// (Line > 0) relocate; path-only findings belong to their path.
func (s *Scanner) Relocate(f Finding, path string) (Finding, bool) {
	f.Relocate(path)
	ig := s.opts.ignore
	return f, ig == nil || !ig[f.GitleaksFingerprint()] && !ig[f.Fingerprint]
}
