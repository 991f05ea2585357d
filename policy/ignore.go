package policy

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseIgnore reads gitleaks' .gitleaksignore format: one fingerprint per line
// ("path:rule-id:line", or a safebuild Finding.Fingerprint), blank lines and "#" comments
// ignored. The result is meant for WithIgnore.
func ParseIgnore(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ignore list, line %d: %w", n+1, err)
	}
	return out, nil
}
