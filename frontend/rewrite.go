package frontend

import (
	"fmt"

	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
)

// requireSecrets rewrites def so that every secret mount and secret env of every RUN is
// required, and carries the id ids maps it to (nil: ids stay). Required: the Dockerfile default
// (required=false) makes BuildKit run the step with an empty file or variable when the client
// has no such secret — a build that "works" without its credential and fails, or worse,
// somewhere else. Mapped: `safebuild build` maps each id to its Vault reference pinned to the
// version it reads, so BuildKit's cache key (which holds the id, never the value) changes when a
// secret rotates, and a step that used the old value runs again. The file path and variable name
// the step sees are unchanged. It returns how many secrets it changed.
//
// Each changed op is re-marshalled, so its digest changes: ops are rewritten in order (inputs
// come first), every input reference is mapped to its op's new digest, and metadata and source
// locations are re-keyed.
func requireSecrets(def *pb.Definition, ids map[string]string) (int, error) {
	changed := 0
	newDigest := map[digest.Digest]digest.Digest{}
	for i, dt := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return 0, fmt.Errorf("reading LLB op %d: %w", i, err)
		}
		old := digest.FromBytes(dt)
		dirty := false
		for _, in := range op.Inputs {
			if nd, ok := newDigest[digest.Digest(in.Digest)]; ok {
				in.Digest = string(nd)
				dirty = true
			}
		}
		if ex := op.GetExec(); ex != nil {
			for _, m := range ex.Mounts {
				if m.MountType != pb.MountType_SECRET || m.SecretOpt == nil {
					continue
				}
				if to, ok := ids[m.SecretOpt.ID]; m.SecretOpt.Optional || ok {
					m.SecretOpt.Optional = false
					if ok {
						m.SecretOpt.ID = to
					}
					dirty = true
					changed++
				}
			}
			for _, se := range ex.Secretenv {
				if to, ok := ids[se.ID]; se.Optional || ok {
					se.Optional = false
					if ok {
						se.ID = to
					}
					dirty = true
					changed++
				}
			}
		}
		if !dirty {
			continue
		}
		ndt, err := op.MarshalVT()
		if err != nil {
			return 0, fmt.Errorf("writing LLB op %d: %w", i, err)
		}
		def.Def[i] = ndt
		nd := digest.FromBytes(ndt)
		newDigest[old] = nd
		if md, ok := def.Metadata[string(old)]; ok {
			delete(def.Metadata, string(old))
			def.Metadata[string(nd)] = md
		}
		if def.Source != nil {
			if loc, ok := def.Source.Locations[string(old)]; ok {
				delete(def.Source.Locations, string(old))
				def.Source.Locations[string(nd)] = loc
			}
		}
	}
	return changed, nil
}
