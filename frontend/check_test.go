package frontend

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/safebuild/safebuild/policy"
)

func TestCheck(t *testing.T) {
	sc, err := policy.NewScanner(policy.WithJobs(1))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	const npm = "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"
	for _, tc := range []struct {
		name       string
		dockerfile string
		args       map[string]string
		declared   map[string]bool
		want       []string // "line:rule" in order
	}{
		{"clean", "FROM scratch\nARG VERSION=1\nENV PATH=/bin\nRUN --mount=type=secret,id=npm true\n", nil, map[string]bool{"npm": true}, nil},
		{"secret-named ENV and ARG", "ARG API_KEY\nFROM scratch\nARG DB_PASSWORD\nENV A=1 GITHUB_TOKEN=x\n", nil, nil,
			[]string{"1:secret-named-variable", "3:secret-named-variable", "4:secret-named-variable"}},
		{"allowed names", "FROM scratch\nARG KEY_FILE=/run/k\nENV PUBLIC_KEY=abc TOKEN_PATH=/t\n", nil, nil, nil},
		{"value in a RUN line", "FROM scratch\nRUN echo //registry.npmjs.org/:_authToken=" + npm + " > /root/.npmrc\n", nil, nil,
			[]string{"2:npm-access-token"}},
		{"build-arg value", "FROM scratch\nARG NPM\nRUN true\n", map[string]string{"NPM": npm, "VERSION": "1.2.3"}, nil,
			[]string{"0:npm-access-token"}},
		{"undeclared secret mount", "FROM scratch\nRUN --mount=type=secret,id=npm --mount=type=secret,id=aws,env=AWS true\nRUN --mount=type=secret,target=/run/secrets/db true\n", nil, map[string]bool{"npm": true},
			[]string{"2:undeclared-secret-mount", "3:undeclared-secret-mount"}},
		{"secret mounts unchecked without a declaration", "FROM scratch\nRUN --mount=type=secret,id=any true\n", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := Check(context.Background(), []byte(tc.dockerfile), CheckOptions{Filename: "Dockerfile", BuildArgs: tc.args, Scanner: sc, DeclaredSecrets: tc.declared})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, strings.Join([]string{itoa(v.Line), v.RuleID}, ":"))
				if strings.Contains(v.Message, npm) {
					t.Errorf("message holds the secret: %s", v.Message)
				}
			}
			// Engine rules may add findings on the same lines (e.g. npmrc-auth); each wanted one
			// must be there, in order, and nothing on other lines.
			if !containsInOrder(got, tc.want) || (len(tc.want) == 0) != (len(got) == 0) {
				t.Errorf("violations %v, want %v", got, tc.want)
				for _, v := range vs {
					t.Log(v.Message)
				}
			}
		})
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	e := &RefusedError{Filename: "Dockerfile", Violations: []Violation{
		{RuleID: "secret-named-variable", Line: 4, Message: "ENV GITHUB_TOKEN: …"},
		{RuleID: "npm-access-token", Message: "--build-arg NPM holds a secret (npm_*****)"},
	}}
	want := "build refused before it ran (2 problem(s)):\n  Dockerfile:4: ENV GITHUB_TOKEN: … [secret-named-variable]\n  --build-arg NPM holds a secret (npm_*****) [npm-access-token]"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// containsInOrder reports whether want is a subsequence of got and every got entry is on a line
// some want entry names.
func containsInOrder(got, want []string) bool {
	lines := map[string]bool{}
	for _, w := range want {
		lines[strings.SplitN(w, ":", 2)[0]] = true
	}
	for _, g := range got {
		if !lines[strings.SplitN(g, ":", 2)[0]] {
			return false
		}
	}
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
