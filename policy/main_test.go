package policy_test

import (
	"testing"

	"github.com/safebuild/safebuild/policy"
	"github.com/safebuild/safebuild/policy/config"
)

// TestMain hands the default rules (config.Default) to the tests inside package policy, which
// cannot import policy/config themselves: it imports policy.
func TestMain(m *testing.M) {
	policy.SetTestDefaultRules(config.Default)
	m.Run()
}
