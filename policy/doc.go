// Package policy decides whether content holds a credential. It is the detection engine's API:
// Rule and Ruleset (rules as data, validated and compiled), Scanner with its Options (WithRules
// is required), Source and Fragment (what is scanned), Finding (what was found, with its
// Confidence) and Canary (known values to find in any encoding). The default rules and the
// gitleaks TOML loader are in policy/config, reports in policy/report, nested archives in
// policy/archive; the engine's machinery is in policy/internal. It is shared by every safebuild
// gate and imports neither Vault, nor BuildKit, nor image code.
package policy
