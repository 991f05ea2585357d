// Package kwset is the detection engine's keyword pass: every occurrence of a set of keywords in
// text, ASCII case-insensitively and overlapping ones included, in one pass of a DFA (Set).
package kwset
