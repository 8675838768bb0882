package conformance

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/grafov/m3u8"
	"golang.org/x/text/language"
)

// rendition is one EXT-X-MEDIA tag of the master playlist.
type rendition struct {
	typ, group, name, uri string
	def                   bool
	autoselect            bool
	selection             string   // LANGUAGE, ASSOC-LANGUAGE, FORCED and CHARACTERISTICS, joined
	pl                    *variant // its media playlist, if it has a URI and is AUDIO or VIDEO
}

// renditionGroups holds the master's renditions by group (TYPE and GROUP-ID:
// RFC 8216 4.3.4.1.1), in the order the groups first appear.
type renditionGroups struct {
	order []string
	byKey map[string][]*rendition
}

func groupKey(typ, group string) string { return typ + " " + group }

// Attributes whose values are quoted-strings, and enumerated-strings, in
// an EXT-X-MEDIA tag (RFC 8216 4.3.4.1).
var (
	mediaQuoted = []string{"URI", "GROUP-ID", "LANGUAGE", "ASSOC-LANGUAGE", "NAME", "INSTREAM-ID", "CHARACTERISTICS", "CHANNELS"}
	mediaEnum   = []string{"TYPE", "DEFAULT", "AUTOSELECT", "FORCED"}
)

// renditions reads every EXT-X-MEDIA tag of the master and checks the
// tags, their groups, and the groups the EXT-X-STREAM-INF tags name.
func (c *checker) renditions(masterURI string, body []byte, streams []*m3u8.Variant) *renditionGroups {
	gs := &renditionGroups{byKey: map[string][]*rendition{}}
	for _, line := range strings.Split(string(body), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "#EXT-X-MEDIA:")
		if !ok {
			continue
		}
		where := masterURI + " → EXT-X-MEDIA:" + rest
		attrs, err := attrList(rest)
		if err != nil {
			c.add(RuleSyntax, where, "%v", err)
			continue
		}
		for _, k := range mediaQuoted {
			if a, ok := attrs[k]; ok && !a.quoted {
				c.add(RuleSyntax, where, "%s is not a quoted-string", k)
			}
		}
		for _, k := range mediaEnum {
			if a, ok := attrs[k]; ok && a.quoted {
				c.add(RuleSyntax, where, "%s is an enumerated-string, not quoted", k)
			}
		}
		r := &rendition{
			typ: attrs["TYPE"].s, group: attrs["GROUP-ID"].s, name: attrs["NAME"].s, uri: attrs["URI"].s,
			def: attrs["DEFAULT"].s == "YES", autoselect: attrs["AUTOSELECT"].s == "YES",
			selection: fmt.Sprintf("LANGUAGE=%q ASSOC-LANGUAGE=%q FORCED=%s CHARACTERISTICS=%q",
				attrs["LANGUAGE"].s, attrs["ASSOC-LANGUAGE"].s, attrs["FORCED"].s, attrs["CHARACTERISTICS"].s),
		}
		switch r.typ {
		case "AUDIO", "VIDEO", "SUBTITLES", "CLOSED-CAPTIONS":
		case "":
			c.add(RuleRenditions, where, "no TYPE")
		default:
			c.add(RuleRenditions, where, "TYPE %s is none of AUDIO, VIDEO, SUBTITLES, CLOSED-CAPTIONS", r.typ)
		}
		if _, ok := attrs["GROUP-ID"]; !ok || r.group == "" {
			c.add(RuleRenditions, where, "no GROUP-ID")
		}
		if _, ok := attrs["NAME"]; !ok || r.name == "" {
			c.add(RuleRenditions, where, "no NAME")
		}
		for _, k := range []string{"DEFAULT", "AUTOSELECT", "FORCED"} {
			if a, ok := attrs[k]; ok && a.s != "YES" && a.s != "NO" {
				c.add(RuleRenditions, where, "%s=%s is neither YES nor NO", k, a.s)
			}
		}
		if _, ok := attrs["AUTOSELECT"]; ok && r.def && !r.autoselect {
			c.add(RuleRenditions, where, "DEFAULT=YES with AUTOSELECT=%s", attrs["AUTOSELECT"].s)
		}
		_, hasURI := attrs["URI"]
		_, hasInstream := attrs["INSTREAM-ID"]
		_, hasForced := attrs["FORCED"]
		switch {
		case r.typ == "SUBTITLES" && !hasURI:
			c.add(RuleRenditions, where, "a SUBTITLES rendition without URI")
		case r.typ == "CLOSED-CAPTIONS" && hasURI:
			c.add(RuleRenditions, where, "a CLOSED-CAPTIONS rendition with a URI")
		}
		if hasInstream != (r.typ == "CLOSED-CAPTIONS") {
			c.add(RuleRenditions, where, "INSTREAM-ID belongs to CLOSED-CAPTIONS renditions, and only to them")
		}
		if hasForced && r.typ != "SUBTITLES" {
			c.add(RuleRenditions, where, "FORCED on a %s rendition", r.typ)
		}
		for _, k := range []string{"LANGUAGE", "ASSOC-LANGUAGE"} {
			if a, ok := attrs[k]; ok {
				if _, err := language.Parse(a.s); err != nil {
					c.add(RuleRenditions, where, "%s=%q is not a language tag of RFC 5646 (BCP 47): %v", k, a.s, err)
				}
			}
		}
		if _, ok := attrs["CHANNELS"]; r.typ == "AUDIO" && !ok {
			c.add(RuleAudioChannels, where, "an AUDIO rendition without CHANNELS")
		}
		if r.group == "" {
			continue // in no group
		}
		k := groupKey(r.typ, r.group)
		if gs.byKey[k] == nil {
			gs.order = append(gs.order, k)
		}
		gs.byKey[k] = append(gs.byKey[k], r)
	}

	for _, k := range gs.order {
		rs := gs.byKey[k]
		where := masterURI + " → " + k
		names := map[string]bool{}
		selections := map[string]bool{}
		defaults := 0
		for _, r := range rs {
			if names[r.name] && r.name != "" {
				c.add(RuleRenditions, where, "two renditions named %q", r.name)
			}
			names[r.name] = true
			if r.def {
				defaults++
			}
			if r.autoselect {
				if selections[r.selection] {
					c.add(RuleRenditionDefault, where, "two AUTOSELECT=YES renditions with %s", r.selection)
				}
				selections[r.selection] = true
			}
		}
		switch {
		case defaults > 1:
			c.add(RuleRenditions, where, "%d renditions with DEFAULT=YES", defaults)
		case defaults == 0 && !strings.HasPrefix(k, "SUBTITLES ") && !strings.HasPrefix(k, "CLOSED-CAPTIONS "):
			// Subtitles and captions are off unless chosen: a group of
			// them needs no default.
			c.add(RuleRenditionDefault, where, "no rendition with DEFAULT=YES")
		}
	}

	for _, v := range streams {
		for _, ref := range []struct{ typ, group string }{
			{"AUDIO", v.Audio}, {"VIDEO", v.Video}, {"SUBTITLES", v.Subtitles}, {"CLOSED-CAPTIONS", v.Captions},
		} {
			if ref.group == "" || (ref.typ == "CLOSED-CAPTIONS" && ref.group == "NONE") {
				continue
			}
			if gs.byKey[groupKey(ref.typ, ref.group)] == nil {
				c.add(RuleRenditions, masterURI+" → "+v.URI, "%s=%q names no EXT-X-MEDIA group of TYPE=%s", ref.typ, ref.group, ref.typ)
			}
		}
	}
	return gs
}

