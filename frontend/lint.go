package frontend

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"
)

// mergeLint answers BuildKit's lint subrequest (`docker buildx build --check`, `--call=check`,
// `buildctl --opt requestid=frontend.lint`): BuildKit's own warnings in res plus one warning per
// violation of safebuild's rules — whatever `# check=skip=…` says, since the build refuses them
// regardless. The Dockerfile every warning shows is the masked copy, and BuildKit's messages are
// masked too. A violation of a Refuse rule also sets res.Error, so that the check fails as the
// build would, even with the status ignored. chkErr is Check's error (a parse error, which
// BuildKit's linter reports itself).
func mergeLint(res *lint.LintResults, sm *llb.SourceMap, chk *Result, chkErr error) *lint.LintResults {
	if chkErr != nil || chk == nil {
		if res.Error == nil && chkErr != nil {
			res.Error = &lint.BuildError{Message: chkErr.Error()}
		}
		return res
	}
	idx := -1
	if sm != nil {
		idx = res.AddSource(sm)
		for _, s := range res.Sources {
			if s.Filename == sm.Filename && bytes.Equal(s.Data, sm.Data) {
				s.Data = chk.Source
			}
		}
	}
	for i := range res.Warnings {
		res.Warnings[i].Detail = chk.Mask(res.Warnings[i].Detail)
	}
	if res.Error != nil {
		res.Error.Message = chk.Mask(res.Error.Message)
	}
	for _, v := range chk.Violations {
		si := idx
		if v.Location == nil {
			si = -1
		}
		res.AddWarning(v.RuleID, v.Rule.Description, v.Rule.URL, v.Message, si, v.Location)
	}
	refused := chk.Refused()
	if len(refused) == 0 || res.Error != nil || idx < 0 {
		return res
	}
	var ids []string
	loc := &pb.Location{SourceIndex: int32(idx)}
	for _, v := range refused {
		ids = append(ids, v.RuleID)
		if loc.Ranges == nil && v.Location != nil {
			for _, r := range v.Location {
				loc.Ranges = append(loc.Ranges, pbRange(r))
			}
		}
	}
	res.Error = &lint.BuildError{
		Message: fmt.Sprintf("safebuild refuses this build: %d violation(s) (%s)", len(refused), strings.Join(compactStrings(ids), ", ")),
	}
	res.Error.Location.SourceIndex, res.Error.Location.Ranges = loc.SourceIndex, loc.Ranges
	return res
}

// compactStrings drops repeated entries, keeping the first of each.
func compactStrings(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
