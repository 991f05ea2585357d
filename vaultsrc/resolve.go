package vaultsrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Value is one resolved secret. Bytes is the secret itself: never log or print it.
type Value struct {
	// Bytes is what the build step sees.
	Bytes []byte
	// Version is the KV v2 version served; 0 for KV v1 and other engines.
	Version int
	// Mount is the mount the value was read from (zero for logical reads).
	Mount Mount
	// LeaseID is set for dynamic secrets.
	LeaseID string
}

// Resolve reads ref through f and selects and formats its field. For EngineAuto and KV
// references without an explicit mount it asks sys/internal/ui/mounts which mount and KV
// version serve the path; when that lookup is denied, the error says to split the mount
// explicitly as <mount>//<path>.
func Resolve(ctx context.Context, f Fetcher, ref Ref) (*Value, error) {
	v, err := resolve(ctx, f, ref)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Ref == "" {
			e.Ref = ref.String()
		}
		return nil, err
	}
	return v, nil
}

func resolve(ctx context.Context, f Fetcher, ref Ref) (*Value, error) {
	if ref.Engine == EngineLogical {
		d, err := f.ReadLogical(ctx, ref.Namespace, ref.FullPath())
		if err != nil {
			return nil, err
		}
		b, err := selectField(d.Fields, ref)
		if err != nil {
			return nil, err
		}
		return &Value{Bytes: b, LeaseID: d.LeaseID}, nil
	}

	m, path, err := kvMount(ctx, f, ref)
	if err != nil {
		return nil, err
	}
	if ref.Version != 0 && m.KVVersion != 2 {
		return nil, &Error{Op: "reading", Kind: ErrMountMismatch, Path: m.Path,
			Detail: fmt.Sprintf("version=%d pins only KV v2 secrets, and mount %q is KV v1", ref.Version, m.Path)}
	}
	d, err := f.ReadKV(ctx, ref.Namespace, m, path, ref.Version)
	if err != nil {
		return nil, err
	}
	b, err := selectField(d.Fields, ref)
	if err != nil {
		return nil, err
	}
	return &Value{Bytes: b, Version: d.Version, Mount: m, LeaseID: d.LeaseID}, nil
}

// kvMount finds the KV mount serving ref and the path inside it.
func kvMount(ctx context.Context, f Fetcher, ref Ref) (Mount, string, error) {
	want := map[Engine]int{EngineKV1: 1, EngineKV2: 2}[ref.Engine]
	if ref.Mount != "" && want != 0 {
		// Fully explicit: no lookup needed (and none may be allowed).
		return Mount{Path: ref.Mount, Type: "kv", KVVersion: want}, ref.Path, nil
	}
	m, err := f.LookupMount(ctx, ref.Namespace, ref.FullPath())
	switch {
	case errors.Is(err, ErrPermissionDenied) && ref.Mount != "":
		// Explicit mount, engine left to detection: KV v2 is the default.
		return Mount{Path: ref.Mount, Type: "kv", KVVersion: 2}, ref.Path, nil
	case errors.Is(err, ErrPermissionDenied):
		var e *Error
		errors.As(err, &e)
		e.Detail = "the mount lookup is denied; grant it, or split the mount explicitly as <mount>//<path> (e.g. vault:kv2:secret//ci/npm#token)"
		return Mount{}, "", err
	case err != nil:
		return Mount{}, "", err
	}
	if m.KVVersion == 0 {
		return Mount{}, "", &Error{Op: "reading", Kind: ErrMountMismatch, Path: m.Path,
			Detail: fmt.Sprintf("mount %q is a %q engine, not KV; read it with vault:logical:%s", m.Path, m.Type, ref.FullPath())}
	}
	if want != 0 && want != m.KVVersion {
		return Mount{}, "", &Error{Op: "reading", Kind: ErrMountMismatch, Path: m.Path,
			Detail: fmt.Sprintf("the reference says kv%d but mount %q is KV v%d", want, m.Path, m.KVVersion)}
	}
	full := ref.FullPath()
	if ref.Mount != "" && ref.Mount != m.Path {
		return Mount{}, "", &Error{Op: "reading", Kind: ErrMountMismatch, Path: ref.Mount,
			Detail: fmt.Sprintf("the reference splits the mount at %q but Vault mounts %q there", ref.Mount, m.Path)}
	}
	path, ok := strings.CutPrefix(full, m.Path+"/")
	if !ok || path == "" {
		return Mount{}, "", &Error{Op: "reading", Kind: ErrMountMismatch, Path: full,
			Detail: fmt.Sprintf("the path names mount %q itself, not a secret in it", m.Path)}
	}
	return m, path, nil
}

// selectField picks the field ref names out of fields and formats it. Errors name fields
// and types, never values.
func selectField(fields map[string]any, ref Ref) ([]byte, error) {
	var v any = fields
	switch {
	case ref.Field == "":
	case strings.HasPrefix(ref.Field, "/"):
		var err error
		if v, err = jsonPointer(fields, ref.Field); err != nil {
			return nil, err
		}
	default:
		var ok bool
		if v, ok = fields[ref.Field]; !ok {
			return nil, missingField(ref.Field, fields)
		}
	}
	if ref.Format == FormatJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, &Error{Op: "reading", Kind: ErrMissingField, Detail: "cannot encode as JSON"}
		}
		return b, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, &Error{Op: "reading", Kind: ErrMissingField,
			Detail: fmt.Sprintf("field %q is %s, not a string; add ?format=json to serve it as JSON", ref.Field, typeName(v))}
	}
	return []byte(s), nil
}

func missingField(field string, fields map[string]any) error {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, strconv.Quote(k))
	}
	sort.Strings(names)
	have := "the secret has no fields"
	if len(names) > 0 {
		have = "the secret has " + strings.Join(names, ", ")
	}
	return &Error{Op: "reading", Kind: ErrMissingField, Detail: fmt.Sprintf("no field %q; %s", field, have)}
}

// pointerUnescape decodes one RFC 6901 reference token ("~1" before "~0").
var pointerUnescape = strings.NewReplacer("~1", "/", "~0", "~")

// jsonPointer evaluates an RFC 6901 pointer against decoded JSON.
func jsonPointer(doc any, ptr string) (any, error) {
	cur := doc
	walked := ""
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = pointerUnescape.Replace(tok)
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[tok]
			if !ok {
				if walked == "" {
					return nil, missingField(ptr, node)
				}
				return nil, &Error{Op: "reading", Kind: ErrMissingField,
					Detail: fmt.Sprintf("JSON pointer %q: no key %q under %q", ptr, tok, walked)}
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(node) || (len(tok) > 1 && tok[0] == '0') {
				return nil, &Error{Op: "reading", Kind: ErrMissingField,
					Detail: fmt.Sprintf("JSON pointer %q: %q is not an index of the %d-element array at %q", ptr, tok, len(node), walked)}
			}
			cur = node[i]
		default:
			return nil, &Error{Op: "reading", Kind: ErrMissingField,
				Detail: fmt.Sprintf("JSON pointer %q: %q is %s, not an object or array", ptr, walked, typeName(cur))}
		}
		walked += "/" + tok
	}
	return cur, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64, int:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}
