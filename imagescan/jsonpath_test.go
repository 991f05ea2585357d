package imagescan

import (
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy"
)

// TestJSONPaths: a position in a JSON document maps to the path of the value (or key) there;
// a key that itself holds a finding is masked in every path through it.
func TestJSONPaths(t *testing.T) {
	doc := `{
  "predicate": {"args": {"build-arg:TOKEN": "AAA", "plain": "BBB"},
                "list": [1, {"x": "CCC"}, "DDD"]},
  "SECRETKEY": {"inner": "EEE"},
  "n": 12, "t": true
}`
	at := func(needle string) (line, col int) {
		i := strings.Index(doc, needle)
		before := doc[:i]
		line = strings.Count(before, "\n") + 1
		col = i - strings.LastIndex(before, "\n")
		return line, col
	}
	cases := []struct{ needle, want string }{
		{"AAA", `predicate.args["build-arg:TOKEN"]`},
		{"BBB", "predicate.args.plain"},
		{"CCC", "predicate.list[1].x"},
		{"DDD", "predicate.list[2]"},
		{"EEE", `["***"].inner`}, // SECRETKEY holds a finding itself
		{"SECRETKEY", `["***"]`},
		{"12", "n"},
		{"true", "t"},
		{"[1, {", "predicate.list"},
	}
	var fs []Finding
	for _, c := range cases {
		l, col := at(c.needle)
		fs = append(fs, Finding{RuleID: "r", Origin: policy.Origin{Kind: "attestation", Path: "layers[0]"}, Line: l, Column: col})
	}
	relocateJSON([]byte(doc), fs)
	for i, c := range cases {
		if fs[i].Origin.Path != c.want {
			t.Errorf("%s: path %q, want %q", c.needle, fs[i].Origin.Path, c.want)
		}
		if fs[i].Fingerprint == "" {
			t.Errorf("%s: no fingerprint", c.needle)
		}
	}

	// Not JSON: paths stay as they were.
	f := []Finding{{Origin: policy.Origin{Path: "layers[0]"}, Line: 1, Column: 1}}
	relocateJSON([]byte("{oops"), f)
	if f[0].Origin.Path != "layers[0]" {
		t.Errorf("not JSON: path %q", f[0].Origin.Path)
	}
}
