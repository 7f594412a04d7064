package matching

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// plainTextByRunes is plainText without the word-at-a-time path: the rule
// itself, rune by rune.
func plainTextByRunes(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			return false
		}
	}
	return true
}

// The fast path decides as the rule does, wherever in a word the odd byte is.
func FuzzPlainText(f *testing.F) {
	for _, seed := range []string{
		"", "plain ascii text of some length", "tab\there", "a\x00b", strings.Repeat("x", 15) + "\x1f",
		"Doña Ana County", "\xff", strings.Repeat("y", 7) + "\ufffd", "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x01",
		"\u0085 next line", strings.Repeat("z", 64) + "\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := plainText(s), plainTextByRunes(s); got != want {
			t.Fatalf("plainText(%q) = %v, the rule says %v", s, got, want)
		}
	})
}
