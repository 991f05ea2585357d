// Package rx is the detection engine's regex analysis and regex engine: rule regexes parsed once
// and compiled on first use (Lazy, RE2 through go-re2, or Go's regexp under the
// safebuild_stdregex build tag), and what the engine derives from a regex's syntax tree to run it
// only where it can match: how far a match reaches around a keyword hit (Reach, RuleSpread),
// what must follow a keyword (RuleFollows), a cheaper prefilter (Prefilter) and the lazy
// leading repetition whose matches follow from the rest's (LeadRepeat, KeywordAtStart).
package rx
