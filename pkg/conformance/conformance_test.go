package conformance_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/conformance"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// ffmpegHLS writes an 8 s video with audio through FFmpeg's own HLS muxer
// into a fresh directory: the reference the checker must find fault with.
func ffmpegHLS(t *testing.T, extra ...string) string {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-g", "50", "-c:a", "aac"}
	args = append(args, extra...)
	args = append(args, "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8",
		"-hls_segment_filename", filepath.Join(dir, "seg_%03d.ts"), filepath.Join(dir, "index.m3u8"))
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return dir
}

// serve serves dir with HLS MIME types, gzip-compressing playlists when asked.
func serve(t *testing.T, dir string, gz bool) string { return serveWith(t, dir, gz, "video/mp2t") }

// serveMIME serves dir with gzip and segments as segMIME ("" = video/mp2t).
func serveMIME(t *testing.T, dir, segMIME string) string {
	if segMIME == "" {
		segMIME = "video/mp2t"
	}
	return serveWith(t, dir, true, segMIME)
}

func serveWith(t *testing.T, dir string, gz bool, segMIME string) string {
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch filepath.Ext(r.URL.Path) {
		case ".m3u8":
			w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
			if gz && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				b, err := os.ReadFile(filepath.Join(dir, filepath.Clean(r.URL.Path)))
				if err != nil {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Encoding", "gzip")
				zw := gzip.NewWriter(w)
				zw.Write(b)
				zw.Close()
				return
			}
		case ".ts":
			w.Header().Set("Content-Type", segMIME)
		case ".m4s", ".mp4":
			w.Header().Set("Content-Type", "video/mp4")
		case ".vtt":
			w.Header().Set("Content-Type", "text/vtt; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func rules(fs []conformance.Finding) []string {
	var ids []string
	for _, f := range fs {
		if !slices.Contains(ids, f.Rule.ID) {
			ids = append(ids, f.Rule.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func check(t *testing.T, url string, o conformance.Options) conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := conformance.Check(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		t.Log(f)
	}
	return r
}

func TestFFmpegHLSMuxerFallsShort(t *testing.T) {
	t.Parallel()
	dir := ffmpegHLS(t)
	r := check(t, serve(t, dir, false)+"/master.m3u8", conformance.Options{TargetDuration: 2})
	// What the issue says FFmpeg's muxer leaves out, its BANDWIDTH estimate
	// below the real peak, and no playlist gzip from this server: exactly
	// these, so a rule that fires wrongly on a sound stream shows up here.
	want := []string{"average-bandwidth", "frame-rate", "gzip-playlists", "i-frame-playlists", "independent-segments", "peak-bandwidth", "video-range-present"}
	if got := rules(r.Findings); !slices.Equal(got, want) {
		t.Errorf("rules broken by FFmpeg's HLS muxer output:\n got %v\nwant %v", got, want)
	}
	if r.Variants != 1 || r.Segments != 4 {
		t.Errorf("checked %d variants, %d segments; want 1, 4", r.Variants, r.Segments)
	}
}

// writeIFrames adds an I-frame playlist for index.m3u8 to dir, listing each
// keyframe packet's byte range as ffprobe finds it, and names it in the
// master. pick chooses which video packets to list (keyframes for a correct
// playlist); version is its EXT-X-VERSION.
func writeIFrames(t *testing.T, dir string, version int, pick func(key bool) bool) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg_*.ts"))
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n", version)
	fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"seg_000.ts\",BYTERANGE=\"376@188\"\n") // ffmpeg writes SDT, PAT, PMT
	peak := 0.0
	for _, seg := range segs {
		out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
			"packet=pts_time,pos,flags", "-of", "csv=p=0", seg).Output()
		if err != nil {
			t.Fatal(err)
		}
		type pkt struct {
			pts float64
			pos int64
			key bool
		}
		var pkts []pkt
		for _, line := range strings.Fields(string(out)) {
			f := strings.Split(line, ",")
			if len(f) < 3 {
				continue
			}
			var p pkt
			fmt.Sscan(f[0], &p.pts)
			fmt.Sscan(f[1], &p.pos)
			p.key = strings.HasPrefix(f[2], "K")
			pkts = append(pkts, p)
		}
		st, _ := os.Stat(seg)
		slices.SortFunc(pkts, func(a, b pkt) int { return int(a.pos - b.pos) })
		for i, p := range pkts {
			if !pick(p.key) {
				continue
			}
			end := st.Size()
			if i+1 < len(pkts) {
				end = pkts[i+1].pos
			}
			fmt.Fprintf(&b, "#EXTINF:2.000,\n#EXT-X-BYTERANGE:%d@%d\n%s\n", end-p.pos, p.pos, filepath.Base(seg))
			peak = max(peak, float64(end-p.pos)*8/2)
		}
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	testutil.WriteFile(t, dir, "iframes.m3u8", []byte(b.String()))
	master, _ := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	codec := regexp.MustCompile(`avc1\.[0-9a-f]{6}`).FindString(string(master))
	edit(t, dir, "master.m3u8", "#EXT-X-STREAM-INF", fmt.Sprintf(
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%d,CODECS=\"%s\",RESOLUTION=320x180,URI=\"iframes.m3u8\"\n#EXT-X-STREAM-INF", int(peak)+1, codec))
}

// edit replaces old with new in dir/name.
func edit(t *testing.T, dir, name, old, new string) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q:\n%s", name, old, b)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEachRuleFires breaks FFmpeg's output one way at a time and expects the
// rule named for that breakage.
func TestEachRuleFires(t *testing.T) {
	t.Parallel()
	keyframes := func(key bool) bool { return key }
	cases := []struct {
		name   string
		ffmpeg []string // extra encoder arguments
		break_ func(t *testing.T, dir string)
		mime   string // Content-Type for .ts, "" = video/mp2t
		want   string
	}{
		{name: "segment MIME", mime: "application/octet-stream", want: "mime-type"},
		{name: "no #EXTM3U", want: "extm3u", break_: func(t *testing.T, dir string) { edit(t, dir, "index.m3u8", "#EXTM3U\n", "") }},
		{name: "missing segment", want: "http-ok", break_: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "seg_002.ts")) }},
		{name: "not VOD", want: "playlist-type-vod", break_: func(t *testing.T, dir string) { edit(t, dir, "index.m3u8", "#EXT-X-PLAYLIST-TYPE:VOD\n", "") }},
		{name: "no ENDLIST", want: "endlist", break_: func(t *testing.T, dir string) { edit(t, dir, "index.m3u8", "#EXT-X-ENDLIST", "") }},
		{name: "EXTINF above target", want: "extinf-within-target", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "#EXT-X-TARGETDURATION:2", "#EXT-X-TARGETDURATION:1")
		}},
		{name: "EXTINF not from timestamps", want: "extinf-accurate", break_: func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", "#EXTINF:2.000000,\nseg_001.ts", "#EXTINF:1.500000,\nseg_001.ts")
		}},
		{name: "CODECS wrong profile", want: "codecs-match", break_: func(t *testing.T, dir string) { edit(t, dir, "master.m3u8", "avc1.64", "avc1.4d") }},
		{name: "CODECS without audio", want: "codecs-match", break_: func(t *testing.T, dir string) { edit(t, dir, "master.m3u8", ",mp4a.40.2", "") }},
		{name: "RESOLUTION wrong", want: "resolution-match", break_: func(t *testing.T, dir string) { edit(t, dir, "master.m3u8", "320x180", "640x360") }},
		{name: "no BANDWIDTH", want: "stream-inf-bandwidth", break_: func(t *testing.T, dir string) { edit(t, dir, "master.m3u8", "BANDWIDTH=", "X-BW=") }},
		{name: "no CODECS", want: "codecs-present", break_: func(t *testing.T, dir string) { edit(t, dir, "master.m3u8", "CODECS=", "X-C=") }},
		{name: "segments not starting with IDR", want: "idr-at-segment-start", ffmpeg: []string{"-g", "250", "-hls_flags", "split_by_time"}},
		{name: "target duration not 6", want: "target-duration"},
		{name: "long segment", want: "segment-duration", ffmpeg: []string{"-g", "250"}},
		{name: "I-frame entries not IDR", want: "i-frame-is-idr", break_: func(t *testing.T, dir string) {
			writeIFrames(t, dir, 5, func(key bool) bool { return !key })
		}},
		{name: "counters restart at a segment", want: "continuity-counters", break_: func(t *testing.T, dir string) {
			// As a second muxer would: every counter of seg_001.ts moved on
			// by one, so only the join with seg_000.ts breaks.
			p := filepath.Join(dir, "seg_001.ts")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for o := 0; o+188 <= len(b); o += 188 {
				b[o+3] = b[o+3]&0xf0 | (b[o+3]+1)&0x0f
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "VIDEO-RANGE=PQ on H.264", want: "sdr-bt709", break_: func(t *testing.T, dir string) {
			edit(t, dir, "master.m3u8", "RESOLUTION=320x180", "RESOLUTION=320x180,VIDEO-RANGE=PQ")
		}},
		{name: "VIDEO-RANGE=PQ on SDR video", want: "video-range", break_: func(t *testing.T, dir string) {
			edit(t, dir, "master.m3u8", "RESOLUTION=320x180", "RESOLUTION=320x180,VIDEO-RANGE=PQ")
		}},
		{name: "HLG video said to be SDR", want: "video-range", ffmpeg: []string{"-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"},
			break_: func(t *testing.T, dir string) {
				edit(t, dir, "master.m3u8", "RESOLUTION=320x180", "RESOLUTION=320x180,VIDEO-RANGE=SDR")
			}},
		{name: "HLG in H.264", want: "sdr-bt709", ffmpeg: []string{"-color_primaries", "bt2020", "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc"}},
		{name: "interlaced", want: "progressive", ffmpeg: []string{"-vf", "tinterlace=mode=interleave_top,setfield=tff", "-flags", "+ildct+ilme"}},
		{name: "woven fields flagged progressive", want: "progressive", ffmpeg: []string{"-vf", "tinterlace=mode=interleave_top"}},
		{name: "one variant of 240 lines", want: "stream-alternates", ffmpeg: []string{"-vf", "scale=426:240"}},
		{name: "I-frame playlist version", want: "version", break_: func(t *testing.T, dir string) { writeIFrames(t, dir, 4, keyframes) }},
		{name: "I-frame range past the end", want: "byte-range", break_: func(t *testing.T, dir string) {
			writeIFrames(t, dir, 5, keyframes)
			edit(t, dir, "iframes.m3u8", "#EXT-X-BYTERANGE:", "#EXT-X-BYTERANGE:9999999")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := ffmpegHLS(t, c.ffmpeg...)
			if c.break_ != nil {
				c.break_(t, dir)
			}
			srv := serveMIME(t, dir, c.mime)
			td := 6
			if c.want != "target-duration" {
				td = 2
			}
			r := check(t, srv+"/master.m3u8", conformance.Options{TargetDuration: td})
			if got := rules(r.Findings); !slices.Contains(got, c.want) {
				t.Errorf("rule %s did not fire; findings: %v", c.want, got)
			}
		})
	}
}

