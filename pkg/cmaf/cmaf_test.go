package cmaf_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/hlsd/hlsd/pkg/cmaf"
	"github.com/hlsd/hlsd/pkg/mpegts"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// encoders are the video encoders hlsd's ladders use, as its encoder runs
// them in the essentials: keyframes every 2 s (60 frames) in closed GOPs.
var encoders = map[string][]string{
	"h264": {"-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0"},
	"hevc": {"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=60:min-keyint=60:scenecut=0:open-gop=0:bframes=3:log-level=error"},
	"av1":  {"-c:v", "libsvtav1", "-preset", "12", "-g", "60", "-svtav1-params", "scd=0:irefresh-type=2"},
}

// chunks encodes a 30 fps picture the way hlsd's encoder does: separate
// runs of chunkSeconds each, with timestamps continuing the whole video's
// (-output_ts_offset), with the codec's encoder.
func chunks(t *testing.T, codec string, n int, chunkSeconds int) []string {
	t.Helper()
	var out []string
	for i := range n {
		start := i * chunkSeconds
		args := []string{"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=" + strconv.Itoa(n*chunkSeconds),
			"-ss", strconv.Itoa(start), "-t", strconv.Itoa(chunkSeconds)}
		args = append(args, encoders[codec]...)
		args = append(args, "-output_ts_offset", strconv.FormatFloat(float64(start)+1, 'f', 6, 64), "-f", "mpegts")
		out = append(out, testutil.Generate(t, codec+strconv.Itoa(i)+".ts", args...))
	}
	return out
}

// pack cuts each TS into 2 s segments and packs every one.
func pack(t *testing.T, files []string) []cmaf.Segment {
	t.Helper()
	var segs []cmaf.Segment
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mpegts.SplitTS(bytes.NewReader(b), mpegts.Options{TargetDuration: 2 * time.Second, Continuous: true}, func(s mpegts.Segment, data []byte) error {
			c, err := cmaf.FromTS(data, cmaf.Options{Number: len(segs), Duration: s.Duration})
			if err != nil {
				return err
			}
			segs = append(segs, c)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return segs
}

// decode has ffmpeg read init + segments as one file, reporting its
// warnings and counting what it decoded.
func decode(t *testing.T, segs []cmaf.Segment) (warnings string, frames int) {
	t.Helper()
	var all bytes.Buffer
	all.Write(segs[0].Init)
	for _, s := range segs {
		all.Write(s.Data)
	}
	path := testutil.WriteFile(t, t.TempDir(), "all.mp4", all.Bytes())
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "warning", "-i", path, "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	frames, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	return stderr.String(), frames
}

func TestVideoSegmentsJoinAcrossChunks(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	for _, tc := range []struct{ codec, entry, prefix string }{
		{"h264", "avc1", "avc1.4d40"}, // ultrafast with B-frames: Main
		{"hevc", "hvc1", "hvc1.1.6.L"},
		{"av1", "av01", "av01.0."},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			t.Parallel()
			segs := pack(t, chunks(t, tc.codec, 2, 4))
			checkVideo(t, segs, tc.entry)
			if !strings.HasPrefix(segs[0].Codec, tc.prefix) || segs[0].Width != 320 || segs[0].Height != 180 {
				t.Errorf("codec %q %dx%d, want %s… 320x180", segs[0].Codec, segs[0].Width, segs[0].Height, tc.prefix)
			}
		})
	}
}

