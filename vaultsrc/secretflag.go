package vaultsrc

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseSecretFlag reads one --secret value in buildx's CSV form and reports whether it maps
// an id to Vault: `id=npm_token,src=vault:secret/ci/npm#token` (source= works too). Specs
// whose source is not a vault: reference return ok=false and no error, so the caller can
// hand them to BuildKit's own parser. Errors are *ParseError values whose Input is the whole
// flag value and whose Column points into it.
func ParseSecretFlag(spec string) (id string, ref Ref, ok bool, err error) {
	var src string
	srcOff := -1
	pos := 0
	for field := range strings.SplitSeq(spec, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "id":
			id = v
		case "src", "source":
			src, srcOff = v, pos+len(k)+1
		}
		pos += len(field) + 1
	}
	if !strings.HasPrefix(src, Scheme) {
		return "", Ref{}, false, nil
	}
	fail := func(off int, format string, args ...any) error {
		return &ParseError{Input: spec, Column: utf8.RuneCountInString(spec[:off]) + 1, Msg: fmt.Sprintf(format, args...)}
	}
	if id == "" {
		return "", Ref{}, true, fail(0, "a vault: source needs id=<secret id>")
	}
	if err := ValidateID(id); err != nil {
		return "", Ref{}, true, fail(strings.Index(spec, "id=")+3, "%v", err)
	}
	ref, err = ParseRef(src)
	var pe *ParseError
	if errors.As(err, &pe) {
		off := srcOff
		// Map the column inside src back onto spec.
		for i := 1; i < pe.Column && off < len(spec); i++ {
			_, n := utf8.DecodeRuneInString(spec[off:])
			off += n
		}
		return "", Ref{}, true, fail(off, "%s", pe.Msg)
	}
	if err != nil {
		return "", Ref{}, true, err
	}
	return id, ref, true, nil
}