// closed-captions: a video carrying CEA-608 captions must name a
// CLOSED-CAPTIONS group, and a group named must be in the video.
func TestCaptionsRule(t *testing.T) {
	t.Parallel()
	captioned := testutil.CaptionedH264(t, "cc.mp4", 4, "HI", 1)
	for _, c := range []struct {
		name  string
		input []string
		edit  bool // declare a CLOSED-CAPTIONS group
		fires bool
	}{
		{"captions, none declared", []string{"-i", captioned}, false, true},
		{"captions declared", []string{"-i", captioned}, true, false},
		{"no captions, a group declared", []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-t", "4"}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"-v", "error"}, c.input...)
			args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-b:v", "500k", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
				"-master_pl_name", "master.m3u8", "-hls_segment_filename", filepath.Join(dir, "seg_%03d.ts"), filepath.Join(dir, "index.m3u8"))
			if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, out)
			}
			if c.edit {
				edit(t, dir, "master.m3u8", "#EXT-X-STREAM-INF:", `#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"`+
					"\n"+`#EXT-X-STREAM-INF:CLOSED-CAPTIONS="cc",`)
			}
			r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			if got := slices.Contains(rules(r.Findings), "closed-captions"); got != c.fires {
				t.Errorf("closed-captions fired: %v, want %v; findings: %v", got, c.fires, r.Findings)
			}
		})
	}
}

