package kwset

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestKeywordSetOverlaps pins the property the keyword pass relies on: every keyword at every
// position, also when keywords overlap or contain each other, in any ASCII case.
func TestKeywordSetOverlaps(t *testing.T) {
	kws := []string{"api", "apikey", "key", "pik", "ikey", "k", "api_key", "secret", "secretkey", "tkey", "s.", "ünï"}
	ks, err := New(kws)
	if err != nil {
		t.Fatal(err)
	}
	in := "my APIkey= secretKEY api_key s.x ÜNÏ ünï api_\u212aey \u212a"
	got := hitStrings(kws, ks.Find([]byte(in), nil))
	want := naiveHits(kws, in)
	if got != want {
		t.Errorf("automaton reports\n  %v\nwant every occurrence\n  %v", got, want)
	}
	if !ks.Contains([]byte("xxSECRETxx")) || ks.Contains([]byte("nothing here at all")) {
		t.Error("contains disagrees with find")
	}
	if _, err := New([]string{"a", ""}); err == nil {
		t.Error("an empty keyword was accepted")
	}
}

// TestKeywordSetRandom compares the automaton with a naive search on random keyword sets and
// texts over a small alphabet, where overlaps are everywhere.
func TestKeywordSetRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := []string{"a", "b", "k", "A", "K", ".", "_", "\xff", "\xe2", kelvin}
	word := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(tokens[rng.IntN(len(tokens))])
		}
		return b.String()
	}
	for range 300 {
		kws := make([]string, 1+rng.IntN(12))
		for i := range kws {
			kws[i] = strings.ToLower(strings.ReplaceAll(word(1+rng.IntN(5)), kelvin, "k")) // keywords are lower-cased ASCII here
		}
		ks, err := New(kws)
		if err != nil {
			t.Fatal(err)
		}
		text := word(rng.IntN(3000)) // past interleaveMin: both halves and the cut
		if got, want := hitStrings(kws, ks.Find([]byte(text), nil)), naiveHits(kws, text); got != want {
			t.Fatalf("keywords %q, text %q:\n got  %v\n want %v", kws, text, got, want)
		}
	}
}

func FuzzKeywordSet(f *testing.F) {
	f.Add("api,apikey,key", "my APIKEY=1")
	f.Add("s.,hvs.", "hvs.S.s.")
	f.Fuzz(func(t *testing.T, list, text string) {
		var kws []string
		for _, k := range strings.Split(strings.ToLower(list), ",") {
			if k != "" && !slices.Contains(kws, k) {
				kws = append(kws, k)
			}
		}
		if len(kws) == 0 || len(kws) > 50 {
			return
		}
		ks, err := New(kws)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hitStrings(kws, ks.Find([]byte(text), nil)), naiveHits(kws, text); got != want {
			t.Fatalf("keywords %q, text %q:\n got  %v\n want %v", kws, text, got, want)
		}
	})
}

// naiveHits lists every occurrence of every keyword in text, ASCII case-insensitively and with
// the Kelvin sign as a k (in keywords with at most three k's, as kelvinVariants), as
// "kw@start-end", sorted.
func naiveHits(kws []string, text string) string {
	var want []string
	for k, kw := range kws {
		kelvinOK := strings.Count(kw, "k") <= 3
		for i := 0; i < len(text); i++ {
			j := i
			for _, c := range []byte(kw) {
				switch {
				case c == 'k' && kelvinOK && strings.HasPrefix(text[j:], kelvin):
					j += len(kelvin)
				case j < len(text) && Lower[text[j]] == c:
					j++
				default:
					j = -1
				}
				if j < 0 {
					break
				}
			}
			if j >= 0 {
				want = append(want, strconv.Itoa(k)+"@"+strconv.Itoa(i)+"-"+strconv.Itoa(j))
			}
		}
	}
	sort.Strings(want)
	return strings.Join(want, " ")
}

func hitStrings(kws []string, hits []Hit) string {
	var got []string
	for _, h := range hits {
		got = append(got, strconv.Itoa(int(h.Keyword))+"@"+strconv.Itoa(h.Start)+"-"+strconv.Itoa(h.End))
	}
	sort.Strings(got)
	return strings.Join(got, " ")
}
