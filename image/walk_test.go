package image

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestWalkHardLinks: a hard link is an entry of its own, with its clean target in Link and no
// content; every entry carries its stream position; a second pass (nil Whiteouts) records
// nothing.
func TestWalkHardLinks(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "./usr/bin/perl", Mode: 0o755, Size: 4, Typeflag: tar.TypeReg})
	tw.Write([]byte("perl"))
	tw.WriteHeader(&tar.Header{Name: "tmp/.wh.x", Typeflag: tar.TypeReg})
	tw.WriteHeader(&tar.Header{Name: "usr/bin/perl5.36", Linkname: "./usr/bin/../bin/perl", Typeflag: tar.TypeLink})
	tw.WriteHeader(&tar.Header{Name: "etc/evil", Linkname: "../../etc/shadow", Typeflag: tar.TypeLink})
	tw.Close()
	dt := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(dt)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := FromV1(img, "test").Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []*Whiteouts{NewWhiteouts(), nil} {
		var got []string
		err := WalkLayer(context.Background(), ls[0], w, Limits{}, func(e Entry) error {
			got = append(got, fmt.Sprintf("%d %s link=%q content=%v", e.Index, e.Path, e.Link, e.Content != nil))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint([]string{
			`0 usr/bin/perl link="" content=true`,
			`2 usr/bin/perl5.36 link="usr/bin/perl" content=false`,
			`3 etc/evil link="etc/shadow" content=false`,
		})
		if fmt.Sprint(got) != want {
			t.Errorf("got %v\nwant %v", got, want)
		}
		if w != nil {
			if files, _ := w.Layer(0); len(files) != 1 || files[0] != "tmp/x" {
				t.Errorf("whiteouts %v", files)
			}
		}
	}
}
