package frontend

import (
	"context"
	"strconv"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
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
			[]string{"1:secret-named-meta-arg", "3:secret-named-arg", "4:secret-named-variable"}},
		{"allowed names", "FROM scratch\nARG KEY_FILE=/run/k\nENV PUBLIC_KEY=abc TOKEN_PATH=/t\n", nil, nil, nil},
		{"harmless values", "FROM scratch\nENV SSL_CERT_KEY=/etc/ssl/private/server.key AUTH_ENABLED=true PASSWORD_MIN_LENGTH=12 API_TOKEN=\"\" NPM_TOKEN=$NPM_TOKEN\n", nil, nil, nil},
		{"value in a RUN line", "FROM scratch\nRUN echo //registry.npmjs.org/:_authToken=" + npm + " > /root/.npmrc\n", nil, nil,
			[]string{"2:npm-access-token"}},
		{"build-arg value", "FROM scratch\nARG NPM\nRUN true\n", map[string]string{"NPM": npm, "VERSION": "1.2.3"}, nil,
			[]string{"0:npm-access-token"}},
		{"Jenkins credential binding", "FROM scratch\nARG NEXUS_USR\nARG NEXUS_PSW\nRUN true\n", map[string]string{"NEXUS_USR": "ci-deployer", "NEXUS_PSW": "o6%vS5PoNQ3eLUm8#Sxf!X"}, nil,
			[]string{"3:secret-named-arg", "0:secret-named-build-arg"}},
		{"undeclared secret mount", "FROM scratch\nRUN --mount=type=secret,id=npm --mount=type=secret,id=aws,env=AWS true\nRUN --mount=type=secret,target=/run/secrets/db true\n", nil, map[string]bool{"npm": true},
			[]string{"2:undeclared-secret-mount", "3:undeclared-secret-mount"}},
		{"secret mounts unchecked without a declaration", "FROM scratch\nRUN --mount=type=secret,id=any true\n", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Check(context.Background(), []byte(tc.dockerfile), CheckOptions{Filename: "Dockerfile", BuildArgs: tc.args, DeclaredSecrets: tc.declared})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range res.Violations {
				got = append(got, strconv.Itoa(v.Line)+":"+v.RuleID)
				for _, s := range append([]string{npm}, mapValues(tc.args)...) {
					if len(s) > 6 && strings.Contains(v.Message, s) {
						t.Errorf("message holds a value: %s", v.Message)
					}
				}
			}
			// Engine rules may add findings on the same lines (e.g. npmrc-auth); each wanted one
			// must be there, in order, and nothing on other lines.
			if !containsInOrder(got, tc.want) || (len(tc.want) == 0) != (len(got) == 0) {
				t.Errorf("violations %v, want %v", got, tc.want)
				for _, v := range res.Violations {
					t.Log(v.Message)
				}
			}
		})
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestRuleSamples checks every rule's proof: each Match sample is flagged by that rule at its
// line, each NoMatch sample is not flagged by it. The samples run with the secret id npm_token
// declared.
func TestRuleSamples(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range Rules {
		info := r.Info()
		t.Run(info.ID, func(t *testing.T) {
			if ids[info.ID] {
				t.Errorf("rule ID %s is used twice", info.ID)
			}
			ids[info.ID] = true
			if info.Description == "" || info.URL != ruleURL(info.ID) || info.Severity == 0 || len(info.Match) == 0 || len(info.NoMatch) == 0 {
				t.Errorf("rule %s needs a description, its URL, a severity and samples: %+v", info.ID, info)
			}
			run := func(s Sample) []Violation {
				res, err := Check(context.Background(), []byte(s.Dockerfile), CheckOptions{BuildArgs: s.BuildArgs, DeclaredSecrets: map[string]bool{"npm_token": true}})
				if err != nil {
					t.Fatalf("%q: %v", s.Dockerfile, err)
				}
				var mine []Violation
				for _, v := range res.Violations {
					if v.Rule == info {
						mine = append(mine, v)
					}
				}
				return mine
			}
			for _, s := range info.Match {
				vs := run(s)
				found := false
				for _, v := range vs {
					found = found || v.Line == s.Line
				}
				if !found {
					t.Errorf("Match sample not flagged at line %d: %q %v (got %+v)", s.Line, s.Dockerfile, s.BuildArgs, vs)
				}
			}
			for _, s := range info.NoMatch {
				if vs := run(s); len(vs) > 0 {
					t.Errorf("NoMatch sample flagged: %q %v: %s", s.Dockerfile, s.BuildArgs, vs[0].Message)
				}
			}
		})
	}
}

