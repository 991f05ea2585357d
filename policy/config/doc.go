// Package config owns the detection rules as data and how they are loaded: gitleaks-compatible
// TOML configs with gitleaks' [extend] semantics (LoadFile, Load), and the default ruleset
// (Default): gitleaks' default config, embedded from a pinned copy and refined by
// GitleaksRefinements, plus safebuild's build rules (BuildRules). It returns policy.Rulesets;
// the engine that runs them is package policy, which does not import this one (callers pass
// policy.WithRules(rs)).
package config
