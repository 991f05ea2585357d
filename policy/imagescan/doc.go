// Package imagescan runs the detection engine over a whole image: every layer diff (in parallel,
// each file streamed), the config (Env, Labels, Cmd, Entrypoint, OnBuild, every history
// created_by) and the manifest and index annotations. Findings say which layer holds the bytes,
// the instruction that made it, and which later layer "removed" the file. A hard link is
// scanned under its own path (links.go), and archives inside layers are opened by their bytes.
package imagescan
