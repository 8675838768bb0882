package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/grafov/m3u8"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// TestRealWorldSources uploads the kinds of files people really have — odd
// sizes, portrait and rotated phone videos, variable and odd frame rates,
// full-range and 10-bit video, WebM, no audio, only audio, 5.1, several audio
// tracks, very short clips, timestamps far from zero or wrapping — to one
// server and holds each published stream to the same rules, plus what is
// particular to the case.
func TestRealWorldSources(t *testing.T) {
	t.Parallel()
	base := startAll(t)

	video := func(size, rate string) []string {
		return []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=" + rate}
	}
	tone := func(freq int) []string {
		return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000", freq)}
	}
	x264 := []string{"-c:v", "libx264", "-preset", "ultrafast"}
	aac := []string{"-c:a", "aac"}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	// Most clips last 7 s: one full 6 s segment and a short last one.
	secs := func(d float64) []string { return []string{"-t", strconv.FormatFloat(d, 'f', -1, 64)} }
	av := hlsWant{duration: 7, video: true, audio: true}

	for _, tc := range []sourceCase{
		{
			// x264 needs even sizes for 4:2:0, so the odd-sized source is 4:4:4.
			name: "odd dimensions 853x479", file: "odd.mp4",
			args: join(video("853x479", "25"), tone(440), secs(7), x264, []string{"-pix_fmt", "yuv444p"}, aac),
			want: av,
			check: func(t *testing.T, _ string, p publishedHLS) {
				// Between the 432p and 540p rungs: its own size on top.
				wantLadder(t, p, "852x478", "768x432", "640x360", "416x234")
				for _, r := range p.renditions {
					if r.width%2 != 0 || r.height%2 != 0 || r.width > 853 || r.height > 479 {
						t.Errorf("%s is %dx%d: want even sizes, no larger than 853x479", r.variant.URI, r.width, r.height)
					}
					if got, want := float64(r.width)/float64(r.height), 853.0/479; math.Abs(got-want)/want > 0.01 {
						t.Errorf("%s is %dx%d, aspect %.4f; source %.4f", r.variant.URI, r.width, r.height, got, want)
					}
				}
			},
		},
		{
			name: "portrait 360x640", file: "portrait.mp4",
			args: join(video("360x640", "30"), tone(440), secs(7), x264, aac),
			want: av,
			check: func(t *testing.T, _ string, p publishedHLS) {
				wantLadder(t, p, "360x640", "234x416")
			},
		},
		{
			// A phone video: coded landscape with a display matrix turning it
			// by 90°. The coded picture is black with a white top-left quadrant,
			// so where that quadrant lands tells exactly which way it was turned.
			name: "rotation display matrix",
			make: func(t *testing.T) string {
				coded := generate(t, "coded.mp4", join(
					[]string{"-f", "lavfi", "-i", "color=black:size=640x360:rate=25"}, tone(440),
					[]string{"-vf", "drawbox=x=0:y=0:w=320:h=180:color=white:t=fill"}, secs(7), x264, aac)...)
				// ffmpeg 5.1 writes the display matrix for rotate= only when stream copying.
				return generate(t, "rotated.mp4", "-i", coded, "-map", "0", "-c", "copy", "-metadata:s:v", "rotate=90")
			},
			want: av,
			check: func(t *testing.T, src string, p publishedHLS) {
				// ffprobe's rotation is counterclockwise (av_display_rotation_get).
				var expect string
				switch rot := sourceRotation(t, src); rot {
				case 90:
					expect = "bottom-left"
				case -90, 270:
					expect = "top-right"
				default:
					t.Fatalf("test source has rotation %g, want a 90° display matrix", rot)
				}
				wantLadder(t, p, "360x640", "234x416")
				for _, r := range p.renditions {
					if r.width > r.height {
						t.Errorf("%s RESOLUTION %dx%d, want portrait", r.variant.URI, r.width, r.height)
						continue
					}
					q := quadrantLuma(t, r.url, r.width, r.height, "gray")
					for name, mean := range q {
						if white := name == expect; (white && mean < 200) || (!white && mean > 55) {
							t.Errorf("%s: mean luma by quadrant %v; want only the %s one white (upright picture)", r.variant.URI, q, expect)
							break
						}
					}
				}
			},
		},
		{
			// 30 fps for 2 s, then 10 fps, with jitter throughout: timestamps
			// as a phone writes them, kept as they are (passthrough).
			name: "variable frame rate", file: "vfr.mp4",
			args: join(video("320x180", "30"), tone(440),
				[]string{"-vf", "setpts='(if(lt(N,60),N/30,2+(N-60)/10)+0.008*mod(N,4))/TB'", "-fps_mode", "passthrough"},
				secs(7), x264, aac),
			want: av,
			check: func(t *testing.T, src string, p publishedHLS) {
				if d := frameIntervals(t, src); d[len(d)-1]-d[0] < 0.05 {
					t.Fatalf("test source is not variable frame rate: intervals %.4f..%.4f s", d[0], d[len(d)-1])
				}
				for _, r := range p.renditions {
					if r.variant.FrameRate <= 0 {
						t.Errorf("%s has no FRAME-RATE", r.variant.URI)
						continue
					}
					d := frameIntervals(t, r.url)
					want := 1 / r.variant.FrameRate
					if math.Abs(d[0]-want) > 0.0015 || math.Abs(d[len(d)-1]-want) > 0.0015 {
						t.Errorf("%s: frame intervals %.4f..%.4f s, want constant %.4f (FRAME-RATE %.3f)", r.variant.URI, d[0], d[len(d)-1], want, r.variant.FrameRate)
					}
				}
			},
		},
		oddRate("29.97 fps", "30000/1001", 29.970),
		oddRate("12.5 fps", "25/2", 12.5),
		oddRate("10 fps", "10", 10),
		{
			// Full range (JPEG levels) as phones and webcams write it: the
			// output must be limited range, converted, not merely relabelled.
			name: "full-range yuvj420p",
			make: func(t *testing.T) string {
				src := generate(t, "fullrange.mp4", join(
					[]string{"-f", "lavfi", "-i", "color=black:size=320x180:rate=25"}, tone(440),
					[]string{"-vf", "drawbox=x=0:y=0:w=160:h=90:color=white:t=fill", "-pix_fmt", "yuvj420p"}, secs(7), x264, aac)...)
				if s := probeStreams(t, src); s[0].PixFmt != "yuvj420p" || s[0].ColorRange != "pc" {
					t.Fatalf("test source is %s/%s, want yuvj420p/pc", s[0].PixFmt, s[0].ColorRange)
				}
				if q := quadrantLuma(t, src, 320, 180, "yuvj420p"); q["top-left"] < 250 || q["bottom-right"] > 5 {
					t.Fatalf("test source luma by quadrant %v, want full range 255/0", q)
				}
				return src
			},
			want: av,
			check: func(t *testing.T, _ string, p publishedHLS) {
				for _, r := range p.renditions {
					for i, sp := range r.probes {
						if v := sp.video(); v == nil || v.PixFmt != "yuv420p" || v.ColorRange != "tv" {
							t.Errorf("%s segment %d: video %+v, want yuv420p with color_range tv", r.variant.URI, i, v)
						}
					}
					// Raw Y samples: white 235 and black 16 in limited range.
					q := quadrantLuma(t, r.url, r.width, r.height, "yuv420p")
					if math.Abs(q["top-left"]-235) > 5 || math.Abs(q["bottom-right"]-16) > 5 {
						t.Errorf("%s: raw luma by quadrant %v, want white 235 and black 16", r.variant.URI, q)
					}
				}
			},
		},
		{
			name: "10-bit HEVC in MKV", file: "hevc10.mkv",
			args: join(video("320x180", "25"), tone(440), secs(7),
				[]string{"-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-x265-params", "log-level=error"}, aac),
			want: av,
			check: func(t *testing.T, src string, _ publishedHLS) {
				if s := probeStreams(t, src); s[0].CodecName != "hevc" || s[0].PixFmt != "yuv420p10le" {
					t.Fatalf("test source is %s %s, want 10-bit HEVC", s[0].CodecName, s[0].PixFmt)
				}
				// The helper checks H.264 High/Main 8-bit yuv420p in CODECS and bitstream.
			},
		},
		{
			name: "VP8 and Vorbis in WebM", file: "vp8.webm",
			args: join(video("320x180", "25"), tone(440), secs(7),
				[]string{"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k", "-c:a", "libvorbis"}),
			want: av,
		},
		{
			name: "VP9 and Opus in WebM", file: "vp9.webm",
			args: join(video("320x180", "25"), tone(440), secs(7),
				[]string{"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "400k", "-c:a", "libopus"}),
			want: av,
		},
		{
			name: "no audio track", file: "silent.mp4",
			args: join(video("320x180", "25"), secs(7), x264),
			want: hlsWant{duration: 7, video: true},
		},
		{
			name: "audio only MP3", file: "song.mp3",
			args: join(tone(440), secs(7), []string{"-c:a", "libmp3lame", "-b:a", "128k"}),
			want: hlsWant{duration: 7, audio: true},
		},
		{
			name: "5.1 audio", file: "surround.mp4",
			args: join(video("320x180", "25"), tone(440), secs(7),
				[]string{"-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"}, x264, aac),
			want: av,
			check: func(t *testing.T, src string, _ publishedHLS) {
				if s := probeStreams(t, src); len(s) < 2 || s[1].Channels != 6 {
					t.Fatalf("test source streams %+v, want 6-channel audio", s)
				}
				// The helper checks every segment's audio is stereo.
			},
		},
		{
			// A film's tracks: English (a tone), French (silence with more
			// channels, which ffmpeg's own stream choice would prefer), and
			// an English audio description. Each becomes a rendition of
			// the audio group, the first the default.
			name: "several audio tracks", file: "tracks.mkv",
			args: join(video("320x180", "25"), tone(1000),
				[]string{"-f", "lavfi", "-i", "anullsrc=channel_layout=5.1:sample_rate=48000"}, tone(500),
				[]string{"-map", "0", "-map", "1", "-map", "2", "-map", "3",
					"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre", "-metadata:s:a:2", "language=eng",
					"-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "visual_impaired"},
				secs(7), x264, aac),
			want: av,
			check: func(t *testing.T, src string, p publishedHLS) {
				if n := len(probeStreams(t, src)); n != 4 {
					t.Fatalf("test source has %d streams, want video and three audio tracks", n)
				}
				if v := maxVolume(t, src, "0:a:0"); v < -30 {
					t.Fatalf("test source's first track peaks at %g dB, want a tone", v)
				}
				if v := maxVolume(t, p.audio.url, "0:a:0"); v < -30 {
					t.Errorf("%s audio peaks at %g dB: not the first (tone) track", p.audio.variant.URI, v)
				}
				want := `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="fr",NAME="Français",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio-2/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",LANGUAGE="en",NAME="English (audio description)",DEFAULT=NO,AUTOSELECT=YES,CHARACTERISTICS="public.accessibility.describes-video",CHANNELS="2",URI="audio-3/index.m3u8"
`
				if !strings.Contains(string(p.body), want) {
					t.Errorf("master lacks the audio group\n%s\ngot\n%s", want, p.body)
				}
				dir := p.master[:strings.LastIndex(p.master, "/")+1]
				for track, quiet := range map[string]bool{"audio-2": true, "audio-3": false} {
					v := maxVolume(t, dir+track+"/index.m3u8", "0:a:0")
					if quiet != (v < -60) {
						t.Errorf("%s peaks at %g dB: not the source's track (silence: %v)", track, v, quiet)
					}
				}
			},
		},
		{
			// A broadcast recording's CEA-608 closed captions (A/53 cc_data
			// in every frame's SEI): kept in every rendition, declared with
			// a CLOSED-CAPTIONS group, popping on when the source's do.
			name: "CEA-608 captions",
			make: func(t *testing.T) string { return testutil.CaptionedH264(t, "captions.mp4", 7, "HELLO", 4) },
			want: hlsWant{duration: 7, video: true, captions: true},
			check: func(t *testing.T, src string, p publishedHLS) {
				want := `#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="Closed captions",DEFAULT=YES,AUTOSELECT=YES,INSTREAM-ID="CC1"`
				if !strings.Contains(string(p.body), want) {
					t.Errorf("master lacks %s:\n%s", want, p.body)
				}
				for _, r := range p.renditions {
					// In the second chunk (from 2 s), across a join.
					if got := testutil.CaptionText(t, r.url); !strings.Contains(got, "HELLO") {
						t.Errorf("%s: captions %q, want HELLO", r.variant.URI, got)
					}
				}
			},
		},
		{
			// Captions in an interlaced source: deinterlaced to a frame per
			// field, every cc byte pair would come twice (garbled text), so
			// they are left out, CLOSED-CAPTIONS=NONE, and the facts say so.
			name: "CEA-608 captions, interlaced",
			make: func(t *testing.T) string {
				return testutil.CaptionedH264(t, "captions-i.mp4", 7, "HELLO", 4, "-flags", "+ildct+ilme", "-x264-params", "interlaced=1:tff=1")
			},
			want: hlsWant{duration: 7, video: true},
			check: func(t *testing.T, _ string, p publishedHLS) {
				m := masterURLRe.FindStringSubmatch(p.master)
				if m == nil {
					t.Fatalf("master URL %s", p.master)
				}
				var v api.Video
				b, _ := get(t, p.master[:strings.Index(p.master, "/streams/")]+"/api/videos/"+m[1])
				if err := json.Unmarshal(b, &v); err != nil || v.Source == nil || v.Source.Captions || len(v.Source.Notes) != 1 ||
					!strings.Contains(v.Source.Notes[0], "closed captions were left out") || !strings.Contains(v.Source.Notes[0], "(30 to 60 frames per second)") {
					t.Errorf("video facts %s: want captions false and a note that they were left out (30 to 60 fps)", b)
				}
				for _, r := range p.renditions {
					if got := testutil.CaptionText(t, r.url); strings.Contains(got, "HE") {
						t.Errorf("%s: captions %q kept at twice their rate", r.variant.URI, got)
					}
				}
			},
		},
		{
			// A broadcast or camcorder recording: 1080i50 MPEG-2 with MP2
			// audio in a transport stream, top field first.
			name: "1080i50 MPEG-2 broadcast",
			make: func(t *testing.T) string {
				return interlacedSource(t, "i1080.ts", "1920x1080", "50", "interleave_top", "tff", "8M", "tt")
			},
			want: hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) {
				wantLadder(t, p, "1920x1080", "1280x720", "960x540", "768x432", "640x360", "416x234")
				wantDeinterlaced(t, p, 50)
			},
		},
		{
			// NTSC: 480i59.94, bottom field first, 16:9 anamorphic.
			name: "480i59.94 MPEG-2",
			make: func(t *testing.T) string {
				return interlacedSource(t, "i480.ts", "720x480", "60000/1001", "interleave_bottom", "bff", "4M", "bb", "-aspect", "16:9")
			},
			want: hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) {
				wantLadder(t, p, "852x480", "768x432", "640x360", "416x234")
				wantDeinterlaced(t, p, 59.94)
			},
		},
		{
			// Interlaced video re-encoded without the flags: found by the
			// planner (ffmpeg.DetectCombing) and deinterlaced all the same.
			name: "interlaced, flagged progressive", file: "woven.mp4",
			args: join(video("640x360", "50"), tone(440), secs(3), []string{"-vf", "tinterlace=mode=interleave_top"}, x264, aac),
			want: hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, src string, p publishedHLS) {
				var f struct {
					Streams []struct {
						FieldOrder string `json:"field_order"`
					} `json:"streams"`
				}
				ffprobeJSON(t, &f, "-select_streams", "v:0", "-show_entries", "stream=field_order", src)
				if len(f.Streams) == 0 || f.Streams[0].FieldOrder != "progressive" {
					t.Fatalf("test source streams %+v, want flagged progressive", f.Streams)
				}
				wantLadder(t, p, "640x360", "416x234")
				// The field rate shows it was deinterlaced; idet's share is
				// not asked here: at this size testsrc2 fools idet even
				// rendered progressive (136 of 150 frames "interlaced").
				// hlsd check's progressive rule (checkPublishedHLS), which
				// also weighs how the fields move, holds.
				wantFieldRate(t, p, 50)
			},
		},
		{
			// What an iPhone records: HEVC 10-bit HLG in a .mov with a 90°
			// display matrix.
			name: "iPhone HLG portrait",
			make: func(t *testing.T) string {
				coded := hdrSource(t, "hlg-coded.mov", "arib-std-b67")
				// ffmpeg 5.1 writes the display matrix only when stream copying.
				return generate(t, "hlg.mov", "-i", coded, "-map", "0", "-c", "copy", "-metadata:s:v", "rotate=90")
			},
			want: hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, src string, p publishedHLS) {
				if rot := sourceRotation(t, src); rot != 90 && rot != -90 && rot != 270 {
					t.Fatalf("test source has rotation %g, want a 90° display matrix", rot)
				}
				wantLadder(t, p, "720x1280", "540x960", "432x768", "360x640", "234x416")
				wantBT709(t, p)
				wantToneMappedPoster(t, src, p)
			},
		},
		{
			name: "HDR10 PQ",
			make: func(t *testing.T) string { return hdrSource(t, "pq.mp4", "smpte2084") },
			want: hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, src string, p publishedHLS) {
				wantLadder(t, p, "1280x720", "960x540", "768x432", "640x360", "416x234")
				wantBT709(t, p)
				wantToneMappedPoster(t, src, p)
			},
		},
		{
			name: "webcam 640x360", file: "webcam.mp4",
			args:  join(video("640x360", "30"), tone(440), secs(3), x264, aac),
			want:  hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) { wantLadder(t, p, "640x360", "416x234") },
		},
		{
			name: "web video 480x270", file: "web.mp4",
			args:  join(video("480x270", "25"), tone(440), secs(3), x264, aac),
			want:  hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) { wantLadder(t, p, "480x270", "416x234") },
		},
		{
			name: "camera 768x432", file: "camera.mp4",
			args:  join(video("768x432", "25"), tone(440), secs(3), x264, aac),
			want:  hlsWant{duration: 3, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) { wantLadder(t, p, "768x432", "640x360", "416x234") },
		},
		{
			// 67 s: chunks of 6, 30, 30 and 1 s, each its own ffmpeg muxer,
			// the first encoded alongside the others.
			name: "four chunks", file: "chunks.mp4",
			args: join(video("320x180", "25"), tone(440), secs(67), x264, aac),
			want: hlsWant{duration: 67, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) {
				id := masterURLRe.FindStringSubmatch(p.master)[1]
				b, _ := get(t, p.master[:strings.Index(p.master, "/streams/")]+"/api/videos/"+id)
				var v struct{ Chunks int }
				if err := json.Unmarshal(b, &v); err != nil || v.Chunks < 4 {
					t.Errorf("the video was cut into %d chunks (%v), want 4 or more: %s", v.Chunks, err, b)
				}
				// The decode at -v warning and the continuity-counters rule
				// (checkPublishedHLS) see every join.
			},
		},
		{
			name: "shorter than one segment", file: "short.mp4",
			args: join(video("320x180", "25"), tone(440), secs(2.5), x264, aac),
			want: hlsWant{duration: 2.5, video: true, audio: true},
			check: func(t *testing.T, _ string, p publishedHLS) {
				for _, r := range p.renditions {
					if len(r.segments) != 1 {
						t.Errorf("%s has %d segments, want 1", r.variant.URI, len(r.segments))
					}
				}
			},
		},
		{
			name: "start PTS at 10 hours", file: "offset.ts",
			args: join(video("320x180", "25"), tone(440), secs(7), x264, aac, []string{"-output_ts_offset", "36000", "-f", "mpegts"}),
			want: av,
			check: func(t *testing.T, src string, _ publishedHLS) {
				if st := startTime(t, src); st < 36000 {
					t.Fatalf("test source starts at %g s, want 36000+", st)
				}
				// The helper checks every rendition starts near 0.
			},
		},
		{
			// 95440 s is 3.7 s short of 2^33 ticks of 90 kHz.
			name: "PTS wrap", file: "wrap.ts",
			args: join(video("320x180", "25"), tone(440), secs(7), x264, aac, []string{"-output_ts_offset", "95440", "-f", "mpegts"}),
			want: av,
			check: func(t *testing.T, src string, _ publishedHLS) {
				out, err := exec.Command("ffprobe", "-v", "error", "-correct_ts_overflow", "0", "-select_streams", "v",
					"-show_entries", "packet=pts", "-of", "csv=p=0", src).Output()
				if err != nil {
					t.Fatal(err)
				}
				wraps := 0
				var prev int64 = -1
				for _, l := range strings.Fields(strings.ReplaceAll(string(out), ",", "")) {
					pts, _ := strconv.ParseInt(l, 10, 64)
					if prev >= 0 && prev-pts > 1<<32 {
						wraps++
					}
					prev = pts
				}
				if wraps != 1 {
					t.Fatalf("test source's raw video PTS wrap %d times, want once", wraps)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var src string
			if tc.make != nil {
				src = tc.make(t)
			} else {
				src = generate(t, tc.file, tc.args...)
			}
			status, body, _ := upload(t, base+"/upload", src)
			master := strings.TrimSpace(body)
			if status != http.StatusOK || masterURLRe.FindStringSubmatch(master) == nil {
				t.Fatalf("POST /upload = %d %q", status, body)
			}
			p := checkPublishedHLS(t, master, tc.want)
			if tc.check != nil {
				tc.check(t, src, p)
			}
		})
	}
}

