package frontend

import (
	"context"
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
	n, err := requireSecrets(pdef)
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
