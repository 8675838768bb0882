package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

func TestParseExtent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		packets int
		secs    float64
	}{
		{"", 0, 0},
		{"1.400000,1.360000,0.040000\n1.440000,1.400000,0.040000\n", 2, 0.08},
		{"N/A,0.000000,0.040000\n0.040000,N/A,N/A\nnan,nan,1\n", 2, 0.04},
		{"0,0,0.04\n66.04,66.04,0.04\n", 2, 66.08},
		{"garbage\n,\n1,2\n", 0, 0},
	} {
		e := parseExtent([]byte(tc.in))
		if e.Packets != tc.packets || mathAbs(e.Seconds()-tc.secs) > 1e-9 {
			t.Errorf("%q: %d packets over %g s, want %d over %g", tc.in, e.Packets, e.Seconds(), tc.packets, tc.secs)
		}
	}
}

func mathAbs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestCheckInvented(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		e      Extent
		fps    float64
		refuse bool
	}{
		{"steady 30 fps", Extent{Packets: 300, First: 0, Last: 10}, 30, false},
		{"1 fps slideshow made 5 fps", Extent{Packets: 600, First: 0, Last: 600}, 5, false},
		{"variable-rate phone clip", Extent{Packets: 1500, First: 0, Last: 60}, 30, false},
		{"a short still", Extent{Packets: 1, First: 0, Last: 8}, 60, false},
		{"61 frames and a 66 s gap at 60 fps", Extent{Packets: 61, First: 0, Last: 68}, 60, true},
		{"two frames an hour apart", Extent{Packets: 2, First: 0, Last: 3600}, 25, true},
	} {
		err := CheckInvented(tc.e, tc.fps)
		var pe *ProbeError
		if got := errors.As(err, &pe); got != tc.refuse || (got && pe.Code != video.CodeLimitExceeded) {
			t.Errorf("%s: %v, refuse %v", tc.name, err, tc.refuse)
		}
	}
}