// interlacedSource makes 3 s of interlaced MPEG-2 with MP2 audio in a
// transport stream: fields from a progressive pattern at twice the frame
// rate, woven (tinterlace mode) and flagged (setfield), checked to probe
// as fieldOrder.
func interlacedSource(t *testing.T, name, size, fieldRate, weave, field, bitrate, fieldOrder string, extra ...string) string {
	t.Helper()
	args := []string{"-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=" + fieldRate, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "3", "-vf", "tinterlace=mode=" + weave + ",setfield=" + field, "-c:v", "mpeg2video", "-b:v", bitrate, "-flags", "+ildct+ilme",
		"-top", map[string]string{"tff": "1", "bff": "0"}[field]}
	args = append(args, extra...)
	src := generate(t, name, append(args, "-c:a", "mp2", "-b:a", "192k", "-f", "mpegts")...)
	var f struct {
		Streams []struct {
			FieldOrder string `json:"field_order"`
		} `json:"streams"`
	}
	ffprobeJSON(t, &f, "-select_streams", "v:0", "-show_entries", "stream=field_order", src)
	if len(f.Streams) == 0 || f.Streams[0].FieldOrder != fieldOrder {
		t.Fatalf("test source streams %+v, want field order %s", f.Streams, fieldOrder)
	}
	return src
}

