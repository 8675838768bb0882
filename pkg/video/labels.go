package video

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// LanguageName is a BCP 47 language's name in that language, capitalized
// as a menu shows it ("English", "Français", "Deutsch"); "" for none or
// one x/text cannot name.
func LanguageName(tag string) string {
	if tag == "" {
		return ""
	}
	name := display.Self.Name(language.Make(tag))
	r, n := utf8.DecodeRuneInString(name)
	if n == 0 {
		return ""
	}
	return string(unicode.ToUpper(r)) + name[n:]
}

// UniqueLabel numbers a label already used in a group ("English 2"),
// and marks the one it returns used: RFC 8216 wants NAMEs unique in a
// group.
func UniqueLabel(label string, used map[string]bool) string {
	out := label
	for n := 2; used[out]; n++ {
		out = label + " " + strconv.Itoa(n)
	}
	used[out] = true
	return out
}