// TestCorrectIFramePlaylistPasses checks the I-frame rules accept a correct
// I-frame playlist (so they can tell right from wrong).
func TestCorrectIFramePlaylistPasses(t *testing.T) {
	t.Parallel()
	dir := ffmpegHLS(t)
	writeIFrames(t, dir, 5, func(key bool) bool { return key })
	r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
	if r.IFrames != 1 {
		t.Errorf("checked %d I-frame playlists, want 1", r.IFrames)
	}
	for _, f := range r.Findings {
		switch f.Rule.ID {
		case "i-frame-playlists", "i-frame-is-idr", "byte-range", "version", "http-ok", "codecs-match":
			t.Errorf("a correct I-frame playlist got %v", f)
		}
	}
}

// ffmpegAudioGroupHLS writes a 4 s video through FFmpeg's HLS muxer the
// way hlsd publishes audio: two video-only variants (v0/ at 320x180, v1/ at
// 160x90) whose EXT-X-STREAM-INF say AUDIO="group_aud", and the AAC audio
// alone in v2/, that group's one rendition (DEFAULT=YES). The tone stops at
// 3.95 s so that the audio is cut into as many segments as the video: at
// 4 s, AAC's priming samples spill into a third segment of 23 ms.
func ffmpegAudioGroupHLS(t *testing.T) string {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine=duration=3.95",
		"-t", "4", "-map", "0:v", "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
		"-g", "50", "-s:v:1", "160x90", "-c:a", "aac",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8",
		"-var_stream_map", "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud,default:yes",
		"-hls_segment_filename", filepath.Join(dir, "v%v", "seg_%03d.ts"), filepath.Join(dir, "v%v", "index.m3u8")}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return dir
}

