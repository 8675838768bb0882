package mpegts

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// splitOpts is split with options.
func splitOpts(tb testing.TB, in []byte, opts Options) collected {
	tb.Helper()
	var c collected
	var err error
	c.info, err = SplitTS(bytes.NewReader(in), opts, func(seg Segment, data []byte) error {
		c.segs = append(c.segs, seg)
		c.data = append(c.data, bytes.Clone(data))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// lastCC returns the last continuity counter of each PID in segs.
func lastCC(segs [][]byte) map[uint16]uint8 {
	last := map[uint16]uint8{}
	for _, data := range segs {
		for o := 0; o+PacketSize <= len(data); o += PacketSize {
			if p := data[o : o+PacketSize]; hasPayload(p) {
				last[packetPID(p)] = p[3] & 0x0f
			}
		}
	}
	return last
}

// esBytes concatenates the payloads of the packets of pid, and counts the
// PES starts among them.
func esBytes(segs [][]byte, pid uint16) ([]byte, int) {
	var out []byte
	starts := 0
	for _, data := range segs {
		for o := 0; o+PacketSize <= len(data); o += PacketSize {
			p := data[o : o+PacketSize]
			if packetPID(p) != pid {
				continue
			}
			if p[1]&0x40 != 0 {
				starts++
			}
			out = append(out, packetPayload(p)...)
		}
	}
	return out, starts
}

// With Continuous, every PID's counter starts at 0 and ends on 15, and the
// elementary streams are unchanged, whatever the packet counts were.
func TestSplitTSContinuousPads(t *testing.T) {
	every := func(n int) func(int) bool { return func(i int) bool { return i%n == 0 } }
	for _, tc := range []struct {
		name string
		o    synthOpts
	}{
		{"video and audio", synthOpts{frames: 90, keyframe: every(30), audio: 20}},
		{"video only", synthOpts{frames: 47, keyframe: every(15)}},
		{"audio only", synthOpts{audio: 13}},
		{"short first packets", synthOpts{frames: 31, keyframe: every(10), firstLimit: 7, audio: 3}},
		{"PMT over two packets", synthOpts{frames: 60, keyframe: every(30), audio: 5, splitPMT: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := synthStream(tc.o)
			c := splitOpts(t, in, Options{TargetDuration: 300 * time.Millisecond, Continuous: true})
			checkContinuity(t, c.data)
			for pid := range lastCC(c.data[:1]) {
				if first := firstCC(c.data[0], pid); first != 0 {
					t.Errorf("PID %#x starts at counter %d, want 0", pid, first)
				}
			}
			// Every PID of the last segment (the one padded), except a PMT
			// that takes two packets (not repeated: documented).
			for pid, cc := range lastCC(c.data[len(c.data)-1:]) {
				if cc != 15 && !(pid == synthPMTPID && tc.o.splitPMT > 0) {
					t.Errorf("PID %#x ends on counter %d, want 15", pid, cc)
				}
			}
			plain := splitOpts(t, in, Options{TargetDuration: 300 * time.Millisecond})
			if len(plain.segs) != len(c.segs) {
				t.Fatalf("%d segments, %d without Continuous", len(c.segs), len(plain.segs))
			}
			for _, pid := range []uint16{synthVideoPID, synthAudioPID} {
				got, gotStarts := esBytes(c.data, pid)
				want, wantStarts := esBytes(plain.data, pid)
				if !bytes.Equal(got, want) || gotStarts != wantStarts {
					t.Errorf("PID %#x: %d bytes in %d PES, want the same %d bytes in %d PES", pid, len(got), gotStarts, len(want), wantStarts)
				}
			}
			for i, seg := range c.segs {
				if tc.o.splitPMT == 0 { // (checkSegment reads a one-packet PMT)
					checkSegment(t, seg, c.data[i], tc.o.frames > 0)
				}
				if seg.Keyframes == nil {
					continue
				}
				// The same keyframes, over the same elementary stream bytes.
				p := plain.segs[i]
				for j, kf := range seg.Keyframes {
					got, _ := esBytes([][]byte{c.data[i][kf.Offset : kf.Offset+kf.Size]}, synthVideoPID)
					pk := p.Keyframes[j]
					want, _ := esBytes([][]byte{plain.data[i][pk.Offset : pk.Offset+pk.Size]}, synthVideoPID)
					if !bytes.Equal(got, want) || kf.Time != pk.Time {
						t.Errorf("segment %d keyframe %d: %d video bytes at %g s, want %d at %g s", i, j, len(got), kf.Time, len(want), pk.Time)
					}
				}
			}
		})
	}
}

func firstCC(data []byte, pid uint16) uint8 {
	for o := 0; o+PacketSize <= len(data); o += PacketSize {
		if p := data[o:]; packetPID(p) == pid && hasPayload(p) {
			return p[3] & 0x0f
		}
	}
	return 0
}

// Chunks written by separate ffmpeg runs, each split on its own with
// Continuous, play as one stream: the counters run on across every join and
// ffmpeg reads the whole without a warning. Without Continuous the joins
// break (the reason for the option).
func TestSplitTSContinuousJoinsChunks(t *testing.T) {
	needFFmpeg(t)
	t.Parallel()
	dir := t.TempDir()
	const chunkSecs = 4
	for _, kind := range []string{"video", "audio"} {
		t.Run(kind, func(t *testing.T) {
			ffmpeg := func(args ...string) {
				if b, err := exec.Command("ffmpeg", append([]string{"-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
					t.Fatalf("ffmpeg: %v\n%s", err, b)
				}
			}
			if kind == "audio" {
				// As hlsd's audio job: one encode, cut into pieces by the
				// segment muxer (a muxer of its own for each piece).
				ffmpeg(slices.Concat(audioIn, []string{"-t", strconv.Itoa(3 * chunkSecs)}, aac,
					[]string{"-output_ts_offset", "1", "-f", "segment", "-segment_format", "mpegts", "-reset_timestamps", "0",
						"-segment_times", fmt.Sprintf("%d,%d", 1+chunkSecs, 1+2*chunkSecs), filepath.Join(dir, "audio%d.ts")})...)
			}
			var chunks [][]byte
			for i := range 3 {
				out := filepath.Join(dir, fmt.Sprintf("%s%d.ts", kind, i))
				if kind == "video" {
					// As hlsd's chunks: one encode each, timestamps continuing.
					ffmpeg(slices.Concat(videoIn("320x180", "30"), []string{"-t", strconv.Itoa(chunkSecs)}, x264,
						[]string{"-output_ts_offset", strconv.Itoa(1 + i*chunkSecs), "-f", "mpegts", out})...)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				chunks = append(chunks, b)
			}
			join := func(continuous bool) [][]byte {
				var all [][]byte
				for _, in := range chunks {
					c := splitOpts(t, in, Options{TargetDuration: 2 * time.Second, Continuous: continuous})
					for i, seg := range c.segs {
						checkSegment(t, seg, c.data[i], kind == "video")
					}
					all = append(all, c.data...)
				}
				return all
			}
			if broken := ccBreaks(join(false)); len(broken) == 0 {
				t.Fatalf("the chunks join without a counter break even without Continuous: the test shows nothing")
			}
			segs := join(true)
			checkContinuity(t, segs)
			path := filepath.Join(dir, kind+"-joined.ts")
			if err := os.WriteFile(path, bytes.Join(segs, nil), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ffmpeg", "-v", "warning", "-i", path, "-map", "0", "-f", "null", "-").CombinedOutput()
			if err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("ffmpeg reading the joined segments: %v\n%s", err, out)
			}
			// The elementary stream is the chunks' own, byte for byte.
			format := map[string]string{"video": "h264", "audio": "adts"}[kind]
			es := func(path string) []byte {
				b, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-map", "0", "-c", "copy", "-f", format, "-").Output()
				if err != nil {
					t.Fatalf("ffmpeg extracting %s: %v", path, err)
				}
				return b
			}
			var want []byte
			for i := range chunks {
				want = append(want, es(filepath.Join(dir, fmt.Sprintf("%s%d.ts", kind, i)))...)
			}
			if got := es(path); !bytes.Equal(got, want) {
				t.Errorf("the joined segments hold %d bytes of %s, the chunks %d", len(got), format, len(want))
			}
		})
	}
}
