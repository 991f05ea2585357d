package policy

import (
	"sort"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"
)

// gitleaksSamples are true and false positives for the gitleaks rules that matter most in
// images, in the style of gitleaks' own rule generators (which keep their samples in Go code, not
// in the TOML this package loads). Values are fake but have the right shape.
var gitleaksSamples = []struct {
	rule    string
	content string
	match   bool
}{
	{"aws-access-token", `aws_access_key_id = AKIAQ3EGRTW7LYN5S7DX`, true},
	{"aws-access-token", `aws_access_key_id = AKIAIOSFODNN7EXAMPLE`, false}, // AWS's documented example
	{"github-pat", `GITHUB_TOKEN=ghp_R2d2C3p0Bb8Yoda9Luke7Leia5Han3Solo1x`, true},
	{"github-pat", `GITHUB_TOKEN=ghp_short`, false},
	{"gitlab-pat", `CI_TOKEN: glpat-7pX2kQ9mVn4RtY8wZs3L`, true},
	{"slack-bot-token", `SLACK=xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx`, true},
	{"stripe-access-token", `stripe.api_key = "sk_live_51HxQ2vLp7wZr4Tb8Nc1Wd6Ys0"`, true},
	{"stripe-access-token", `stripe.api_key = "sk_test_"`, false},
	{"npm-access-token", `//registry.npmjs.org/:_authToken=npm_q8Xb2kLmN4pR7sT1vW3yZ5aC9dE0fG6hJ2kL`, true},
	{"private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END RSA PRIVATE KEY-----", true},
	{"private-key", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRge\n-----END PUBLIC KEY-----", false},
	{"jwt", `Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`, true},
	{"generic-api-key", `api_key = "Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2"`, true},
	{"generic-api-key", `api_key = "${API_KEY}"`, false},
	{"generic-api-key", `key := "some-identifier-name"`, false},
	{"gcp-api-key", `GOOGLE_API_KEY=AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q`, true},
	{"vault-service-token", `VAULT_TOKEN=hvs.CAESIJ4kq2Zr7Qp2Lx9Vm4Tb8Nc1Wd6Ys0Hf5Ju2Ga7Ke9MqGh4KHGh2cy5XWnI3UXAyTHg5Vm00VGI4TmMxV2Q2WXMwSGY1SnUyR2E3S2U5TXE`, true},
}

// TestGitleaksSamples checks the samples against safebuild, and checks that gitleaks' own
// detector (the module's detect package, default config) agrees on every rule ID found: the
// engine is a reimplementation and must not drift from it.
func TestGitleaksSamples(t *testing.T) {
	s := newTestScanner(t)
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gitleaksSamples {
		fs := scanText(t, s, "app/config.txt", c.content)
		if got := hasRule(fs, c.rule); got != c.match {
			t.Errorf("%s on %q: fired=%v, want %v (findings %v)", c.rule, c.content, got, c.match, ruleIDs(fs))
		}
		var ours, theirs []string
		for _, f := range fs {
			if !strings.Contains(strings.Join(f.Tags, " "), "build") {
				ours = append(ours, f.RuleID)
			}
		}
		for _, f := range gl.DetectString(c.content) {
			theirs = append(theirs, f.RuleID)
		}
		sort.Strings(ours)
		sort.Strings(theirs)
		if strings.Join(ours, ",") != strings.Join(theirs, ",") {
			t.Errorf("%q: safebuild found %v, gitleaks %v", c.content, ours, theirs)
		}
	}
}
