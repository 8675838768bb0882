package conformance

import (
	"bytes"
	"slices"
	"testing"

	"github.com/grafov/m3u8"
)

func TestRates(t *testing.T) {
	v := &variant{bits: []float64{8, 16}, durs: []float64{1, 1}}
	for _, c := range []struct {
		name      string
		a         *variant
		peak, avg float64
	}{
		{"alone", nil, 16, 12},
		// Peak plus peak: 16 + 4.
		{"as many segments", &variant{bits: []float64{4, 4}, durs: []float64{1, 1}}, 20, 16},
		// Peak plus peak: 16 + max(4/1, 4/1, 3/0.5).
		{"more audio segments", &variant{bits: []float64{4, 4, 3}, durs: []float64{1, 1, 0.5}}, 22, 17.5},
	} {
		if peak, avg := v.rates(c.a); peak != c.peak || avg != c.avg {
			t.Errorf("%s: peak %g, average %g; want %g, %g", c.name, peak, avg, c.peak, c.avg)
		}
	}
}

// TestRenditionTags checks the EXT-X-MEDIA rules on masters that need no
// media: each gets exactly the rules listed.
func TestRenditionTags(t *testing.T) {
	const variant = "#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"aud\"\nv.m3u8\n"
	const audio = "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n"
	for _, c := range []struct {
		name, master string
		want         []string
		renditions   int // in the AUDIO "aud" group
	}{
		{"one default audio rendition", audio + variant, nil, 1},
		// grafov gives EXT-X-MEDIA read before an I-frame variant to that variant only.
		{"I-frame playlist after the renditions", audio + variant +
			"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\",URI=\"i.m3u8\"\n", nil, 1},
		{"rendition after the variant", variant + audio, nil, 1},
		{"two defaults", audio + variant + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Other\",LANGUAGE=\"fr\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"b.m3u8\"\n",
			[]string{"rendition-groups"}, 2},
		{"no default", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=NO,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant, []string{"rendition-default"}, 1},
		{"same name twice", audio + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",LANGUAGE=\"fr\",CHANNELS=\"2\",URI=\"b.m3u8\"\n" + variant,
			[]string{"rendition-groups"}, 2},
		{"autoselect alike", audio + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Other\",AUTOSELECT=YES,CHANNELS=\"2\",URI=\"b.m3u8\"\n" + variant,
			[]string{"rendition-default"}, 2},
		{"default not autoselect", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=NO,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant,
			[]string{"rendition-groups"}, 1},
		{"no GROUP-ID", "#EXT-X-MEDIA:TYPE=AUDIO,NAME=\"Audio\",DEFAULT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant, []string{"rendition-groups"}, 0},
		{"no NAME", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",DEFAULT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant, []string{"rendition-groups"}, 1},
		{"unknown TYPE", "#EXT-X-MEDIA:TYPE=SOUND,GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=YES,URI=\"a.m3u8\"\n" + variant, []string{"rendition-groups"}, 0},
		{"AUDIO names a VIDEO group", "#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID=\"aud\",NAME=\"Cam\",DEFAULT=YES,URI=\"c.m3u8\"\n" + variant, []string{"rendition-groups"}, 0},
		{"unquoted GROUP-ID", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=aud,NAME=\"Audio\",DEFAULT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant, []string{"syntax"}, 1},
		{"quoted TYPE", "#EXT-X-MEDIA:TYPE=\"AUDIO\",GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=YES,CHANNELS=\"2\",URI=\"a.m3u8\"\n" + variant, []string{"syntax"}, 1},
		{"unterminated quote", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud,NAME=Audio\n" + variant, []string{"rendition-groups", "syntax"}, 0},
		{"attribute twice", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",NAME=\"B\",URI=\"a.m3u8\"\n" + variant, []string{"rendition-groups", "syntax"}, 0},
		{"subtitles without URI", audio + variant[:len(variant)-len("\nv.m3u8\n")] + ",SUBTITLES=\"sub\"\nv.m3u8\n" +
			"#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"sub\",NAME=\"English\",DEFAULT=YES\n", []string{"rendition-groups"}, 1},
		{"captions with URI", audio + variant[:len(variant)-len("\nv.m3u8\n")] + ",CLOSED-CAPTIONS=\"cc\"\nv.m3u8\n" +
			"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC\",DEFAULT=YES,INSTREAM-ID=\"CC1\",URI=\"cc.m3u8\"\n", []string{"rendition-groups"}, 1},
		{"audio without CHANNELS", "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"a.m3u8\"\n" + variant,
			[]string{"audio-channels"}, 1},
		{"languages", audio[:len(audio)-len("CHANNELS=\"2\",URI=\"a.m3u8\"\n")] + "LANGUAGE=\"en-US\",CHANNELS=\"2\",URI=\"a.m3u8\"\n" +
			"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"Français\",LANGUAGE=\"fr\",ASSOC-LANGUAGE=\"zh-Hant-TW\",AUTOSELECT=YES,CHANNELS=\"2\",URI=\"b.m3u8\"\n" + variant, nil, 2},
		{"ill-formed LANGUAGE", audio + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"French\",LANGUAGE=\"French\",CHANNELS=\"2\",URI=\"b.m3u8\"\n" + variant,
			[]string{"rendition-groups"}, 2},
		{"ill-formed ASSOC-LANGUAGE", audio + "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"French\",LANGUAGE=\"fr\",ASSOC-LANGUAGE=\"fr_FR!\",CHANNELS=\"2\",URI=\"b.m3u8\"\n" + variant,
			[]string{"rendition-groups"}, 2},
		{"captions NONE", audio + variant[:len(variant)-len("\nv.m3u8\n")] + ",CLOSED-CAPTIONS=NONE\nv.m3u8\n", nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := []byte("#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-INDEPENDENT-SEGMENTS\n" + c.master)
			pl, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
			if err != nil || typ != m3u8.MASTER {
				t.Fatalf("grafov: %v, %v", typ, err)
			}
			var streams []*m3u8.Variant
			for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
				if !v.Iframe {
					streams = append(streams, v)
				}
			}
			ch := &checker{}
			gs := ch.renditions("http://h/master.m3u8", body, streams)
			var got []string
			for _, f := range ch.report.Findings {
				t.Log(f)
				if !slices.Contains(got, f.Rule.ID) {
					got = append(got, f.Rule.ID)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("rules %v, want %v", got, c.want)
			}
			if n := len(gs.byKey[groupKey("AUDIO", "aud")]); n != c.renditions {
				t.Errorf("%d renditions in the audio group, want %d", n, c.renditions)
			}
		})
	}
}

func TestAttrList(t *testing.T) {
	got, err := attrList(`TYPE=AUDIO,NAME="a, b",DEFAULT=YES`)
	if err != nil || len(got) != 3 || got["NAME"] != (attrValue{"a, b", true}) || got["TYPE"] != (attrValue{"AUDIO", false}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{``, `TYPE`, `TYPE=`, `TYPE=AUDIO,`, `type=AUDIO`, `NAME="a"x`, `NAME="a`, `A=1,A=2`, `A=x y`} {
		if _, err := attrList(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
