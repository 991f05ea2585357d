package imagescan

import (
	"context"
	"fmt"
	"time"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/policy"
)

// Result is what a scan of a Set gives besides its findings.
type Result struct {
	// Stats add up every image and artifact; Duration is the whole scan's wall time.
	Stats policy.Stats
	// Errors name each part that could not be scanned: a corrupt layer, a blob the registry no
	// longer serves, an unreadable config or manifest, an attestation that is not JSON. The
	// rest was scanned, but the scan is incomplete: exit 2, and a gate refuses.
	Errors []policy.Problem
	// Notices name what is listed but was not scanned, by design: index entries whose
	// manifests the store does not hold (a platform `docker save` or a containerd pull did not
	// fetch), opaque binary artifact blobs, a hard link to a file no layer holds.
	Notices []policy.Problem
}

// Complete is true when every part of the set was read.
func (r *Result) Complete() bool { return len(r.Errors) == 0 }

// ScanSet scans everything in set — every image (layers, config, history, annotations), every
// attestation and other artifact (by media type) — and calls emit for each finding, sorted, once
// all are scanned. Entries the set skipped become notices (absent from the store) or errors
// (unreadable). A part that cannot be read never stops the others; the error returned is the
// context's or emit's only.
func ScanSet(ctx context.Context, sc *policy.Scanner, set *image.Set, o Options, emit func(Finding) error) (*Result, error) {
	start := time.Now()
	res := &Result{}
	for _, k := range set.Skipped {
		res.skipped(set.Ref, k, o.RequireAll)
	}
	var findings []Finding
	collect := func(f Finding) error { findings = append(findings, f); return nil }
	for _, img := range set.Images {
		st, problems, notices, err := scanImage(ctx, sc, img, o, collect)
		res.Stats.Add(st)
		res.Errors = append(res.Errors, problems...)
		res.Notices = append(res.Notices, notices...)
		if err != nil {
			return res, err
		}
	}
	for _, a := range set.Artifacts {
		s := scanArtifact(ctx, sc, a, o, collect)
		res.Stats.Add(s.stats)
		res.Errors = append(res.Errors, s.errors...)
		res.Notices = append(res.Notices, s.notices...)
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	Sort(findings)
	res.Stats.Duration = time.Since(start)
	for _, f := range findings {
		if err := emit(f); err != nil {
			return res, err
		}
	}
	return res, nil
}

// skipped turns an index entry the walk did not open into a notice (absent) or an error.
func (r *Result) skipped(ref image.Ref, k image.Skipped, requireAll bool) {
	p := policy.Problem{Image: ref.String(), Platform: k.Platform, Manifest: k.Digest}
	what := fmt.Sprintf("%s %s (%s", k.Kind, k.Digest, k.MediaType)
	switch {
	case k.Subject != "":
		p.Platform = k.SubjectPlatform
		what += ", about " + k.Subject
	case k.Platform != "":
		what += ", " + k.Platform
	}
	what += ")"
	switch {
	case k.Absent && requireAll:
		p.Message = fmt.Sprintf("not present: the index lists %s, but %s does not hold it, so it cannot be scanned", what, ref.Kind.Holder())
		r.Errors = append(r.Errors, p)
	case k.Absent:
		p.Message = fmt.Sprintf("not present: the index lists %s, but %s does not hold it", what, ref.Kind.Holder())
		r.Notices = append(r.Notices, p)
	default:
		p.Message = fmt.Sprintf("%s could not be read: %v", what, k.Err)
		r.Errors = append(r.Errors, p)
	}
}
