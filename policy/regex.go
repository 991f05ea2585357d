package policy

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// regex is what the engine needs from a compiled regular expression; both Go's regexp and
// go-re2 provide it.
type regex interface {
	Match(b []byte) bool
	MatchString(s string) bool
	FindAllIndex(b []byte, n int) [][]int
	FindSubmatchIndex(b []byte) []int
	FindIndex(b []byte) []int
}

var _ regex = (*regexp.Regexp)(nil)

// lazyRegex is validated when a Ruleset is built (with Go's regexp, which implements the same
// RE2 syntax) and compiled for the scanning engine on first use: a scan pays only for the rules
// whose keywords it meets, and a short scan does not wait for ~250 regexes to compile.
type lazyRegex struct {
	expr string
	lits []string // for matchPath: one of these must be in the lower-cased text
	once sync.Once
	re   regex
}

// newLazyRegex validates expr by parsing it (what Go's regexp.Compile rejects, parsing rejects)
// and returns the lazy regex and the parse tree.
func newLazyRegex(expr string) (*lazyRegex, *syntax.Regexp, error) {
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, nil, err
	}
	return &lazyRegex{expr: expr}, tree, nil
}

// get returns the compiled regex. Should the engine refuse an expression Go's regexp accepted
// (RE2's program-size limit), Go's regexp runs it instead.
func (l *lazyRegex) get() regex {
	l.once.Do(func() {
		re, err := compileEngine(l.expr)
		if err != nil {
			re = regexp.MustCompile(l.expr)
		}
		l.re = re
	})
	return l.re
}

// matchPath is MatchString for paths: lower is path lower-cased. When the regex needs one of a
// few literals, paths without any of them are refused without running the regex.
func (l *lazyRegex) matchPath(path, lower string) bool {
	if l.lits != nil {
		found := false
		for _, s := range l.lits {
			if strings.Contains(lower, s) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return l.get().MatchString(path)
}

// newPathRegex is newLazyRegex for regexes over paths (see matchPath).
func newPathRegex(expr string) (*lazyRegex, error) {
	l, tree, err := newLazyRegex(expr)
	if err != nil {
		return nil, err
	}
	if lits, ok := requiredLiterals(tree, 1); ok {
		l.lits = lits
	}
	return l, nil
}

// pathSet matches a path against several path regexes.
type pathSet []*lazyRegex

// matchPath reports whether any regex matches path (lower is path lower-cased).
func (ps pathSet) matchPath(path, lower string) bool {
	for _, re := range ps {
		if re.matchPath(path, lower) {
			return true
		}
	}
	return false
}
