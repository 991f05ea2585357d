package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/archive"
)

// OptScanLayers turns the in-build layer scan off ("false"): `safebuild build` sets it because it
// scans the exported layer blobs itself, with the Vault-served values as canaries. In the
// `# syntax=` image the scan is on.
const OptScanLayers = "safebuild:scan-layers"

// readChunk is how much of a file one ReadFile round trip fetches (the gateway's limit is 16 MiB).
const readChunk = 4 << 20

// step is one layer the build made: the diff between a rootfs state and its parent.
type step struct {
	name          string // "[2/5] RUN …"
	parent, child llb.State
}

// layerSteps walks the rootfs chain of st back to its base image (or scratch) and returns the
// layer-making steps, base first. ENV, ARG, LABEL and other metadata make no op and no layer.
func layerSteps(ctx context.Context, st llb.State) ([]step, error) {
	c := llb.NewConstraints()
	var steps []step
	cur := st
	for i := 0; i < 10_000; i++ {
		out := cur.Output()
		if out == nil {
			break // scratch
		}
		v := out.Vertex(ctx, c)
		_, dt, md, _, err := v.Marshal(ctx, c)
		if err != nil {
			return nil, err
		}
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		in, err := out.ToInput(ctx, c)
		if err != nil {
			return nil, err
		}
		inputs := v.Inputs()
		parentIdx := -2 // -2: stop (a source), -1: scratch, else an input
		switch o := op.Op.(type) {
		case *pb.Op_Exec:
			for _, m := range o.Exec.Mounts {
				if m.Dest == "/" && m.Output == int64(in.Index) {
					parentIdx = int(m.Input)
				}
			}
		case *pb.Op_File:
			parentIdx = fileParent(o.File.Actions, int64(in.Index), len(inputs))
		case *pb.Op_Merge:
			parentIdx = 0
		}
		if parentIdx == -2 || parentIdx >= len(inputs) {
			break
		}
		parent := llb.Scratch()
		if parentIdx >= 0 {
			parent = llb.NewState(inputs[parentIdx])
		}
		name := ""
		if md != nil {
			name = md.Description["llb.customname"]
		}
		steps = append([]step{{name: name, parent: parent, child: cur}}, steps...)
		if parentIdx < 0 {
			break
		}
		cur = parent
	}
	return steps, nil
}

// fileParent follows a FileOp's action chain from the action producing output back to a real
// input: -1 for scratch, -2 when it cannot tell.
func fileParent(actions []*pb.FileAction, output int64, nInputs int) int {
	var a *pb.FileAction
	for _, x := range actions {
		if x.Output == output {
			a = x
		}
	}
	for guard := 0; a != nil && guard < len(actions)+1; guard++ {
		switch {
		case a.Input == -1:
			return -1
		case a.Input < int64(nInputs):
			return int(a.Input)
		default:
			idx := a.Input - int64(nInputs)
			if idx < 0 || idx >= int64(len(actions)) {
				return -2
			}
			a = actions[idx]
		}
	}
	return -2
}

// LayerFinding is a finding in a layer the build made, named by its step.
type LayerFinding struct {
	policy.Finding
	// Step is the build step's name ("[2/5] RUN …"), "" for config findings.
	Step string
}

// LayersRefusedError is the in-build scan's verdict: secrets in the built layers or config.
type LayersRefusedError struct {
	Findings []LayerFinding
}

func (e *LayersRefusedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "build refused: %d secret(s) in the built image; nothing is exported:", len(e.Findings))
	for _, f := range e.Findings {
		where := "image config " + f.Origin.Path
		if f.Step != "" {
			where = fmt.Sprintf("%s: %s", imagescan.RedactCreatedBy(f.Step), f.Origin.Path)
			if f.Line > 0 {
				where += fmt.Sprintf(":%d", f.Line)
			}
		}
		excerpt := f.Redacted
		if excerpt == "" {
			excerpt = f.Description
		}
		fmt.Fprintf(&b, "\n  %s  %s  %s", where, f.RuleID, excerpt)
	}
	return b.String()
}

