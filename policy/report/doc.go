// Package report writes policy findings as JSON (the documented machine contract), text for
// people, and SARIF 2.1.0 for code-scanning tools.
package report
