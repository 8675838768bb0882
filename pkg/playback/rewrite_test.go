package playback

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tok = "AQAAAABppBqQ1Yx_3v-abc"

func TestRewritePlaylist(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"media playlist",
			"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.ts\n#EXTINF:5.5,\nseg_00001.ts\n#EXT-X-ENDLIST\n",
			"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.ts?token=" + tok + "\n#EXTINF:5.5,\nseg_00001.ts?token=" + tok + "\n#EXT-X-ENDLIST\n"},
		{"CRLF, blank lines and comments kept",
			"#EXTM3U\r\n\r\n# a comment with seg.ts\r\n#EXTINF:6,\r\nseg_00000.ts\r\n\r\n",
			"#EXTM3U\r\n\r\n# a comment with seg.ts\r\n#EXTINF:6,\r\nseg_00000.ts?token=" + tok + "\r\n\r\n"},
		{"existing query and fragment",
			"a.ts?x=1&y=2#t=3\nb.ts?\nc.ts?token=old&x=1\nd.ts?%74oken=old&token=older\n",
			"a.ts?x=1&y=2&token=" + tok + "#t=3\nb.ts?token=" + tok + "\nc.ts?x=1&token=" + tok + "\nd.ts?token=" + tok + "\n"},
		{"absolute and network-path URIs untouched",
			"https://cdn.example.com/a.ts\nHTTP://x/a.ts\n//evil.example/a.ts\n\\\\evil.example\\a.ts\n/\\evil.example/a.ts\nskd://key-id\ndata:text/plain,hi\n\t//evil/a.ts\n",
			"https://cdn.example.com/a.ts\nHTTP://x/a.ts\n//evil.example/a.ts\n\\\\evil.example\\a.ts\n/\\evil.example/a.ts\nskd://key-id\ndata:text/plain,hi\n\t//evil/a.ts\n"},
		{"path-absolute and dot paths are same-origin",
			"/streams/x/360p/index.m3u8\n../audio/index.m3u8\n./a.ts\n",
			"/streams/x/360p/index.m3u8?token=" + tok + "\n../audio/index.m3u8?token=" + tok + "\n./a.ts?token=" + tok + "\n"},
		{"master with every URI-bearing tag",
			`#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-SESSION-KEY:METHOD=AES-128,URI="key.bin",IV=0x1
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English, stereo",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aac"
360p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,CODECS="avc1.64001e",RESOLUTION=640x360,URI="360p/iframes.m3u8"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",URI="https://meta.example.com/t.json"
`,
			`#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-SESSION-KEY:METHOD=AES-128,URI="key.bin?token=` + tok + `",IV=0x1
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="English, stereo",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8?token=` + tok + `"
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360,AUDIO="aac"
360p/index.m3u8?token=` + tok + `
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,CODECS="avc1.64001e",RESOLUTION=640x360,URI="360p/iframes.m3u8?token=` + tok + `"
#EXT-X-SESSION-DATA:DATA-ID="com.example.title",URI="https://meta.example.com/t.json"
`},
		{"map and key in a media playlist",
			"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1?kid=7\",IV=0x0123\n#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://abc\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n#EXT-X-BYTERANGE:1000@720\nmain.mp4\n",
			"#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k1?kid=7&token=" + tok + "\",IV=0x0123\n#EXT-X-MAP:URI=\"init.mp4?token=" + tok + "\",BYTERANGE=\"720@0\"\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://abc\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n#EXT-X-BYTERANGE:1000@720\nmain.mp4?token=" + tok + "\n"},
		{"quoted commas and look-alike attributes",
			`#EXT-X-MEDIA:NAME="a,URI=x.m3u8",TYPE=AUDIO,XURI="no",URI="real.m3u8"` + "\n",
			`#EXT-X-MEDIA:NAME="a,URI=x.m3u8",TYPE=AUDIO,XURI="no",URI="real.m3u8?token=` + tok + `"` + "\n"},
		{"other tags and their free text untouched",
			"#EXTINF:6,URI=\"x.ts\"\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DATERANGE:ID=\"a\",X-URI=\"b\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,URI=\"nope\"\n#ext-x-map:URI=\"lower.mp4\"\n",
			"#EXTINF:6,URI=\"x.ts\"\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DATERANGE:ID=\"a\",X-URI=\"b\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,URI=\"nope\"\n#ext-x-map:URI=\"lower.mp4\"\n"},
		{"blanks around a URI line kept",
			"  seg.ts \t\r\n \t \n",
			"  seg.ts?token=" + tok + " \t\r\n \t \n"},
		{"unterminated quote gets nothing",
			"#EXT-X-MAP:URI=\"init.mp4\nnext.ts",
			"#EXT-X-MAP:URI=\"init.mp4\nnext.ts?token=" + tok},
		{"empty URI attribute left alone", "#EXT-X-MAP:URI=\"\"\n", "#EXT-X-MAP:URI=\"\"\n"},
		{"BOM kept, first line still a tag", "\xef\xbb\xbf#EXTM3U\na.ts", "\xef\xbb\xbf#EXTM3U\na.ts?token=" + tok},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RewritePlaylist([]byte(tc.in), tok)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			checkRewrite(t, []byte(tc.in), got, tok)
		})
	}
}

