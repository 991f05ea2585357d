package frontend

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"

	"github.com/safebuild/safebuild/policy"
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

// Findings returns the violations as findings, for the JSON and SARIF reports of `safebuild
// lint`: a Dockerfile violation's origin is "dockerfile" with the path filename, a build-arg's
// "build-arg:NAME"; Description is the message, Redacted the masked Dockerfile line (NAME=*****
// for a build-arg); Refuse rules are high severity, Warn rules medium.
func (r *Result) Findings(filename string) []policy.Finding {
	lines := strings.Split(string(r.Source), "\n")
	out := make([]policy.Finding, 0, len(r.Violations))
	for _, v := range r.Violations {
		f := policy.Finding{
			RuleID:      v.RuleID,
			Description: v.Message,
			Origin:      policy.Origin{Kind: OriginDockerfile, Path: filename},
			Line:        v.Line,
			Severity:    policy.SeverityHigh,
			Confidence:  v.Confidence,
			Tags:        []string{"dockerfile-rule:" + v.Rule.ID},
		}
		if v.Severity() == Warn {
			f.Severity = policy.SeverityMedium
		}
		if v.Line > 0 {
			f.Column = 1
			if v.Line <= len(lines) {
				f.Redacted = strings.TrimSpace(lines[v.Line-1])
			}
		} else {
			f.Origin.Kind, f.Origin.Ref = OriginBuildArg, v.BuildArg
			f.Redacted = v.BuildArg + "=*****"
		}
		sum := sha256.Sum256([]byte(strings.Join([]string{v.RuleID, f.Origin.String(), f.Origin.Path, strconv.Itoa(v.Line), v.Message}, "\x00")))
		f.Fingerprint = hex.EncodeToString(sum[:16])
		out = append(out, f)
	}
	return out
}
