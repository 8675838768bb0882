package conformance_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hlsd/hlsd/pkg/conformance"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// ffmpegFMP4HLS writes an 8 s video with audio through FFmpeg's HLS muxer
// as fragmented MP4 (init.mp4, seg_NNN.m4s): a writer of fMP4 other than
// hlsd's, for the fMP4 rules to be tried on.
func ffmpegFMP4HLS(t *testing.T) string {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-g", "50", "-c:a", "aac",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod", "-master_pl_name", "master.m3u8",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
		"-hls_segment_filename", filepath.Join(dir, "seg_%03d.m4s"), filepath.Join(dir, "index.m3u8")}
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return dir
}

// FFmpeg's fMP4 output breaks exactly what its TS output does
// (TestFFmpegHLSMuxerFallsShort): the fMP4 rules accept a sound stream.
func TestFFmpegFMP4Passes(t *testing.T) {
	t.Parallel()
	r := check(t, serve(t, ffmpegFMP4HLS(t), false)+"/master.m3u8", conformance.Options{TargetDuration: 2})
	want := []string{"average-bandwidth", "frame-rate", "gzip-playlists", "i-frame-playlists", "independent-segments", "peak-bandwidth", "video-range-present"}
	if got := rules(r.Findings); !slices.Equal(got, want) {
		t.Errorf("rules broken by FFmpeg's fMP4 HLS output:\n got %v\nwant %v", got, want)
	}
	if r.Segments != 4 {
		t.Errorf("checked %d segments, want 4", r.Segments)
	}
}

// Each fMP4 rule fires on the breakage it is about.
func TestFMP4RulesFire(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, want string
		break_     func(t *testing.T, dir string)
	}{
		{"no init segment", "http-ok", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "init.mp4")) }},
		{"a media segment as the init segment", "fmp4-init", func(t *testing.T, dir string) {
			edit(t, dir, "index.m3u8", `#EXT-X-MAP:URI="init.mp4"`, `#EXT-X-MAP:URI="seg_003.m4s"`)
		}},
		{"a gap in the decode times", "fmp4-tfdt", func(t *testing.T, dir string) { shiftTFDT(t, filepath.Join(dir, "seg_002.m4s"), 512) }},
		{"EXT-X-MAP in version 5", "version", func(t *testing.T, dir string) { edit(t, dir, "index.m3u8", "#EXT-X-VERSION:7", "#EXT-X-VERSION:5") }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := ffmpegFMP4HLS(t)
			c.break_(t, dir)
			r := check(t, serve(t, dir, false)+"/master.m3u8", conformance.Options{TargetDuration: 2})
			if got := rules(r.Findings); !slices.Contains(got, c.want) {
				t.Errorf("rule %s did not fire; findings: %v", c.want, got)
			}
		})
	}
}

// shiftTFDT moves every tfdt of an fMP4 segment on by d, leaving a gap
// before it, and changes nothing else: the box is patched in place.
func shiftTFDT(t *testing.T, path string, d uint64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, []byte("tfdt")); i >= 0; {
		v := b[i+8:] // after the type, the version and the flags
		if b[i+4] == 1 {
			binary.BigEndian.PutUint64(v, binary.BigEndian.Uint64(v)+d)
		} else {
			binary.BigEndian.PutUint32(v, binary.BigEndian.Uint32(v)+uint32(d))
		}
		n++
		j := bytes.Index(b[i+4:], []byte("tfdt"))
		if j < 0 {
			break
		}
		i += 4 + j
	}
	if n == 0 {
		t.Fatalf("%s has no tfdt", path)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
