package rx

import (
	"fmt"
	"testing"
)

func TestNewLeadRepeat(t *testing.T) {
	for expr, want := range map[string]string{
		`[\w.-]{0,50}?(?:key)=([a-z]{10})`: "max=50",
		`[a-z]*?key=x`:                     "max=-1",
		`[\w.-]{0,50}(?:key)=x`:            "", // greedy: the lead's extent depends on the rest
		`[\w.-]{2,50}?(?:key)=x`:           "", // a minimum: a start may have no match
		`.{0,50}?key=x`:                    "", // . is not a class node
		`[^a]{0,5}?key=x`:                  "", // includes U+FFFD
		`[\w]{0,5}?\b`:                     "", // the rest may match empty
	} {
		l := NewLeadRepeat(mustParse(t, expr))
		got := ""
		if l != nil {
			got = fmt.Sprintf("max=%d", l.max)
		}
		if got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
