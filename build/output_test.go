package build

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Output
		wantErr string
	}{
		{"out.tar", Output{Type: "oci", Dest: "out.tar", Tar: true}, ""},
		{"type=oci,dest=out.tar", Output{Type: "oci", Dest: "out.tar", Tar: true}, ""},
		{"type=oci,dest=dir,tar=false", Output{Type: "oci", Dest: "dir", Tar: false}, ""},
		{"type=docker,dest=img.tar,name=app:1", Output{Type: "docker", Dest: "img.tar", Tar: true, Names: []string{"app:1"}}, ""},
		{`type=image,"name=r/a:1,r/a:latest",push=true`, Output{Type: "image", Tar: true, Names: []string{"r/a:1", "r/a:latest"}, Push: true}, ""},
		{"type=registry,name=r/a:1", Output{Type: "image", Tar: true, Names: []string{"r/a:1"}, Push: true}, ""},
		{"type=image,name=r/a:1", Output{}, "without push=true"},
		{"type=local,dest=out", Output{}, "type=local is not supported"},
		{"type=oci", Output{}, "needs dest=PATH"},
		{"type=docker,dest=x,tar=false", Output{}, "tar=false is not supported"},
		{"type=oci,dest=x,bogus=1", Output{}, `unknown key "bogus"`},
		{"type=oci,dest=x,push=maybe", Output{}, "want true or false"},
		{"dest=x", Output{}, "no type"},
		{"", Output{}, "empty value"},
	} {
		got, err := ParseOutput(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseOutput(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOutput(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