// renditionContent checks that the measured audio and video renditions
// hold what their TYPE says.
func (c *checker) renditionContent(gs *renditionGroups) {
	seen := map[*variant]bool{}
	for _, k := range gs.order {
		for _, r := range gs.byKey[k] {
			if r.pl == nil || !r.pl.first.ok || seen[r.pl] {
				continue
			}
			seen[r.pl] = true
			m := r.pl.first
			switch {
			case r.typ == "AUDIO" && m.hasVideo:
				c.add(RuleRenditions, r.pl.url, "a TYPE=AUDIO rendition whose segments hold video")
			case r.typ == "AUDIO" && !m.hasAudio:
				c.add(RuleRenditions, r.pl.url, "a TYPE=AUDIO rendition whose segments hold no audio")
			case r.typ == "VIDEO" && !m.hasVideo:
				c.add(RuleRenditions, r.pl.url, "a TYPE=VIDEO rendition whose segments hold no video")
			}
		}
	}
}

// attrValue is one value of an attribute list.
type attrValue struct {
	s      string
	quoted bool
}

var attrName = regexp.MustCompile(`^[A-Z0-9-]+$`)

// attrList parses an attribute list (RFC 8216 4.2): comma-separated
// NAME=value pairs, each value a quoted-string or a run of characters
// without quotes, commas or whitespace, and no name twice.
func attrList(s string) (map[string]attrValue, error) {
	out := map[string]attrValue{}
	for {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || !attrName.MatchString(name) {
			return nil, fmt.Errorf("%q is not an attribute NAME=value", s)
		}
		var v attrValue
		if q, ok := strings.CutPrefix(rest, `"`); ok {
			end := strings.IndexByte(q, '"')
			if end < 0 {
				return nil, fmt.Errorf("%s: unterminated quoted-string", name)
			}
			v, s = attrValue{q[:end], true}, q[end+1:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			v, s = attrValue{rest[:end], false}, rest[end:]
			if v.s == "" || strings.ContainsAny(v.s, "\" \t") {
				return nil, fmt.Errorf("%s: malformed value %q", name, v.s)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s twice", name)
		}
		out[name] = v
		if s == "" {
			return out, nil
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("%s: %q follows the value", name, s)
		}
		s = s[1:]
	}
}