// hdrSource makes 3 s of HEVC 10-bit BT.2020 video with the given HDR
// transfer (and AAC): a still SDR picture (bars, and a patch of skin tone
// on mid-grey) converted to HDR with SDR white at 203 nits (BT.2408), so
// a right tone mapping gives back the SDR picture (hdrReference).
func hdrSource(t *testing.T, name, transfer string, x265Params ...string) string {
	t.Helper()
	src := generate(t, name, "-f", "lavfi", "-i", "smptehdbars=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "3", "-vf", hdrPicture+",zscale=tin=709:t="+transfer+":pin=709:p=2020:min=709:m=2020_ncl:rin=limited:r=limited:npl=203,format=yuv420p10le",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", strings.Join(append([]string{"log-level=error:colorprim=bt2020:transfer=" + transfer + ":colormatrix=bt2020nc"}, x265Params...), ":"),
		"-tag:v", "hvc1", "-c:a", "aac")
	var f struct {
		Streams []struct {
			Transfer string `json:"color_transfer"`
			PixFmt   string `json:"pix_fmt"`
		} `json:"streams"`
	}
	ffprobeJSON(t, &f, "-select_streams", "v:0", "-show_entries", "stream=color_transfer,pix_fmt", src)
	if len(f.Streams) == 0 || f.Streams[0].Transfer != transfer || f.Streams[0].PixFmt != "yuv420p10le" {
		t.Fatalf("test source streams %+v, want 10-bit %s", f.Streams, transfer)
	}
	return src
}

