package imagescan

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/safebuild/safebuild/policy"
)

var (
	buildArgPrefix = regexp.MustCompile(`^((?:RUN )?)\|(\d+) `)
	argKey         = regexp.MustCompile(`(?:^| )([A-Za-z_][A-Za-z0-9_]*)=`)
	argName        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
	nextArg        = regexp.MustCompile(` [A-Za-z_][A-Za-z0-9_]*=`)
)

// RedactCreatedBy hides build-arg values in a history created_by. BuildKit records a RUN as
// "RUN |2 A=x B=y /bin/sh -c cmd": the values are exactly what leaks, and since they may hold
// spaces their end cannot be found reliably, so everything from the first value to the shell
// invocation is replaced: "RUN |2 A=*** B=*** /bin/sh -c cmd". A created_by without build-args
// is returned as it is. Reports show created_by only in this form.
func RedactCreatedBy(s string) string {
	m := buildArgPrefix.FindStringSubmatchIndex(s)
	if m == nil {
		return s
	}
	prefix, rest := s[:m[1]], s[m[1]:]
	n, err := strconv.Atoi(s[m[4]:m[5]])
	if err != nil || n <= 0 {
		return prefix + "(build-args hidden)"
	}
	var keys []string
	for _, km := range argKey.FindAllStringSubmatch(rest, n) {
		keys = append(keys, km[1]+"=***")
	}
	out := prefix + strings.Join(keys, " ")
	if i := strings.LastIndex(rest, " /bin/sh -c "); i >= 0 {
		out += rest[i:]
	} else {
		out += " …"
	}
	return out
}

// RuleSecretNamedBuildArg is the rule ID of a finding on a build-arg recorded in an image's
// history — an "ARG K=V" entry or a RUN's "|N K=V …" prefix — whose name says it holds a secret
// and whose value is a literal (policy.SecretVarName), whether or not an engine rule knows the
// value's format: a Jenkins NAME_PSW password has none.
const RuleSecretNamedBuildArg = "secret-named-build-arg"

const historyArgDescription = "A build-arg whose name says it holds a secret is recorded with a literal value in the image history"

// shells are the shell invocations BuildKit puts after a RUN's build-args (SHELL can set others,
// and the exec form has none: then a value ends at the first space).
var shells = []string{" /bin/sh -c ", " /bin/bash -c ", " /bin/ash -c ", " /usr/bin/env sh -c ", " cmd /S /C ", " powershell -Command ", " pwsh -Command "}

// HistoryFindings returns a finding for each build-arg in cfg's history, in "ARG K=V" entries
// and RUN "|N K=V …" prefixes, whose name says it holds a secret and whose value is a literal.
// buildArgs, when known (the build gate knows what it was given), delimit values exactly even
// when they hold spaces; otherwise a value ends where the next K= begins. Findings name the
// history entry (History[i].created_by), their column points at the value, and they carry no
// part of it. ref becomes each finding's Origin.Ref.
func HistoryFindings(cfg *v1.ConfigFile, buildArgs map[string]string, ref string) []policy.Finding {
	var out []policy.Finding
	args := make([][]assignment, len(cfg.History))
	names := map[string]bool{}
	for k := range buildArgs {
		names[k] = true
	}
	for i, h := range cfg.History {
		args[i] = historyArgs(h.CreatedBy, buildArgs)
		for _, a := range args[i] {
			names[a.key] = true
		}
	}
	has := func(n string) bool { return names[n] }
	for i := range cfg.History {
		for _, a := range args[i] {
			if policy.SecretVarName.JudgeAmong(a.key, a.value, false, has).Verdict != policy.LiteralSecret {
				continue
			}
			o := policy.Origin{Kind: OriginConfig, Ref: ref, Path: fmt.Sprintf("History[%d].created_by", i)}
			out = append(out, policy.VarFinding(RuleSecretNamedBuildArg, historyArgDescription, o, 1, a.off+1, a.key, a.value))
		}
	}
	return out
}

// assignment is one K=V of a history entry; off is the value's byte offset.
type assignment struct {
	key, value string
	off        int
}

// historyArgs parses the build-args a created_by records: "ARG A=x B C=y" or
// "RUN |2 A=x B=y /bin/sh -c …" (also without "RUN ", as older builders wrote it).
func historyArgs(createdBy string, known map[string]string) []assignment {
	if rest, ok := strings.CutPrefix(createdBy, "ARG "); ok {
		return assignments(createdBy, len(createdBy)-len(rest), len(createdBy), -1, known)
	}
	m := buildArgPrefix.FindStringSubmatchIndex(createdBy)
	if m == nil {
		return nil
	}
	n, err := strconv.Atoi(createdBy[m[4]:m[5]])
	if err != nil || n <= 0 {
		return nil
	}
	end := len(createdBy)
	exact := true
	for _, sh := range shells {
		if i := strings.Index(createdBy[m[1]:], sh); i >= 0 && m[1]+i < end {
			end, exact = m[1]+i, false
		}
	}
	if exact {
		end = -1 // exec form: the last value ends at a space
	}
	return assignments(createdBy, m[1], end, n, known)
}

// assignments reads up to n (or, with n < 0, all) space-separated NAME or NAME=VALUE from s
// starting at start. A value ends at end; or, when end < 0, at the next space for the last one;
// or where the next " NAME=" begins; a known value is taken whole.
func assignments(s string, start, end, n int, known map[string]string) []assignment {
	var out []assignment
	p := start
	for count := 0; (n < 0 || count < n) && p < len(s); count++ {
		k := argName.FindString(s[p:])
		if k == "" {
			break
		}
		p += len(k)
		if p >= len(s) || s[p] != '=' {
			p = skipSpace(s, p)
			continue
		}
		p++
		v, next := value(s, p, end, n < 0 || count < n-1, known[k], known != nil && hasKey(known, k))
		out = append(out, assignment{key: k, value: v, off: p})
		p = skipSpace(s, next)
	}
	return out
}

// value reads the value starting at p: the known one when it is there, else up to the next
// " NAME=" when more follow (more), else up to end (or the next space when end < 0).
func value(s string, p, end int, more bool, knownValue string, isKnown bool) (string, int) {
	if isKnown && strings.HasPrefix(s[p:], knownValue) {
		if q := p + len(knownValue); q == len(s) || s[q] == ' ' {
			return knownValue, q
		}
	}
	stop := end
	if stop < 0 || stop > len(s) {
		stop = len(s)
	}
	stop = max(stop, p) // a known value may have run past the shell
	if more {
		if loc := nextArg.FindStringIndex(s[p:stop]); loc != nil {
			return s[p : p+loc[0]], p + loc[0]
		}
	}
	if end < 0 {
		if i := strings.IndexByte(s[p:stop], ' '); i >= 0 {
			return s[p : p+i], p + i
		}
	}
	return s[p:stop], stop
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func skipSpace(s string, p int) int {
	for p < len(s) && s[p] == ' ' {
		p++
	}
	return p
}
