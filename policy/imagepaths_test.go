package policy

import (
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	gitleaksconfig "github.com/zricethezav/gitleaks/v8/config"
)

// TestSourceTreeOnlyPathsAreGitleaks: every entry is one of gitleaks' global allowlist paths,
// verbatim: an entry gitleaks rewrote would silently stop applying.
func TestSourceTreeOnlyPathsAreGitleaks(t *testing.T) {
	var c struct{ Allowlist struct{ Paths []string } }
	if err := toml.Unmarshal([]byte(gitleaksconfig.DefaultConfig), &c); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, p := range c.Allowlist.Paths {
		have[p] = true
	}
	for p := range sourceTreeOnlyPaths {
		if !have[p] {
			t.Errorf("%q is not in gitleaks' default global allowlist", p)
		}
	}
}

// TestPathAllowlistInImages: the same file is skipped in a source tree and scanned in an image
// when it sits in a dependency tree; content-type and generated-file skips hold in both.
func TestPathAllowlistInImages(t *testing.T) {
	s := newTestScanner(t)
	content := "TOKEN = '" + testPAT + "'\n"
	for _, tc := range []struct {
		path          string
		inDir, inLayr bool // found in a directory scan, in a layer
	}{
		{"usr/local/lib/python3.12/site-packages/orders_service/settings.py", false, true},
		{"opt/venv/lib/python3.12/site-packages/billing/config.py", false, true},
		{"app/node_modules/@example/runtime-config/index.js", false, true},
		{"app/vendor/github.com/corp/cfg/cfg.go", false, true},
		{"srv/vendor/bundle/ruby/3.2.0/gems/corp-1.0/lib/cfg.rb", false, true},
		{"usr/lib/python3/dist-packages/corp_cfg-1.0.dist-info/METADATA", false, true},
		{"app/package-lock.json", false, true},
		{"app/Pipfile.lock", false, true},
		{"app/static/bootstrap-config.js", false, true},
		{"app/static/logo.png", false, false},
		{"usr/share/fonts/x.woff2", false, false},
		{"app/go.sum", false, false},
		{"app/gradlew", false, false},
		{"etc/gitleaks.toml", false, false},
		{"app/settings.py", true, true},
	} {
		for _, kind := range []string{OriginFile, "layer"} {
			var fs []Finding
			_, err := s.ScanReader(t.Context(), Origin{Kind: kind, Path: tc.path}, strings.NewReader(content),
				func(f Finding) error { fs = append(fs, f); return nil })
			if err != nil {
				t.Fatal(err)
			}
			want := tc.inDir
			if kind != OriginFile {
				want = tc.inLayr
			}
			if got := len(fs) > 0; got != want {
				t.Errorf("%s as %s: found=%v, want %v", tc.path, kind, got, want)
			}
		}
	}
}

// TestJudgedAlikeFollowsTheProfile: hard-link judgement uses the same profile as scanning.
func TestJudgedAlikeFollowsTheProfile(t *testing.T) {
	s := newTestScanner(t)
	for _, tc := range []struct {
		kind, a, b string
		want       bool
	}{
		{"layer", "app/node_modules/x/.env", "app/server/.env", true},
		{OriginFile, "app/node_modules/x/.env", "app/server/.env", false},
		{"layer", "app/logo.png", "app/.env", false},
		{"layer", "a/x.yaml", "a/x.txt", false}, // kubernetes-secret-yaml applies to .yaml only
		{"layer", "usr/bin/perl", "usr/bin/perl5.36", true},
	} {
		if got := s.JudgedAlike(tc.kind, tc.a, tc.b); got != tc.want {
			t.Errorf("JudgedAlike(%s, %s, %s) = %v, want %v", tc.kind, tc.a, tc.b, got, tc.want)
		}
	}
}