// hdrPicture draws the skin-tone patch on mid-grey over the bars.
const hdrPicture = "drawbox=x=0:y=500:w=1280:h=220:color=0x767676:t=fill,drawbox=x=520:y=540:w=240:h=140:color=0xE0AC8A:t=fill"

// wantLadder checks the video renditions' sizes, largest first.
func wantLadder(t *testing.T, p publishedHLS, sizes ...string) {
	t.Helper()
	var got []string
	for _, r := range p.renditions {
		got = append(got, fmt.Sprintf("%dx%d", r.width, r.height))
	}
	sort.Slice(got, func(i, j int) bool {
		var wi, hi, wj, hj int
		fmt.Sscanf(got[i], "%dx%d", &wi, &hi)
		fmt.Sscanf(got[j], "%dx%d", &wj, &hj)
		return wi*hi > wj*hj
	})
	if strings.Join(got, " ") != strings.Join(sizes, " ") {
		t.Errorf("video renditions %v, want %v", got, sizes)
	}
}

// wantFieldRate checks every rendition runs at the field rate.
func wantFieldRate(t *testing.T, p publishedHLS, fps float64) {
	t.Helper()
	for _, r := range p.renditions {
		if math.Abs(r.variant.FrameRate-fps) > 0.01 {
			t.Errorf("%s FRAME-RATE %g, want the field rate %g", r.variant.URI, r.variant.FrameRate, fps)
		}
	}
}

