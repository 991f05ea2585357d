package imagescan

import (
	"regexp"
	"strconv"
	"strings"
)

var (
	buildArgPrefix = regexp.MustCompile(`^((?:RUN )?)\|(\d+) `)
	argKey         = regexp.MustCompile(`(?:^| )([A-Za-z_][A-Za-z0-9_]*)=`)
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