// checkVideo holds 8 s of 320x180 at 30 fps, cut into 2 s segments, to
// what CMAF wants: one init segment, decode times that follow on across
// the chunk join, a keyframe fragment that decodes alone, and every frame
// decoded without a warning.
func checkVideo(t *testing.T, segs []cmaf.Segment, sampleEntry string) {
	t.Helper()
	if len(segs) != 4 {
		t.Fatalf("%d segments, want 4", len(segs))
	}
	for i, s := range segs {
		if s.Timescale != cmaf.VideoTimescale {
			t.Errorf("segment %d: timescale %d", i, s.Timescale)
		}
		if !bytes.Equal(s.Init, segs[0].Init) {
			t.Errorf("segment %d needs another init segment than segment 0", i)
		}
		if i > 0 && s.BaseTime != segs[i-1].BaseTime+segs[i-1].Duration {
			t.Errorf("segment %d: tfdt %d, but segment %d ends at %d", i, s.BaseTime, i-1, segs[i-1].BaseTime+segs[i-1].Duration)
		}
		if s.Duration != 2*cmaf.VideoTimescale {
			t.Errorf("segment %d lasts %d ticks, want 2 s", i, s.Duration)
		}
		if len(s.Keyframes) != 1 || s.Keyframes[0].Offset <= 0 {
			t.Fatalf("segment %d: keyframes %+v, want one fragment of its own after the styp", i, s.Keyframes)
		}
		if s.Start != s.Keyframes[0].Time || s.Start < s.BaseTime {
			t.Errorf("segment %d starts at %d; its keyframe is shown at %d, decoded at %d (not later)", i, s.Start, s.Keyframes[0].Time, s.BaseTime)
		}
		// The keyframe's fragment decodes with the init segment alone.
		kf := s.Keyframes[0]
		one := append(bytes.Clone(s.Init), s.Data[kf.Offset:kf.Offset+kf.Size]...)
		if w, n := decode(t, []cmaf.Segment{{Init: one}}); w != "" || n != 1 {
			t.Errorf("segment %d: its keyframe's fragment decoded to %d frames: %s", i, n, w)
		}
		// The first sample is the keyframe, and its presentation time the
		// segment's start on the grid: ffmpeg's mpegts muxer starts the
		// clock at 1.4 s, the offset adds 1 s, then 2 s per segment.
		if want := uint64(216000 + 2*i*cmaf.VideoTimescale); kf.Time != want {
			t.Errorf("segment %d: keyframe at %d, want %d", i, kf.Time, want)
		}
	}
	if w, n := decode(t, segs); w != "" || n != 240 {
		t.Errorf("decoded %d frames of 240, warnings: %q", n, w)
	}
	// The init segment's sample entry, with the picture's size.
	init, err := mp4.DecodeFile(bytes.NewReader(segs[0].Init))
	if err != nil {
		t.Fatal(err)
	}
	stsd := init.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd
	if len(stsd.Children) != 1 || stsd.Children[0].Type() != sampleEntry {
		t.Fatalf("sample entries %v, want one %s", stsd.Children, sampleEntry)
	}
	if se, ok := stsd.Children[0].(*mp4.VisualSampleEntryBox); !ok || se.Width != 320 || se.Height != 180 {
		t.Errorf("sample entry %+v, want %s 320x180", stsd.Children[0], sampleEntry)
	}
}

func TestAudioSegmentsFollowOn(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	ts := testutil.Generate(t, "audio.ts", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=7",
		"-ac", "2", "-c:a", "aac", "-b:a", "96k", "-output_ts_offset", "1", "-f", "mpegts")
	segs := pack(t, []string{ts})
	if len(segs) < 3 {
		t.Fatalf("%d segments, want at least 3", len(segs))
	}
	var total uint64
	for i, s := range segs {
		if s.Timescale != 48000 || len(s.Keyframes) != 0 {
			t.Errorf("segment %d: timescale %d, keyframes %v", i, s.Timescale, s.Keyframes)
		}
		if i > 0 && s.BaseTime != segs[i-1].BaseTime+segs[i-1].Duration {
			t.Errorf("segment %d: tfdt %d, but segment %d ends at %d", i, s.BaseTime, i-1, segs[i-1].BaseTime+segs[i-1].Duration)
		}
		total += s.Duration
	}
	// The AAC encoder's priming frame comes first, a frame before the
	// clock's start (2.4 s, as the video's).
	if want := uint64(2.4*48000 - 1024); segs[0].BaseTime != want {
		t.Errorf("first tfdt %d, want %d", segs[0].BaseTime, want)
	}
	if w, _ := decode(t, segs); w != "" {
		t.Errorf("warnings: %q", w)
	}
	init, err := mp4.DecodeFile(bytes.NewReader(segs[0].Init))
	if err != nil {
		t.Fatal(err)
	}
	if se := init.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd.Mp4a; se == nil || se.ChannelCount != 2 || se.SampleRate != 48000 {
		t.Errorf("sample entry %+v, want mp4a stereo 48 kHz", se)
	}
	if d := float64(total) / 48000; d < 7 || d > 7.1 {
		t.Errorf("%.3f s of audio, want 7", d)
	}
}

func TestRefusesWhatItCannotPack(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg")
	muxed := testutil.Generate(t, "muxed.ts", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30:duration=1",
		"-f", "lavfi", "-i", "sine=duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "mpegts")
	b, err := os.ReadFile(muxed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmaf.FromTS(b, cmaf.Options{Duration: 1}); !errors.Is(err, cmaf.ErrUnsupported) {
		t.Errorf("video and audio in one segment: %v, want ErrUnsupported", err)
	}
	for name, data := range map[string][]byte{"empty": nil, "not TS": []byte(strings.Repeat("x", 188)), "half a packet": b[:100]} {
		if _, err := cmaf.FromTS(data, cmaf.Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzFromTS(f *testing.F) {
	seed, err := filepath.Glob("../mpegts/testdata/*.ts")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range seed {
		if b, err := os.ReadFile(p); err == nil && len(b) < 1<<20 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := cmaf.FromTS(b, cmaf.Options{Duration: 2})
		if err == nil && (len(s.Data) == 0 || len(s.Init) == 0) {
			t.Errorf("no error and no segment")
		}
	})
}