func TestRewritePlaylistRejectsUnsafeTokens(t *testing.T) {
	for _, bad := range []string{"", "a b", "a&b", "a\"b", "a\nb", "a#b", "a%20b", "a/b", "é"} {
		if _, err := RewritePlaylist([]byte("a.ts\n"), bad); !errors.Is(err, ErrBadTokenValue) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

func TestIsRelative(t *testing.T) {
	for uri, want := range map[string]bool{
		"seg.ts": true, "360p/index.m3u8": true, "../a.ts": true, "/abs/path.ts": true, "?q=1": true, "a:b/c": false,
		"./a:b": true, "seg_00000.ts?x=http://y": true, ":x": true, "1http://x": true, "a+b.ts": true,
		"https://x/a.ts": false, "skd://x": false, "data:,x": false, "mailto:x": false, "//x/a.ts": false,
		`\\x\a.ts`: false, `/\x/a.ts`: false, `\/x/a.ts`: false, " //x/a.ts": false, "\x01//x": false,
		"h\tttps://x": false, "/\t/x": false, "": false, "  ": false,
	} {
		if got := IsRelative(uri); got != want {
			t.Errorf("IsRelative(%q) = %v, want %v", uri, got, want)
		}
	}
}

func TestURIAttributes(t *testing.T) {
	for attrs, want := range map[string][]string{
		`URI="a"`:                                 {"a"},
		`TYPE=AUDIO,URI="a,b",NAME="c"`:           {"a,b"},
		`NAME="URI=\"x\"",URI="y"`:                {"y"}, // no escapes in HLS: NAME is `URI=\`
		`NAME="x,URI=",URI="real"`:                {"real"},
		`XURI="a",URIX="b",URI=c`:                 nil, // unquoted URI is not a quoted-string
		`URI="a",URI="b"`:                         {"a", "b"},
		` URI = "a" ,BYTERANGE="1@0"`:             {"a"},
		`URI="a`:                                  nil,
		`FLAG,URI="a"`:                            {"a"},
		`URI="a"junk,URI="b"`:                     {"a", "b"},
		`,,=,URI=""`:                              {""},
		`NAME="unterminated,URI="x"`:              nil, // the quote of NAME closes at URI=", then x" opens another
		`A=B,NAME="q",C="",URI="s?t=1#f"`:         {"s?t=1#f"},
		`IV=0x00,URI="k",KEYFORMATVERSIONS="1/2"`: {"k"},
	} {
		var got []string
		for _, v := range URIAttributes(attrs) {
			got = append(got, attrs[v[0]:v[1]])
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("URIAttributes(%q) = %q, want %q", attrs, got, want)
		}
	}
}

// checkRewrite asserts the invariants of RewritePlaylist between in and out.
func checkRewrite(t *testing.T, in, out []byte, token string) {
	t.Helper()
	inLines, outLines := bytes.Split(in, []byte("\n")), bytes.Split(out, []byte("\n"))
	if len(inLines) != len(outLines) {
		t.Fatalf("%d lines became %d", len(inLines), len(outLines))
	}
	if bytes.HasPrefix(in, bom) != bytes.HasPrefix(out, bom) {
		t.Fatal("BOM changed")
	}
	inLines[0], outLines[0] = bytes.TrimPrefix(inLines[0], bom), bytes.TrimPrefix(outLines[0], bom)
	for i := range inLines {
		a, b := string(inLines[i]), string(outLines[i])
		if strings.HasSuffix(a, "\r") != strings.HasSuffix(b, "\r") {
			t.Fatalf("line %d: line ending changed: %q → %q", i+1, a, b)
		}
		a, b = strings.TrimSuffix(a, "\r"), strings.TrimSuffix(b, "\r")
		switch {
		case strings.HasPrefix(a, "#"):
			prefix := ""
			for _, tag := range uriTags {
				if strings.HasPrefix(a, tag) {
					prefix = tag
				}
			}
			if prefix == "" {
				if a != b {
					t.Fatalf("line %d: non-URI line changed: %q → %q", i+1, a, b)
				}
				continue
			}
			if !strings.HasPrefix(b, prefix) {
				t.Fatalf("line %d: tag changed: %q → %q", i+1, a, b)
			}
			aa, bb := a[len(prefix):], b[len(prefix):]
			va, vb := URIAttributes(aa), URIAttributes(bb)
			if len(va) != len(vb) {
				t.Fatalf("line %d: %d URI attributes became %d: %q → %q", i+1, len(va), len(vb), a, b)
			}
			la, lb := 0, 0
			for j := range va {
				if aa[la:va[j][0]] != bb[lb:vb[j][0]] {
					t.Fatalf("line %d: text between URIs changed: %q → %q", i+1, a, b)
				}
				checkURI(t, i+1, aa[va[j][0]:va[j][1]], bb[vb[j][0]:vb[j][1]], token)
				la, lb = va[j][1], vb[j][1]
			}
			if aa[la:] != bb[lb:] {
				t.Fatalf("line %d: text after URIs changed: %q → %q", i+1, a, b)
			}
		default:
			lead := len(a) - len(strings.TrimLeftFunc(a, isBlank))
			core := strings.TrimRightFunc(a[lead:], isBlank)
			trail := a[lead+len(core):]
			if core == "" || core[0] == '#' {
				if a != b {
					t.Fatalf("line %d: blank line changed: %q → %q", i+1, a, b)
				}
				continue
			}
			if !strings.HasPrefix(b, a[:lead]) || !strings.HasSuffix(b[lead:], trail) {
				t.Fatalf("line %d: blanks around the URI changed: %q → %q", i+1, a, b)
			}
			checkURI(t, i+1, core, b[lead:len(b)-len(trail)], token)
		}
	}
}

// checkURI: a relative URI gets exactly one token=token (as a server's query
// parser reads it) and otherwise keeps its parameters; anything else stays.
func checkURI(t *testing.T, line int, a, b, token string) {
	t.Helper()
	if !IsRelative(a) {
		if a != b {
			t.Fatalf("line %d: non-relative URI changed: %q → %q", line, a, b)
		}
		return
	}
	split := func(u string) (string, string, string) {
		u, frag, _ := strings.Cut(u, "#")
		path, q, _ := strings.Cut(u, "?")
		return path, q, frag
	}
	pa, qa, fa := split(a)
	pb, qb, fb := split(b)
	if pa != pb || fa != fb {
		t.Fatalf("line %d: path or fragment changed: %q → %q", line, a, b)
	}
	vals, _ := url.ParseQuery(qb)
	if got := vals[TokenParam]; len(got) != 1 || got[0] != token {
		t.Fatalf("line %d: %q carries tokens %q, want exactly [%q]", line, b, got, token)
	}
	var keptA, keptB []string
	for _, p := range strings.Split(qa, "&") {
		if p != "" && !isTokenParam(p) {
			keptA = append(keptA, p)
		}
	}
	for _, p := range strings.Split(qb, "&") {
		if p != "" && !isTokenParam(p) {
			keptB = append(keptB, p)
		}
	}
	if strings.Join(keptA, "&") != strings.Join(keptB, "&") {
		t.Fatalf("line %d: other parameters changed: %q → %q", line, a, b)
	}
	if !strings.HasSuffix(strings.Split(b, "#")[0], "token="+token) {
		t.Fatalf("line %d: token not last in %q", line, b)
	}
}

func FuzzRewritePlaylist(f *testing.F) {
	// testdata/fuzz/FuzzRewritePlaylist holds real-looking playlists; these
	// add the edge cases.
	for _, s := range []string{
		"", "\n", "\r\n", "#EXTM3U", "a.ts", "a.ts?token=x&token=y#f", "#EXT-X-MAP:URI=\"", "#EXT-X-KEY:URI=\"a\"x,URI=b",
		" \t\x01//evil/a.ts\x00\r", "\xef\xbb\xbfa.ts", "a.ts?%74oken=1&tok%65n=2&token", "#EXT-X-MEDIA:URI=\"a\",,URI=\"b,c\"",
	} {
		f.Add([]byte(s))
	}
	if ents, _ := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzRewritePlaylist")); len(ents) < 3 {
		f.Fatal("seed corpus missing")
	}
	t1, t2 := "AQAAAABppBqQ1Yx_3v-abc", "zzz.~-_"
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := RewritePlaylist(body, t1)
		if err != nil {
			t.Fatal(err)
		}
		checkRewrite(t, body, out, t1)
		again, err := RewritePlaylist(out, t1)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		// Re-signing replaces the token rather than adding one.
		other, _ := RewritePlaylist(out, t2)
		direct, _ := RewritePlaylist(body, t2)
		if !bytes.Equal(other, direct) {
			t.Fatalf("rewriting with another token:\n%q\nvs directly\n%q", other, direct)
		}
	})
}