// wantDeinterlaced checks every rendition runs at the field rate and the
// largest is progressive by ffmpeg's idet (at least 95% of its frames).
func wantDeinterlaced(t *testing.T, p publishedHLS, fps float64) {
	t.Helper()
	wantFieldRate(t, p, fps)
	top := p.renditions[0]
	for _, r := range p.renditions {
		if r.width*r.height > top.width*top.height {
			top = r
		}
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", top.url, "-map", "0:v:0", "-vf", "idet", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`Multi frame detection: TFF:\s*(\d+)\s+BFF:\s*(\d+)\s+Progressive:\s*(\d+)\s+Undetermined:\s*(\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("idet on %s: %v\n%s", top.url, err, out)
	}
	var n [4]float64
	for i := range n {
		n[i], _ = strconv.ParseFloat(string(m[i+1]), 64)
	}
	share := n[2] / (n[0] + n[1] + n[2] + n[3])
	t.Logf("%s: idet TFF %g BFF %g progressive %g undetermined %g: %.1f%% progressive", top.variant.URI, n[0], n[1], n[2], n[3], 100*share)
	if share < 0.95 {
		t.Errorf("%s: idet finds %.1f%% of frames progressive, want 95%% or more", top.variant.URI, 100*share)
	}
}

// wantBT709 checks every video rendition is tagged BT.709 throughout:
// primaries, transfer, matrix and limited range.
func wantBT709(t *testing.T, p publishedHLS) {
	t.Helper()
	for _, r := range p.renditions {
		var f struct {
			Streams []struct {
				Primaries string `json:"color_primaries"`
				Transfer  string `json:"color_transfer"`
				Matrix    string `json:"color_space"`
				Range     string `json:"color_range"`
				PixFmt    string `json:"pix_fmt"`
			} `json:"streams"`
		}
		ffprobeJSON(t, &f, "-select_streams", "v:0", "-show_entries", "stream=color_primaries,color_transfer,color_space,color_range,pix_fmt", r.segments[0])
		if len(f.Streams) == 0 {
			t.Fatalf("%s: no video stream", r.segments[0])
		}
		if s := f.Streams[0]; s.Primaries != "bt709" || s.Transfer != "bt709" || s.Matrix != "bt709" || s.Range != "tv" || s.PixFmt != "yuv420p" {
			t.Errorf("%s is %+v, want 8-bit BT.709 limited range", r.variant.URI, s)
		}
	}
}

// The poster of an HDR source against two references, as PSNR (dB):
// ffmpeg's own tone-mapped frame of the source (the same zscale and
// tonemap chain run as a plain ffmpeg command: the poster path must apply
// it), and the SDR picture the source was made from (mid-grey and skin must
// come back). A poster left in HDR signal values scores far below either.
const (
	posterVsFFmpegPSNR = 35.0
	posterVsSDRPSNR    = 25.0
)

func wantToneMappedPoster(t *testing.T, src string, p publishedHLS) {
	t.Helper()
	poster := p.master[:strings.LastIndex(p.master, "/")+1] + "poster.jpg"
	dir := t.TempDir()
	posterPNG := filepath.Join(dir, "poster.png")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", poster, "-frames:v", "1", posterPNG).CombinedOutput(); err != nil {
		t.Fatalf("decoding %s: %v\n%s", poster, err, out)
	}
	var f struct {
		Streams []struct{ Width, Height int } `json:"streams"`
	}
	ffprobeJSON(t, &f, "-show_entries", "stream=width,height", posterPNG)
	w, h := f.Streams[0].Width, f.Streams[0].Height
	scale := fmt.Sprintf("scale=%d:%d:flags=bicubic", w, h)
	ref := func(name, vf string, input ...string) string {
		out := filepath.Join(dir, name+".png")
		args := append(append([]string{"-v", "error", "-ss", "1"}, input...), "-frames:v", "1", "-vf", vf+","+scale, out)
		if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, b)
		}
		return out
	}
	ffmpegOwn := ref("ffmpeg", "zscale=t=linear:npl=203,format=gbrpf32le,zscale=p=709,tonemap=tonemap=mobius:param=0.8,zscale=t=709:m=709:r=limited,format=yuv420p", "-i", src)
	rotate := ""
	if h > w {
		rotate = ",transpose=cclock"
	}
	sdr := ref("sdr", hdrPicture+rotate, "-f", "lavfi", "-i", "smptehdbars=size=1280x720:rate=25")
	untouched := ref("untouched", "format=yuv420p", "-i", src)
	vsFFmpeg, vsSDR, untouchedVsSDR := psnr(t, posterPNG, ffmpegOwn), psnr(t, posterPNG, sdr), psnr(t, untouched, sdr)
	t.Logf("poster PSNR: %.1f dB against ffmpeg's tone-mapped frame, %.1f dB against the SDR original (the HDR frame untouched: %.1f dB)", vsFFmpeg, vsSDR, untouchedVsSDR)
	if vsFFmpeg < posterVsFFmpegPSNR || vsSDR < posterVsSDRPSNR {
		t.Errorf("poster PSNR %.1f dB against ffmpeg's tone-mapped frame (want %g or more), %.1f dB against the SDR original (want %g or more)",
			vsFFmpeg, posterVsFFmpegPSNR, vsSDR, posterVsSDRPSNR)
	}
	if untouchedVsSDR >= posterVsSDRPSNR {
		t.Errorf("the untouched HDR frame scores %.1f dB against the SDR original: the threshold tells nothing", untouchedVsSDR)
	}
}

