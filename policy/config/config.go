package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/safebuild/safebuild/policy"
)

// gitleaksDefault is gitleaks' default config: gitleaks.toml as the gitleaks v8.30.1 module
// embeds it (github.com/zricethezav/gitleaks/v8@v8.30.1, config/gitleaks.toml, its
// config.DefaultConfig), after a header that names that source. TestEmbeddedGitleaksConfig
// checks it against the module's copy.
//
//go:embed gitleaks.toml
var gitleaksDefault string

// maxConfigSize bounds a config file; gitleaks' own default config is ~200 KB.
const maxConfigSize = 16 << 20

// maxExtendDepth bounds [extend] path chains, as gitleaks does.
const maxExtendDepth = 2

// fileConfig mirrors the gitleaks TOML format (keys match case-insensitively, as with gitleaks'
// viper loader), plus safebuild's per-rule "severity" and "confidence".
type fileConfig struct {
	Title       string
	Description string
	MinVersion  string
	Extend      struct {
		Path          string
		URL           string
		UseDefault    bool
		DisabledRules []string
	}
	Rules      []fileRule
	Allowlist  *fileAllowlist // deprecated single form
	Allowlists []fileAllowlist
}

type fileRule struct {
	ID          string
	Description string
	Path        string
	Regex       string
	SecretGroup int
	Entropy     float64
	Keywords    []string
	Tags        []string
	Severity    string
	Confidence  string
	Allowlist   *fileAllowlist // deprecated single form
	Allowlists  []fileAllowlist
	Required    []fileRequired
	SkipReport  bool
}

type fileRequired struct {
	ID            string
	WithinLines   *int
	WithinColumns *int
}

type fileAllowlist struct {
	Description string
	Condition   string
	Commits     []string
	Paths       []string
	RegexTarget string
	Regexes     []string
	StopWords   []string
	Filters     []string // safebuild: SecretFilters by name
	TargetRules []string
}

// Error says which config file and which key were refused; a rule the engine refuses is wrapped
// as its *policy.RuleError.
type Error struct {
	File string // the config's name or path
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("config %s: %v", e.File, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// LoadFile reads a gitleaks-compatible TOML config (or safebuild's own, which is the same format
// with an optional per-rule severity and confidence) and returns the validated Ruleset.
// "[extend] useDefault = true" layers it on Default's rules; "[extend] path" on another file,
// resolved relative to this one. Errors are *Error, naming the file.
func LoadFile(path string) (*policy.Ruleset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening config: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// Load is LoadFile for a config read from r (at most 16 MiB); name is used in errors and to
// resolve a relative "[extend] path".
func Load(r io.Reader, name string) (*policy.Ruleset, error) {
	set, err := loadConfig(r, name, 0)
	if err != nil {
		return nil, err
	}
	return set.compile(name)
}

// ruleSet is a config after translation and extension, before compilation.
type ruleSet struct {
	rules  []policy.Rule
	global []policy.Allowlist
	target map[string][]policy.Allowlist // global allowlists restricted to rule IDs
}

func loadConfig(r io.Reader, name string, depth int) (*ruleSet, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("reading: %w", err)}
	}
	if len(data) > maxConfigSize {
		return nil, &Error{File: name, Err: fmt.Errorf("larger than %d bytes", maxConfigSize)}
	}
	var fc fileConfig
	dec := toml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, &Error{File: name, Err: fmt.Errorf("line %d column %d: %s", row, col, de.Error())}
		}
		return nil, &Error{File: name, Err: err}
	}
	set, err := translate(&fc)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	switch {
	case fc.Extend.URL != "":
		return nil, &Error{File: name, Err: errors.New("[extend] url is not supported (gitleaks does not implement it either); use path")}
	case fc.Extend.UseDefault && fc.Extend.Path != "":
		return nil, &Error{File: name, Err: errors.New("[extend] path and useDefault cannot both be set")}
	case depth >= maxExtendDepth:
		// gitleaks silently stops extending past its depth limit; so do we.
	case fc.Extend.UseDefault:
		base, err := defaultRuleSet()
		if err != nil {
			return nil, err
		}
		set.extend(base, fc.Extend.DisabledRules)
	case fc.Extend.Path != "":
		p := fc.Extend.Path
		if !filepath.IsAbs(p) && name != "" {
			p = filepath.Join(filepath.Dir(name), p)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, &Error{File: name, Err: fmt.Errorf("[extend] path: %w", err)}
		}
		base, err := loadConfig(f, p, depth+1)
		f.Close()
		if err != nil {
			return nil, err
		}
		set.extend(base, fc.Extend.DisabledRules)
	}
	return set, nil
}