// The crafted files each meet their limit with a reason, at a bounded
// cost of the ffmpeg that met it.
func TestCraftedSourcesMeetTheirLimits(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	ctx := context.Background()
	lim := DefaultLimits()

	t.Run("pixel bomb refused by the probe", func(t *testing.T) {
		t.Parallel()
		_, err := Probe(ctx, testutil.PixelBomb(t), lim)
		var pe *ProbeError
		if !errors.As(err, &pe) || pe.Code != video.CodeLimitExceeded || !strings.Contains(pe.Reason, "8192x8192") {
			t.Fatalf("got %v, want the pixel limit naming 8192x8192", err)
		}
	})

	t.Run("GIF with an 8K canvas refused by the probe", func(t *testing.T) {
		t.Parallel()
		p := testutil.CanvasGIF(t)
		if fi, err := os.Stat(p); err != nil || fi.Size() > 4096 {
			t.Fatalf("the crafted GIF: %v, %v", fi, err)
		}
		_, err := Probe(ctx, p, lim)
		var pe *ProbeError
		if !errors.As(err, &pe) || pe.Code != video.CodeLimitExceeded || !strings.Contains(pe.Reason, "7680x4320") {
			t.Fatalf("got %v, want the GIF canvas limit naming 7680x4320", err)
		}
	})

	t.Run("claimed hour measured", func(t *testing.T) {
		t.Parallel()
		p := testutil.LongClaimMKV(t)
		src, err := Probe(ctx, p, lim)
		if err != nil {
			t.Fatal(err)
		}
		if src.Duration < 3000 {
			t.Fatalf("the crafted file claims %g s: the test proves nothing", src.Duration)
		}
		e, err := ScanPackets(ctx, p, src, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if e.Packets != 50 || e.Seconds() < 1.9 || e.Seconds() > 2.1 {
			t.Fatalf("scan: %d packets over %g s, want 50 over 2 s", e.Packets, e.Seconds())
		}
	})

	t.Run("gap refused", func(t *testing.T) {
		t.Parallel()
		p := testutil.GapMKV(t)
		src, err := Probe(ctx, p, lim)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ScanPackets(ctx, p, src, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		_, fps := OutputFrameRate(src.Video, 60)
		var pe *ProbeError
		if err := CheckInvented(e, fps); !errors.As(err, &pe) || !strings.Contains(pe.Reason, "61 frames") {
			t.Fatalf("%d packets over %g s at %g fps: %v, want a refusal naming 61 frames", e.Packets, e.Seconds(), fps, err)
		}
	})

	t.Run("size change mid-stream", func(t *testing.T) {
		t.Parallel()
		p := testutil.GrowingTS(t)
		src, err := Probe(ctx, p, lim)
		if err != nil {
			t.Fatal(err)
		}
		if src.Video.Width != 320 {
			t.Fatalf("the probe sees %dx%d: the test proves nothing", src.Video.Width, src.Video.Height)
		}
		prof, _ := profiles.Load("../../profiles.json")
		prof.Video.Preset = "ultrafast"
		var used Usage
		err = Encode(ctx, EncodeSpec{Input: p, Source: src, Profiles: prof, Timeout: 5 * time.Minute,
			Chunk:     &ChunkSpec{Start: 4},
			Outputs:   []Output{{Name: "a", Width: 320, Height: 180, VideoKbps: 300, MaxrateKbps: 300, BufsizeKbps: 600, Path: filepath.Join(t.TempDir(), "a.ts")}},
			RunLimits: RunLimits{Usage: func(u Usage) { used = u }}})
		var pe *ProbeError
		if !errors.As(err, &pe) || pe.Code != video.CodeLimitExceeded || !strings.Contains(pe.Reason, "8192x8192") {
			t.Fatalf("got %v, want the pixel limit naming 8192x8192", err)
		}
		// 752 MiB before the decoder was limited.
		if used.PeakRSS > 300<<20 || used.CPU > 30*time.Second {
			t.Errorf("the refused encode used %v of CPU and %d MiB at its peak", used.CPU, used.PeakRSS>>20)
		}
	})
}

// An encode past its CPU budget is stopped with ErrCPUBudget.
func TestEncodeCPUBudget(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	src := generate(t, "src.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast")
	probe, err := Probe(context.Background(), src, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := profiles.Load("../../profiles.json")
	prof.Video.Preset = "veryslow"
	var used Usage
	err = Encode(context.Background(), EncodeSpec{Input: src, Source: probe, Profiles: prof, Timeout: 5 * time.Minute,
		Outputs:   []Output{{Name: "a", Width: 640, Height: 360, VideoKbps: 800, MaxrateKbps: 800, BufsizeKbps: 1600, Path: filepath.Join(t.TempDir(), "a.ts")}},
		RunLimits: RunLimits{CPUBudget: 500 * time.Millisecond, Usage: func(u Usage) { used = u }}})
	if !errors.Is(err, ErrCPUBudget) {
		t.Fatalf("got %v, want ErrCPUBudget", err)
	}
	if used.CPU < 500*time.Millisecond || used.CPU > 5*time.Second {
		t.Errorf("stopped after %v of CPU, want soon after the 500ms budget", used.CPU)
	}
}

// A run with Nice starts the tool at that lower CPU priority (the
// niceness, field 19 of /proc/PID/stat, of what it runs).
func TestRunNice(t *testing.T) {
	// Relative to this test's own niceness (a CI runner may run niced).
	base, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	own := 20 - base // the raw syscall returns 20 - nice
	for _, nice := range []int{0, 10} {
		var out bytes.Buffer
		err := runLimited(context.Background(), 10*time.Second, "sh", []string{"-c", "awk '{ print $19 }' /proc/self/stat"},
			runOpts{stdout: &out, stderr: &tailBuffer{max: 1 << 10}, nice: nice})
		if got, want := strings.TrimSpace(out.String()), fmt.Sprint(min(own+nice, 19)); err != nil || got != want {
			t.Errorf("nice %d: the tool ran at niceness %q, want %s (%v)", nice, got, want, err)
		}
	}
}

// A held run is stopped (state T in /proc/PID/stat) while Held says so, and
// goes on to its end once it no longer does.
func TestRunHeld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile, release := filepath.Join(dir, "pid"), filepath.Join(dir, "release")
	var held atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- runLimited(context.Background(), time.Minute, "sh",
			[]string{"-c", `echo $$ > "$1.tmp" && mv "$1.tmp" "$1"; while [ ! -e "$2" ]; do sleep 0.05; done`, "sh", pidFile, release},
			runOpts{stderr: &tailBuffer{max: 1 << 10}, held: held.Load})
	}()
	state := func() string {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return ""
		}
		return testutil.ProcessState(strings.TrimSpace(string(b)))
	}
	testutil.WaitFor(t, "the run to start", 10*time.Second, func() bool { return state() != "" })
	held.Store(true)
	testutil.WaitFor(t, "the run to be stopped", 10*time.Second, func() bool { return state() == "T" })
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != "T" {
		t.Fatalf("a held run is in state %q, want T (stopped)", s)
	}
	held.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the run, continued, ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not go on once no longer held")
	}
}

