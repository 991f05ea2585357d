package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerui"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/frontend/subrequests/convertllb"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
)

// keySyntaxArg is the build-arg BuildKit's own Dockerfile frontend forwards to. safebuild never
// forwards: a Dockerfile or build-arg must not be able to route a build around its checks.
const keySyntaxArg = "build-arg:BUILDKIT_SYNTAX"

// enabledCaps are the frontend capabilities safebuild implements; the frontend image's
// moby.buildkit.frontend.caps label lists the same.
var enabledCaps = map[string]bool{
	"moby.buildkit.frontend.inputs":      true,
	"moby.buildkit.frontend.subrequests": true,
	"moby.buildkit.frontend.contexts":    true,
}

var _ gwclient.BuildFunc = Build

// Build is safebuild's BuildKit build function. It runs in-process in `safebuild build` and as the
// `# syntax=` frontend image. It converts the Dockerfile with BuildKit's dockerfile2llb and solves
// it; it never forwards to another frontend, whatever `# syntax=` or BUILDKIT_SYNTAX says.
func Build(ctx context.Context, c gwclient.Client) (_ *gwclient.Result, retErr error) {
	defer func() {
		if r := recover(); r != nil {
			retErr = fmt.Errorf("safebuild frontend: internal error: %v\n%s", r, debug.Stack())
		}
	}()
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return nil, err
	}
	opts := bc.BuildOpts().Opts
	if err := validateCaps(opts["frontend.caps"]); err != nil {
		return nil, err
	}
	src, err := bc.ReadEntrypoint(ctx, "Dockerfile")
	if err != nil {
		return nil, err
	}
	secretIDs, err := parseSecretIDs(opts)
	if err != nil {
		return nil, err
	}
	// The checks run first, so that everything shown of the Dockerfile from here on — error
	// sources, warnings, lint results — is the copy with the detected secrets masked.
	chk, chkErr := checkDockerfile(ctx, src, bc.BuildArgs, opts, secretIDs)
	shown := shownSource(src.SourceMap, chk)
	warnIgnoredSyntax(ctx, src, opts, shown)

	convertOpt := dockerfile2llb.ConvertOpt{
		Config:       bc.Config,
		Client:       bc,
		SourceMap:    src.SourceMap,
		MetaResolver: c,
		Warn: func(rulename, description, url, msg string, location []parser.Range) {
			startLine := 0
			if len(location) > 0 {
				startLine = location[0].Start.Line
			}
			src.Warn(ctx, chk.Mask(linter.LintFormatShort(rulename, msg, startLine)), warnOpts(location, [][]byte{[]byte(description)}, url, shown))
		},
	}
	if res, ok, err := bc.HandleSubrequest(ctx, dockerui.RequestHandler{
		Outline: func(ctx context.Context) (*outline.Outline, error) {
			return dockerfile2llb.Dockerfile2Outline(ctx, src.Data, convertOpt)
		},
		ListTargets: func(ctx context.Context) (*targets.List, error) {
			return dockerfile2llb.ListTargets(ctx, src.Data)
		},
		Lint: func(ctx context.Context) (*lint.LintResults, error) {
			res, err := dockerfile2llb.DockerfileLint(ctx, src.Data, convertOpt)
			if err != nil {
				return nil, err
			}
			return mergeLint(res, src.SourceMap, chk, chkErr), nil
		},
		ConvertLLB: func(ctx context.Context) (*convertllb.Result, error) {
			return dockerfile2llb.DockerfileConvertLLB(ctx, src.Data, convertOpt)
		},
	}); err != nil || ok {
		return res, err
	}
	if chkErr != nil {
		return nil, chkErr
	}
	if err := refuse(ctx, src, chk, shown); err != nil {
		return nil, err
	}

	rs, err := config.Default()
	if err != nil {
		return nil, err
	}
	sc, err := policy.NewScanner(policy.WithRules(rs))
	if err != nil {
		return nil, err
	}
	defer sc.Close()
	scanLayers := opts[OptScanLayers] != "false"

	defer func() {
		var el *parser.LocationError
		if errors.As(retErr, &el) {
			for _, l := range el.Locations {
				retErr = wrapSource(retErr, shown, l)
			}
		}
	}()
	rb, err := bc.Build(ctx, func(ctx context.Context, platform *ocispecs.Platform, idx int) (*dockerui.BuildResult, error) {
		opt := convertOpt
		opt.BuildArgs = maps.Clone(opt.BuildArgs)
		opt.TargetPlatform = platform
		if idx != 0 {
			opt.Warn = nil
		}
		dfRes, err := dockerfile2llb.Dockerfile2LLB(ctx, src.Data, opt)
		if err != nil {
			return nil, err
		}
		def, err := dfRes.State.Marshal(ctx)
		if err != nil {
			return nil, fmt.Errorf("marshaling the LLB definition: %w", err)
		}
		pbDef := def.ToPB()
		if _, err := requireSecrets(pbDef, secretIDs); err != nil {
			return nil, err
		}
		r, err := c.Solve(ctx, gwclient.SolveRequest{Definition: pbDef, CacheImports: bc.CacheImports})
		if err != nil {
			return nil, err
		}
		ref, err := r.SingleRef()
		if err != nil {
			return nil, err
		}
		if scanLayers {
			if err := scanBuilt(ctx, c, ref, dfRes.Image, bc.BuildArgs, sc); err != nil {
				return nil, err
			}
		}
		return &dockerui.BuildResult{Reference: ref, Image: dfRes.Image, BaseImage: dfRes.BaseImage, Epoch: dfRes.Epoch}, nil
	})
	if err != nil {
		return nil, err
	}
	return rb.Finalize()
}

