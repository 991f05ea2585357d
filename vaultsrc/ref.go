package vaultsrc

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scheme is the prefix every short-form secret reference starts with.
const Scheme = "vault:"

// Engine says how a reference is read from Vault.
type Engine string

// The engines a reference can name. EngineAuto, the default, detects the mount and its KV
// version through sys/internal/ui/mounts.
const (
	EngineAuto    Engine = ""
	EngineKV1     Engine = "kv1"
	EngineKV2     Engine = "kv2"
	EngineLogical Engine = "logical"
)

// Format says how the selected value is turned into the bytes a build step sees.
type Format string

// The formats a reference can ask for. FormatRaw, the default, serves a string value as is
// and refuses anything else; FormatJSON serves the selected value (or the whole data map) as
// JSON.
const (
	FormatRaw  Format = ""
	FormatJSON Format = "json"
)

// Ref is a parsed reference to one value in Vault. It holds no secret: it is safe to print.
type Ref struct {
	// Engine is how the value is read; EngineAuto detects it.
	Engine Engine
	// Mount is the secret engine's mount path without slashes at either end. It is set only
	// when the reference splits it explicitly (`<mount>//<path>`, or `mount:` in
	// safebuild.yaml); otherwise the mount is looked up.
	Mount string
	// Path is the path inside Mount when Mount is set, else the full path.
	Path string
	// Field selects a key of the secret's data. A field starting with "/" is a JSON pointer
	// (RFC 6901) into the data; an empty field selects the whole data map (FormatJSON only).
	Field string
	// Version pins a KV v2 version; 0 reads the latest.
	Version int
	// Namespace is the Vault namespace to read from; empty uses the client's namespace.
	Namespace string
	// Format says how the value is served.
	Format Format
}

// FullPath is the path the user wrote without the engine-specific parts Vault adds (such as
// KV v2's "data/"): "<mount>/<path>" when the mount is explicit, else Path.
func (r Ref) FullPath() string {
	if r.Mount == "" {
		return r.Path
	}
	return r.Mount + "/" + r.Path
}

// String renders r in the canonical short form, which ParseRef reads back to an equal Ref.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(Scheme)
	if r.Engine != EngineAuto {
		b.WriteString(string(r.Engine))
		b.WriteByte(':')
	}
	if r.Mount != "" {
		b.WriteString(r.Mount)
		b.WriteString("//")
	}
	b.WriteString(r.Path)
	if r.Field != "" {
		b.WriteByte('#')
		b.WriteString(r.Field)
	}
	sep := byte('?')
	add := func(k, v string) {
		b.WriteByte(sep)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		sep = '&'
	}
	if r.Version != 0 {
		add("version", strconv.Itoa(r.Version))
	}
	if r.Namespace != "" {
		add("namespace", r.Namespace)
	}
	if r.Format != FormatRaw {
		add("format", string(r.Format))
	}
	return b.String()
}

// ParseError says where a secret reference is malformed. Column counts characters (not
// bytes) from 1 at the start of Input.
type ParseError struct {
	// Input is the reference as written; references hold paths, never values.
	Input string
	// Column is the 1-based position of the offending character.
	Column int
	// Msg says what is wrong there.
	Msg string
}

// Error renders the reference, the column and a caret under the offending character.
func (e *ParseError) Error() string {
	return fmt.Sprintf("secret reference %q, column %d: %s\n  %s\n  %s^",
		e.Input, e.Column, e.Msg, e.Input, strings.Repeat(" ", max(e.Column-1, 0)))
}

// ParseRef parses the short form
//
//	vault:[kv2:|kv1:|logical:]<path>[#<field>][?version=N&namespace=NS&format=json]
//
// where <path> may split the mount explicitly as <mount>//<path>, a field starting with "/"
// is a JSON pointer, and a dot is never a separator. Errors are *ParseError values that
// point at the offending character.
func ParseRef(s string) (Ref, error) {
	p := refParser{in: s}
	return p.parse()
}

type refParser struct {
	in string
}

// fail reports a problem at byte offset off of the input.
func (p *refParser) fail(off int, format string, args ...any) error {
	return &ParseError{
		Input:  p.in,
		Column: utf8.RuneCountInString(p.in[:min(off, len(p.in))]) + 1,
		Msg:    fmt.Sprintf(format, args...),
	}
}

func (p *refParser) parse() (Ref, error) {
	var r Ref
	s := p.in
	if !strings.HasPrefix(s, Scheme) {
		return r, p.fail(0, "want the %q prefix", Scheme)
	}
	off := len(Scheme)
	for i, c := range s {
		if c == utf8.RuneError || unicode.IsControl(c) || unicode.IsSpace(c) {
			return r, p.fail(i, "whitespace or control character")
		}
	}

	// Split off the query and the field: '?' ends the field, '#' ends the path.
	rest := s[off:]
	query, queryOff := "", -1
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		query, queryOff = rest[i+1:], off+i+1
		rest = rest[:i]
	}
	field, fieldOff := "", -1
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		field, fieldOff = rest[i+1:], off+i+1
		rest = rest[:i]
	}

	// Engine prefix: only a colon before the first slash can start one.
	if i := strings.IndexByte(rest, ':'); i >= 0 && !strings.Contains(rest[:i], "/") {
		switch e := Engine(rest[:i]); e {
		case EngineKV1, EngineKV2, EngineLogical:
			r.Engine = e
		default:
			return r, p.fail(off, "unknown engine %q; want kv2, kv1 or logical", rest[:i])
		}
		rest, off = rest[i+1:], off+i+1
	}
	if err := p.parsePath(&r, rest, off); err != nil {
		return r, err
	}
	if fieldOff >= 0 {
		if err := p.parseField(&r, field, fieldOff); err != nil {
			return r, err
		}
	}
	if queryOff >= 0 {
		if err := p.parseQuery(&r, query, queryOff); err != nil {
			return r, err
		}
	}
	return r, p.check(&r, queryOff)
}

