package main

import (
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	got, err := parseList(strings.NewReader("# comment\n\nansible=7.7.0+dfsg-3\ngit-man=1:2.39.5-0+deb12u3\n"), "debian.txt", "=")
	if err != nil || len(got) != 2 || got[1] != "git-man=1:2.39.5-0+deb12u3" {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"ansible\n", "=1.0\n", "a=1 b=2\n", "# only comments\n"} {
		if _, err := parseList(strings.NewReader(bad), "debian.txt", "="); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDebGlob(t *testing.T) {
	if g := debGlob("git-man", "1:2.39.5-0+deb12u3"); g != "git-man_1%3a2.39.5-0+deb12u3_*.deb" {
		t.Errorf("debGlob = %q", g)
	}
}

func TestLoadReports(t *testing.T) {
	gl, err := loadGitleaks(strings.NewReader(`[{"RuleID":"generic-api-key","File":"/c/npm/a/README.md","StartLine":3}]`), "/c")
	if err != nil || len(gl) != 1 || gl[0].Path != "npm/a/README.md" || gl[0].part() != "npm" {
		t.Fatalf("gitleaks: %+v, %v", gl, err)
	}
	sb, err := loadSafebuild(strings.NewReader(`{"findings":[{"rule_id":"private-key","path":"/c/gomod/x/key_test.go","line":9,"confidence":"high"}]}`), "/c/")
	if err != nil || len(sb) != 1 || sb[0].Path != "gomod/x/key_test.go" || sb[0].Confidence != "high" {
		t.Fatalf("safebuild: %+v, %v", sb, err)
	}
	if _, err := loadGitleaks(strings.NewReader("not json"), "/c"); err == nil {
		t.Error("a broken report was accepted")
	}
}

func TestVerdicts(t *testing.T) {
	vs, err := parseVerdicts(strings.NewReader("# c\ntrue\tprivate-key\tgomod/x/testdata/\ttest keys\nfalse\t*\tnpm/*/README.md:3\tdocs\nfalse\tjwt\t*\texamples\n"), "classified.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		f    finding
		want string
	}{
		{finding{Rule: "private-key", Path: "gomod/x/testdata/a/key.pem", Line: 1}, "true"},
		{finding{Rule: "generic-api-key", Path: "gomod/x/testdata/a/key.pem", Line: 1}, "none"},
		{finding{Rule: "url-credentials", Path: "npm/pg/README.md", Line: 3}, "false"},
		{finding{Rule: "url-credentials", Path: "npm/pg/README.md", Line: 4}, "none"},
		{finding{Rule: "url-credentials", Path: "npm/pg/lib/README.md", Line: 3}, "none"}, // * does not cross /
		{finding{Rule: "jwt", Path: "anything/at/all.js", Line: 9}, "false"},
	} {
		got := "none"
		if v := judge(vs, tc.f); v != nil {
			got = map[bool]string{true: "true", false: "false"}[v.real]
		}
		if got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, got, tc.want)
		}
	}
	for _, bad := range []string{"maybe\t*\tx\tnote\n", "true\t*\tx\n", "true\t*\tx:0\tnote\n", "true\t*\t[\tnote\n", "true\tx\tnote\n"} {
		if _, err := parseVerdicts(strings.NewReader(bad), "c.tsv"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSummarise(t *testing.T) {
	gl := []finding{{Rule: "generic-api-key", Path: "npm/a/x.js", Line: 1}, {Rule: "private-key", Path: "gomod/m/testdata/k.pem", Line: 1}}
	sb := []finding{{Rule: "private-key", Path: "gomod/m/testdata/k.pem", Line: 1, Confidence: "high"}}
	vs := []verdict{{rule: "*", pattern: "gomod/m/testdata/", real: true, note: "test key"}, {rule: "generic-api-key", pattern: "npm/a/x.js", note: "code"}}
	var out strings.Builder
	summarise(&out, gl, sb, vs)
	for _, want := range []string{"ratio: safebuild reports 0.50x gitleaks' findings on the same bytes (1 / 2)",
		"false alarms: safebuild 0.00x gitleaks (0 / 1)", "safebuild by confidence: high 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "not classified (") {
		t.Errorf("every finding is classified, yet some are listed:\n%s", out.String())
	}
}