func translate(fc *fileConfig) (*ruleSet, error) {
	set := &ruleSet{target: map[string][]policy.Allowlist{}}
	for i, fr := range fc.Rules {
		if fr.ID == "" {
			return nil, fmt.Errorf("rules[%d]: id is empty", i)
		}
		r := policy.Rule{ID: fr.ID, Description: fr.Description, Regex: fr.Regex, SecretGroup: fr.SecretGroup,
			Entropy: fr.Entropy, Path: fr.Path, Keywords: fr.Keywords, Tags: fr.Tags, SkipReport: fr.SkipReport}
		for j, q := range fr.Required {
			if q.ID == "" {
				return nil, fmt.Errorf("rule %q: required[%d]: [[rules.required]] rule ID is empty", fr.ID, j)
			}
			r.Required = append(r.Required, policy.Requirement{RuleID: q.ID, WithinLines: q.WithinLines, WithinColumns: q.WithinColumns})
		}
		if fr.Severity != "" {
			s, err := policy.ParseSeverity(fr.Severity)
			if err != nil {
				return nil, fmt.Errorf("rule %q: severity: %w", fr.ID, err)
			}
			r.Severity = s
		}
		if fr.Confidence != "" {
			c, err := policy.ParseConfidence(fr.Confidence)
			if err != nil {
				return nil, fmt.Errorf("rule %q: confidence: %w", fr.ID, err)
			}
			r.Confidence = c
		}
		als := fr.Allowlists
		if fr.Allowlist != nil {
			if len(als) > 0 {
				return nil, fmt.Errorf("rule %q: [rules.allowlist] is deprecated and cannot be used alongside [[rules.allowlists]]", fr.ID)
			}
			als = []fileAllowlist{*fr.Allowlist}
		}
		for j, fa := range als {
			if len(fa.TargetRules) > 0 {
				return nil, fmt.Errorf("rule %q: allowlists[%d]: targetRules is only allowed in global [[allowlists]]", fr.ID, j)
			}
			a, err := translateAllowlist(fa)
			if err != nil {
				return nil, fmt.Errorf("rule %q: allowlists[%d]: %w", fr.ID, j, err)
			}
			r.Allowlists = append(r.Allowlists, a)
		}
		set.rules = append(set.rules, r)
	}
	als := fc.Allowlists
	if fc.Allowlist != nil {
		if len(als) > 0 {
			return nil, errors.New("[allowlist] is deprecated and cannot be used alongside [[allowlists]]")
		}
		als = []fileAllowlist{*fc.Allowlist}
	}
	for j, fa := range als {
		a, err := translateAllowlist(fa)
		if err != nil {
			return nil, fmt.Errorf("allowlists[%d]: %w", j, err)
		}
		if len(fa.TargetRules) == 0 {
			set.global = append(set.global, a)
			continue
		}
		for _, id := range fa.TargetRules {
			set.target[id] = append(set.target[id], a)
		}
	}
	return set, nil
}

func translateAllowlist(fa fileAllowlist) (policy.Allowlist, error) {
	a := policy.Allowlist{Description: fa.Description, Paths: fa.Paths, Regexes: fa.Regexes, StopWords: fa.StopWords, Filters: fa.Filters}
	switch strings.ToUpper(fa.Condition) {
	case "", "OR", "||":
	case "AND", "&&":
		a.Condition = policy.ConditionAnd
	default:
		return a, fmt.Errorf("condition %q: accepted: OR, AND", fa.Condition)
	}
	switch fa.RegexTarget {
	case "", "secret":
	case "match":
		a.RegexTarget = policy.TargetMatch
	case "line":
		a.RegexTarget = policy.TargetLine
	default:
		return a, fmt.Errorf("regexTarget %q: accepted: secret, match, line", fa.RegexTarget)
	}
	if len(fa.Commits) > 0 && len(a.Paths)+len(a.Regexes)+len(a.StopWords) == 0 {
		// Commit allowlists never match outside git history; keep the allowlist inert.
		a.Regexes = []string{`[^\s\S]`}
	}
	if len(a.Paths)+len(a.Regexes)+len(a.StopWords)+len(a.Filters) == 0 {
		return a, errors.New("an allowlist needs at least one of paths, regexes, stopwords, filters")
	}
	return a, nil
}