// psnr is the PSNR (average over Y, U, V) of picture a against b, in dB.
func psnr(t *testing.T, a, b string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", a, "-i", b, "-lavfi", "[0:v]format=yuv444p[a];[1:v]format=yuv444p[b];[a][b]psnr", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`PSNR y:\S+ u:\S+ v:\S+ average:([0-9.]+|inf)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("psnr %s %s: %v\n%s", a, b, err, out)
	}
	if string(m[1]) == "inf" {
		return math.Inf(1)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// sourceCase is one kind of upload and what to check beyond the common rules.
type sourceCase struct {
	name string
	// file and args make the source with ffmpeg; make, if set, instead.
	file  string
	args  []string
	make  func(t *testing.T) string
	want  hlsWant
	check func(t *testing.T, src string, p publishedHLS)
}

// oddRate is a case whose source has frame rate rate (ffmpeg's notation);
// FRAME-RATE must say fps to three decimals and the output keep it exactly.
func oddRate(name, rate string, fps float64) sourceCase {
	exact := rate
	if !strings.Contains(exact, "/") {
		exact += "/1"
	}
	return sourceCase{
		name: name, file: "rate.mp4",
		args: []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=" + rate, "-f", "lavfi", "-i", "sine=sample_rate=48000",
			"-t", "7", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"},
		want: hlsWant{duration: 7, video: true, audio: true},
		check: func(t *testing.T, _ string, p publishedHLS) {
			attr := fmt.Sprintf("FRAME-RATE=%.3f", fps)
			if !strings.Contains(string(p.body), attr) {
				t.Errorf("master lacks %s:\n%s", attr, p.body)
			}
			for _, r := range p.renditions {
				if math.Abs(r.variant.FrameRate-fps) > 0.0005 {
					t.Errorf("%s FRAME-RATE %g, want %.3f", r.variant.URI, r.variant.FrameRate, fps)
				}
				for i, sp := range r.probes {
					if v := sp.video(); v == nil || v.RFrameRate != exact {
						t.Errorf("%s segment %d: video %+v, want frame rate %s", r.variant.URI, i, v, exact)
					}
				}
			}
		},
	}
}

// hlsWant is what a source should publish.
type hlsWant struct {
	duration     float64 // of the source, seconds
	video, audio bool
	captions     bool // CEA-608 closed captions kept (else CLOSED-CAPTIONS=NONE)
}

// publishedHLS is what checkPublishedHLS read, for case-specific checks.
type publishedHLS struct {
	master     string
	body       []byte // the master playlist
	renditions []publishedRendition
	// audio is the audio group's rendition of a video with sound (its
	// variants' segments then hold video only); nil otherwise.
	audio *publishedRendition
}

type publishedRendition struct {
	variant       *m3u8.Variant
	url           string // media playlist
	segments      []string
	init          string         // CMAF: the init segment (EXT-X-MAP)
	probes        []segmentProbe // one per segment
	width, height int            // from RESOLUTION; 0 for audio
}

type probeStream struct {
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Profile    string `json:"profile"`
	Level      int    `json:"level"`
	PixFmt     string `json:"pix_fmt"`
	ColorRange string `json:"color_range"`
	// ColorTransfer is read by probeStreams only.
	ColorTransfer string `json:"color_transfer"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	Channels      int    `json:"channels"`
	SampleRate    string `json:"sample_rate"`
	RFrameRate    string `json:"r_frame_rate"`
}

type segmentProbe struct {
	Streams []probeStream `json:"streams"`
	Packets []struct {
		CodecType string `json:"codec_type"`
		Flags     string `json:"flags"`
	} `json:"packets"`
}

func (s segmentProbe) video() *probeStream { return s.stream("video") }

func (s segmentProbe) stream(typ string) *probeStream {
	for i := range s.Streams {
		if s.Streams[i].CodecType == typ {
			return &s.Streams[i]
		}
	}
	return nil
}

var (
	videoCodecsRe = regexp.MustCompile(`^avc1\.(64|4d)00([0-9a-f]{2})(,mp4a\.40\.2)?$`)
	resolutionRe  = regexp.MustCompile(`^(\d+)x(\d+)$`)
	targetRe      = regexp.MustCompile(`(?m)^#EXT-X-TARGETDURATION:(\d+)$`)
)

// checkPublishedHLS holds a published stream to the rules every upload must
// meet, over HTTP as a player sees it: strict playlists, VOD tags, target
// duration, segments starting with a keyframe and holding exactly the
// expected H.264/AAC-LC tracks, renditions lasting as long as the source and
// starting at zero, and ffmpeg decoding everything without a complaint.
func checkPublishedHLS(t *testing.T, master string, want hlsWant) publishedHLS {
	t.Helper()
	p := publishedHLS{master: master}
	p.body, _ = get(t, master)
	pl, typ, err := m3u8.Decode(*bytes.NewBuffer(p.body), true)
	if err != nil || typ != m3u8.MASTER {
		t.Fatalf("master does not parse strictly: %v\n%s", err, p.body)
	}
	var variants []*m3u8.Variant
	for _, v := range pl.(*m3u8.MasterPlaylist).Variants {
		if !v.Iframe {
			variants = append(variants, v)
		}
	}
	if len(variants) == 0 || (!want.video && len(variants) != 1) {
		t.Fatalf("master has %d variants:\n%s", len(variants), p.body)
	}
	dir := master[:strings.LastIndex(master, "/")+1]
	// A video with sound: one audio rendition in a group (EXT-X-MEDIA) that
	// every variant names; it is checked like an audio-only variant.
	grouped := want.video && want.audio
	am := regexp.MustCompile(`(?m)^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",.*CHANNELS="2",URI="([^"]+)"$`).FindSubmatch(p.body)
	if grouped != (am != nil) {
		t.Fatalf("master with audio group %v, want %v:\n%s", am != nil, grouped, p.body)
	}
	type entry struct {
		v            *m3u8.Variant
		video, audio bool // what its segments hold
	}
	var entries []entry
	for _, v := range variants {
		if grouped && v.Audio != "audio" {
			t.Errorf("%s does not name the audio group", v.URI)
		}
		if want.video && v.Captions != map[bool]string{true: "cc", false: "NONE"}[want.captions] {
			t.Errorf("%s has CLOSED-CAPTIONS=%q; want the captions group if the source has captions, else NONE", v.URI, v.Captions)
		}
		entries = append(entries, entry{v, want.video, want.audio && !grouped})
	}
	if grouped {
		entries = append(entries, entry{&m3u8.Variant{URI: string(am[1]), VariantParams: m3u8.VariantParams{Bandwidth: 1, Codecs: "mp4a.40.2"}}, false, true})
	}
	for _, e := range entries {
		v := e.v
		r := publishedRendition{variant: v, url: dir + v.URI}
		if v.Bandwidth == 0 {
			t.Errorf("%s has no BANDWIDTH", v.URI)
		}
		var level int64
		if e.video {
			m := videoCodecsRe.FindStringSubmatch(v.Codecs)
			if m == nil || (m[3] != "") != want.audio {
				t.Errorf("%s CODECS %q, want H.264 High/Main%s", v.URI, v.Codecs, map[bool]string{true: " + AAC-LC", false: " only"}[want.audio])
			} else {
				level, _ = strconv.ParseInt(m[2], 16, 32)
			}
			rm := resolutionRe.FindStringSubmatch(v.Resolution)
			if rm == nil || v.FrameRate <= 0 {
				t.Errorf("%s RESOLUTION %q FRAME-RATE %g", v.URI, v.Resolution, v.FrameRate)
			} else {
				r.width, _ = strconv.Atoi(rm[1])
				r.height, _ = strconv.Atoi(rm[2])
			}
		} else if v.Codecs != "mp4a.40.2" || v.Resolution != "" || v.FrameRate != 0 {
			t.Errorf("audio-only %s CODECS %q RESOLUTION %q FRAME-RATE %g, want exactly mp4a.40.2 and no picture", v.URI, v.Codecs, v.Resolution, v.FrameRate)
		}

		body, _ := get(t, r.url)
		mpl, typ, err := m3u8.Decode(*bytes.NewBuffer(body), true)
		if err != nil || typ != m3u8.MEDIA {
			t.Fatalf("%s does not parse strictly: %v\n%s", v.URI, err, body)
		}
		media := mpl.(*m3u8.MediaPlaylist)
		for _, tag := range []string{"#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-ENDLIST\n"} {
			if !strings.Contains(string(body), tag) {
				t.Errorf("%s lacks %q", v.URI, strings.TrimSpace(tag))
			}
		}
		// The tag as written: grafov raises a decoded TargetDuration to the
		// ceiling of the longest EXTINF, which would hide a wrong tag.
		tm := targetRe.FindSubmatch(body)
		if tm == nil {
			t.Fatalf("%s lacks one integer EXT-X-TARGETDURATION:\n%s", v.URI, body)
		}
		target, _ := strconv.ParseFloat(string(tm[1]), 64)
		var total float64
		for _, s := range media.GetAllSegments() {
			if math.Round(s.Duration) > target {
				t.Errorf("%s: EXTINF %g rounds above TARGETDURATION %g", v.URI, s.Duration, target)
			}
			total += s.Duration
			r.segments = append(r.segments, dir+v.URI[:strings.LastIndex(v.URI, "/")+1]+s.URI)
		}
		// The configured 6 s, also for a rendition shorter than that.
		const wantTarget = 6.0
		if target != wantTarget {
			t.Errorf("%s TARGETDURATION %g, want %g:\n%s", v.URI, target, wantTarget, body)
		}
		if math.Abs(total-want.duration) > 0.5 {
			t.Errorf("%s: EXTINFs add up to %g s, source %g s", v.URI, total, want.duration)
		}

		// CMAF: each segment is read with its rendition's init segment.
		var init []byte
		if m := mapRe.FindSubmatch(body); m != nil {
			r.init = dir + v.URI[:strings.LastIndex(v.URI, "/")+1] + string(m[1])
			init, _ = get(t, r.init)
		}
		for i, seg := range r.segments {
			if init != nil {
				b, _ := get(t, seg)
				seg = testutil.WriteFile(t, t.TempDir(), "segment.mp4", append(bytes.Clone(init), b...))
			}
			var sp segmentProbe
			ffprobeJSON(t, &sp, "-show_entries", "stream=codec_type,codec_name,profile,level,pix_fmt,color_range,width,height,channels,sample_rate,r_frame_rate:packet=codec_type,flags", seg)
			r.probes = append(r.probes, sp)
			vs, as := sp.stream("video"), sp.stream("audio")
			if len(sp.Streams) != btoi(e.video)+btoi(e.audio) || (vs != nil) != e.video || (as != nil) != e.audio {
				t.Errorf("%s segment %d has streams %+v, want video %v audio %v", v.URI, i, sp.Streams, e.video, e.audio)
			}
			if as != nil && (as.CodecName != "aac" || as.Profile != "LC" || as.Channels != 2 || as.SampleRate != "48000") {
				t.Errorf("%s segment %d audio %+v, want AAC-LC stereo 48 kHz", v.URI, i, *as)
			}
			if vs == nil {
				continue
			}
			if vs.CodecName != "h264" || vs.PixFmt != "yuv420p" || vs.Width != r.width || vs.Height != r.height {
				t.Errorf("%s segment %d video %+v, want 8-bit H.264 %dx%d", v.URI, i, *vs, r.width, r.height)
			}
			if prefix := map[string]string{"High": "avc1.64", "Main": "avc1.4d"}[vs.Profile]; prefix == "" || !strings.HasPrefix(v.Codecs, prefix) || int64(vs.Level) != level {
				t.Errorf("%s segment %d is H.264 %s level %d; CODECS says %q", v.URI, i, vs.Profile, vs.Level, v.Codecs)
			}
			keyframe := false
			for _, pk := range sp.Packets {
				if pk.CodecType == "video" {
					keyframe = strings.HasPrefix(pk.Flags, "K")
					break
				}
			}
			if !keyframe {
				t.Errorf("%s segment %d does not start with a keyframe", v.URI, i)
			}
		}

		// The rendition as a whole: as long as the source, and starting at
		// zero wherever the source's timestamps started (plus the 1.4 s that
		// ffmpeg's MPEG-TS muxer always adds and ffmpeg.TimestampOffset).
		var f struct {
			Format struct {
				Duration  string `json:"duration"`
				StartTime string `json:"start_time"`
			} `json:"format"`
		}
		ffprobeJSON(t, &f, "-show_entries", "format=duration,start_time", r.url)
		d, _ := strconv.ParseFloat(f.Format.Duration, 64)
		st, err := strconv.ParseFloat(f.Format.StartTime, 64)
		if math.Abs(d-want.duration) > 0.5 {
			t.Errorf("ffprobe says %s lasts %g s, source %g s", v.URI, d, want.duration)
		}
		if err != nil || st < 2.3 || st > 2.5 {
			t.Errorf("%s starts at %q s, want 2.4 (0 + 1 + 1.4)", v.URI, f.Format.StartTime)
		}
		if v.Resolution == "" && grouped {
			p.audio = &r
		} else {
			p.renditions = append(p.renditions, r)
		}
	}

	// ffmpeg decodes every stream of the whole master over HTTP without a
	// complaint, not even a warning (a broken join between chunks is one).
	if out, err := decodeMaster(master, p.body); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the master: %v\n%s", err, out)
	}

	// The conformance suite: every MUST and SHOULD rule it knows holds.
	assertConformant(t, master)

	return p
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ffprobeJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	args = append([]string{"-v", "error", "-of", "json"}, args...)
	out, err := exec.Command("ffprobe", args...).Output()
	if err == nil {
		err = json.Unmarshal(out, v)
	}
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// probeStreams lists a file's streams in order.
func probeStreams(t *testing.T, path string) []probeStream {
	t.Helper()
	var sp segmentProbe
	ffprobeJSON(t, &sp, "-show_entries", "stream=codec_type,codec_name,profile,level,pix_fmt,color_range,color_transfer,width,height,channels,sample_rate,r_frame_rate", path)
	if len(sp.Streams) == 0 {
		t.Fatalf("%s has no streams", path)
	}
	return sp.Streams
}

func startTime(t *testing.T, path string) float64 {
	t.Helper()
	var f struct {
		Format struct {
			StartTime string `json:"start_time"`
		} `json:"format"`
	}
	ffprobeJSON(t, &f, "-show_entries", "format=start_time", path)
	st, err := strconv.ParseFloat(f.Format.StartTime, 64)
	if err != nil {
		t.Fatalf("start time of %s: %q", path, f.Format.StartTime)
	}
	return st
}

// sourceRotation is the display matrix rotation ffprobe reports, in degrees
// counterclockwise; 0 without one.
func sourceRotation(t *testing.T, path string) float64 {
	t.Helper()
	var r struct {
		Streams []struct {
			SideData []struct {
				Rotation float64 `json:"rotation"`
			} `json:"side_data_list"`
		} `json:"streams"`
	}
	ffprobeJSON(t, &r, "-select_streams", "v:0", "-show_entries", "stream_side_data=rotation", path)
	for _, s := range r.Streams {
		for _, sd := range s.SideData {
			if sd.Rotation != 0 {
				return sd.Rotation
			}
		}
	}
	return 0
}

// frameIntervals returns the sorted gaps between consecutive video frames of
// a file or playlist, in seconds.
func frameIntervals(t *testing.T, url string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var pts []float64
	for _, l := range strings.Fields(strings.ReplaceAll(string(out), ",", " ")) {
		if f, err := strconv.ParseFloat(l, 64); err == nil {
			pts = append(pts, f)
		}
	}
	if len(pts) < 3 {
		t.Fatalf("%s has %d video frames", url, len(pts))
	}
	sort.Float64s(pts)
	d := make([]float64, len(pts)-1)
	for i := range d {
		d[i] = pts[i+1] - pts[i]
	}
	sort.Float64s(d)
	return d
}

// quadrantLuma decodes the first frame of url (w x h) and returns the mean
// luma of the middle of each quadrant. pixFmt "gray" gives full-range luma
// whatever the stream's range; a YUV format gives the stream's raw Y samples.
func quadrantLuma(t *testing.T, url string, w, h int, pixFmt string) map[string]float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", url, "-map", "0:v:0", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pixFmt, "-").Output()
	if err != nil || len(out) < w*h {
		t.Fatalf("decoding a frame of %s: %v (%d bytes, want %dx%d)", url, err, len(out), w, h)
	}
	mean := func(x0, y0 int) float64 {
		// The middle half of the quadrant, away from edges and chroma bleed.
		var sum, n int
		for y := y0 + h/8; y < y0+h/2-h/8; y++ {
			for x := x0 + w/8; x < x0+w/2-w/8; x++ {
				sum += int(out[y*w+x])
				n++
			}
		}
		return float64(sum) / float64(n)
	}
	return map[string]float64{
		"top-left": mean(0, 0), "top-right": mean(w/2, 0),
		"bottom-left": mean(0, h/2), "bottom-right": mean(w/2, h/2),
	}
}

