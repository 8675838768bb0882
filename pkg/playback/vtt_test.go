package playback

import (
	"bytes"
	"strings"
	"testing"
)

func TestRewriteVTT(t *testing.T) {
	q := "?token=" + tok
	for _, tc := range []struct{ name, in, want string }{
		{"hlsd's storyboard",
			"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite_0.jpg#xywh=0,0,160,90\n\n00:00:02.000 --> 00:00:03.500\nsprite_1.jpg#xywh=160,0,160,90\n",
			"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite_0.jpg" + q + "#xywh=0,0,160,90\n\n00:00:02.000 --> 00:00:03.500\nsprite_1.jpg" + q + "#xywh=160,0,160,90\n"},
		{"CRLF, identifiers, settings and blank runs kept",
			"WEBVTT - thumbnails\r\n\r\n\r\n1\r\n00:00.000 --> 00:02.000 align:start\r\nsprite_0.jpg#xywh=0,0,160,90\r\n\r\nlast\r\n00:02.000 --> 00:04.000\r\n  sprite_0.jpg#xywh=160,0,160,90 \r\n",
			"WEBVTT - thumbnails\r\n\r\n\r\n1\r\n00:00.000 --> 00:02.000 align:start\r\nsprite_0.jpg" + q + "#xywh=0,0,160,90\r\n\r\nlast\r\n00:02.000 --> 00:04.000\r\n  sprite_0.jpg" + q + "#xywh=160,0,160,90 \r\n"},
		{"header, NOTE, STYLE and REGION blocks untouched",
			"WEBVTT\nKind: metadata\nheader.jpg\n\nNOTE\nnote.jpg\n\nNOTE a.jpg\n00:00:00.000 --> 00:00:01.000\nx.jpg\n\nSTYLE\n::cue { color: red }\n\nREGION\nid:r1\n\n00:00:00.000 --> 00:00:01.000\na.jpg\n",
			"WEBVTT\nKind: metadata\nheader.jpg\n\nNOTE\nnote.jpg\n\nNOTE a.jpg\n00:00:00.000 --> 00:00:01.000\nx.jpg\n\nSTYLE\n::cue { color: red }\n\nREGION\nid:r1\n\n00:00:00.000 --> 00:00:01.000\na.jpg" + q + "\n"},
		{"other origins, captions and existing tokens",
			"WEBVTT\n\n00:00.000 --> 00:01.000\nhttps://cdn.example.com/s.jpg#xywh=0,0,1,1\n//evil.example/s.jpg\n\\\\evil.example\\s.jpg\ndata:image/png;base64,AAAA\nHello, world\n<v Bob>hi there\n\n00:01.000 --> 00:02.000\ns.jpg?token=old&x=1#xywh=0,0,1,1\n../up/s.jpg\n/streams/x/s.jpg\n",
			"WEBVTT\n\n00:00.000 --> 00:01.000\nhttps://cdn.example.com/s.jpg#xywh=0,0,1,1\n//evil.example/s.jpg\n\\\\evil.example\\s.jpg\ndata:image/png;base64,AAAA\nHello, world\n<v Bob>hi there\n\n00:01.000 --> 00:02.000\ns.jpg?x=1" + "&token=" + tok + "#xywh=0,0,1,1\n../up/s.jpg" + q + "\n/streams/x/s.jpg" + q + "\n"},
		{"a timing line only where a cue starts",
			"WEBVTT\n\nid\nnot --> timing? it is a second line\nx.jpg\n\na\nb\n00:00.000 --> 00:01.000\nc.jpg\n",
			"WEBVTT\n\nid\nnot --> timing? it is a second line\nx.jpg" + q + "\n\na\nb\n00:00.000 --> 00:01.000\nc.jpg\n"},
		{"BOM, no final newline", "\xef\xbb\xbfWEBVTT\n\n00:00.000 --> 00:01.000\na.jpg", "\xef\xbb\xbfWEBVTT\n\n00:00.000 --> 00:01.000\na.jpg" + q},
		{"header only", "WEBVTT\n", "WEBVTT\n"},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RewriteVTT([]byte(tc.in), tok)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			if bytes.Count(got, []byte("\n")) != strings.Count(tc.in, "\n") {
				t.Errorf("line count changed")
			}
			again, err := RewriteVTT(got, tok)
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("rewriting twice changed it:\n%q", again)
			}
		})
	}
	for _, bad := range []string{"", "a b", "a&b", "x?y", "tok#en", "é"} {
		if _, err := RewriteVTT([]byte("WEBVTT\n"), bad); err != ErrBadTokenValue {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}
