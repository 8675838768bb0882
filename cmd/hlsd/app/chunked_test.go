package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/conformance"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/video"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/cmd/hlsd/app/apptest"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// A 10-minute source, encoded in 21 chunks: the master appears after the
// first chunk while the rest is encoding, its media playlists are EVENT
// playlists that only grow, and once ready they are VOD; a flash and a
// beep placed together near the end of the source come out together
// (audio, encoded once, and video, encoded in chunks, keep in sync).
func TestLongSourcePlayableEarlyAndInSync(t *testing.T) {
	t.Parallel()
	// A small picture and the fastest preset: the test is about chunks and
	// timing, not picture quality.
	base := apptest.Start(t, ultrafastProfiles(t), func(c *app.Config) { c.EncoderWorkers = 2 })

	const flash = 595.0 // seconds into the source
	src := generate(t, "long.mp4",
		"-f", "lavfi", "-i", "color=black:size=192x108:rate=25",
		"-f", "lavfi", "-i", "aevalsrc='if(between(t,595,595.3),sin(2*PI*1000*t),0)':s=48000",
		"-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,595,595.3)'",
		"-t", "600", "-c:v", "libx264", "-preset", "ultrafast", "-g", "250", "-c:a", "aac", "-b:a", "64k")

	status, body, _ := testutil.Upload(t, base+"/api/videos", src)
	if status != http.StatusAccepted {
		t.Fatalf("POST /api/videos = %d %s", status, body)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}

	// Playable while encoding: the master and EVENT media playlists.
	var v apiVideo
	var rec video.Video
	deadline := time.Now().Add(5 * time.Minute)
	for v.MasterURL == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no master_url within 5 minutes: %+v", v)
		}
		time.Sleep(100 * time.Millisecond)
		b, _ := get(t, base+"/api/videos/"+created.ID)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(b, &rec)
		if v.State == video.StateFailed {
			t.Fatalf("failed: %s", b)
		}
	}
	if v.State == video.StateReady {
		t.Fatalf("ready before it was reported playable; chunks %d", rec.Chunks)
	}
	t.Logf("playable %s after the upload was stored, %d chunks", rec.PlayableAt.Sub(rec.CreatedAt).Round(time.Millisecond), rec.Chunks)
	if rec.Chunks != 22 {
		t.Errorf("%d chunks, want 22 (2 s, 4 s, then 30 s each)", rec.Chunks)
	}
	master, hdr := get(t, v.MasterURL)
	if !strings.Contains(hdr.Get("Cache-Control"), "max-age=") || strings.Contains(hdr.Get("Cache-Control"), "86400") {
		t.Errorf("early master cached as %q", hdr.Get("Cache-Control"))
	}
	dir := v.MasterURL[:strings.LastIndex(v.MasterURL, "/")+1]
	variant := regexp.MustCompile(`(?m)^([0-9]+p)/index\.m3u8$`).FindSubmatch(master)
	if variant == nil || !strings.Contains(string(master), `URI="audio/index.m3u8"`) {
		t.Fatalf("early master:\n%s", master)
	}
	early, _ := get(t, dir+string(variant[1])+"/index.m3u8")
	if !strings.Contains(string(early), "#EXT-X-PLAYLIST-TYPE:EVENT\n") || strings.Contains(string(early), "#EXT-X-ENDLIST") {
		t.Errorf("media playlist while encoding:\n%s", early)
	}

	// Then ready, every playlist VOD and containing what the EVENT one had.
	for v.State != video.StateReady {
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 5 minutes: %+v", v)
		}
		time.Sleep(250 * time.Millisecond)
		b, _ := get(t, base+"/api/videos/"+created.ID)
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.State == video.StateFailed {
			t.Fatalf("failed: %s", b)
		}
	}
	final, _ := get(t, dir+string(variant[1])+"/index.m3u8")
	if !strings.Contains(string(final), "#EXT-X-PLAYLIST-TYPE:VOD\n") || !strings.HasSuffix(string(final), "#EXT-X-ENDLIST\n") {
		t.Errorf("media playlist when ready:\n%s", final)
	}
	earlyBody := strings.Replace(string(early), "#EXT-X-PLAYLIST-TYPE:EVENT\n", "", 1)
	if finalBody := strings.Replace(string(final), "#EXT-X-PLAYLIST-TYPE:VOD\n", "", 1); !strings.HasPrefix(finalBody, earlyBody) {
		t.Errorf("the VOD playlist does not extend the EVENT one:\n%s\n---\n%s", early, final)
	}
	// Three of 2 s (the first 6 s), then 99 of 6 s.
	if n := strings.Count(string(final), "#EXTINF:"); n != 102 {
		t.Errorf("%d segments, want 102", n)
	}

	// Twenty-two chunks, each its own muxer, read as one stream: ffmpeg decodes
	// every rendition of the master without a word at -v warning (the
	// continuity counters run on across every join), and the checker finds
	// no MUST (continuity counters included; the ultrafast preset writes
	// Constrained Baseline, which the h264-profile SHOULD would name).
	if out, err := exec.Command("ffmpeg", "-v", "warning", "-i", dir+"master.m3u8", "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the 22-chunk master at -v warning: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	report, err := conformance.Check(ctx, dir+"master.m3u8", conformance.Options{Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range report.MustFindings() {
		t.Errorf("hlsd check: %v", f)
	}
	if report.Segments != 204 {
		t.Errorf("hlsd check measured %d segments, want 204 (102 video, 102 audio)", report.Segments)
	}

	// The flash and the beep, on the published timeline (raw timestamps).
	flashAt := firstFrameAbove(t, dir+string(variant[1])+"/index.m3u8", 128, 0)
	beepAt := firstSoundAfterSilence(t, dir+"audio/index.m3u8", flash-10)
	t.Logf("flash at %.4f s, beep at %.4f s", flashAt, beepAt)
	if math.Abs(flashAt-beepAt) > 0.020 {
		t.Errorf("A/V offset %.1f ms at %g s into the source, want under 20 ms", (flashAt-beepAt)*1000, flash)
	}
	if math.Abs(flashAt-(flash+2.4)) > 0.041 {
		t.Errorf("the flash is at %.3f s, want %.3f s", flashAt, flash+2.4)
	}
}

