//go:build ignore

// compare prints the difference between a gitleaks JSON report and a safebuild JSON report as
// sets of (rule, file, line), each difference with its reason. Findings of safebuild rules that
// gitleaks does not have (the build rules) are listed apart: they are expected.
//
//	go run compare.go -gitleaks gl.json -safebuild sb.json -build-rules id1,id2,...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type key struct {
	Rule, File string
	Line       int
}

func (k key) String() string { return fmt.Sprintf("%s %s:%d", k.Rule, k.File, k.Line) }

func main() {
	glPath := flag.String("gitleaks", "", "gitleaks JSON report")
	sbPath := flag.String("safebuild", "", "safebuild JSON report")
	build := flag.String("build-rules", "", "comma-separated safebuild rule IDs gitleaks does not have")
	flag.Parse()

	var gl []struct {
		RuleID    string
		File      string
		StartLine int
	}
	var sb struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Path   string `json:"path"`
			Line   int    `json:"line"`
		} `json:"findings"`
	}
	mustLoad(*glPath, &gl)
	mustLoad(*sbPath, &sb)
	buildRules := map[string]bool{}
	for _, id := range strings.Split(*build, ",") {
		buildRules[id] = true
	}
	g, s := map[key]bool{}, map[key]bool{}
	for _, f := range gl {
		g[key{f.RuleID, f.File, f.StartLine}] = true
	}
	extra := map[key]bool{}
	for _, f := range sb.Findings {
		k := key{f.RuleID, f.Path, f.Line}
		if buildRules[f.RuleID] {
			extra[k] = true
			continue
		}
		s[k] = true
	}
	common := 0
	for k := range g {
		if s[k] {
			common++
		}
	}
	fmt.Printf("findings: gitleaks %d, safebuild %d with gitleaks' rules (+%d from build rules), in common %d\n",
		len(g), len(s), len(extra), common)
	onlyG, onlyS := diff(g, s), diff(s, g)
	for _, k := range onlyG {
		fmt.Printf("  only gitleaks:  %s  (reason: %s)\n", k, reasonMissing(k))
	}
	for _, k := range onlyS {
		fmt.Printf("  only safebuild: %s  (reason: %s)\n", k, reasonExtra(k))
	}
	for _, k := range sorted(extra) {
		fmt.Printf("  build rule:     %s  (reason: safebuild build rule, no gitleaks equivalent)\n", k)
	}
	if len(onlyG)+len(onlyS) == 0 {
		fmt.Println("same findings as gitleaks for every gitleaks rule")
	}
}

// reasonMissing and reasonExtra name the known causes of differences (see README.md).
func reasonMissing(k key) string {
	if k.Line == 0 {
		return "path-only rule"
	}
	return "unexplained: investigate (binary sniffing, window edges or a decoded finding)"
}

func reasonExtra(k key) string {
	switch {
	case k.Rule == "incomplete-scan":
		return "an archive safebuild could not read whole (corrupt, or past a bound); gitleaks logs and skips it"
	case strings.Contains(k.File, "!"):
		return "inside an archive gitleaks did not open (recognised by content, or nested deeper)"
	}
	return "unexplained: investigate (window edges or ^/$ anchors at line starts)"
}

func diff(a, b map[key]bool) []key {
	var out []key
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func sorted(m map[key]bool) []key { return diff(m, nil) }

func mustLoad(path string, v any) {
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "compare: reading %s: %v\n", path, err)
		os.Exit(2)
	}
}