// parseSecretIDs reads OptSecretIDs: nil when it is not set.
func parseSecretIDs(opts map[string]string) (map[string]string, error) {
	v, ok := opts[OptSecretIDs]
	if !ok {
		return nil, nil
	}
	ids := map[string]string{}
	if err := json.Unmarshal([]byte(v), &ids); err != nil {
		return nil, fmt.Errorf("frontend option %s: want a JSON object of secret ids: %w", OptSecretIDs, err)
	}
	for id, to := range ids {
		if id == "" || to == "" {
			return nil, fmt.Errorf("frontend option %s: empty secret id", OptSecretIDs)
		}
	}
	return ids, nil
}

// validateCaps refuses a request for a frontend capability safebuild does not implement.
func validateCaps(req string) error {
	if req == "" {
		return nil
	}
	for _, c := range strings.Split(req, ",") {
		name, _, _ := strings.Cut(c, "+")
		if !enabledCaps[name] {
			return fmt.Errorf("safebuild frontend: capability %q is not supported (supported: inputs, subrequests, contexts)", name)
		}
	}
	return nil
}

// warnIgnoredSyntax tells the user, as a build warning, that a `# syntax=` line or a
// BUILDKIT_SYNTAX build-arg naming another frontend was not followed. When safebuild is itself the
// `# syntax=` target, BuildKit passes "cmdline" and there is nothing to say.
func warnIgnoredSyntax(ctx context.Context, src *dockerui.Source, opts map[string]string, shown *llb.SourceMap) {
	if v, ok := opts[keySyntaxArg]; ok {
		src.Warn(ctx, fmt.Sprintf("safebuild ignores BUILDKIT_SYNTAX=%s: the Dockerfile is built by safebuild's frontend", v), gwclient.WarnOpts{Level: 1, SourceInfo: sourceInfo(shown)})
	}
	if _, ok := opts["cmdline"]; ok {
		return
	}
	if ref, _, loc, ok := parser.DetectSyntax(src.Data); ok {
		src.Warn(ctx, fmt.Sprintf("safebuild ignores # syntax=%s: the Dockerfile is built by safebuild's frontend", ref), warnOpts(loc, nil, "", shown))
	}
}

