package frontend

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
)

func TestValidateCaps(t *testing.T) {
	for _, tc := range []struct {
		req     string
		wantErr bool
	}{
		{"", false},
		{"moby.buildkit.frontend.inputs", false},
		{"moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts", false},
		{"moby.buildkit.frontend.contexts+forward", false},
		{"moby.buildkit.frontend.gitquerystring", true},
		{"moby.buildkit.frontend.inputs,made.up.cap", true},
	} {
		err := validateCaps(tc.req)
		if (err != nil) != tc.wantErr {
			t.Errorf("validateCaps(%q) = %v, want error %v", tc.req, err, tc.wantErr)
		}
	}
}

// TestRefuseAttachesMaskedSource: the refusal carries the Dockerfile buildctl and buildx print
// around the failing line, with the detected value masked in place; warnings carry it too.
func TestRefuseAttachesMaskedSource(t *testing.T) {
	const aws = "AKIAHBRPOIGF3CBFNOBM"
	ctx := context.Background()
	df := []byte("ARG REGISTRY_TOKEN\nFROM scratch\nENV AWS_ACCESS_KEY_ID=" + aws + "\nRUN true\n")
	sm := llb.NewSourceMap(nil, "Dockerfile", "Dockerfile", df)
	chk, err := Check(ctx, df, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var warned []gwclient.WarnOpts
	src := &dockerui.Source{SourceMap: sm, Warn: func(_ context.Context, _ string, o gwclient.WarnOpts) { warned = append(warned, o) }}
	err = refuse(ctx, src, chk, shownSource(sm, chk))
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("want a *RefusedError, got %v", err)
	}
	sources := errdefs.Sources(err)
	if len(sources) != 1 {
		t.Fatalf("want one attached source, got %d", len(sources))
	}
	var b strings.Builder
	if err := sources[0].Print(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ">>> ENV AWS_ACCESS_KEY_ID=********************") || strings.Contains(b.String(), aws) {
		t.Errorf("the attached source is not the masked Dockerfile:\n%s", b.String())
	}
	if len(warned) != 1 || warned[0].SourceInfo == nil || strings.Contains(string(warned[0].SourceInfo.Data), aws) {
		t.Errorf("want one warning carrying the masked Dockerfile, got %+v", warned)
	}
	if string(sm.Data) != string(df) {
		t.Error("masking changed the Dockerfile BuildKit builds")
	}
}
