package app_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// TestSubtitles uploads sources with text subtitle tracks (SubRip and ASS
// in Matroska beside two audio languages, mov_text in MP4, WebVTT in WebM),
// sends subtitle files with an upload, and adds,
// replaces and deletes a subtitle file through the API, on one server.
// Every published stream is held to the same rules as TestRealWorldSources
// (ffmpeg decodes it all, hlsd check finds nothing), and each cue must be in
// the segment of its time, tied to the video's clock.
func TestSubtitles(t *testing.T) {
	t.Parallel()
	base := startAll(t)

	t.Run("SubRip and ASS in Matroska, two audio languages", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		srt := write(t, dir, "en.srt", "1\n00:00:01,000 --> 00:00:02,500\nHello <b>world</b>\n\n2\n00:00:05,000 --> 00:00:06,500\n<font color=\"red\">Second</font> line\n")
		ass := write(t, dir, "fr.ass", "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"+
			"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"+
			"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"+
			"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"+
			"Dialogue: 0,0:00:03.00,0:00:04.00,Default,,0,0,0,,{\\i1}Bonjour{\\i0} le monde\n")
		src := generate(t, "subs.mkv",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
			"-f", "lavfi", "-i", "sine=frequency=500:sample_rate=48000",
			"-i", srt, "-i", ass,
			"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4", "-t", "7",
			"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "copy",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre",
			"-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fre",
			"-disposition:s:0", "default", "-disposition:s:1", "forced")
		p := uploadAndCheck(t, base, src)
		want := `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subtitles-1/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="Français (forced)",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI="subtitles-2/index.m3u8"
`
		if !strings.Contains(string(p.body), want) {
			t.Errorf("master lacks the subtitles group\n%s\ngot\n%s", want, p.body)
		}
		wantSubtitlesOnEveryVariant(t, p)
		// Matroska moves every track by the AAC's priming (21 ms), so the
		// cue of 1 s is at 1.021 s in the file, as the picture it goes
		// with: so it is on the video's clock too.
		at := cueShift(t, src, "s:0", 1)
		if at <= 0 || at > 0.05 {
			t.Fatalf("the test source's first cue is %g s late, want the AAC priming", at)
		}
		dir2 := p.master[:strings.LastIndex(p.master, "/")+1]
		wantCue(t, dir2+"subtitles-1/index.m3u8", at+1, at+2.5, "Hello <b>world</b>")
		wantCue(t, dir2+"subtitles-1/index.m3u8", at+5, at+6.5, "Second line") // <font> removed
		wantCue(t, dir2+"subtitles-2/index.m3u8", at+3, at+4, "<i>Bonjour</i> le monde")
		wantVideoClock(t, p)
	})

	t.Run("mov_text in MP4", func(t *testing.T) {
		t.Parallel()
		srt := write(t, t.TempDir(), "de.srt", "1\n00:00:02,000 --> 00:00:03,000\nGuten Tag\n")
		src := generate(t, "movtext.mp4",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-i", srt, "-map", "0", "-map", "1", "-map", "2", "-t", "7",
			"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "mov_text", "-metadata:s:s:0", "language=ger")
		p := uploadAndCheck(t, base, src)
		// FFmpeg's MP4 muxer enables the first subtitle track, as every
		// muxer does: that is no wish to show it (DEFAULT=NO).
		if !strings.Contains(string(p.body), `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="de",NAME="Deutsch",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-1/index.m3u8"`) {
			t.Errorf("master lacks the German subtitles:\n%s", p.body)
		}
		at := cueShift(t, src, "s:0", 2)
		wantCue(t, p.master[:strings.LastIndex(p.master, "/")+1]+"subtitles-1/index.m3u8", at+2, at+3, "Guten Tag")
	})

	t.Run("WebVTT in WebM", func(t *testing.T) {
		t.Parallel()
		vtt := write(t, t.TempDir(), "es.vtt", "WEBVTT\n\n00:00:02.000 --> 00:00:03.500 align:start\n<i>Hola</i>\n")
		src := generate(t, "vtt.webm",
			"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-i", vtt, "-map", "0", "-map", "1", "-map", "2", "-t", "7",
			"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus",
			"-c:s", "webvtt", "-metadata:s:s:0", "language=spa", "-disposition:s:0", "0")
		p := uploadAndCheck(t, base, src)
		if !strings.Contains(string(p.body), `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="es",NAME="Español",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-1/index.m3u8"`) {
			t.Errorf("master lacks the Spanish subtitles:\n%s", p.body)
		}
		at := cueShift(t, src, "s:0", 2)
		wantCue(t, p.master[:strings.LastIndex(p.master, "/")+1]+"subtitles-1/index.m3u8", at+2, at+3.5, "<i>Hola</i>")
	})

	t.Run("a QuickTime closed-caption track (c608)", func(t *testing.T) {
		t.Parallel()
		// The captions of a broadcast-style H.264 (A/53 SEI) moved into a
		// track of their own, as cameras and deliverables have them.
		captioned := testutil.CaptionedH264(t, "cc.mp4", 7, "HELLO", 2)
		src := generate(t, "c608.mov", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-f", "lavfi", "-i", "movie="+captioned+"[out0+subcc]",
			"-map", "0:v", "-map", "1:a", "-map", "2:s", "-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "copy")
		if got := probeStreams(t, src); len(got) != 3 || got[2].CodecName != "eia_608" {
			t.Fatalf("test source streams %+v, want an eia_608 track third", got)
		}
		p := uploadAndCheck(t, base, src)
		if !strings.Contains(string(p.body), `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Closed captions",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound",URI="subtitles-1/index.m3u8"`) {
			t.Errorf("master lacks the captions as subtitles:\n%s", p.body)
		}
		body, _ := get(t, p.master[:strings.LastIndex(p.master, "/")+1]+"subtitles-1/seg_00001.vtt") // 2–4 s
		if !strings.Contains(string(body), "\nHELLO\n") {
			t.Errorf("the segment from 2 s lacks the caption HELLO:\n%s", body)
		}
	})

	t.Run("picture subtitles (PGS) left out, with a note", func(t *testing.T) {
		t.Parallel()
		src := generate(t, "pgs.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-i", write(t, t.TempDir(), "s.sup", string(pgsDisplaySets(1, 2))),
			"-map", "0", "-map", "1", "-map", "2", "-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "copy")
		if got := probeStreams(t, src); len(got) != 3 || got[2].CodecName != "hdmv_pgs_subtitle" {
			t.Fatalf("test source streams %+v, want a PGS track third", got)
		}
		p := uploadAndCheck(t, base, src)
		if strings.Contains(string(p.body), "SUBTITLES") {
			t.Errorf("a master with picture subtitles:\n%s", p.body)
		}
		var v api.Video
		b, _ := get(t, base+"/api/videos/"+masterURLRe.FindStringSubmatch(p.master)[1])
		if err := json.Unmarshal(b, &v); err != nil || v.Source == nil || len(v.Subtitles) != 0 ||
			!slices.ContainsFunc(v.Source.Notes, func(n string) bool { return strings.Contains(n, "made of pictures (hdmv_pgs_subtitle) was left out") }) {
			t.Errorf("the video's facts do not say the PGS track was left out: %s", b)
		}
	})

	t.Run("sent with the upload", func(t *testing.T) {
		t.Parallel()
		src := generate(t, "sent.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "7",
			"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
		video, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		// A bad file refuses the whole upload: nothing is recorded.
		status, body := testutil.PostForm(t, base+"/upload",
			testutil.FormPart{Field: "upload", Filename: "refused.mp4", Body: video},
			testutil.FormPart{Field: "subtitles.fr", Filename: "fr.srt", Body: []byte("no cues here\n")})
		if status != http.StatusBadRequest || !strings.Contains(body, `"fr.srt"`) || !strings.Contains(body, "no cues") {
			t.Errorf("upload with a bad subtitle file = %d %q", status, body)
		}
		if b, _ := get(t, base+"/api/videos?limit=200"); strings.Contains(string(b), "refused.mp4") {
			t.Errorf("the refused upload was recorded:\n%s", b)
		}

		// Latin-1 SubRip before the video (language in the field name),
		// WebVTT after it (language in the file name).
		status, body = testutil.PostForm(t, base+"/upload",
			testutil.FormPart{Field: "subtitles.fr", Filename: "film.srt", Body: []byte("1\n00:00:01,000 --> 00:00:02,000\nD\xe9j\xe0 vu\n")},
			testutil.FormPart{Field: "upload", Filename: "sent.mp4", Body: video},
			testutil.FormPart{Field: "subtitles", Filename: "film.de.vtt", Body: []byte("WEBVTT\n\n00:00:03.000 --> 00:00:04.000\nSchon gesehen\n")})
		master := strings.TrimSpace(body)
		if status != http.StatusOK || masterURLRe.FindStringSubmatch(master) == nil {
			t.Fatalf("POST /upload with subtitles = %d %q", status, body)
		}
		p := checkPublishedHLS(t, master, hlsWant{duration: 7, video: true, audio: true})
		for _, want := range []string{
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="fr",NAME="Français",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-1/index.m3u8"`,
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="de",NAME="Deutsch",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subtitles-2/index.m3u8"`,
		} {
			if !strings.Contains(string(p.body), want) {
				t.Errorf("master lacks %s:\n%s", want, p.body)
			}
		}
		dir := master[:strings.LastIndex(master, "/")+1]
		wantCue(t, dir+"subtitles-1/index.m3u8", 1, 2, "Déjà vu")
		wantCue(t, dir+"subtitles-2/index.m3u8", 3, 4, "Schon gesehen")
	})

	t.Run("added, replaced and deleted through the API", func(t *testing.T) {
		t.Parallel()
		src := generate(t, "plain.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "7",
			"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
		p := uploadAndCheck(t, base, src)
		id := masterURLRe.FindStringSubmatch(p.master)[1]
		subtitlesURL := base + "/api/videos/" + id + "/subtitles"
		dir := p.master[:strings.LastIndex(p.master, "/")+1]

		// Refused, with a sentence, and nothing changes.
		for _, tc := range []struct {
			name   string
			fields map[string]string
			file   []byte
			status int
			says   string
		}{
			{"not subtitles", map[string]string{"language": "fr"}, []byte("just some words\n"), 400, "no cues"},
			{"binary", map[string]string{"language": "fr"}, []byte("1\n00:00:01,000 --> 00:00:02,000\nA\x00B\n"), 400, "binary"},
			{"a bad language tag", map[string]string{"language": "french!"}, []byte("1\n00:00:01,000 --> 00:00:02,000\nA\n"), 400, "BCP 47"},
			{"a quote in the name", map[string]string{"name": `say "hi"`}, []byte("1\n00:00:01,000 --> 00:00:02,000\nA\n"), 400, "double quotes"},
			{"no file", map[string]string{"language": "fr"}, nil, 400, "multipart field"},
			{"too large", nil, bytes.Repeat([]byte("x"), 5<<20), 413, "too large"},
		} {
			status, body := postSubtitles(t, subtitlesURL, tc.fields, tc.file)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%s: %d %s, want %d saying %q", tc.name, status, body, tc.status, tc.says)
			}
		}
		if status, body := postSubtitles(t, base+"/api/videos/aaaaaaaaaaaaaaaaaaaaaaaa/subtitles", nil, []byte("1\n00:00:01,000 --> 00:00:02,000\nA\n")); status != 404 {
			t.Errorf("unknown video: %d %s", status, body)
		}

		// A SubRip file in Latin-1, as old ones are, with markup a page
		// would run: converted to UTF-8, the markup gone.
		latin1 := []byte("1\r\n00:00:01,000 --> 00:00:03,000\r\n\xc7a va? Tr\xe8s bien.<script>alert(1)</script>\r\n")
		status, body := postSubtitles(t, subtitlesURL, map[string]string{"language": "fr"}, latin1)
		var first api.Subtitle
		if status != http.StatusCreated || json.Unmarshal([]byte(body), &first) != nil || first.ID == "" || first.Label != "Français" || first.Cues != 1 {
			t.Fatalf("POST subtitles = %d %s", status, body)
		}
		// The content service keeps a playlist it served for up to a
		// second: the new master is there within one.
		master := waitForMaster(t, p.master, func(m string) bool { return strings.Contains(m, first.ID+"/") })
		if !strings.Contains(master, `NAME="Français",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="`+first.ID+`/index.m3u8"`) ||
			!strings.Contains(master, `SUBTITLES="subs"`) {
			t.Fatalf("master does not list the added subtitles:\n%s", master)
		}
		// Added files are on the video's clock as they are.
		wantCue(t, dir+first.ID+"/index.m3u8", 1, 3, "Ça va? Très bien.alert(1)")
		assertConformant(t, p.master)

		// The same language and name again: replaced, under a new id.
		status, body = postSubtitles(t, subtitlesURL, map[string]string{"language": "fr", "default": "true"}, []byte("WEBVTT\n\n00:00:04.000 --> 00:00:05.000\nEncore\n"))
		var second api.Subtitle
		if status != http.StatusCreated || json.Unmarshal([]byte(body), &second) != nil || second.ID == first.ID || !second.Default {
			t.Fatalf("POST replacing subtitles = %d %s", status, body)
		}
		master = waitForMaster(t, p.master, func(m string) bool { return strings.Contains(m, second.ID+"/") })
		if strings.Contains(master, first.ID+"/") || !strings.Contains(master, `NAME="Français",DEFAULT=YES`) {
			t.Fatalf("master after the replacement:\n%s", master)
		}
		// Its files are deleted once the master no longer lists them (the
		// content service may serve a playlist it read for a second more).
		testutil.WaitFor(t, "the replaced rendition to be gone", 5*time.Second, func() bool {
			resp, err := http.Get(dir + first.ID + "/index.m3u8")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusNotFound
		})
		wantCue(t, dir+second.ID+"/index.m3u8", 4, 5, "Encore")
		var v api.Video
		b, _ := get(t, base+"/api/videos/"+id)
		if err := json.Unmarshal(b, &v); err != nil || len(v.Subtitles) != 1 || v.Subtitles[0].ID != second.ID || v.Subtitles[0].Origin != "upload" || v.Subtitles[0].PlaylistURL == "" {
			t.Fatalf("the API lists subtitles %+v (%v)", v.Subtitles, err)
		}

		// Deleted: the master lists none, and says no SUBTITLES group.
		req, _ := http.NewRequest(http.MethodDelete, subtitlesURL+"/"+second.ID, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE subtitles: %v %v", resp.Status, err)
		}
		resp.Body.Close()
		if master = waitForMaster(t, p.master, func(m string) bool { return !strings.Contains(m, second.ID+"/") }); strings.Contains(master, "SUBTITLES") {
			t.Fatalf("master after the delete:\n%s", master)
		}
		resp, err = http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("DELETE again: %v %v", resp.Status, err)
		}
		resp.Body.Close()
	})
}

// waitForMaster reads the master until ok holds of it (5 s at most).
func waitForMaster(t *testing.T, url string, ok func(string) bool) string {
	t.Helper()
	var body string
	testutil.WaitFor(t, "the master to change", 5*time.Second, func() bool {
		b, _ := get(t, url)
		body = string(b)
		return ok(body)
	})
	return body
}

// cueShift is how much later than at the source's first cue of stream
// (as ffprobe selects it) lies on the video's clock: its time in the file
// less the file's first timestamp.
func cueShift(t *testing.T, src, stream string, at float64) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time,size",
		"-of", "csv=p=0", src).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", src, err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(strings.Trim(l, " ,"), ",")
		if len(f) < 2 {
			continue
		}
		// mov_text fills the time before a cue with an empty sample (2
		// bytes: a zero length).
		if size, _ := strconv.Atoi(f[1]); size > 2 {
			pts, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				t.Fatalf("first cue of %s: %q", src, l)
			}
			return pts - startTime(t, src) - at
		}
	}
	t.Fatalf("%s has no cue: %q", src, out)
	return 0
}