// warnOpts are the options of a warning at r; it carries shown, the masked Dockerfile, as its
// source (without it, BuildKit would attach the Dockerfile as read).
func warnOpts(r []parser.Range, detail [][]byte, url string, shown *llb.SourceMap) gwclient.WarnOpts {
	opts := gwclient.WarnOpts{Level: 1, Detail: detail, URL: url, SourceInfo: sourceInfo(shown)}
	for _, r := range r {
		opts.Range = append(opts.Range, pbRange(r))
	}
	return opts
}

func pbRange(r parser.Range) *pb.Range {
	return &pb.Range{
		Start: &pb.Position{Line: int32(r.Start.Line), Character: int32(r.Start.Character)},
		End:   &pb.Position{Line: int32(r.End.Line), Character: int32(r.End.Character)},
	}
}

// wrapSource attaches the Dockerfile and the failing line ranges to err, so that buildx and
// buildctl print the offending lines. sm must be the masked copy (shownSource): they print the
// lines verbatim.
func wrapSource(err error, sm *llb.SourceMap, ranges []parser.Range) error {
	if sm == nil {
		return err
	}
	s := &errdefs.Source{Info: sourceInfo(sm)}
	for _, r := range ranges {
		s.Ranges = append(s.Ranges, pbRange(r))
	}
	return errdefs.WithSource(err, s)
}

// sourceInfo is sm as a gateway message; nil for nil.
func sourceInfo(sm *llb.SourceMap) *pb.SourceInfo {
	if sm == nil {
		return nil
	}
	si := &pb.SourceInfo{Data: sm.Data, Filename: sm.Filename, Language: sm.Language}
	if sm.Definition != nil {
		si.Definition = sm.Definition.ToPB()
	}
	return si
}

// shownSource is the source map to show the Dockerfile by: sm with the checks' masked copy of
// the Dockerfile. Without a check result (a parse error) nothing was detected and sm is shown.
func shownSource(sm *llb.SourceMap, chk *Result) *llb.SourceMap {
	if sm == nil || chk == nil {
		return sm
	}
	shown := *sm
	shown.Data = chk.Source
	return &shown
}

// checkDockerfile runs Check with the default rules, the build-args, and the secret ids the
// client declared (OptSecrets and OptSecretIDs; none declared skips the mount check).
func checkDockerfile(ctx context.Context, src *dockerui.Source, buildArgs map[string]string, opts map[string]string, secretIDs map[string]string) (*Result, error) {
	var declared map[string]bool
	if v, ok := opts[OptSecrets]; ok {
		declared = map[string]bool{}
		for _, id := range strings.Split(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				declared[id] = true
			}
		}
	}
	if secretIDs != nil {
		if declared == nil {
			declared = map[string]bool{}
		}
		for id := range secretIDs {
			declared[id] = true
		}
	}
	return Check(ctx, src.Data, CheckOptions{Filename: dockerfileName(src.SourceMap), BuildArgs: buildArgs, DeclaredSecrets: declared})
}

func dockerfileName(sm *llb.SourceMap) string {
	if sm == nil || sm.Filename == "" {
		return "Dockerfile"
	}
	return sm.Filename
}

// refuse reports chk's warnings as build warnings and returns a *RefusedError, carrying the
// masked Dockerfile and the location of the first located violation, when a Refuse rule fired.
func refuse(ctx context.Context, src *dockerui.Source, chk *Result, shown *llb.SourceMap) error {
	for _, v := range chk.Warnings() {
		src.Warn(ctx, linter.LintFormatShort(v.RuleID, v.Message, v.Line), warnOpts(v.Location, [][]byte{[]byte(v.Rule.Description)}, v.Rule.URL, shown))
	}
	vs := chk.Refused()
	if len(vs) == 0 {
		return nil
	}
	refused := &RefusedError{Filename: dockerfileName(src.SourceMap), Violations: vs}
	for _, v := range vs {
		if v.Location != nil {
			return wrapSource(refused, shown, v.Location)
		}
	}
	return refused
}