// ultrafastProfiles writes the default profiles with x264's fastest preset,
// for tests about timing rather than pictures, and returns the path.
func ultrafastProfiles(t *testing.T) string {
	t.Helper()
	prof, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	return testutil.WriteFile(t, t.TempDir(), "profiles.json", []byte(strings.Replace(string(prof), `"preset": "veryfast"`, `"preset": "ultrafast"`, 1)))
}

// firstFrameAbove is the timestamp of the first frame of a playlist after
// the given time whose mean luma exceeds y.
func firstFrameAbove(t *testing.T, playlist string, y, after float64) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-copyts", "-i", playlist, "-map", "0:v:0",
		"-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file=-", "-f", "null", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", playlist, err)
	}
	var pts float64
	for _, line := range strings.Split(string(out), "\n") {
		if _, v, ok := strings.Cut(line, "pts_time:"); ok {
			pts, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		if _, v, ok := strings.Cut(line, "YAVG="); ok {
			if f, _ := strconv.ParseFloat(v, 64); f > y && pts > after {
				return pts
			}
		}
	}
	t.Fatalf("%s has no frame brighter than %g after %g s", playlist, y, after)
	return 0
}

// firstSoundAfterSilence is when the audio of a playlist first stops being
// silent after the given time.
func firstSoundAfterSilence(t *testing.T, playlist string, after float64) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "info", "-hide_banner", "-nostats", "-copyts", "-i", playlist, "-map", "0:a:0",
		"-af", "silencedetect=n=-40dB:d=0.5", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v", playlist, err)
	}
	for _, m := range regexp.MustCompile(`silence_end: ([0-9.]+)`).FindAllStringSubmatch(string(out), -1) {
		if f, _ := strconv.ParseFloat(m[1], 64); f > after {
			return f
		}
	}
	t.Fatalf("%s has no sound after %g s:\n%s", playlist, after, out)
	return 0
}