// Every codec has a cost at every preset, slower presets never cost less,
// and the budget and time limit grow with them (never below H.264 at
// veryfast's).
func TestEncoderCost(t *testing.T) {
	presets := []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}
	for _, codec := range []string{profiles.CodecH264, profiles.CodecHEVC, profiles.CodecAV1} {
		prev := 0.0
		for _, p := range presets {
			c, ok := encoderCost[codec][p]
			if !ok {
				t.Fatalf("%s has no cost at preset %s", codec, p)
			}
			if c < prev {
				t.Errorf("%s at %s costs %g, less than the faster preset before it (%g)", codec, p, c, prev)
			}
			prev = c
		}
	}
	if got := EncoderCost("", "veryfast"); got != 1 {
		t.Errorf("H.264 at veryfast costs %g, want 1 (the measure)", got)
	}
	if got := EncoderCost(profiles.CodecH264, "ultrafast"); got != 1 {
		t.Errorf("H.264 at ultrafast costs %g, want 1 (never less than veryfast)", got)
	}
	src := Source{Video: &VideoStream{Width: 1920, Height: 1080, FrameRate: 30}}
	h264 := []Output{{Codec: profiles.CodecH264, Width: 1920, Height: 1080}}
	ladder := append(h264, Output{Codec: profiles.CodecHEVC, Width: 1920, Height: 1080}, Output{Codec: profiles.CodecAV1, Width: 1920, Height: 1080})
	tests := []struct {
		name    string
		outputs []Output
		preset  string
		cost    func(float64) bool
	}{
		{"h264 veryfast", h264, "veryfast", func(c float64) bool { return c == 1 }},
		{"h264 slow", h264, "slow", func(c float64) bool { return c > 1 }},
		{"three codecs veryfast", ladder, "veryfast", func(c float64) bool { return c > 1 }},
	}
	base := ChunkCPUBudget(src, h264, "veryfast", 30, 10)
	for _, tt := range tests {
		if c := LadderCost(tt.outputs, tt.preset); !tt.cost(c) {
			t.Errorf("%s: LadderCost %g", tt.name, c)
		}
		b := ChunkCPUBudget(src, tt.outputs, tt.preset, 30, 10)
		if tt.name != "h264 veryfast" && b <= base {
			t.Errorf("%s: budget %s, not above H.264 veryfast's %s", tt.name, b, base)
		}
	}
	if c := LadderCost(nil, "slow"); c != 1 {
		t.Errorf("no outputs cost %g, want 1", c)
	}
}
