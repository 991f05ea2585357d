package frontend

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
)

// TestMergeLint runs BuildKit's own linter and merges safebuild's violations into its result:
// they are there whatever `# check=skip=` says, every source shown is masked, a refusal sets the
// build error, and the result's status is an error.
func TestMergeLint(t *testing.T) {
	const aws = "AKIAHBRPOIGF3CBFNOBM"
	const psw = "o6%vS5PoNQ3eLUm8#Sxf!X"
	for _, tc := range []struct {
		name, dockerfile string
		buildArgs        map[string]string
		wantRules        []string
		wantBuildKit     bool
		refused          bool
	}{
		{"refused", "FROM scratch\nENV AWS_ACCESS_KEY_ID=" + aws + "\nARG NEXUS_PSW\nRUN true\n", map[string]string{"NEXUS_PSW": psw},
			[]string{"aws-access-token", "secret-named-arg", "secret-named-build-arg"}, true, true},
		{"check=skip=all", "# check=skip=all\nFROM scratch\nENV AWS_ACCESS_KEY_ID=" + aws + "\n", nil,
			[]string{"aws-access-token"}, false, true},
		{"warning only", "ARG REGISTRY_TOKEN\nFROM scratch\n", nil, []string{"secret-named-meta-arg"}, false, false},
		{"clean", "# check=skip=all\nFROM scratch\nENV SSL_CERT_KEY=/etc/ssl/private/server.key\n", nil, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := llb.Local("dockerfile")
			sm := llb.NewSourceMap(&st, "Dockerfile", "Dockerfile", []byte(tc.dockerfile))
			def, err := st.Marshal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sm.Definition = def
			opt := dockerfile2llb.ConvertOpt{SourceMap: sm}
			opt.BuildArgs = tc.buildArgs
			res, err := dockerfile2llb.DockerfileLint(ctx, []byte(tc.dockerfile), opt)
			if err != nil {
				t.Fatal(err)
			}
			chk, chkErr := Check(ctx, []byte(tc.dockerfile), CheckOptions{BuildArgs: tc.buildArgs})
			res = mergeLint(res, sm, chk, chkErr)
			rules := map[string]bool{}
			buildKit := false
			for _, w := range res.Warnings {
				rules[w.RuleName] = true
				buildKit = buildKit || !strings.Contains(w.URL, "safebuild")
			}
			for _, r := range tc.wantRules {
				if !rules[r] {
					t.Errorf("no %s warning; warnings: %v", r, rules)
				}
			}
			if buildKit != tc.wantBuildKit {
				t.Errorf("BuildKit's own warnings present: %v, want %v (%v)", buildKit, tc.wantBuildKit, rules)
			}
			if (res.Error != nil) != tc.refused {
				t.Errorf("build error %+v, want one: %v", res.Error, tc.refused)
			}
			gw, err := res.ToResult(nil)
			if err != nil {
				t.Fatal(err)
			}
			status := string(gw.Metadata["result.statuscode"])
			if want := map[bool]string{true: "1", false: "0"}[len(tc.wantRules) > 0 || tc.wantBuildKit]; status != want {
				t.Errorf("status %s, want %s", status, want)
			}
			all := string(gw.Metadata["result.json"]) + string(gw.Metadata["result.txt"])
			for _, v := range []string{aws, psw} {
				if strings.Contains(all, v) {
					t.Errorf("the lint result holds %q:\n%s", v, gw.Metadata["result.txt"])
				}
			}
			if testing.Verbose() {
				t.Logf("%s", gw.Metadata["result.txt"])
			}
			if tc.refused && !strings.Contains(string(gw.Metadata["result.txt"]), ">>>") {
				t.Errorf("the lint text shows no Dockerfile lines:\n%s", gw.Metadata["result.txt"])
			}
		})
	}
}
