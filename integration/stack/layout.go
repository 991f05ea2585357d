package stack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Hit is one place a needle was found in an OCI layout: a blob, and inside a layer blob the tar
// entry that holds it.
type Hit struct {
	Blob   string // "sha256:…"
	Entry  string // tar entry name, or "" for a non-tar blob (config, manifest, index)
	Needle int    // index into the needles searched for
}

func (h Hit) String() string {
	if h.Entry == "" {
		return h.Blob
	}
	return h.Blob + ":" + h.Entry
}

// SearchLayout looks for each needle, byte for byte, in every blob of the OCI layout at dir:
// configs and manifests as they are, layers decompressed and opened entry by entry. It is the
// yardstick for the leak tests, deliberately independent of safebuild's own scanner.
func SearchLayout(dir string, needles ...[]byte) ([]Hit, error) {
	blobs, err := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	if err != nil {
		return nil, err
	}
	if len(blobs) == 0 {
		return nil, fmt.Errorf("%s: no blobs: not an OCI layout", dir)
	}
	var hits []Hit
	for _, b := range blobs {
		h, err := searchBlob(b, needles)
		if err != nil {
			return nil, fmt.Errorf("blob %s: %w", filepath.Base(b), err)
		}
		hits = append(hits, h...)
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].String() < hits[j].String() })
	return hits, nil
}

func searchBlob(path string, needles [][]byte) ([]Hit, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	blob := "sha256:" + filepath.Base(path)
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	dt, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	tr := tar.NewReader(bytes.NewReader(dt))
	entries := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if entries == 0 { // not a tar: search the blob as it is
				break
			}
			return nil, err
		}
		entries++
		content, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		for i, n := range needles {
			if bytes.Contains(content, n) || bytes.Contains([]byte(hdr.Name), n) {
				hits = append(hits, Hit{Blob: blob, Entry: hdr.Name, Needle: i})
			}
		}
	}
	if entries == 0 {
		for i, n := range needles {
			if bytes.Contains(dt, n) {
				hits = append(hits, Hit{Blob: blob, Needle: i})
			}
		}
	}
	return hits, nil
}