// maxVolume is the peak level of one audio stream, in dB.
func maxVolume(t *testing.T, url, stream string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-i", url, "-map", stream, "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	m := regexp.MustCompile(`max_volume: (-?[0-9.]+|-inf) dB`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("volumedetect on %s: %v\n%s", url, err, out)
	}
	if string(m[1]) == "-inf" {
		return math.Inf(-1)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// decodeMaster has ffmpeg read every stream of a master to the end (-v
// warning: its output must be empty). FFmpeg 5.1's HLS demuxer skips a
// SUBTITLES rendition with the warning "Can't support the subtitle" unless
// it is told -strict experimental, with which it reads them (and they are
// written back as WebVTT): a master with subtitles is read so. The one
// warning left out is FFmpeg's on repeated cues, which RFC 8216 asks for.
func decodeMaster(master string, body []byte) ([]byte, error) {
	args := []string{"-v", "warning"}
	if bytes.Contains(body, []byte("TYPE=SUBTITLES")) {
		args = append(args, "-strict", "experimental")
	}
	args = append(args, "-i", master, "-map", "0", "-c:s", "webvtt", "-f", "null", "-")
	out, err := exec.Command("ffmpeg", args...).CombinedOutput()
	// RFC 8216 3.5 puts a cue in every segment it is shown in; FFmpeg reads
	// the segments as one file and says it drops the repeats.
	return duplicatedCuesRe.ReplaceAll(out, nil), err
}

// mapRe finds a media playlist's EXT-X-MAP (a whole file).
var mapRe = regexp.MustCompile(`(?m)^#EXT-X-MAP:URI="([^"]+)"$`)

var duplicatedCuesRe = regexp.MustCompile(`(?m)^\[webvtt @ 0x[0-9a-f]+\] Dropping \d+ duplicated subtitle events\n`)
