package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func canaryScanner(t testing.TB, cs ...Canary) *Scanner {
	t.Helper()
	rs, err := NewRuleset(nil, nil) // canaries only: no rule may interfere
	if err != nil {
		t.Fatal(err)
	}
	return newTestScanner(t, WithRules(rs), WithCanaries(cs...))
}

// encodings returns value written in every encoding the canary matcher promises to find.
func encodings(v []byte) map[string]string {
	js, _ := json.Marshal(string(v))
	out := map[string]string{
		"raw":     string(v),
		"json":    string(js[1 : len(js)-1]),
		"hex":     hex.EncodeToString(v),
		"HEX":     strings.ToUpper(hex.EncodeToString(v)),
		"query":   url.QueryEscape(string(v)),
		"path":    url.PathEscape(string(v)),
		"b64":     base64.StdEncoding.EncodeToString(v),
		"b64raw":  base64.RawStdEncoding.EncodeToString(v),
		"b64url":  base64.URLEncoding.EncodeToString(v),
		"b64rurl": base64.RawURLEncoding.EncodeToString(v),
	}
	for off := 1; off <= 5; off++ {
		pre := []byte("user:"[:off])
		out[fmt.Sprintf("b64+%d", off)] = base64.StdEncoding.EncodeToString(append(pre, v...))
		out[fmt.Sprintf("b64url+%d", off)] = base64.URLEncoding.EncodeToString(append(append(pre, v...), '\n'))
	}
	return out
}

func TestCanaryEncodings(t *testing.T) {
	values := []string{
		"s3cr3t-Value/with+chars?&=",
		"plainvalue12",
		`quote"back\slash<html>`,
		"12345678",
		"\x00\xffbinary\x01value",
		"ünïcødé-pässwörd",
	}
	for _, v := range values {
		s := canaryScanner(t, Canary{Name: "vault:kv/app#pw", Value: []byte(v)})
		for enc, text := range encodings([]byte(v)) {
			content := "prefix " + text + " suffix\n"
			fs := scanText(t, s, "f", content)
			if len(fs) == 0 {
				t.Errorf("value %q, encoding %s (%q): not found", v, enc, text)
				continue
			}
			for _, f := range fs {
				if f.RuleID != CanaryRuleID || f.Line != 1 {
					t.Errorf("value %q, %s: finding %+v", v, enc, f)
				}
				assertNoValue(t, f, []byte(v))
			}
		}
	}
}

// assertNoValue checks that no string in the finding holds the value or a usable encoding of it.
func assertNoValue(t *testing.T, f Finding, v []byte) {
	t.Helper()
	rv := reflect.ValueOf(f)
	for i := range rv.NumField() {
		var s string
		switch fv := rv.Field(i); fv.Kind() {
		case reflect.String:
			s = fv.String()
		default:
			s = fmt.Sprint(fv.Interface())
		}
		for _, enc := range []string{string(v), hex.EncodeToString(v), base64.StdEncoding.EncodeToString(v)} {
			if strings.Contains(s, enc) {
				t.Errorf("finding field %s carries the canary value", rv.Type().Field(i).Name)
			}
		}
	}
	if f.Redacted != "" || f.Secret != "" {
		t.Errorf("canary finding has an excerpt or secret: %+v", f)
	}
}

func TestCanaryNoFalsePositives(t *testing.T) {
	v := []byte("Zr7Qp2Lx9Vm4")
	s := canaryScanner(t, Canary{Name: "c", Value: v})
	rng := rand.New(rand.NewPCG(1, 2))
	near := [][]byte{
		[]byte("Zr7Qp2Lx9Vm"),  // prefix
		[]byte("Zr7Qp2Lx9Vm5"), // last byte differs
		[]byte("zr7qp2lx9vm4"), // case differs
		[]byte(base64.StdEncoding.EncodeToString([]byte("Zr7Qp2Lx9Vm5"))),
		[]byte(base64.StdEncoding.EncodeToString([]byte("Xr7Qp2Lx9Vm4"))), // first byte differs
		[]byte(hex.EncodeToString([]byte("Zr7Qp2Lx9Vm5"))),
	}
	for i := range 200 {
		buf := make([]byte, 4096)
		for j := range buf {
			buf[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=%\n "[rng.IntN(68)]
		}
		ins := near[i%len(near)]
		copy(buf[rng.IntN(len(buf)-len(ins)):], ins)
		if bytes.Contains(buf, v) {
			continue
		}
		if fs := scanText(t, s, "r", string(buf)); len(fs) != 0 {
			t.Fatalf("false positive on %q: %+v", ins, fs)
		}
	}
}

func TestCanaryRefusedAndWiped(t *testing.T) {
	_, err := NewScanner(WithRules(defaultRules(t)), WithCanaries(Canary{Name: "short", Value: []byte("hunter2")}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("short canary: err = %v (must refuse without quoting the value)", err)
	}
	_, err = NewScanner(WithRules(defaultRules(t)), WithCanaries(Canary{Name: "pw=longenoughvalue", Value: []byte("longenoughvalue")}))
	if err == nil || strings.Contains(err.Error(), "longenoughvalue") {
		t.Errorf("name holding the value: err = %v", err)
	}
	v := []byte("wipe-me-after-the-scan")
	s, err := NewScanner(WithRules(defaultRules(t)), WithCanaries(Canary{Name: "w", Value: v}))
	if err != nil {
		t.Fatal(err)
	}
	if fs := scanText(t, s, "x", "a "+string(v)); len(fs) != 1 {
		t.Fatalf("findings %v", ruleIDs(fs))
	}
	arena := s.canaries.arena
	s.Close()
	if bytes.Contains(arena, v) || bytes.Count(arena, []byte{0}) != len(arena) {
		t.Error("canary arena not wiped by Close")
	}
}

func TestCanaryInBinaryAndAllowlistedPaths(t *testing.T) {
	v := "binary-embedded-secret"
	s := newTestScanner(t, WithCanaries(Canary{Name: "c", Value: []byte(v)}))
	fs, _ := scanSource(t, s, Bytes{
		"bin/app":                  append([]byte("\x7fELF\x00\x00"), []byte(v)...),
		"node_modules/x/config.js": []byte("k='" + v + "'"),
	})
	if len(fs) != 2 {
		t.Errorf("canary findings = %d, want 2 (binary and allowlisted path): %+v", len(fs), fs)
	}
}