// TestFFmpegHLSMuxerAudioGroup checks FFmpeg's output with an audio group:
// CODECS there is the union of each variant's video and the group's audio,
// the audio playlist is as sound as the video ones, and the audio starts
// and ends with the video. It falls short exactly where FFmpeg's muxed
// output does (TestFFmpegHLSMuxerFallsShort): its BANDWIDTH is an estimate
// below even the video's own peak.
func TestFFmpegHLSMuxerAudioGroup(t *testing.T) {
	t.Parallel()
	dir := ffmpegAudioGroupHLS(t)
	master, _ := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	for _, s := range []string{`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud",NAME="audio_2",DEFAULT=YES,URI="v2/index.m3u8"`,
		`CODECS="avc1.64000c,mp4a.40.2",AUDIO="group_aud"`} {
		if !strings.Contains(string(master), s) {
			t.Fatalf("FFmpeg's master lacks %s:\n%s", s, master)
		}
	}
	r := check(t, serve(t, dir, false)+"/master.m3u8", conformance.Options{TargetDuration: 2})
	want := []string{"audio-channels", "average-bandwidth", "frame-rate", "gzip-playlists", "i-frame-playlists", "independent-segments", "peak-bandwidth", "video-range-present"}
	if got := rules(r.Findings); !slices.Equal(got, want) {
		t.Errorf("rules broken by FFmpeg's HLS muxer output with an audio group:\n got %v\nwant %v", got, want)
	}
	if r.Variants != 2 || r.Renditions != 1 || r.Segments != 6 {
		t.Errorf("checked %d variants, %d renditions, %d segments; want 2, 1, 6", r.Variants, r.Renditions, r.Segments)
	}
}

// segmentBits reads a media playlist of dir: each segment's size in bits
// and its EXTINF.
func segmentBits(t *testing.T, dir, playlist string) (bits, durs []float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, playlist))
	if err != nil {
		t.Fatal(err)
	}
	var dur float64
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			fmt.Sscan(strings.TrimSuffix(line[len("#EXTINF:"):], ","), &dur)
		case line != "" && !strings.HasPrefix(line, "#"):
			st, err := os.Stat(filepath.Join(dir, filepath.Dir(playlist), line))
			if err != nil {
				t.Fatal(err)
			}
			bits, durs = append(bits, float64(st.Size())*8), append(durs, dur)
		}
	}
	return bits, durs
}

// rates are a variant's bit rates: its video's own and, with audio, the
// video and audio together.
type rates struct{ videoPeak, videoAvg, peak, avg float64 }

