// Package codec finds the encoded runs in text that the detection engine decodes and scans again
// (Segments): base64 in either alphabet, hex, percent escapes and unicode escapes, as gitleaks'
// decoders do, keeping only runs that decode to text.
package codec
