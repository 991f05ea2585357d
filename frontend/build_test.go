package frontend

import "testing"

func TestValidateCaps(t *testing.T) {
	for _, tc := range []struct {
		req     string
		wantErr bool
	}{
		{"", false},
		{"moby.buildkit.frontend.inputs", false},
		{"moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts", false},
		{"moby.buildkit.frontend.contexts+forward", false},
		{"moby.buildkit.frontend.gitquerystring", true},
		{"moby.buildkit.frontend.inputs,made.up.cap", true},
	} {
		err := validateCaps(tc.req)
		if (err != nil) != tc.wantErr {
			t.Errorf("validateCaps(%q) = %v, want error %v", tc.req, err, tc.wantErr)
		}
	}
}