// repairAudioGroup fixes what FFmpeg gets wrong in ffmpegAudioGroupHLS
// output but for the I-frame playlists: EXT-X-INDEPENDENT-SEGMENTS in every
// playlist, FRAME-RATE, CHANNELS, and BANDWIDTH and AVERAGE-BANDWIDTH as bw picks
// them from the rates measured here from the files (the audio is cut into
// as many segments as the video).
func repairAudioGroup(t *testing.T, dir string, bw func(*testing.T, rates) (bandwidth, average int)) {
	t.Helper()
	abits, adurs := segmentBits(t, dir, "v2/index.m3u8")
	var apeak float64
	for j := range abits {
		apeak = max(apeak, abits[j]/adurs[j])
	}
	b, _ := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	lines := strings.Split(strings.Replace(string(b), "#EXTM3U\n", "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n", 1), "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "#EXT-X-MEDIA:TYPE=AUDIO") && !strings.Contains(line, "CHANNELS=") {
			lines[i] = line + `,CHANNELS="2"`
		}
		if !strings.HasPrefix(line, "#EXT-X-STREAM-INF:") {
			continue
		}
		vbits, vdurs := segmentBits(t, dir, lines[i+1])
		if len(vbits) != len(abits) {
			t.Fatalf("%s has %d segments, the audio %d", lines[i+1], len(vbits), len(abits))
		}
		var r rates
		var total, dur float64
		for j := range vbits {
			r.videoPeak = max(r.videoPeak, vbits[j]/vdurs[j])
			r.videoAvg += vbits[j]
			total += vbits[j] + abits[j]
			dur += vdurs[j]
		}
		r.videoAvg, r.avg = r.videoAvg/dur, total/dur
		r.peak = r.videoPeak + apeak // the sum of the peaks (RFC 8216 4.3.4.2)
		bandwidth, average := bw(t, r)
		line = regexp.MustCompile(`BANDWIDTH=\d+`).ReplaceAllString(line, fmt.Sprintf("BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d", bandwidth, average))
		lines[i] = line + ",FRAME-RATE=25.000"
	}
	testutil.WriteFile(t, dir, "master.m3u8", []byte(strings.Join(lines, "\n")))
	for _, v := range []string{"v0", "v1", "v2"} {
		edit(t, dir, filepath.Join(v, "index.m3u8"), "#EXTM3U\n", "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	}
}

// correctRates claims what rates measured, rounded up.
func correctRates(_ *testing.T, r rates) (int, int) { return int(r.peak) + 1, int(r.avg) + 1 }

// TestAudioGroupRulesFire repairs FFmpeg's audio group output (it then
// breaks only i-frame-playlists), and breaks it one way at a time. The
// EXT-X-MEDIA rules that need no media are tested in TestRenditionTags.
func TestAudioGroupRulesFire(t *testing.T) {
	t.Parallel()
	base := ffmpegAudioGroupHLS(t)
	cases := []struct {
		name   string
		bw     func(*testing.T, rates) (int, int) // nil: correctRates
		break_ func(t *testing.T, dir string)
		want   string // "": nothing but i-frame-playlists
	}{
		{name: "repaired"},
		{name: "CODECS without the group's audio", want: "codecs-match", break_: func(t *testing.T, dir string) {
			edit(t, dir, "master.m3u8", `CODECS="avc1.64000c,mp4a.40.2"`, `CODECS="avc1.64000c"`)
		}},
		{name: "BANDWIDTH of the video alone", want: "peak-bandwidth", bw: func(t *testing.T, r rates) (int, int) {
			if r.videoPeak+1 >= r.peak {
				t.Fatalf("the audio adds nothing to the peak: %+v", r)
			}
			return int(r.videoPeak) + 1, int(r.avg) + 1
		}},
		{name: "AVERAGE-BANDWIDTH of the video alone", want: "average-bandwidth", bw: func(t *testing.T, r rates) (int, int) {
			if r.avg-r.videoAvg <= 0.1*r.avg {
				t.Fatalf("the audio adds under 10%% to the average: %+v", r)
			}
			return int(r.peak) + 1, int(r.videoAvg)
		}},
		{name: "audio rendition without CHANNELS", want: "audio-channels", break_: func(t *testing.T, dir string) {
			edit(t, dir, "master.m3u8", `,CHANNELS="2"`, "")
		}},
		{name: "AUDIO names a missing group", want: "rendition-groups", break_: func(t *testing.T, dir string) {
			edit(t, dir, "master.m3u8", `AUDIO="group_aud"`, `AUDIO="aud"`)
		}},
		{name: "audio starting 1 s late", want: "av-aligned", break_: func(t *testing.T, dir string) {
			segs, _ := filepath.Glob(filepath.Join(dir, "v2", "seg_*.ts"))
			for _, p := range segs {
				out, err := exec.Command("ffmpeg", "-v", "error", "-itsoffset", "1", "-i", p, "-c", "copy", "-copyts",
					"-muxdelay", "0", "-muxpreload", "0", "-f", "mpegts", p+".late").CombinedOutput()
				if err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, out)
				}
				if err := os.Rename(p+".late", p); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			bw := c.bw
			if bw == nil {
				bw = correctRates
			}
			repairAudioGroup(t, dir, bw)
			if c.break_ != nil {
				c.break_(t, dir)
			}
			r := check(t, serve(t, dir, true)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			got := rules(r.Findings)
			if c.want == "" {
				if !slices.Equal(got, []string{"i-frame-playlists", "video-range-present"}) {
					t.Errorf("rules broken by the repaired audio group output: %v, want only i-frame-playlists and video-range-present", got)
				}
				return
			}
			if !slices.Contains(got, c.want) {
				t.Errorf("rule %s did not fire; findings: %v", c.want, got)
			}
		})
	}
}
