package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A GitHub PAT-shaped value; it only has to satisfy gitleaks' github-pat rule.
const testPAT = "ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x"

func newTestScanner(t testing.TB, opts ...Option) *Scanner {
	t.Helper()
	s, err := NewScanner(append([]Option{WithRules(defaultRules(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func scanSource(t testing.TB, s *Scanner, src Source) ([]Finding, Stats) {
	t.Helper()
	var out []Finding
	st, err := s.Scan(context.Background(), src, func(f Finding) error { out = append(out, f); return nil })
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	SortFindings(out)
	return out, st
}

func TestFindingFields(t *testing.T) {
	s := newTestScanner(t)
	content := "line one\nexport GITHUB_TOKEN=" + testPAT + "\n"
	fs := scanText(t, s, "ci/env.sh", content)
	var f *Finding
	for i := range fs {
		if fs[i].RuleID == "github-pat" {
			f = &fs[i]
		}
	}
	if f == nil {
		t.Fatalf("no github-pat finding in %v", ruleIDs(fs))
	}
	if f.Line != 2 || f.Column != 21 {
		t.Errorf("location = %d:%d, want 2:21", f.Line, f.Column)
	}
	if f.Origin.Path != "ci/env.sh" || f.Origin.Kind != OriginFile {
		t.Errorf("origin = %+v", f.Origin)
	}
	if strings.Contains(f.Redacted, testPAT) || !strings.Contains(f.Redacted, "ghp_*****") {
		t.Errorf("redacted = %q: must mask the secret and keep only its 4-byte prefix", f.Redacted)
	}
	if f.Secret != "" {
		t.Error("Secret is set without WithSecrets(true)")
	}
	if f.SecretSHA256 != sha256Hex([]byte(testPAT)) {
		t.Errorf("SecretSHA256 = %s", f.SecretSHA256)
	}
	if f.Entropy < 3 || f.Severity != SeverityHigh {
		t.Errorf("entropy %v severity %v", f.Entropy, f.Severity)
	}
	again := scanText(t, s, "ci/env.sh", "\n\n"+content)
	for _, g := range again {
		if g.RuleID == "github-pat" && g.Fingerprint != f.Fingerprint {
			t.Error("fingerprint changed when the line moved")
		}
	}
	other := scanText(t, s, "ci/other.sh", content)
	for _, g := range other {
		if g.RuleID == "github-pat" && g.Fingerprint == f.Fingerprint {
			t.Error("fingerprint ignores the path")
		}
	}
	shown := scanText(t, newTestScanner(t, WithSecrets(true)), "x", content)
	if !hasRule(shown, "github-pat") || shown[0].Secret == "" {
		t.Errorf("WithSecrets(true): secret not carried: %+v", shown)
	}
}

func TestAllowComments(t *testing.T) {
	line := "token = \"" + testPAT + "\" # gitleaks:allow\n"
	if fs := scanText(t, newTestScanner(t), "a.py", line); len(fs) != 0 {
		t.Errorf("gitleaks:allow line reported: %v", ruleIDs(fs))
	}
	if fs := scanText(t, newTestScanner(t, WithIgnoreAllowComments(true)), "a.py", line); !hasRule(fs, "github-pat") {
		t.Errorf("WithIgnoreAllowComments(true): not reported: %v", ruleIDs(fs))
	}
}

func TestIgnoreFingerprints(t *testing.T) {
	content := "x\ntoken=" + testPAT + "\n"
	ign, err := ParseIgnore(strings.NewReader("# comment\n\nrepo/a.env:github-pat:2\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs := scanText(t, newTestScanner(t, WithIgnore(ign...)), "repo/a.env", content)
	if hasRule(fs, "github-pat") {
		t.Errorf(".gitleaksignore fingerprint not honoured: %v", ruleIDs(fs))
	}
	if fs := scanText(t, newTestScanner(t, WithIgnore(ign...)), "repo/b.env", content); !hasRule(fs, "github-pat") {
		t.Error("fingerprint suppressed another file")
	}
}

func TestPathAllowlistAndPathRules(t *testing.T) {
	src := Bytes{
		"app/node_modules/x/index.js": []byte("t = '" + testPAT + "'\n"),
		"app/certs/client.p12":        []byte("opaque"),
		"app/main.js":                 []byte("t = '" + testPAT + "'\n"),
	}
	fs, st := scanSource(t, newTestScanner(t), src)
	got := map[string]bool{}
	for _, f := range fs {
		got[f.RuleID+" "+f.Origin.Path] = true
	}
	for _, want := range []string{"github-pat app/main.js", "pkcs12-file app/certs/client.p12"} {
		if !got[want] {
			t.Errorf("missing %q in %v", want, got)
		}
	}
	for k := range got {
		if strings.Contains(k, "node_modules") {
			t.Errorf("allowlisted path reported: %s", k)
		}
	}
	if st.Files != 3 || st.Skipped != 1 {
		t.Errorf("stats = %+v, want 3 files, 1 skipped", st)
	}
}

func TestBinary(t *testing.T) {
	content := append([]byte("\x00\x01ELF-ish\x00"), []byte("\ntoken="+testPAT+"\n")...)
	fs, st := scanSource(t, newTestScanner(t), Bytes{"bin/tool": content})
	if len(fs) != 0 || st.Skipped != 1 {
		t.Errorf("binary content scanned: %v %+v", ruleIDs(fs), st)
	}
	fs, _ = scanSource(t, newTestScanner(t, WithBinary(true)), Bytes{"bin/tool": content})
	if !hasRule(fs, "github-pat") {
		t.Errorf("WithBinary(true): %v", ruleIDs(fs))
	}
}

// TestWindowBoundaries moves a secret across the boundary between two windows and checks it is
// reported exactly once, at the right line and column.
func TestWindowBoundaries(t *testing.T) {
	const win = 64 << 10
	s := newTestScanner(t, WithWindow(win))
	secretLine := "token=" + testPAT
	for _, at := range []int{0, 1, win - 50, win - 10, win - 1, win, win + 1, win + 20, 2*win - 5, 3*win + 7} {
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			// Lines of 99 bytes + '\n' of filler, then the secret line placed at byte offset ~at.
			var b bytes.Buffer
			line := 1
			for b.Len()+100 <= at {
				b.WriteString(strings.Repeat("x", 99) + "\n")
				line++
			}
			col := at - b.Len() + 1
			b.WriteString(strings.Repeat("y", at-b.Len()))
			b.WriteString(" " + secretLine + "\n")
			b.WriteString(strings.Repeat("z\n", 3*win/2))
			fs := scanText(t, s, "log.txt", b.String())
			n := 0
			for _, f := range fs {
				if f.RuleID != "github-pat" {
					continue
				}
				n++
				if f.Line != line || f.Column != col+7 {
					t.Errorf("at %d: location %d:%d, want %d:%d", at, f.Line, f.Column, line, col+7)
				}
			}
			if n != 1 {
				t.Errorf("at %d: %d github-pat findings, want 1 (%v)", at, n, ruleIDs(fs))
			}
		})
	}
}

// TestLastLineOfLargeLog: a secret on the last line (no trailing newline) of an 18 MiB log.
func TestLastLineOfLargeLog(t *testing.T) {
	var b bytes.Buffer
	for b.Len() < 18<<20 {
		b.WriteString("2026-11-27T00:00:00Z INFO request served in 3ms path=/healthz status=200\n")
	}
	lines := bytes.Count(b.Bytes(), []byte{'\n'})
	b.WriteString("final: GITHUB_TOKEN=" + testPAT)
	fs := scanText(t, newTestScanner(t), "build.log", b.String())
	if !hasRule(fs, "github-pat") {
		t.Fatalf("secret on the last line not found: %v", ruleIDs(fs))
	}
	for _, f := range fs {
		if f.RuleID == "github-pat" && f.Line != lines+1 {
			t.Errorf("line %d, want %d", f.Line, lines+1)
		}
	}
}

// TestLongLine: a secret in the middle of a 3 MiB single line (minified bundle).
func TestLongLine(t *testing.T) {
	pad := strings.Repeat("a=1;", 3<<18)
	content := pad + "var t='" + testPAT + "';" + pad
	fs := scanText(t, newTestScanner(t), "bundle.js", content)
	for _, f := range fs {
		if f.RuleID == "github-pat" {
			if f.Line != 1 || f.Column != len(pad)+8 {
				t.Errorf("location %d:%d, want 1:%d", f.Line, f.Column, len(pad)+8)
			}
			return
		}
	}
	t.Errorf("not found: %v", ruleIDs(fs))
}

func TestFSSource(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "a", "b", ".npmrc"), []byte("//registry.npmjs.org/:_authToken=npm_q8Xb2kLmN4pR7sT1vW3yZ5aC9dE0fG6hJ2kL\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "clean.txt"), []byte("nothing here\n"), 0o600))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	fs, st := scanSource(t, newTestScanner(t), &FS{Root: dir})
	if st.Files != 2 {
		t.Errorf("files = %d, want 2 (symlinks are not followed)", st.Files)
	}
	want := filepath.ToSlash(filepath.Join(dir, "a", "b", ".npmrc"))
	if len(fs) == 0 || fs[0].Origin.Path != want {
		t.Errorf("findings %+v, want one in %s", fs, want)
	}
	// A single file works as a root too.
	fs, _ = scanSource(t, newTestScanner(t), &FS{Root: filepath.Join(dir, "a", "b", ".npmrc")})
	if len(fs) == 0 {
		t.Error("file root: no finding")
	}
	// A symlink given as the root is followed.
	if err := os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "alink")); err != nil {
		t.Fatal(err)
	}
	if fs, _ = scanSource(t, newTestScanner(t), &FS{Root: filepath.Join(dir, "alink")}); len(fs) == 0 {
		t.Error("symlinked root: no finding")
	}
	_, err := newTestScanner(t).Scan(context.Background(), &FS{Root: filepath.Join(dir, "missing")}, func(Finding) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing root: err = %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestReadErrors(t *testing.T) {
	s := newTestScanner(t)
	src := sourceFunc(func(ctx context.Context, yield func(Fragment) error) error {
		return yield(Fragment{Origin: Origin{Kind: OriginFile, Path: "bad"}, Size: -1,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(errReader{}), nil }})
	})
	_, err := s.Scan(context.Background(), src, func(Finding) error { return nil })
	var fe *FileError
	if !errors.As(err, &fe) || fe.Origin.Path != "bad" {
		t.Errorf("err = %v, want a *FileError for bad", err)
	}
	stop := errors.New("stop")
	_, err = s.Scan(context.Background(), Bytes{"a": []byte("t=" + testPAT), "b": []byte("t=" + testPAT)},
		func(Finding) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("emit error not returned: %v", err)
	}
}

type sourceFunc func(ctx context.Context, yield func(Fragment) error) error

func (f sourceFunc) Fragments(ctx context.Context, yield func(Fragment) error) error {
	return f(ctx, yield)
}

func TestOptionsValidated(t *testing.T) {
	for name, opt := range map[string]Option{
		"jobs 0":       WithJobs(0),
		"window small": WithWindow(1024),
		"nil rules":    WithRules(nil),
		"empty ignore": WithIgnore(""),
		"short canary": WithCanaries(Canary{Name: "c", Value: []byte("1234567")}),
		"no name":      WithCanaries(Canary{Value: []byte("12345678")}),
	} {
		if _, err := NewScanner(WithRules(defaultRules(t)), opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ match, secret, want string }{
		{"password=hunter22", "hunter22", "password=*****"},
		{"key: ghp_0123456789abcdef0123", "ghp_0123456789abcdef0123", "key: ghp_*****"},
		{"a\nb=s3cr3tv4lue", "s3cr3tv4lue", "a b=*****"},
	} {
		if got := redact(tc.match, tc.secret); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.match, got, tc.want)
		}
	}
	long := strings.Repeat("p", 500) + "SECRETSECRETSECRET1" + strings.Repeat("q", 500)
	got := redact(long, "SECRETSECRETSECRET1")
	if len(got) > maxExcerpt || !strings.Contains(got, "SECR*****") {
		t.Errorf("long excerpt = %q", got)
	}
}

// TestManyFindingsOneWindow: lines and columns of many findings in one window (and on one long
// line) are computed in one pass, not one scan of the window per finding.
func TestManyFindingsOneWindow(t *testing.T) {
	const n = 20000
	value := "canary-value-0123"
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "t%d=%s %s\n", i, testPAT, value)
	}
	oneLine := strings.ReplaceAll(b.String(), "\n", " ")
	s := newTestScanner(t, WithCanaries(Canary{Name: "c", Value: []byte(value)}))
	start := time.Now()
	for _, content := range []string{b.String(), oneLine} {
		var pats, canaries int
		_, err := s.ScanReader(context.Background(), Origin{Kind: OriginFile, Path: "dump.txt"}, strings.NewReader(content),
			func(f Finding) error {
				switch f.RuleID {
				case "github-pat":
					pats++
				case CanaryRuleID:
					canaries++
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if pats != n || canaries != n {
			t.Errorf("%d github-pat and %d canary findings, want %d each", pats, canaries, n)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}
