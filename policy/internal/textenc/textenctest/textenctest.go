// Package textenctest makes encoded text for tests of the engine and of package textenc.
package textenctest

import "unicode/utf16"

// UTF16 encodes s as UTF-16 (big endian when be), after a byte order mark when bom.
func UTF16(s string, be, bom bool) []byte {
	var out []byte
	if bom {
		if be {
			out = append(out, 0xfe, 0xff)
		} else {
			out = append(out, 0xff, 0xfe)
		}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if be {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}