// TestCheckMasksSource: the Dockerfile Check returns to be shown has every detected value
// replaced by '*'s of the same length, at the same place; nothing else changes.
func TestCheckMasksSource(t *testing.T) {
	const (
		aws = "AKIAHBRPOIGF3CBFNOBM"
		npm = "npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7"
		psw = "o6%vS5PoNQ3eLUm8#Sxf!X"
		ghp = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d"
	)
	df := "FROM scratch\n" +
		"ENV AWS_ACCESS_KEY_ID=" + aws + "\n" +
		"ENV A=1 \\\n    DB_PASSWORD=\"hunter2 x\" B=2\n" +
		"ENV NEXUS_PSW " + psw + "\n" +
		"ARG SHORT_TOKEN=abc\n" +
		"RUN echo //registry.npmjs.org/:_authToken=" + npm + " > /root/.npmrc && echo " + npm + "\n" +
		"ARG DEFAULT_FOR_ARG=" + ghp + "\n" +
		"RUN echo " + strings.Repeat("x", 10) + "\n"
	res, err := Check(context.Background(), []byte(df), CheckOptions{BuildArgs: map[string]string{"GH": ghp}})
	if err != nil {
		t.Fatal(err)
	}
	src := string(res.Source)
	if len(src) != len(df) || strings.Count(src, "\n") != strings.Count(df, "\n") {
		t.Fatalf("masking changed the length or the lines:\n%s", src)
	}
	for _, v := range []string{aws, npm, psw, ghp, "hunter2 x", "abc\n"} {
		if strings.Contains(src, v) {
			t.Errorf("the shown Dockerfile holds %q:\n%s", v, src)
		}
	}
	for _, keep := range []string{"ENV AWS_ACCESS_KEY_ID=", "DB_PASSWORD=", " B=2", "ENV NEXUS_PSW ", "ARG SHORT_TOKEN=", "_authToken=", "RUN echo xxxxxxxxxx"} {
		if !strings.Contains(src, keep) {
			t.Errorf("masking removed %q:\n%s", keep, src)
		}
	}
	if got := res.Mask("value " + ghp + " and " + psw); strings.Contains(got, ghp) || strings.Contains(got, psw) {
		t.Errorf("Mask left a value: %s", got)
	}
	for _, v := range res.Violations {
		for _, s := range []string{aws, npm, psw, ghp} {
			if strings.Contains(v.Message, s) {
				t.Errorf("%s: message holds a value: %s", v.RuleID, v.Message)
			}
		}
	}
}

func TestCheckParseError(t *testing.T) {
	_, err := Check(context.Background(), []byte("FROM scratch\nFROBNICATE x\n"), CheckOptions{Filename: "app.Dockerfile"})
	if err == nil || !strings.Contains(err.Error(), "app.Dockerfile") {
		t.Fatalf("want a parse error naming the file, got %v", err)
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

// FuzzCheckMask: for any Dockerfile BuildKit parses, the masked copy Check returns keeps the
// length and every line break, and only replaces bytes by '*'.
func FuzzCheckMask(f *testing.F) {
	f.Add("FROM scratch\nENV A=1 \\\n    DB_PASSWORD=\"hunter2 x\" B=2\n", "NEXUS_PSW", "o6%vS5PoNQ3eLUm8#Sxf!X")
	f.Add("FROM scratch\nENV NEXUS_PSW o6%vS5PoNQ3eLUm8#Sxf!X\nARG T=abc\n", "", "")
	f.Add("FROM scratch\nRUN echo //registry.npmjs.org/:_authToken=npm_IBXuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7\n", "X", "y")
	f.Fuzz(func(t *testing.T, df, argName, argValue string) {
		res, err := Check(context.Background(), []byte(df), CheckOptions{BuildArgs: map[string]string{argName: argValue}})
		if err != nil {
			return
		}
		if len(res.Source) != len(df) {
			t.Fatalf("length %d, want %d", len(res.Source), len(df))
		}
		for i := range df {
			if res.Source[i] != df[i] && (res.Source[i] != '*' || df[i] == '\n') {
				t.Fatalf("byte %d: %q became %q", i, df[i], res.Source[i])
			}
		}
	})
}
