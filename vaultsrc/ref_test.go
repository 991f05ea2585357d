package vaultsrc

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Ref
	}{
		{"kv detected", "vault:secret/ci/npm#token", Ref{Path: "secret/ci/npm", Field: "token"}},
		{"kv1", "vault:kv1:legacy/ci/db#password", Ref{Engine: EngineKV1, Path: "legacy/ci/db", Field: "password"}},
		{"kv2 explicit split pinned", "vault:kv2:secret//ci/npm#token?version=3",
			Ref{Engine: EngineKV2, Mount: "secret", Path: "ci/npm", Field: "token", Version: 3}},
		{"nested mount split", "vault:team/kv//ci/npm#token", Ref{Mount: "team/kv", Path: "ci/npm", Field: "token"}},
		{"dot is never a separator", "vault:secret/ci/npm.json#a.b", Ref{Path: "secret/ci/npm.json", Field: "a.b"}},
		{"json pointer", "vault:secret/ci/app#/db/pass~1word/0", Ref{Path: "secret/ci/app", Field: "/db/pass~1word/0"}},
		{"logical", "vault:logical:totp/code/ci#code", Ref{Engine: EngineLogical, Path: "totp/code/ci", Field: "code"}},
		{"namespace", "vault:secret/x#f?namespace=team/ci", Ref{Path: "secret/x", Field: "f", Namespace: "team/ci"}},
		{"namespace trailing slash", "vault:secret/x#f?namespace=team/", Ref{Path: "secret/x", Field: "f", Namespace: "team"}},
		{"whole map as json", "vault:secret/x?format=json", Ref{Path: "secret/x", Format: FormatJSON}},
		{"format raw", "vault:secret/x#f?format=raw", Ref{Path: "secret/x", Field: "f"}},
		{"all options", "vault:secret/x#f?format=json&namespace=ns&version=12",
			Ref{Path: "secret/x", Field: "f", Format: FormatJSON, Namespace: "ns", Version: 12}},
		{"colon after a slash is path", "vault:secret/a:b#f", Ref{Path: "secret/a:b", Field: "f"}},
		{"field with hash and colon", "vault:secret/x#a:b#c", Ref{Path: "secret/x", Field: "a:b#c"}},
		{"single segment", "vault:secret#f", Ref{Path: "secret", Field: "f"}},
		{"unicode path", "vault:secret/cé#f", Ref{Path: "secret/cé", Field: "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			back, err := ParseRef(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip of %q via %q = %+v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func TestParseRefErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		col  int
		msg  string
	}{
		{"no scheme", "secret/ci/npm#token", 1, "prefix"},
		{"other scheme", "vault+kv:secret/x#f", 1, "prefix"},
		{"space", "vault:secret/ci npm#token", 16, "whitespace"},
		{"tab in field", "vault:secret/x#a\tb", 17, "whitespace"},
		{"newline", "vault:secret/x#f\n", 17, "control"},
		{"invalid utf8", "vault:secret/\xffx#f", 14, "control"},
		{"column counts characters", "vault:sécret/x y#f", 15, "whitespace"},
		{"unknown engine", "vault:kv3:secret/x#f", 7, `unknown engine "kv3"`},
		{"empty engine", "vault::secret/x#f", 7, `unknown engine ""`},
		{"empty path", "vault:#f", 7, "empty path"},
		{"empty path after engine", "vault:kv2:#f", 11, "empty path"},
		{"empty mount", "vault://x#f", 7, "empty mount"},
		{"second split", "vault:a//b//c#f", 11, "second"},
		{"empty path after split", "vault:secret//#f", 15, `empty path after "//"`},
		{"triple slash", "vault:secret///x#f", 15, `starts with "/"`},
		{"leading slash", "vault:/secret/x#f", 7, `starts with "/"`},
		{"trailing slash", "vault:secret/x/#f", 15, `ends with "/"`},
		{"mount trailing dot segment", "vault:a/.//b#f", 9, `"." segment in mount`},
		{"dotdot", "vault:secret/../x#f", 14, `".." segment`},
		{"empty field", "vault:secret/x#", 16, "empty field"},
		{"empty field before query", "vault:secret/x#?version=1", 16, "empty field"},
		{"bad pointer escape", "vault:secret/x#/a~2", 18, "JSON pointer"},
		{"pointer tilde at end", "vault:secret/x#/a~", 18, "JSON pointer"},
		{"empty query", "vault:secret/x#f?", 17, "empty options"},
		{"trailing ampersand", "vault:secret/x#f?version=1&", 28, "empty option"},
		{"option without value", "vault:secret/x#f?version", 25, `needs "=<value>"`},
		{"duplicate option", "vault:secret/x#f?version=1&version=2", 28, "given twice"},
		{"empty value", "vault:secret/x#f?version=", 26, "empty value"},
		{"version not a number", "vault:secret/x#f?version=x", 26, "positive integer"},
		{"version zero", "vault:secret/x#f?version=0", 26, "positive integer"},
		{"version negative", "vault:secret/x#f?version=-1", 26, "positive integer"},
		{"version plus", "vault:secret/x#f?version=+1", 26, "positive integer"},
		{"namespace dotdot", "vault:secret/x#f?namespace=a/../b", 30, `".." segment in namespace`},
		{"namespace leading slash", "vault:secret/x#f?namespace=/a", 28, `starts with "/"`},
		{"unknown format", "vault:secret/x#f?format=yaml", 25, `format "yaml"`},
		{"unknown option", "vault:secret/x#f?ttl=1h", 18, `unknown option "ttl"`},
		{"version on kv1", "vault:kv1:secret/x#f?version=2", 22, "only KV v2"},
		{"version on logical", "vault:logical:db/creds/ci#f?namespace=a&version=2", 41, "only KV v2"},
		{"no field", "vault:secret/x", 15, `no "#<field>"`},
		{"no field with options", "vault:secret/x?version=2", 15, `no "#<field>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRef(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseRef(%q) = %v, want a *ParseError", tt.in, err)
			}
			if pe.Column != tt.col || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("ParseRef(%q): column %d %q, want column %d containing %q\n%v", tt.in, pe.Column, pe.Msg, tt.col, tt.msg, err)
			}
			// The caret line points at the same column.
			lines := strings.Split(err.Error(), "\n")
			if caret := lines[len(lines)-1]; strings.Index(caret, "^") != 2+tt.col-1 {
				t.Fatalf("caret line %q does not point at column %d", caret, tt.col)
			}
		})
	}
}

func TestParseSecretFlag(t *testing.T) {
	id, ref, ok, err := ParseSecretFlag("id=npm_token,src=vault:secret/ci/npm#token?version=2")
	if err != nil || !ok || id != "npm_token" || ref != (Ref{Path: "secret/ci/npm", Field: "token", Version: 2}) {
		t.Fatalf("got %q %+v %v %v", id, ref, ok, err)
	}
	if _, _, ok, err := ParseSecretFlag("source=vault:kv1:legacy//db#p,id=db"); !ok || err != nil {
		t.Fatalf("source= first: %v %v", ok, err)
	}
	for _, s := range []string{"id=npm,src=./npmrc", "id=API_TOKEN", "id=x,env=HOME", "id=x,type=env,src=VAULT_X"} {
		if _, _, ok, err := ParseSecretFlag(s); ok || err != nil {
			t.Errorf("%q: ok=%v err=%v, want it left to BuildKit", s, ok, err)
		}
	}
	errs := []struct {
		in  string
		col int
		msg string
	}{
		{"src=vault:secret/x#f", 1, "needs id="},
		{"id=a b,src=vault:secret/x#f", 4, "secret id"},
		{"id=a,src=vault:secret/x#f?version=x", 35, "positive integer"},
		{"id=a,src=vault:sécret/x y#f", 24, "whitespace"},
	}
	for _, tt := range errs {
		_, _, ok, err := ParseSecretFlag(tt.in)
		var pe *ParseError
		if !ok || !errors.As(err, &pe) || pe.Column != tt.col || !strings.Contains(pe.Msg, tt.msg) {
			t.Errorf("%q: ok=%v %v; want column %d %q", tt.in, ok, err, tt.col, tt.msg)
		}
	}
}