// pgsDisplaySets is a Blu-ray subtitle stream (PGS, as in a .sup file): an
// empty display set at each time given (seconds). FFmpeg has no PGS
// encoder; a composition with no object is the smallest valid one.
func pgsDisplaySets(at ...float64) []byte {
	var b []byte
	segment := func(pts uint32, typ byte, payload []byte) {
		b = append(b, 'P', 'G')
		b = binary.BigEndian.AppendUint32(b, pts)
		b = binary.BigEndian.AppendUint32(b, 0) // DTS
		b = append(b, typ)
		b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
		b = append(b, payload...)
	}
	for i, t := range at {
		pts := uint32(t * 90000)
		// Presentation composition: 320x180, frame rate code, number i,
		// epoch start, no palette update, palette 0, no object.
		segment(pts, 0x16, []byte{0x01, 0x40, 0x00, 0xb4, 0x10, 0x00, byte(i + 1), 0x80, 0x00, 0x00, 0x00})
		segment(pts, 0x80, nil) // end of display set
	}
	return b
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func uploadAndCheck(t *testing.T, base, src string) publishedHLS {
	t.Helper()
	return checkPublishedHLS(t, uploadForMaster(t, base, src), hlsWant{duration: 7, video: true, audio: true})
}

// postSubtitles posts a subtitle file (nil: none) with fields to the
// subtitles API.
func postSubtitles(t *testing.T, url string, fields map[string]string, file []byte) (int, string) {
	t.Helper()
	var parts []testutil.FormPart
	for k, v := range fields {
		parts = append(parts, testutil.FormPart{Field: k, Body: []byte(v)})
	}
	if file != nil {
		parts = append(parts, testutil.FormPart{Field: "file", Filename: "subs.srt", Body: file})
	}
	return testutil.PostForm(t, url, parts...)
}

func wantSubtitlesOnEveryVariant(t *testing.T, p publishedHLS) {
	t.Helper()
	for _, l := range strings.Split(string(p.body), "\n") {
		if strings.HasPrefix(l, "#EXT-X-STREAM-INF:") && !strings.Contains(l, `SUBTITLES="subs"`) {
			t.Errorf("variant without the subtitles group: %s", l)
		}
	}
}

var (
	cueTimingRe = regexp.MustCompile(`(?m)^(\d\d):(\d\d):(\d\d\.\d\d\d) --> (\d\d):(\d\d):(\d\d\.\d\d\d)`)
	extinfRe    = regexp.MustCompile(`(?m)^#EXTINF:([0-9.]+),\s*\n(\S+)$`)
)

// wantCue finds the cue shown from start to end with text in the subtitle
// rendition: in the segment of its start (every segment it overlaps must
// carry it), each segment starting with the video's X-TIMESTAMP-MAP.
func wantCue(t *testing.T, playlistURL string, start, end float64, text string) {
	t.Helper()
	body, _ := get(t, playlistURL)
	dir := playlistURL[:strings.LastIndex(playlistURL, "/")+1]
	at, found := 0.0, false
	for _, m := range extinfRe.FindAllStringSubmatch(string(body), -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		seg, _ := get(t, dir+m[2])
		if !bytes.HasPrefix(seg, []byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:216000,LOCAL:00:00:00.000\n")) {
			t.Fatalf("%s starts %q", m[2], seg[:min(len(seg), 80)])
		}
		overlaps := start < at+d && end > at
		has := false
		for _, c := range cueTimingRe.FindAllStringSubmatchIndex(string(seg), -1) {
			s, e := vttTime(string(seg), c[2:8]), vttTime(string(seg), c[8:14])
			rest := string(seg[c[1]:])
			_, rest, _ = strings.Cut(rest, "\n") // after the cue settings
			rest = "\n" + rest
			if abs(s-start) < 0.0015 && abs(e-end) < 0.0015 && strings.HasPrefix(rest, "\n"+text+"\n") {
				has = true
			}
		}
		if overlaps != has {
			t.Errorf("%s (%g–%g s): cue %q at %g–%g s present %v, want %v:\n%s", m[2], at, at+d, text, start, end, has, overlaps, seg)
		}
		found = found || has
		at += d
	}
	if !found {
		t.Errorf("%s: no segment has the cue %q at %g s", playlistURL, text, start)
	}
}

func vttTime(s string, idx []int) float64 {
	h, _ := strconv.ParseFloat(s[idx[0]:idx[1]], 64)
	m, _ := strconv.ParseFloat(s[idx[2]:idx[3]], 64)
	sec, _ := strconv.ParseFloat(s[idx[4]:idx[5]], 64)
	return h*3600 + m*60 + sec
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// wantVideoClock checks the clock the X-TIMESTAMP-MAP names: the first
// video frame of every rendition has PTS 216000 (2.4 s at 90 kHz).
func wantVideoClock(t *testing.T, p publishedHLS) {
	t.Helper()
	for _, r := range p.renditions {
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts",
			"-read_intervals", "%+#1", "-of", "csv=p=0", r.url).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", r.url, err)
		}
		if pts := strings.Trim(strings.Split(string(out), "\n")[0], " ,"); pts != "216000" {
			t.Errorf("%s: first frame PTS %s, want 216000 (the subtitles' X-TIMESTAMP-MAP)", r.variant.URI, pts)
		}
	}
}
