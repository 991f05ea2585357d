package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// finding is one finding of either tool, its path relative to the corpus root.
type finding struct {
	Rule, Path string
	Line       int
	Confidence string // safebuild only
}

// part is the corpus part a finding is in: the first element of its path.
func (f finding) part() string {
	p, _, _ := strings.Cut(f.Path, "/")
	return p
}

// loadGitleaks reads a gitleaks JSON report (an array of findings with RuleID, File,
// StartLine) and makes its paths relative to root.
func loadGitleaks(r io.Reader, root string) ([]finding, error) {
	var in []struct {
		RuleID    string
		File      string
		StartLine int
	}
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return nil, fmt.Errorf("gitleaks report: %w", err)
	}
	out := make([]finding, 0, len(in))
	for _, f := range in {
		out = append(out, finding{Rule: f.RuleID, Path: relTo(root, f.File), Line: f.StartLine})
	}
	return out, nil
}

// loadSafebuild reads a safebuild JSON report and makes its paths relative to root.
func loadSafebuild(r io.Reader, root string) ([]finding, error) {
	var in struct {
		Findings []struct {
			RuleID     string `json:"rule_id"`
			Path       string `json:"path"`
			Line       int    `json:"line"`
			Confidence string `json:"confidence"`
		} `json:"findings"`
	}
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return nil, fmt.Errorf("safebuild report: %w", err)
	}
	out := make([]finding, 0, len(in.Findings))
	for _, f := range in.Findings {
		out = append(out, finding{Rule: f.RuleID, Path: relTo(root, f.Path), Line: f.Line, Confidence: f.Confidence})
	}
	return out, nil
}

func relTo(root, p string) string {
	root = strings.TrimSuffix(root, "/") + "/"
	return strings.TrimPrefix(p, root)
}

// Verdicts say, for findings at known places, whether they are secrets a scanner should report
// (key material and credentials shipped as test fixtures: "true") or false alarms ("false").
type verdict struct {
	rule    string // a rule ID, or "*": any
	pattern string // a path glob (path.Match), a directory prefix ending in "/", or "*": any
	line    int    // 0: any line
	real    bool
	note    string
}

func (v verdict) matches(f finding) bool {
	if v.line != 0 && v.line != f.Line || v.rule != "*" && v.rule != f.Rule {
		return false
	}
	if v.pattern == "*" {
		return true
	}
	if strings.HasSuffix(v.pattern, "/") {
		return strings.HasPrefix(f.Path, v.pattern)
	}
	ok, _ := path.Match(v.pattern, f.Path)
	return ok
}

// parseVerdicts reads lines of "true|false<TAB>RULE<TAB>PATH[:LINE]<TAB>note"; # starts a
// comment. The first verdict that matches a finding judges it.
func parseVerdicts(r io.Reader, name string) ([]verdict, error) {
	var out []verdict
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, "\t", 4)
		if len(fields) < 4 || strings.TrimSpace(fields[3]) == "" || fields[1] == "" || fields[2] == "" {
			return nil, fmt.Errorf("%s:%d: want VERDICT<TAB>RULE<TAB>PATH[:LINE]<TAB>NOTE", name, n)
		}
		v := verdict{rule: fields[1], pattern: fields[2], note: fields[3]}
		switch fields[0] {
		case "true":
			v.real = true
		case "false":
		default:
			return nil, fmt.Errorf("%s:%d: verdict %q: accepted: true, false", name, n, fields[0])
		}
		if p, l, ok := strings.Cut(v.pattern, ":"); ok {
			ln, err := strconv.Atoi(l)
			if err != nil || ln <= 0 {
				return nil, fmt.Errorf("%s:%d: line %q: want a positive number", name, n, l)
			}
			v.pattern, v.line = p, ln
		}
		if _, err := path.Match(v.pattern, ""); err != nil {
			return nil, fmt.Errorf("%s:%d: pattern %q: %w", name, n, v.pattern, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// judge returns the first verdict that matches f, or nil.
func judge(vs []verdict, f finding) *verdict {
	for i := range vs {
		if vs[i].matches(f) {
			return &vs[i]
		}
	}
	return nil
}

// tally counts one tool's findings.
type tally struct {
	byRule     map[string]int
	byPart     map[string]int
	real, fake int
	unjudged   []finding
}

func count(fs []finding, vs []verdict) tally {
	t := tally{byRule: map[string]int{}, byPart: map[string]int{}}
	for _, f := range fs {
		t.byRule[f.Rule]++
		t.byPart[f.part()]++
		switch v := judge(vs, f); {
		case v == nil:
			t.unjudged = append(t.unjudged, f)
		case v.real:
			t.real++
		default:
			t.fake++
		}
	}
	return t
}

// summarise writes the per-rule and per-part counts of both tools, the ratio, and the verdicts;
// findings no verdict covers are listed, for a person to look at and classify.
func summarise(w io.Writer, gl, sb []finding, vs []verdict) {
	g, s := count(gl, vs), count(sb, vs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rule\tgitleaks\tsafebuild\t")
	rules := slices.Sorted(maps.Keys(g.byRule))
	for r := range s.byRule {
		if _, ok := g.byRule[r]; !ok {
			rules = append(rules, r)
		}
	}
	slices.Sort(rules)
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", r, g.byRule[r], s.byRule[r])
	}
	for _, p := range parts {
		fmt.Fprintf(tw, "(in %s/)\t%d\t%d\t\n", p, g.byPart[p], s.byPart[p])
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\n", len(gl), len(sb))
	fmt.Fprintf(tw, "secrets shipped as fixtures (true)\t%d\t%d\t\n", g.real, s.real)
	fmt.Fprintf(tw, "false alarms (false)\t%d\t%d\t\n", g.fake, s.fake)
	fmt.Fprintf(tw, "not classified yet\t%d\t%d\t\n", len(g.unjudged), len(s.unjudged))
	tw.Flush()
	if len(gl) > 0 {
		fmt.Fprintf(w, "ratio: safebuild reports %.2fx gitleaks' findings on the same bytes (%d / %d)\n",
			float64(len(sb))/float64(len(gl)), len(sb), len(gl))
	}
	if g.fake > 0 {
		fmt.Fprintf(w, "false alarms: safebuild %.2fx gitleaks (%d / %d)\n", float64(s.fake)/float64(g.fake), s.fake, g.fake)
	}
	if s.byConfidence(sb) != "" {
		fmt.Fprintf(w, "safebuild by confidence: %s\n", s.byConfidence(sb))
	}
	for _, u := range []struct {
		tool string
		fs   []finding
	}{{"gitleaks", g.unjudged}, {"safebuild", s.unjudged}} {
		for _, f := range u.fs {
			fmt.Fprintf(w, "not classified (%s): %s %s:%d\n", u.tool, f.Rule, f.Path, f.Line)
		}
	}
}

// byConfidence counts safebuild's findings per confidence, "" when the report has none.
func (t tally) byConfidence(fs []finding) string {
	n := map[string]int{}
	for _, f := range fs {
		if f.Confidence != "" {
			n[f.Confidence]++
		}
	}
	var out []string
	for _, c := range []string{"high", "medium", "low"} {
		if n[c] > 0 {
			out = append(out, fmt.Sprintf("%s %d", c, n[c]))
		}
	}
	return strings.Join(out, ", ")
}
