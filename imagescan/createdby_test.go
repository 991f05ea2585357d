package imagescan

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestRedactCreatedBy(t *testing.T) {
	for in, want := range map[string]string{
		"COPY app/ /app/ # buildkit":                          "COPY app/ /app/ # buildkit",
		"RUN |1 NPM_TOKEN=npm_abc /bin/sh -c make # buildkit": "RUN |1 NPM_TOKEN=*** /bin/sh -c make # buildkit",
		"RUN |2 A=has spaces B=x=y /bin/sh -c echo $A":        "RUN |2 A=*** B=*** /bin/sh -c echo $A",
		"|1 TOKEN=secret /bin/sh -c true":                     "|1 TOKEN=*** /bin/sh -c true",
		"RUN |1 TOKEN=secret make all":                        "RUN |1 TOKEN=*** …",
		"RUN |0 x":                                            "RUN |0 (build-args hidden)",
		"RUN /bin/sh -c echo hi":                              "RUN /bin/sh -c echo hi",
	} {
		if got := RedactCreatedBy(in); got != want {
			t.Errorf("RedactCreatedBy(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHistoryFindings: a build-arg recorded in a history entry with a secret name and a literal
// value is a finding, whatever its format; usernames, paths, flags and unknown names are not.
func TestHistoryFindings(t *testing.T) {
	const psw = "o6%vS5PoNQ3eLUm8#Sxf!X"
	for _, tc := range []struct {
		name, createdBy string
		known           map[string]string
		want            []string // key=value of each finding
	}{
		{"Jenkins binding in a RUN prefix", "RUN |2 NEXUS_USR=ci-deployer NEXUS_PSW=" + psw + " /bin/sh -c test -n \"$NEXUS_PSW\" # buildkit", nil,
			[]string{"NEXUS_PSW=" + psw}},
		{"ARG entry", "ARG NEXUS_PSW=" + psw, nil, []string{"NEXUS_PSW=" + psw}},
		{"ARG entry, several", "ARG A=1 DB_PASSWORD=hunter2 TOKEN_PATH=/run/t", nil, []string{"DB_PASSWORD=hunter2"}},
		{"value with spaces, known", "RUN |2 DB_PASSWORD=pass word NEXUS_USR=ci /bin/sh -c true", map[string]string{"DB_PASSWORD": "pass word"},
			[]string{"DB_PASSWORD=pass word"}},
		{"value with spaces, unknown: up to the next name", "RUN |2 DB_PASSWORD=pass word NEXUS_USR=ci /bin/sh -c true", nil,
			[]string{"DB_PASSWORD=pass word"}},
		{"exec form: the last value ends at a space", "RUN |1 API_TOKEN=abc123 make all", nil, []string{"API_TOKEN=abc123"}},
		{"without RUN", "|1 GITHUB_TOKEN=hunter2hunter2 /bin/sh -c true", nil, []string{"GITHUB_TOKEN=hunter2hunter2"}},
		{"harmless values", "RUN |4 SSL_CERT_KEY=/etc/ssl/k.pem AUTH_ENABLED=true API_TOKEN= NPM_TOKEN_FILE=/run/secrets/npm /bin/sh -c true", nil, nil},
		{"names that hold no secret", "RUN |2 VERSION=1.2.3 BASE=registry/x:1 /bin/sh -c true", nil, nil},
		{"no build-args", "RUN /bin/sh -c echo DB_PASSWORD=hunter2", nil, nil},
		{"not an entry with args", "COPY . /app # buildkit", nil, nil},
		{"count larger than the args", "RUN |3 TOKEN=abcdef123", nil, []string{"TOKEN=abcdef123"}},
		{"Jenkins binding base", "RUN |3 NEXUS=ci:" + psw + " NEXUS_USR=ci NEXUS_PSW=" + psw + " /bin/sh -c true", nil,
			[]string{"NEXUS=ci:" + psw, "NEXUS_PSW=" + psw}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &v1.ConfigFile{History: []v1.History{{CreatedBy: "ARG X"}, {CreatedBy: tc.createdBy}}}
			fs := HistoryFindings(cfg, tc.known, "")
			var got []string
			for _, f := range fs {
				if f.Origin.Path != "History[1].created_by" || f.Origin.Kind != OriginConfig || f.RuleID != RuleSecretNamedBuildArg {
					t.Errorf("finding at %s (%s, %s)", f.Origin.Path, f.Origin.Kind, f.RuleID)
				}
				key, _, _ := strings.Cut(f.Redacted, "=")
				val := tc.createdBy[f.Column-1:]
				for _, a := range historyArgs(tc.createdBy, tc.known) {
					if a.key == key {
						val = a.value
					}
				}
				if !strings.HasPrefix(tc.createdBy[f.Column-1:], val) {
					t.Errorf("column %d does not point at the value %q", f.Column, val)
				}
				got = append(got, key+"="+val)
				if strings.Contains(f.Redacted, val) || f.Secret != "" {
					t.Errorf("the finding shows the value: %+v", f)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzHistoryArgs: any created_by and known build-arg parses without a panic, and every value
// found lies inside the created_by at its offset.
func FuzzHistoryArgs(f *testing.F) {
	f.Add("RUN |2 NEXUS_USR=ci NEXUS_PSW=a b /bin/sh -c true", "NEXUS_PSW", "a b")
	f.Add("ARG A=1 B C=x y", "C", "x y")
	f.Add("RUN |1 A=x /bin/sh -c  /bin/sh -c y", "A", "x /bin/sh -c ")
	f.Add("|3 A= B=", "", "")
	f.Fuzz(func(t *testing.T, createdBy, key, val string) {
		for _, a := range historyArgs(createdBy, map[string]string{key: val}) {
			if a.off < 0 || a.off+len(a.value) > len(createdBy) || createdBy[a.off:a.off+len(a.value)] != a.value {
				t.Fatalf("%q: value %q at %d is not in the created_by", createdBy, a.value, a.off)
			}
		}
	})
}