// A transport stream is remuxed for the chunks that seek, while its first
// chunk and its audio read the upload itself (ffmpeg.Source.ClockFromTracks):
// the two readings keep one clock, the file's, whichever track starts
// first. Flashes and beeps placed together in the first chunk and in a later
// one come out together, nine seconds apart.
func TestTransportStreamReadTwiceInSync(t *testing.T) {
	t.Parallel()
	base := apptest.Start(t, ultrafastProfiles(t))

	for _, tc := range []struct {
		name                 string
		videoLate, audioLate string // -itsoffset of each input
	}{
		{"audio half a second after the video", "0", "0.5"},
		{"video half a second after the audio", "0.5", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Flashes and beeps at 1 s (chunk 0) and 10 s (chunk 2) of the
			// file's clock, which starts with the earlier track (the
			// tone's t is its own; drawbox's has the offset in it).
			at := func(late string, s float64) string {
				l, _ := strconv.ParseFloat(late, 64)
				return strconv.FormatFloat(s-l, 'f', 3, 64)
			}
			src := generate(t, "twice.ts",
				"-itsoffset", tc.videoLate, "-f", "lavfi", "-i", "color=black:size=192x108:rate=25",
				"-itsoffset", tc.audioLate, "-f", "lavfi", "-i", "aevalsrc='if(between(t,"+at(tc.audioLate, 1)+","+at(tc.audioLate, 1.3)+")+between(t,"+at(tc.audioLate, 10)+","+at(tc.audioLate, 10.3)+"),sin(2*PI*1000*t),0)':s=48000",
				"-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(t,1,1.3)+between(t,10,10.3)'",
				"-t", "14", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts")
			probe, err := ffmpeg.Probe(context.Background(), src, ffmpeg.DefaultLimits())
			if err != nil || ffmpeg.Seekable(probe.Format) || !probe.ClockFromTracks() || probe.Audio() == nil {
				t.Fatalf("test source: %+v, %v; want an MPEG-TS whose clock starts with its tracks", probe, err)
			}

			status, body, _ := testutil.Upload(t, base+"/upload", src)
			master := strings.TrimSpace(string(body))
			if status != http.StatusOK || !strings.HasSuffix(master, "/master.m3u8") {
				t.Fatalf("POST /upload = %d %s", status, body)
			}
			dir := strings.TrimSuffix(master, "master.m3u8")
			list, _ := get(t, master)
			variant := regexp.MustCompile(`(?m)^([0-9]+p)/index\.m3u8$`).FindSubmatch(list)
			if variant == nil {
				t.Fatalf("master:\n%s", list)
			}
			if out, err := exec.Command("ffmpeg", "-v", "warning", "-i", master, "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("ffmpeg decoding the master at -v warning: %v\n%s", err, out)
			}
			videoPlaylist, audioPlaylist := dir+string(variant[1])+"/index.m3u8", dir+"audio/index.m3u8"
			flash1 := firstFrameAbove(t, videoPlaylist, 128, 0)
			flash2 := firstFrameAbove(t, videoPlaylist, 128, flash1+1)
			beep1 := firstSoundAfterSilence(t, audioPlaylist, 0)
			beep2 := firstSoundAfterSilence(t, audioPlaylist, beep1+1)
			t.Logf("flashes at %.4f and %.4f s, beeps at %.4f and %.4f s", flash1, flash2, beep1, beep2)
			// Within a frame: a video that starts late is off the output's
			// frame grid (25 fps from 0) by up to a frame.
			for _, pair := range [][2]float64{{flash1, beep1}, {flash2, beep2}} {
				if math.Abs(pair[0]-pair[1]) > 0.041 {
					t.Errorf("A/V offset %.1f ms at %.2f s, want under a frame (40 ms)", (pair[0]-pair[1])*1000, pair[0])
				}
			}
			if d := flash2 - flash1; math.Abs(d-9) > 0.041 {
				t.Errorf("the flashes are %.3f s apart, want 9 s: the first chunk and the later ones are on different clocks", d)
			}
		})
	}
}
