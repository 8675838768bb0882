package encoder

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/video"
)

// describesVideo is Apple's media characteristic of an audio description
// (HLS authoring spec; RFC 8216 4.3.4.1 CHARACTERISTICS).
const describesVideo = "public.accessibility.describes-video"

// audioRenditions makes one audio rendition per kept audio track, in file
// order, with what a player's menu needs: the language as a BCP 47 tag, a
// name people read, which one to start with, and whether it describes the
// picture. Names are unique within the group, as RFC 8216 requires.
func audioRenditions(tracks []ffmpeg.AudioStream) []video.Rendition {
	out := make([]video.Rendition, len(tracks))
	def := 0 // the first the file marks default, else the first
	for i, t := range tracks {
		if t.Default {
			def = i
			break
		}
	}
	used := map[string]bool{}
	for i, t := range tracks {
		r := video.Rendition{Name: video.AudioRenditionName(i), Language: bcp47(t.Language), Default: i == def}
		if t.Described {
			r.Characteristics = describesVideo
		}
		r.Label = video.UniqueLabel(audioLabel(t, r.Language, i, len(tracks)), used)
		out[i] = r
	}
	return out
}

// bcp47 turns a container's language tag (ISO 639-2, bibliographic or
// terminological: "eng", "fre", "ger"; or already BCP 47) into the
// shortest BCP 47 tag ("en", "fr", "de"); "" for none, unknown, or a tag
// that names no language ("und", "mul", "zxx", private use).
func bcp47(tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > 35 {
		return ""
	}
	t, err := language.Parse(tag)
	if err != nil {
		return ""
	}
	base, conf := t.Base()
	switch s := base.String(); {
	case conf != language.Exact || s == "und" || s == "mul" || s == "zxx" || s == "mis" || (s >= "qaa" && s <= "qtz"):
		return ""
	}
	return t.String()
}

// audioLabel is the NAME of a track's rendition: its title, else its
// language in that language ("English", "Français"), else "Audio" (numbered
// when there are several); with what kind of track it is, unless the title
// says it already.
func audioLabel(t ffmpeg.AudioStream, lang string, i, n int) string {
	kind := ""
	switch {
	case t.Described:
		kind = "audio description"
	case t.Comment:
		kind = "commentary"
	}
	return trackLabel(cleanLabel(t.Title), lang, "Audio", kind, i, n)
}

// trackLabel is the NAME of the rendition of track i of n: its title, else
// its language in that language, else what it is ("Audio", numbered when
// there are several); with its kind ("English (commentary)") unless the
// title says it.
func trackLabel(title, lang, what, kind string, i, n int) string {
	if title != "" {
		return title
	}
	label := ""
	if lang != "" {
		label = video.LanguageName(lang)
	}
	if label == "" {
		label = what
		if n > 1 {
			label += " " + strconv.Itoa(i+1)
		}
	}
	if kind != "" {
		label += " (" + kind + ")"
	}
	return label
}

// cleanLabel makes a track title fit for a quoted NAME: printable, no
// double quote, at most 64 characters.
func cleanLabel(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteRune('\'')
		case unicode.IsControl(r) || r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ':
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.Join(strings.Fields(b.String()), " ")
	if r := []rune(out); len(r) > 64 {
		out = strings.TrimSpace(string(r[:64]))
	}
	return out
}
