package imagescan

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes findings for a person: grouped by image, then config, manifest and each
// layer with the instruction that made it. It never prints a secret: only the engine's redacted
// excerpts.
func WriteText(w io.Writer, findings []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var lastImage, lastGroup string
	for _, f := range findings {
		img := f.Image
		if f.Platform != "" {
			img += " (" + f.Platform + ")"
		}
		if img != lastImage {
			fmt.Fprintf(tw, "%s\n", img)
			lastImage, lastGroup = img, ""
		}
		group := groupTitle(f)
		if group != lastGroup {
			fmt.Fprintf(tw, "  %s\n", group)
			lastGroup = group
		}
		loc := f.Origin.Path
		if f.Line > 0 && f.Layer != nil {
			loc = fmt.Sprintf("%s:%d:%d", loc, f.Line, f.Column)
		}
		note := ""
		if f.Layer != nil && f.Layer.RemovedInLayer != nil {
			note = fmt.Sprintf("  (removed in layer %d; the bytes stay in this layer's blob)", *f.Layer.RemovedInLayer)
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s%s\n", loc, f.RuleID, excerpt(f), note)
	}
	return tw.Flush()
}

func groupTitle(f Finding) string {
	if f.Layer == nil {
		if f.Origin.Kind == OriginManifest {
			return "manifest annotations"
		}
		return "image config"
	}
	by := f.Layer.CreatedBy
	if len(by) > 90 {
		by = by[:87] + "..."
	}
	return fmt.Sprintf("layer %d %s  %s", f.Layer.Index, short(f.Layer.Digest), strings.TrimSpace(by))
}

func excerpt(f Finding) string {
	if f.Redacted == "" {
		// Canaries carry no excerpt; their description names the value's source, never the value.
		return f.Description
	}
	r := strings.ReplaceAll(f.Redacted, "\n", " ")
	if len(r) > 80 {
		r = r[:77] + "..."
	}
	return r
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
