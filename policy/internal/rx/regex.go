package rx

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
)

// Regex is what the engine needs from a compiled regular expression; both Go's regexp and
// go-re2 provide it.
type Regex interface {
	Match(b []byte) bool
	MatchString(s string) bool
	FindAllIndex(b []byte, n int) [][]int
	FindSubmatchIndex(b []byte) []int
	FindIndex(b []byte) []int
}

var _ Regex = (*regexp.Regexp)(nil)

// Lazy is a regex validated when a Ruleset is built (parsed with Go's regexp/syntax, which
// implements RE2's syntax) and compiled for the scanning engine on first use: a scan pays only
// for the rules whose keywords it meets, and a short scan does not wait for ~250 regexes to
// compile. It is safe for concurrent use.
type Lazy struct {
	expr string
	lits []string // for MatchPath: one of these must be in the lower-cased text
	once sync.Once
	re   Regex
}

// Parse validates expr by parsing it (what Go's regexp.Compile rejects, parsing rejects)
// and returns the lazy regex and the parse tree (which the caller may read, not change).
func Parse(expr string) (*Lazy, *syntax.Regexp, error) {
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, nil, err
	}
	return &Lazy{expr: expr}, tree, nil
}

// New returns a Lazy for expr without parsing it: for an expression made of parts the caller has
// validated already (an alternation of parsed regexes, a parsed regex anchored).
func New(expr string) *Lazy { return &Lazy{expr: expr} }

// Get returns the compiled regex, compiling it on the first call. Should the engine refuse an
// expression Go's regexp accepted (RE2's program-size limit), Go's regexp runs it instead.
func (l *Lazy) Get() Regex {
	l.once.Do(func() {
		re, err := compileEngine(l.expr)
		if err != nil {
			re = regexp.MustCompile(l.expr)
		}
		l.re = re
	})
	return l.re
}

// MatchPath is MatchString for paths: lower is path lower-cased. When the regex needs one of a
// few literals (ParsePath), paths without any of them are refused without running the regex.
func (l *Lazy) MatchPath(path, lower string) bool {
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
	return l.Get().MatchString(path)
}

// ParsePath is Parse for regexes over paths (see MatchPath).
func ParsePath(expr string) (*Lazy, error) {
	l, tree, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	if lits, ok := requiredLiterals(tree, 1); ok {
		l.lits = lits
	}
	return l, nil
}

// PathSet matches a path against several path regexes.
type PathSet []*Lazy

// MatchPath reports whether any regex matches path (lower is path lower-cased).
func (ps PathSet) MatchPath(path, lower string) bool {
	for _, re := range ps {
		if re.MatchPath(path, lower) {
			return true
		}
	}
	return false
}
