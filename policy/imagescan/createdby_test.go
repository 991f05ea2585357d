package imagescan

import "testing"

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
