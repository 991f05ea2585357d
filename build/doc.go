// Package build runs safebuild's frontend in-process against any buildkitd, as `safebuild build`
// does: it exports the result only to a private OCI layout, hands that layout to a gate (the scan)
// and writes the requested outputs — OCI or docker archives, registry pushes — only when the gate
// passes. A failed build or gate leaves no output behind.
package build