// extend layers set on base, with gitleaks' semantics: a rule in set that also exists in base
// overrides base's description, entropy, secretGroup, regex and path when it sets them, and adds
// its keywords, tags and allowlists; base rules listed in disabled are dropped.
func (set *ruleSet) extend(base *ruleSet, disabled []string) {
	off := map[string]bool{}
	for _, id := range disabled {
		off[id] = true
	}
	own := map[string]int{}
	for i, r := range set.rules {
		own[r.ID] = i
	}
	var merged []policy.Rule
	for _, b := range base.rules {
		if off[b.ID] {
			continue
		}
		i, ok := own[b.ID]
		if !ok {
			merged = append(merged, b)
			continue
		}
		c := set.rules[i]
		if c.Description != "" {
			b.Description = c.Description
		}
		if c.Entropy != 0 {
			b.Entropy = c.Entropy
		}
		if c.SecretGroup != 0 {
			b.SecretGroup = c.SecretGroup
		}
		if c.Regex != "" {
			b.Regex = c.Regex
		}
		if c.Path != "" {
			b.Path = c.Path
		}
		if c.Severity != policy.SeverityUnset {
			b.Severity = c.Severity
		}
		if c.Confidence != policy.ConfidenceUnset {
			b.Confidence = c.Confidence
		}
		b.Tags = append(append([]string(nil), b.Tags...), c.Tags...)
		b.Keywords = append(append([]string(nil), b.Keywords...), c.Keywords...)
		b.Allowlists = append(append([]policy.Allowlist(nil), b.Allowlists...), c.Allowlists...)
		set.rules[i] = b
	}
	set.rules = append(set.rules, merged...)
	sort.SliceStable(set.rules, func(i, j int) bool { return set.rules[i].ID < set.rules[j].ID })
	set.global = append(set.global, base.global...)
	for id, as := range base.target {
		set.target[id] = append(set.target[id], as...)
	}
}

func (set *ruleSet) compile(name string) (*policy.Ruleset, error) {
	rules := append([]policy.Rule(nil), set.rules...)
	for _, id := range slices.Sorted(maps.Keys(set.target)) {
		found := false
		for i := range rules {
			if rules[i].ID == id {
				rules[i].Allowlists = append(append([]policy.Allowlist(nil), rules[i].Allowlists...), set.target[id]...)
				found = true
			}
		}
		if !found {
			return nil, &Error{File: name, Err: fmt.Errorf("[[allowlists]] targetRules: rule %q does not exist", id)}
		}
	}
	rs, err := policy.NewRuleset(rules, set.global)
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	return rs, nil
}

var defaults struct {
	once sync.Once
	set  *ruleSet
	rs   *policy.Ruleset
	err  error
}

func loadDefaults() {
	d := &defaults
	set, err := loadConfig(strings.NewReader(gitleaksDefault), "gitleaks default config", maxExtendDepth)
	if err != nil {
		d.err = err
		return
	}
	for i := range set.rules {
		set.rules[i].Severity = gitleaksSeverity(set.rules[i])
		set.rules[i].Tags = append(set.rules[i].Tags, "gitleaks")
	}
	refine(set.rules, GitleaksRefinements())
	set.rules = append(set.rules, BuildRules()...)
	d.set = set
	d.rs, d.err = set.compile("default rules")
}

func defaultRuleSet() (*ruleSet, error) {
	defaults.once.Do(loadDefaults)
	if defaults.err != nil {
		return nil, defaults.err
	}
	s := defaults.set
	cp := &ruleSet{rules: append([]policy.Rule(nil), s.rules...), global: append([]policy.Allowlist(nil), s.global...), target: map[string][]policy.Allowlist{}}
	for k, v := range s.target {
		cp.target[k] = append([]policy.Allowlist(nil), v...)
	}
	return cp, nil
}

// Default returns the default Ruleset: gitleaks' default rules (its v8.30.1 default config,
// embedded, refined by GitleaksRefinements) plus safebuild's build-specific rules (BuildRules).
// It is compiled once per process; every caller gets the same immutable Ruleset.
func Default() (*policy.Ruleset, error) {
	defaults.once.Do(loadDefaults)
	return defaults.rs, defaults.err
}

// gitleaksSeverity ranks gitleaks' rules, which carry no severity: private keys are critical,
// the keyword-anchored generic rule is medium, every provider-specific rule is high.
func gitleaksSeverity(r policy.Rule) policy.Severity {
	switch {
	case r.ID == "private-key":
		return policy.SeverityCritical
	case strings.Contains(r.ID, "generic"):
		return policy.SeverityMedium
	}
	return policy.SeverityHigh
}
