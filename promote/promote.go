// Package promote gates promotion of an image from one registry to another (staging to
// production): the source is pinned to its digest, every platform's layers, config and history
// are scanned, and only when nothing is found is that very digest copied to the destination.
// What is copied is what was scanned, whatever the source tag points to by then.
package promote

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/safebuild/safebuild/image"
	"github.com/safebuild/safebuild/imagescan"
	"github.com/safebuild/safebuild/policy"
)

// Options tune Promote.
type Options struct {
	// Scan tunes the layer scan (archives, cache).
	Scan imagescan.Options
	// Allow drops findings whose fingerprint it holds (a baseline of accepted findings).
	Allow map[string]bool
	// DryRun scans and reports but never writes to the destination.
	DryRun bool
	// MinConfidence is the least confidence of a finding that blocks the promotion; findings
	// below it are reported in Result.Below and do not block. The zero value blocks on every
	// finding (as policy.ConfidenceLow).
	MinConfidence policy.Confidence
	// Keychain authenticates to both registries; nil means the docker config and credential
	// helpers (authn.DefaultKeychain).
	Keychain authn.Keychain
	// Transport is the registries' HTTP transport; nil means remote.DefaultTransport.
	Transport http.RoundTripper
}

// Result says what was scanned and what happened.
type Result struct {
	// Source is the source pinned to the digest that was scanned: repo@sha256:….
	Source string
	// Digest is the scanned (and, when Promoted, copied) manifest or index digest.
	Digest string
	// Destination is where it was (or would have been) written.
	Destination string
	// Findings are what blocked the promotion, sorted; empty when it passed.
	Findings []policy.Finding
	// Below are findings under Options.MinConfidence: reported, not blocking; sorted.
	Below []policy.Finding
	// Errors are the parts that could not be scanned (a corrupt layer, a blob or manifest the
	// registry does not serve): they block the promotion too, since what was not read cannot
	// be vouched for. Notices are what was skipped by design (opaque binary artifact blobs).
	Errors, Notices []policy.Problem
	Stats           policy.Stats
	// Promoted is true when the destination now holds Digest.
	Promoted bool
}

// Promote scans src — every image, attestation and other artifact of its index — and, when it is
// clean and was read whole, copies it by digest to dst (the index and everything it lists,
// attestations included). Findings and parts that could not be scanned are not an error: they
// are in the Result, and nothing is written. src and dst are registry references
// (host/repo:tag or host/repo@digest; dst needs a tag or the digest itself).
func Promote(ctx context.Context, sc *policy.Scanner, src, dst string, o Options) (*Result, error) {
	srcRef, err := name.ParseReference(src)
	if err != nil {
		return nil, fmt.Errorf("source %q: not an image reference: %w", src, err)
	}
	dstRef, err := name.ParseReference(dst)
	if err != nil {
		return nil, fmt.Errorf("destination %q: not an image reference: %w", dst, err)
	}
	iopts := image.Options{Keychain: o.Keychain, Transport: o.Transport}
	ropts := iopts.RemoteOptions(ctx)

	// Pin the source: scan and copy the same digest.
	desc, err := remote.Get(srcRef, ropts...)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", srcRef, err)
	}
	pinned := srcRef.Context().Digest(desc.Digest.String())
	res := &Result{Source: pinned.String(), Digest: desc.Digest.String(), Destination: dstRef.String()}
	if d, ok := dstRef.(name.Digest); ok && d.DigestStr() != res.Digest {
		return nil, fmt.Errorf("destination %s names digest %s, but the source is %s", dst, d.DigestStr(), res.Digest)
	}

	set, err := image.Open(ctx, image.Ref{Kind: image.Registry, Target: pinned.String()}, iopts)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	so := o.Scan
	so.RequireAll = true
	sres, err := imagescan.ScanSet(ctx, sc, set, so, func(f policy.Finding) error {
		switch {
		case o.Allow[f.Fingerprint]:
		case f.Confidence.AtLeast(o.MinConfidence):
			res.Findings = append(res.Findings, f)
		default:
			res.Below = append(res.Below, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Stats, res.Errors, res.Notices = sres.Stats, sres.Errors, sres.Notices
	if len(res.Findings) > 0 || len(res.Errors) > 0 || o.DryRun {
		return res, nil
	}

	// Copy exactly what was scanned: the pinned manifest or index and the blobs it references.
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", pinned, err)
		}
		err = remote.WriteIndex(dstRef, idx, ropts...)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", dstRef, err)
		}
	} else {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", pinned, err)
		}
		if err := remote.Write(dstRef, img, ropts...); err != nil {
			return nil, fmt.Errorf("writing %s: %w", dstRef, err)
		}
	}
	// Check what the destination now serves.
	got, err := remote.Head(dstRef, ropts...)
	if err != nil {
		return nil, fmt.Errorf("checking %s after writing: %w", dstRef, err)
	}
	if got.Digest != desc.Digest {
		return nil, fmt.Errorf("%s serves %s after writing %s", dstRef, got.Digest, desc.Digest)
	}
	res.Promoted = true
	return res, nil
}
