// Package textenc tells from a fragment's first bytes how its text is encoded (UTF-8 with a byte
// order mark, UTF-16 with or without one) and transcodes UTF-16 to UTF-8 as it is read, so the
// detection engine always scans UTF-8.
package textenc
