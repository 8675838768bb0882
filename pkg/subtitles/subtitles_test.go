package subtitles

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		file string
		want []Cue
	}{
		{"SubRip, Latin-1, markup", "1\r\n00:00:01,000 --> 00:00:02,500\r\n<font color=\"red\">Caf\xe9</font> <i>ouvert</i>\r\n\r\n" +
			"2\r\n00:00:03,000 --> 00:00:04,000\r\n{\\an8}Up & <script>alert(1)</script>away\r\n",
			[]Cue{{Start: 1, End: 2.5, Text: "Café <i>ouvert</i>"}, {Start: 3, End: 4, Text: "Up &amp; alert(1)away"}}},
		{"WebVTT with NOTE, STYLE, ids and settings", "WEBVTT - a film\n\nNOTE made by hand\n\nSTYLE\n::cue { color: red }\n\n" +
			"intro\n00:01.000 --> 00:02.000 align:start line:0 onclick:x\n<v Anna>Hello</v> &lt;3\n\n" +
			"00:00:00.500 --> 00:00:00.900\nfirst\nsecond line\n",
			[]Cue{{Start: 0.5, End: 0.9, Text: "first\nsecond line"}, {Start: 1, End: 2, Settings: "align:start line:0", Text: "<v Anna>Hello</v> &lt;3"}}},
		{"UTF-16 with a byte order mark", "\xff\xfeW\x00E\x00B\x00V\x00T\x00T\x00\n\x00\n\x000\x000\x00:\x000\x001\x00.\x000\x000\x000\x00 \x00-\x00-\x00>\x00 \x000\x000\x00:\x000\x002\x00.\x000\x000\x000\x00\n\x00\xe9\x00\n\x00",
			[]Cue{{Start: 1, End: 2, Text: "é"}}},
		{"empty and zero-length cues dropped", "00:00:01,000 --> 00:00:01,000\nnever\n\n00:00:02,000 --> 00:00:03,000\n   \n\n00:00:04,000 --> 00:00:05,000\nkept\n",
			[]Cue{{Start: 4, End: 5, Text: "kept"}}},
		{"a blank line inside a cue's text", "00:00:01,000 --> 00:00:02,000\ntop\n \t\nbottom<br>\n",
			[]Cue{{Start: 1, End: 2, Text: "top\nbottom"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse([]byte(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d cues %+v, want %+v", len(got), got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("cue %d: %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// Bad files are refused with a sentence for the uploader.
func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, file, reason string }{
		{"no cues", "WEBVTT\n\nNOTE nothing\n", "no cues"},
		{"not subtitles", "hello world\n", "no cues"},
		{"bad timing", "1\n00:00:01 --> soon\nhi\n", "timing line"},
		{"binary", "1\n00:00:01,000 --> 00:00:02,000\nhi\x00\n", "binary data"},
		{"too large", strings.Repeat("a", MaxFileSize+1), "at most"},
		{"a huge cue", "00:00:01,000 --> 00:00:02,000\n" + strings.Repeat("word ", MaxCueText), "at most"},
	} {
		_, err := Parse([]byte(c.file))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Reason, c.reason) || !strings.HasSuffix(e.Reason, ".") {
			t.Errorf("%s: %v, want a sentence about %q", c.name, err, c.reason)
		}
	}
}

// Cut puts each cue in every segment it is shown in, after the header and
// the timestamp map.
func TestCut(t *testing.T) {
	cues := []Cue{{Start: 1, End: 3, Text: "across"}, {Start: 5, End: 5.5, Settings: "line:0", Text: "late"}}
	segs := Cut(cues, []float64{2, 2, 2}, 216000)
	head := "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n"
	want := []string{
		head + "\n00:00:01.000 --> 00:00:03.000\nacross\n",
		head + "\n00:00:01.000 --> 00:00:03.000\nacross\n",
		head + "\n00:00:05.000 --> 00:00:05.500 line:0\nlate\n",
	}
	for i, s := range segs {
		if string(s.Body) != want[i] || s.Start != float64(2*i) || s.Duration != 2 {
			t.Errorf("segment %d (%g+%g):\n%s\nwant\n%s", i, s.Start, s.Duration, s.Body, want[i])
		}
	}
	if got := Timestamp(3725.0004); got != "01:02:05.000" {
		t.Errorf("Timestamp = %s", got)
	}
}

// Whatever the bytes, Parse answers without panicking, and what it keeps
// is safe to show: no tag but WebVTT's own, and no cue timing inside text.
func FuzzParse(f *testing.F) {
	f.Add([]byte("1\n00:00:01,000 --> 00:00:02,000\n<b>hi</b> <img src=x onerror=alert(1)>\n"))
	f.Add([]byte("WEBVTT\n\n00:01.000 --> 00:02.000 align:start\n<c.red>x</c> & y\n"))
	f.Add([]byte("\xff\xfe1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cues, err := Parse(b)
		if err != nil {
			return
		}
		for _, c := range cues {
			if c.End <= c.Start || strings.Contains(c.Text, "-->") || strings.Contains(c.Text, "\n\n") || strings.TrimSpace(c.Text) == "" {
				t.Fatalf("cue %+v", c)
			}
			for _, tag := range tagRe.FindAllString(c.Text, -1) {
				if !allowed.MatchString(tag) {
					t.Fatalf("cue %q keeps the tag %q", c.Text, tag)
				}
			}
		}
	})
}

func TestShift(t *testing.T) {
	cues := []Cue{{Start: 9, End: 9.5, Text: "before"}, {Start: 9.8, End: 11, Text: "across"}, {Start: 12, End: 13, Text: "after"}}
	got := Shift(cues, -10)
	want := []Cue{{Start: 0, End: 1, Text: "across"}, {Start: 2, End: 3, Text: "after"}}
	if len(got) != len(want) {
		t.Fatalf("Shift = %+v, want %+v", got, want)
	}
	for i := range got {
		if d := got[i].End - want[i].End; got[i].Text != want[i].Text || got[i].Start != want[i].Start || d > 1e-9 || d < -1e-9 {
			t.Errorf("cue %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if cues[0].Text != "before" || cues[1].Start != 9.8 {
		t.Error("Shift changed its input")
	}
}