// parsePath fills Mount and Path from rest, which starts at byte offset off of the input.
func (p *refParser) parsePath(r *Ref, rest string, off int) error {
	if rest == "" {
		return p.fail(off, "empty path")
	}
	if i := strings.Index(rest, "//"); i >= 0 {
		if i == 0 {
			return p.fail(off, "empty mount before \"//\"")
		}
		if j := strings.Index(rest[i+2:], "//"); j >= 0 {
			return p.fail(off+i+2+j, "a second \"//\"; only one may split the mount from the path")
		}
		if err := p.checkSegments(rest[:i], off, "mount"); err != nil {
			return err
		}
		if rest[i+2:] == "" {
			return p.fail(off+i+2, "empty path after \"//\"")
		}
		if err := p.checkSegments(rest[i+2:], off+i+2, "path"); err != nil {
			return err
		}
		r.Mount, r.Path = rest[:i], rest[i+2:]
		return nil
	}
	if err := p.checkSegments(rest, off, "path"); err != nil {
		return err
	}
	r.Path = rest
	return nil
}

// checkSegments refuses empty, "." and ".." segments in a slash-separated path.
func (p *refParser) checkSegments(path string, off int, what string) error {
	if strings.HasPrefix(path, "/") {
		return p.fail(off, "%s starts with \"/\"", what)
	}
	pos := 0
	for seg := range strings.SplitSeq(path, "/") {
		switch seg {
		case "":
			if pos == len(path) {
				return p.fail(off+pos-1, "%s ends with \"/\"", what)
			}
			return p.fail(off+pos, "empty segment in %s", what)
		case ".", "..":
			return p.fail(off+pos, "%q segment in %s", seg, what)
		}
		pos += len(seg) + 1
	}
	return nil
}

// parseField checks a field or a JSON pointer.
func (p *refParser) parseField(r *Ref, field string, off int) error {
	if field == "" {
		return p.fail(off, "empty field after \"#\"")
	}
	if strings.HasPrefix(field, "/") {
		for i := 0; i < len(field); i++ {
			if field[i] != '~' {
				continue
			}
			if i+1 >= len(field) || (field[i+1] != '0' && field[i+1] != '1') {
				return p.fail(off+i, "JSON pointer: \"~\" must be followed by 0 or 1")
			}
		}
	}
	r.Field = field
	return nil
}

// parseQuery reads key=value options separated by "&".
func (p *refParser) parseQuery(r *Ref, query string, off int) error {
	if query == "" {
		return p.fail(off-1, "empty options after \"?\"")
	}
	seen := map[string]bool{}
	pos := off
	for kv := range strings.SplitSeq(query, "&") {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case kv == "":
			return p.fail(pos, "empty option")
		case !ok:
			return p.fail(pos+len(kv), "option %q needs \"=<value>\"", kv)
		case seen[k]:
			return p.fail(pos, "option %q given twice", k)
		case v == "":
			return p.fail(pos+len(k)+1, "empty value for option %q", k)
		}
		seen[k] = true
		voff := pos + len(k) + 1
		switch k {
		case "version":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || v[0] == '+' {
				return p.fail(voff, "version %q: want a positive integer", v)
			}
			r.Version = n
		case "namespace":
			if err := p.checkSegments(strings.TrimSuffix(v, "/"), voff, "namespace"); err != nil {
				return err
			}
			r.Namespace = strings.TrimSuffix(v, "/")
		case "format":
			switch f := Format(v); f {
			case FormatJSON:
				r.Format = f
			case "raw":
				r.Format = FormatRaw
			default:
				return p.fail(voff, "format %q: want raw or json", v)
			}
		default:
			return p.fail(pos, "unknown option %q; want version, namespace or format", k)
		}
		pos += len(kv) + 1
	}
	return nil
}

// check validates combinations once the whole reference is read.
func (p *refParser) check(r *Ref, queryOff int) error {
	if r.Version != 0 && (r.Engine == EngineKV1 || r.Engine == EngineLogical) {
		return p.fail(queryOff+strings.Index(p.in[queryOff:], "version"),
			"version pins only KV v2 secrets, not %s", r.Engine)
	}
	if r.Field == "" && r.Format != FormatJSON {
		at := len(p.in)
		if queryOff >= 0 {
			at = queryOff - 1
		}
		return p.fail(at, "no \"#<field>\"; name a field, or add ?format=json to serve the whole secret")
	}
	return nil
}
