package frontend

import (
	"context"
	"slices"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

func TestRequireSecrets(t *testing.T) {
	st := llb.Scratch().
		Run(llb.Shlex("true"), llb.AddSecret("/run/secrets/a", llb.SecretID("a"), llb.SecretOptional),
			llb.AddSecretWithDest("b", nil, llb.SecretAsEnvName("B"), llb.SecretOptional)).Root().
		Run(llb.Shlex("true"), llb.AddSecret("/run/secrets/c", llb.SecretID("c"))).Root()
	def, err := st.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pdef := def.ToPB()
	n, err := requireSecrets(pdef, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("changed %d secrets, want 2 (a and b; c was already required)", n)
	}
	known := map[string]bool{}
	for _, dt := range pdef.Def {
		known[string(digest.FromBytes(dt))] = true
	}
	for i, dt := range pdef.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		for _, in := range op.Inputs {
			if !known[in.Digest] {
				t.Errorf("op %d refers to %s, which is not in the definition", i, in.Digest)
			}
		}
		if ex := op.GetExec(); ex != nil {
			for _, m := range ex.Mounts {
				if m.SecretOpt != nil && m.SecretOpt.Optional {
					t.Errorf("op %d: secret mount %s still optional", i, m.Dest)
				}
			}
			for _, se := range ex.Secretenv {
				if se.Optional {
					t.Errorf("op %d: secret env %s still optional", i, se.Name)
				}
			}
		}
	}
	for k := range pdef.Metadata {
		if !known[k] {
			t.Errorf("metadata keyed by %s, which is not in the definition", k)
		}
	}
}

// TestRequireSecretsMapsIDs: mapped ids are rewritten in mounts and secret envs (and those ops
// become required and get new digests); the path and variable the step sees stay.
func TestRequireSecretsMapsIDs(t *testing.T) {
	st := llb.Scratch().
		Run(llb.Shlex("true"), llb.AddSecret("/run/secrets/npm", llb.SecretID("npm")),
			llb.AddSecretWithDest("tok", nil, llb.SecretAsEnvName("TOKEN"))).Root().
		Run(llb.Shlex("true"), llb.AddSecret("/run/secrets/other", llb.SecretID("other"))).Root()
	def, err := st.Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pdef := def.ToPB()
	before := map[string]bool{}
	for _, dt := range pdef.Def {
		before[string(digest.FromBytes(dt))] = true
	}
	ids := map[string]string{"npm": "npm=vault:secret/ci/npm#token?version=3", "tok": "tok=vault:secret/ci/t#v?version=1"}
	n, err := requireSecrets(pdef, ids)
	if err != nil || n != 2 {
		t.Fatalf("changed %d, %v; want 2", n, err)
	}
	var got []string
	changedOps := 0
	for _, dt := range pdef.Def {
		if !before[string(digest.FromBytes(dt))] {
			changedOps++
		}
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			t.Fatal(err)
		}
		if ex := op.GetExec(); ex != nil {
			for _, m := range ex.Mounts {
				if m.SecretOpt != nil {
					got = append(got, m.Dest+"<-"+m.SecretOpt.ID)
				}
			}
			for _, se := range ex.Secretenv {
				got = append(got, "$"+se.Name+"<-"+se.ID)
			}
		}
	}
	want := []string{"/run/secrets/npm<-" + ids["npm"], "$TOKEN<-" + ids["tok"], "/run/secrets/other<-other"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("secrets %v, want %v", got, want)
	}
	// The first exec changed; the second depends on it, so its input digest changed too.
	if changedOps < 2 {
		t.Errorf("%d ops changed, want the mapped exec and the one built on it", changedOps)
	}
}
