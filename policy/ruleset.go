package policy

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"sort"
	"strings"

	"github.com/safebuild/safebuild/policy/internal/kwset"
	"github.com/safebuild/safebuild/policy/internal/rx"
)

// RuleError says which rule, which field and which value a Ruleset refused, and why.
type RuleError struct {
	RuleID string // the rule, or "" for a global allowlist
	Field  string // e.g. "regex", "secretGroup", "allowlists[0].paths[1]"
	Value  string // the refused value, quoted in the message
	Err    error  // the reason, including the accepted values where that helps
}

func (e *RuleError) Error() string {
	who := "global allowlist"
	if e.RuleID != "" {
		who = fmt.Sprintf("rule %q", e.RuleID)
	}
	return fmt.Sprintf("%s: %s %q: %v", who, e.Field, e.Value, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Ruleset is a validated, compiled set of rules with global allowlists, ready to scan with. It is
// immutable and safe for concurrent use.
type Ruleset struct {
	rules  []*compiledRule
	global []*compiledAllowlist

	keywords  []string  // distinct lower-cased keywords, indexed by automaton pattern ID
	kwRules   [][]int32 // keyword index -> indexes into rules
	ac        *kwset.Set
	noKeyword []int32 // rules with a regex but no keyword: they run over all content
	pathOnly  []int32 // rules with a path and no regex
	maxReach  int
	composite bool // some rule has Required
}

// requirement is a Requirement with its rule resolved; a negative bound is no bound.
type requirement struct {
	rule          int32
	lines, column int
}

type compiledRule struct {
	Rule
	re      *rx.Lazy       // nil for path-only rules
	pre     *rx.Lazy       // a cheap yes/no test run before re: rx.Prefilter, or re itself
	lead    *rx.LeadRepeat // re = lead·pre: re's matches are found from pre's (see rx.LeadRepeat); or nil
	anch    *rx.Lazy       // ^(?:pre), when every match of pre starts with a keyword (see runAnchored); or nil
	path    *rx.Lazy       // nil when the rule has no path
	allow   []*compiledAllowlist
	reach   int         // bytes a match may span (rx.Reach)
	spread  rx.Spread   // how far a match may extend around a keyword hit
	follows []rx.Follow // checks a keyword hit must pass to open a span (rx.RuleFollows); nil: none
	generic bool        // gitleaks' "generic" precedence: dropped when a specific rule covers its secret
	req     []requirement
}

type compiledAllowlist struct {
	cond   Condition
	target Target
	paths  rx.PathSet
	// imagePaths are the paths that hold for image content: for a global allowlist, paths
	// less the source-tree-only ones (imageAllowlist); for a rule's, all of them.
	imagePaths rx.PathSet
	regexes    *rx.Lazy
	stop       *kwset.Set
	filters    []func([]byte) bool
	hasPaths   bool
}

// NewRuleset validates and compiles rules and global allowlists. Rule IDs must be unique; every
// error names the rule, the field and the refused value.
func NewRuleset(rules []Rule, global []Allowlist) (*Ruleset, error) {
	rs := &Ruleset{}
	seen := map[string]bool{}
	kwIndex := map[string]int{}
	var errs []error
	for i := range rules {
		r := rules[i]
		if r.ID == "" {
			errs = append(errs, &RuleError{Field: fmt.Sprintf("rules[%d].id", i), Err: errors.New("a rule needs an ID")})
			continue
		}
		if seen[r.ID] {
			errs = append(errs, &RuleError{RuleID: r.ID, Field: "id", Value: r.ID, Err: errors.New("duplicate rule ID")})
			continue
		}
		seen[r.ID] = true
		cr, err := compileRule(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		idx := int32(len(rs.rules))
		rs.rules = append(rs.rules, cr)
		switch {
		case cr.re == nil:
			rs.pathOnly = append(rs.pathOnly, idx)
		case len(cr.Keywords) == 0:
			rs.noKeyword = append(rs.noKeyword, idx)
		}
		if cr.re == nil {
			continue
		}
		for _, k := range cr.Keywords {
			ki, ok := kwIndex[k]
			if !ok {
				ki = len(rs.keywords)
				kwIndex[k] = ki
				rs.keywords = append(rs.keywords, k)
				rs.kwRules = append(rs.kwRules, nil)
			}
			if l := rs.kwRules[ki]; len(l) == 0 || l[len(l)-1] != idx {
				rs.kwRules[ki] = append(l, idx)
			}
		}
		rs.maxReach = max(rs.maxReach, cr.reach)
	}
	errs = append(errs, rs.resolveRequired()...)
	for i, a := range global {
		ca, err := compileAllowlist("", fmt.Sprintf("allowlists[%d]", i), a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rs.global = append(rs.global, ca)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rs.keywords) > 0 {
		ac, err := kwset.New(rs.keywords)
		if err != nil {
			return nil, fmt.Errorf("building the keyword automaton over %d keywords: %w", len(rs.keywords), err)
		}
		rs.ac = ac
	}
	return rs, nil
}

// resolveRequired links composite rules to the rules they require.
func (rs *Ruleset) resolveRequired() []error {
	index := map[string]int32{}
	for i, r := range rs.rules {
		index[r.ID] = int32(i)
	}
	var errs []error
	for _, r := range rs.rules {
		for i, q := range r.Required {
			field := fmt.Sprintf("required[%d]", i)
			ri, ok := index[q.RuleID]
			switch {
			case q.RuleID == "":
				errs = append(errs, &RuleError{RuleID: r.ID, Field: field + ".id", Err: errors.New("empty rule ID")})
				continue
			case !ok:
				errs = append(errs, &RuleError{RuleID: r.ID, Field: field + ".id", Value: q.RuleID, Err: errors.New("no such rule")})
				continue
			case rs.rules[ri].re == nil:
				errs = append(errs, &RuleError{RuleID: r.ID, Field: field + ".id", Value: q.RuleID, Err: errors.New("a path-only rule cannot be required")})
				continue
			}
			req := requirement{rule: ri, lines: -1, column: -1}
			for _, b := range []struct {
				name string
				v    *int
				dst  *int
			}{{"withinLines", q.WithinLines, &req.lines}, {"withinColumns", q.WithinColumns, &req.column}} {
				if b.v == nil {
					continue
				}
				if *b.v < 0 {
					errs = append(errs, &RuleError{RuleID: r.ID, Field: field + "." + b.name, Value: fmt.Sprint(*b.v), Err: errors.New("accepted: 0 or more")})
				}
				*b.dst = *b.v
			}
			r.req = append(r.req, req)
			rs.composite = true
		}
		if len(r.Required) > 0 && r.re == nil {
			errs = append(errs, &RuleError{RuleID: r.ID, Field: "required", Err: errors.New("a path-only rule cannot be composite")})
		}
	}
	return errs
}

// Rules returns the declared rules, in the order they were given.
func (rs *Ruleset) Rules() []Rule {
	out := make([]Rule, len(rs.rules))
	for i, r := range rs.rules {
		out[i] = r.Rule
	}
	return out
}

// Len returns the number of rules.
func (rs *Ruleset) Len() int { return len(rs.rules) }

func compileRule(r Rule) (*compiledRule, error) {
	cr := &compiledRule{Rule: r}
	var tree *syntax.Regexp // r.Regex parsed once; the analyses below only read it
	if r.Regex == "" && r.Path == "" {
		return nil, &RuleError{RuleID: r.ID, Field: "regex", Err: errors.New("a rule needs a regex, a path, or both")}
	}
	if r.Regex != "" {
		re, t, err := rx.Parse(r.Regex)
		if err != nil {
			return nil, &RuleError{RuleID: r.ID, Field: "regex", Value: r.Regex, Err: err}
		}
		cr.re, tree = re, t
		if groups := tree.MaxCap(); r.SecretGroup < 0 || r.SecretGroup > groups {
			return nil, &RuleError{RuleID: r.ID, Field: "secretGroup", Value: fmt.Sprint(r.SecretGroup),
				Err: fmt.Errorf("accepted: 0..%d (the regex has %d capture groups)", groups, groups)}
		}
		cr.reach = rx.Reach(tree)
	} else if r.SecretGroup != 0 || len(r.Keywords) > 0 || r.Entropy != 0 {
		return nil, &RuleError{RuleID: r.ID, Field: "regex", Err: errors.New("secretGroup, keywords and entropy need a regex")}
	}
	if r.Path != "" {
		p, err := rx.ParsePath(r.Path)
		if err != nil {
			return nil, &RuleError{RuleID: r.ID, Field: "path", Value: r.Path, Err: err}
		}
		cr.path = p
	}
	if r.Entropy < 0 || r.Entropy > 8 {
		return nil, &RuleError{RuleID: r.ID, Field: "entropy", Value: fmt.Sprint(r.Entropy), Err: errors.New("accepted: 0..8 bits per character")}
	}
	if r.Severity < SeverityUnset || r.Severity > SeverityCritical {
		return nil, &RuleError{RuleID: r.ID, Field: "severity", Value: r.Severity.String(), Err: errors.New("accepted: low, medium, high, critical")}
	}
	if cr.Severity == SeverityUnset {
		cr.Severity = SeverityHigh
	}
	if r.Confidence < ConfidenceUnset || r.Confidence > ConfidenceHigh {
		return nil, &RuleError{RuleID: r.ID, Field: "confidence", Value: r.Confidence.String(), Err: errors.New("accepted: low, medium, high")}
	}
	if cr.Confidence == ConfidenceUnset {
		cr.Confidence = defaultConfidence(&r, tree)
	}
	kws := make([]string, 0, len(r.Keywords))
	for i, k := range r.Keywords {
		if k == "" {
			return nil, &RuleError{RuleID: r.ID, Field: fmt.Sprintf("keywords[%d]", i), Err: errors.New("empty keyword")}
		}
		kws = append(kws, strings.ToLower(k))
	}
	cr.Keywords = kws
	if cr.re != nil {
		cr.spread = rx.RuleSpread(tree, kws)
		cr.follows = rx.RuleFollows(tree, kws)
		// The prefilter is a yes/no search, much cheaper per call than collecting matches; most
		// spans around keyword hits hold no match at all. Without a cheaper expression, the
		// regex itself serves.
		cr.pre = cr.re
		if rest, cut, ok := rx.Prefilter(tree); ok {
			p := rest.String()
			var err error
			if cr.pre, _, err = rx.Parse(p); err != nil {
				return nil, &RuleError{RuleID: r.ID, Field: "regex", Value: r.Regex, Err: fmt.Errorf("deriving the prefilter %q: %w", p, err)}
			}
			if cut == 1 {
				cr.lead = rx.NewLeadRepeat(tree)
			}
			if cr.lead != nil && rx.KeywordAtStart(rest, kws) {
				cr.anch = rx.New("^(?:" + p + ")")
			}
		}
	}
	for i, a := range r.Allowlists {
		ca, err := compileAllowlist(r.ID, fmt.Sprintf("allowlists[%d]", i), a)
		if err != nil {
			return nil, err
		}
		cr.allow = append(cr.allow, ca)
	}
	cr.generic = r.Fallback || strings.Contains(strings.ToLower(r.ID), "generic")
	return cr, nil
}

func compileAllowlist(ruleID, field string, a Allowlist) (*compiledAllowlist, error) {
	if len(a.Paths) == 0 && len(a.Regexes) == 0 && len(a.StopWords) == 0 && len(a.Filters) == 0 {
		return nil, &RuleError{RuleID: ruleID, Field: field, Err: errors.New("an allowlist needs at least one of paths, regexes, stopwords, filters")}
	}
	if a.Condition != ConditionOr && a.Condition != ConditionAnd {
		return nil, &RuleError{RuleID: ruleID, Field: field + ".condition", Value: fmt.Sprint(int(a.Condition)), Err: errors.New("accepted: OR, AND")}
	}
	if a.RegexTarget < TargetSecret || a.RegexTarget > TargetLine {
		return nil, &RuleError{RuleID: ruleID, Field: field + ".regexTarget", Value: fmt.Sprint(int(a.RegexTarget)), Err: errors.New("accepted: secret, match, line")}
	}
	ca := &compiledAllowlist{cond: a.Condition, target: a.RegexTarget, hasPaths: len(a.Paths) > 0}
	join := func(kind string, exprs []string) (*rx.Lazy, error) {
		if len(exprs) == 0 {
			return nil, nil
		}
		parts := make([]string, len(exprs))
		for i, e := range exprs {
			if _, err := syntax.Parse(e, syntax.Perl); err != nil {
				return nil, &RuleError{RuleID: ruleID, Field: fmt.Sprintf("%s.%s[%d]", field, kind, i), Value: e, Err: err}
			}
			parts[i] = "(?:" + e + ")"
		}
		// Each part parsed alone, so their alternation parses too.
		return rx.New(strings.Join(parts, "|")), nil
	}
	var err error
	// Paths stay separate regexes (not joined): each has its own literal guard, so most paths
	// are refused without running any regex.
	for i, p := range a.Paths {
		re, err := rx.ParsePath(p)
		if err != nil {
			return nil, &RuleError{RuleID: ruleID, Field: fmt.Sprintf("%s.paths[%d]", field, i), Value: p, Err: err}
		}
		ca.paths = append(ca.paths, re)
		if ruleID != "" || !sourceTreeOnly(p) {
			ca.imagePaths = append(ca.imagePaths, re)
		}
	}
	if ca.regexes, err = join("regexes", a.Regexes); err != nil {
		return nil, err
	}
	for i, name := range a.Filters {
		f, ok := SecretFilters()[name]
		if !ok {
			return nil, &RuleError{RuleID: ruleID, Field: fmt.Sprintf("%s.filters[%d]", field, i), Value: name,
				Err: fmt.Errorf("no such filter (accepted: %s)", strings.Join(filterNames(), ", "))}
		}
		ca.filters = append(ca.filters, f.Match)
	}
	if len(a.StopWords) > 0 {
		words := make([]string, 0, len(a.StopWords))
		uniq := map[string]bool{}
		for i, w := range a.StopWords {
			if w == "" {
				return nil, &RuleError{RuleID: ruleID, Field: fmt.Sprintf("%s.stopwords[%d]", field, i), Err: errors.New("empty stopword")}
			}
			w = strings.ToLower(w)
			if !uniq[w] {
				uniq[w] = true
				words = append(words, w)
			}
		}
		sort.Strings(words)
		ca.stop, err = kwset.New(words)
		if err != nil {
			return nil, &RuleError{RuleID: ruleID, Field: field + ".stopwords", Err: err}
		}
	}
	return ca, nil
}
