// Package imagescan runs the detection engine over what an image reference names (ScanSet):
// every layer diff of every image (in parallel, each file streamed), the config (Env, Labels,
// Cmd, Entrypoint, OnBuild, every history created_by), the manifest and index annotations, and
// the attestations and other artifacts of the index, by media type (JSON findings located by
// JSON path). Findings say which layer holds the bytes, the instruction that made it, and which
// later layer "removed" the file. A part that cannot be read is reported as an error and never
// stops the rest. A hard link is scanned under its own path (links.go), and archives inside
// layers are opened by their bytes.
package imagescan