// scanBuilt scans every layer the build made (the diff of each step against its parent) and the
// image config (with the build's build-args, which delimit values in history entries), and returns
// a *LayersRefusedError when anything of policy.GateConfidence or more is found (as `safebuild
// build`'s gate at its default --min-confidence).
func scanBuilt(ctx context.Context, c gwclient.Client, ref gwclient.Reference, img *dockerspec.DockerOCIImage, buildArgs map[string]string, sc *policy.Scanner) error {
	var findings []LayerFinding
	if img != nil {
		dt, err := json.Marshal(img)
		if err != nil {
			return err
		}
		var cfg v1.ConfigFile
		if err := json.Unmarshal(dt, &cfg); err != nil {
			return err
		}
		_, err = imagescan.ScanConfig(ctx, sc, &cfg, nil, "", buildArgs, func(f policy.Finding) error {
			findings = append(findings, LayerFinding{Finding: f})
			return nil
		})
		if err != nil {
			return err
		}
	}
	st, err := ref.ToState()
	if err != nil {
		return err
	}
	steps, err := layerSteps(ctx, st)
	if err != nil {
		return fmt.Errorf("walking the build's layers: %w", err)
	}
	for _, s := range steps {
		def, err := llb.Diff(s.parent, s.child).Marshal(ctx)
		if err != nil {
			return err
		}
		res, err := c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return fmt.Errorf("diffing %s: %w", s.name, err)
		}
		dref, err := res.SingleRef()
		if err != nil {
			return err
		}
		if dref == nil {
			continue // an empty diff
		}
		err = walkRef(ctx, dref, "/", func(p string, size int64) error {
			r := &refReader{ctx: ctx, ref: dref, path: p, size: size}
			o := policy.Origin{Kind: imagescan.OriginLayer, Ref: s.name, Path: strings.TrimPrefix(p, "/")}
			_, err := imagescan.ScanFile(ctx, sc, o, r, archive.Options{}, func(f policy.Finding) error {
				findings = append(findings, LayerFinding{Finding: f, Step: s.name})
				return nil
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("scanning %s: %w", s.name, err)
		}
	}
	refusing := findings[:0]
	for _, f := range findings {
		if f.Confidence.AtLeast(policy.GateConfidence) {
			refusing = append(refusing, f)
		}
	}
	if len(refusing) > 0 {
		return &LayersRefusedError{Findings: refusing}
	}
	return nil
}

// walkRef calls fn for every regular file under dir of ref, depth first, in name order.
func walkRef(ctx context.Context, ref gwclient.Reference, dir string, fn func(p string, size int64) error) error {
	entries, err := ref.ReadDir(ctx, gwclient.ReadDirRequest{Path: dir})
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := path.Join(dir, e.Path)
		mode := os.FileMode(e.Mode)
		switch {
		case mode.IsDir():
			if err := walkRef(ctx, ref, p, fn); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := fn(p, e.Size); err != nil {
				return err
			}
		}
	}
	return nil
}

// refReader reads a file of a solved reference in chunks, one gateway round trip each.
type refReader struct {
	ctx  context.Context
	ref  gwclient.Reference
	path string
	size int64
	off  int64
}

func (r *refReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := len(p)
	if n > readChunk {
		n = readChunk
	}
	if rest := r.size - r.off; int64(n) > rest {
		n = int(rest)
	}
	dt, err := r.ref.ReadFile(r.ctx, gwclient.ReadRequest{Filename: r.path, Range: &gwclient.FileRange{Offset: int(r.off), Length: n}})
	if err != nil {
		return 0, err
	}
	if len(dt) == 0 {
		return 0, errors.New("short read from the build result")
	}
	copy(p, dt)
	r.off += int64(len(dt))
	return len(dt), nil
}
