package ffmpeg

import (
	"context"
	"math"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// packetTimes lists the presentation times of one stream's packets, sorted.
func packetTimes(t *testing.T, path, stream string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var ts []float64
	for _, f := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.Trim(f, ","), 64)
		if err == nil {
			ts = append(ts, v)
		}
	}
	sort.Float64s(ts)
	return ts
}

// Chunks encoded apart join exactly: the frames of all chunks are the
// frames one encode of the whole video would have, at the same times, and
// the audio, encoded once in pieces ending where the chunks do, starts and
// ends with the video.
func TestChunksJoin(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	t.Parallel()
	src := testutil.Generate(t, "src.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30000/1001",
		"-f", "lavfi", "-i", "sine=sample_rate=44100", "-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-g", "300",
		"-c:a", "aac", "-shortest")
	probe, err := Probe(context.Background(), src, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	prof := profiles.Profiles{SegmentDuration: 2, KeyframeInterval: 1,
		Video: profiles.Video{Preset: "ultrafast", Profile: "high", MaxFrameRate: 60},
		Audio: profiles.Audio{Kbps: 96, Channels: 2, SampleRate: 48000}}
	dir := t.TempDir()
	// Chunks at the first frames at or after 2 s and 6 s: 60 and 180 (2.002, 6.006).
	starts := []int{0, 60, 180}
	const total = 300 // 10 s at 29.97
	var got []float64
	for i, first := range starts {
		frames := 0
		if i+1 < len(starts) {
			frames = starts[i+1] - first
		}
		out := Output{Name: "v", Width: 320, Height: 180, VideoKbps: 300, MaxrateKbps: 330, BufsizeKbps: 600,
			Path: filepath.Join(dir, strconv.Itoa(i)+".ts")}
		err := Encode(context.Background(), EncodeSpec{Input: src, Source: probe, Outputs: []Output{out}, Profiles: prof,
			Chunk: &ChunkSpec{Start: float64(first) * 1001 / 30000, Frames: frames}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, packetTimes(t, out.Path, "v:0")...)
	}
	if len(got) != total {
		t.Fatalf("%d frames in the chunks, want %d", len(got), total)
	}
	for n, pts := range got {
		if want := TimestampOffset + 1.4 + float64(n)*1001/30000; math.Abs(pts-want) > 0.0001 {
			t.Fatalf("frame %d at %.6f, want %.6f (every frame on the grid, chunks joined)", n, pts, want)
		}
	}

	audioDir := t.TempDir()
	err = EncodeAudio(context.Background(), AudioSpec{Input: src, Source: probe, Profiles: prof, Dir: audioDir,
		Boundaries: []float64{60 * 1001 / 30000.0, 180 * 1001 / 30000.0}})
	if err != nil {
		t.Fatal(err)
	}
	var audio []float64
	for i := range 3 {
		piece := packetTimes(t, filepath.Join(audioDir, "a0_0000"+strconv.Itoa(i)+".ts"), "a:0")
		if len(piece) == 0 {
			t.Fatalf("audio piece %d is empty", i)
		}
		// Each piece starts within one AAC frame (21.3 ms) after its chunk.
		if i > 0 {
			if d := piece[0] - got[starts[i]]; d < -0.0001 || d > 0.0214 {
				t.Errorf("audio piece %d starts %.4f s after its chunk", i, d)
			}
		}
		audio = append(audio, piece...)
	}
	// The encoder's priming frame comes first; the first real samples are
	// at the first frame's instant.
	if d := audio[1] - got[0]; math.Abs(d) > 0.0001 {
		t.Errorf("audio starts %.4f s from the video", d)
	}
	if d := audio[len(audio)-1] + 1024.0/48000 - (got[len(got)-1] + 1001.0/30000); math.Abs(d) > 0.05 {
		t.Errorf("audio ends %.4f s from the video", d)
	}
}

// Probe's names for the formats Seekable must know.
func TestSeekableFormats(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	t.Parallel()
	for name, want := range map[string]bool{"a.mp4": true, "a.mov": true, "a.mkv": true, "a.webm": true, "a.ts": false} {
		args := []string{"-f", "lavfi", "-i", "testsrc2=size=64x64:rate=5", "-t", "1"}
		if name == "a.webm" {
			args = append(args, "-c:v", "libvpx")
		}
		src := testutil.Generate(t, name, args...)
		probe, err := Probe(context.Background(), src, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if got := Seekable(probe.Format); got != want {
			t.Errorf("%s (%s): Seekable %v, want %v", name, probe.Format, got, want)
		}
	}
}

// Chunks of 120 frames at 59.94 fps start 180180 ticks apart (120 ×
// 1501.5), though no frame lasts a whole number of ticks.
func TestChunkTicks(t *testing.T) {
	frame := 1001.0 / 60000
	for _, tc := range []struct {
		start, end float64
		want       int64
	}{{0, 120 * frame, 180180}, {120 * frame, 240 * frame, 180180}, {0, 2, 180000}, {1798 * frame, 3597 * frame, 2701199}} { // 1799 frames: 2701198.5, rounded at each offset {
		if got := ChunkTicks(tc.start, tc.end); got != tc.want {
			t.Errorf("ChunkTicks(%g, %g) = %d, want %d", tc.start, tc.end, got, tc.want)
		}
	}
}
