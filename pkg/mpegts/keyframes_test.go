package mpegts

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// videoPES is one PES of a PID found by scanPES, independently of the
// splitter's parser.
type videoPES struct {
	off, end int // first packet; first packet of the next PES of the PID, or len(data)
	pts      int64
	hasPTS   bool
	idr      bool // first VCL NAL unit is an IDR slice
}

// scanPES lists the PESs of pid in data (only those whose first packet is in
// data), reading their headers and first VCL NAL type from the reassembled
// payload.
func scanPES(data []byte, pid uint16) []videoPES {
	var out []videoPES
	var es []byte
	done := func(end int) {
		if len(out) == 0 {
			return
		}
		p := &out[len(out)-1]
		p.end = end
		if len(es) < 9 || es[0] != 0 || es[1] != 0 || es[2] != 1 || len(es) < 9+int(es[8]) {
			return
		}
		if es[7]&0x80 != 0 && es[8] >= 5 {
			b := es[9:14]
			p.pts = int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
			p.hasPTS = true
		}
		body := es[9+int(es[8]):]
		for i := 0; i+3 < len(body); i++ {
			if body[i] == 0 && body[i+1] == 0 && body[i+2] == 1 {
				if typ := body[i+3] & 0x1f; typ >= 1 && typ <= 5 {
					p.idr = typ == 5
					return
				}
			}
		}
	}
	for o := 0; o+PacketSize <= len(data); o += PacketSize {
		p := data[o : o+PacketSize]
		if packetPID(p) != pid {
			continue
		}
		if p[1]&0x40 != 0 {
			done(o)
			out = append(out, videoPES{off: o})
			es = es[:0]
		}
		if len(out) > 0 {
			es = append(es, packetPayload(p)...)
		}
	}
	done(len(data))
	return out
}

// relTicks is pts after origin on the 33-bit clock (the test streams span
// far less than a wrap).
func relTicks(pts, origin int64) int64 {
	return ((pts-origin)%ptsWrap + ptsWrap) % ptsWrap
}

// headerRun returns the length of the run of PAT/PMT packets that starts
// data, reading the PMT PID from the PAT in the first packet.
func headerRun(t *testing.T, data []byte) int {
	t.Helper()
	var sb sectionBuffer
	sec, ok := sb.feed(data[:PacketSize], packetPayload(data[:PacketSize]), true)
	if !ok || packetPID(data) != pidPAT {
		t.Fatal("segment does not start with a complete PAT section")
	}
	pmt, ok := parsePAT(sec)
	if !ok {
		t.Fatal("segment's first packet is not a valid PAT")
	}
	n := 0
	for n+PacketSize <= len(data) {
		if pid := packetPID(data[n:]); pid != pidPAT && pid != pmt {
			break
		}
		n += PacketSize
	}
	return n
}

// checkKeyframes verifies HeaderSize and Keyframes of every segment against
// an independent scan of the segment data, and that together the segments
// list every IDR of the input with a PTS, from the first one on, exactly once.
// It returns the keyframe times per segment.
func checkKeyframes(t *testing.T, in []byte, c collected, vpid uint16, video bool) [][]float64 {
	t.Helper()
	var want []float64 // all IDR times of the input
	var origin int64
	for _, p := range scanPES(in, vpid) {
		if !p.idr || !p.hasPTS {
			continue
		}
		if len(want) == 0 {
			origin = p.pts
		}
		want = append(want, float64(relTicks(p.pts, origin))/clockRate)
	}
	var all []float64
	var times [][]float64
	for i, seg := range c.segs {
		data := c.data[i]
		if hs := headerRun(t, data); seg.HeaderSize != int64(hs) || hs == 0 {
			t.Errorf("segment %d: HeaderSize %d, data starts with %d bytes of PAT/PMT", i, seg.HeaderSize, hs)
		}
		if !video {
			if seg.Keyframes != nil || seg.KeyframeEnd != 0 {
				t.Errorf("segment %d: audio-only Keyframes %v, KeyframeEnd %d", i, seg.Keyframes, seg.KeyframeEnd)
			}
			continue
		}
		var exp []Keyframe
		for _, p := range scanPES(data, vpid) {
			if p.idr && p.hasPTS {
				exp = append(exp, Keyframe{Offset: int64(p.off), Size: int64(p.end - p.off), Time: float64(relTicks(p.pts, origin)) / clockRate})
			}
		}
		kfs := seg.Keyframes
		if !slices.Equal(kfs, exp) {
			t.Errorf("segment %d: Keyframes\n%v\nwant (from the data)\n%v", i, kfs, exp)
		}
		if len(kfs) == 0 {
			t.Errorf("segment %d: no keyframes", i)
			continue
		}
		if k := kfs[0]; k.Offset != seg.HeaderSize || k.Offset+k.Size != seg.KeyframeEnd || k.Time != seg.Start {
			t.Errorf("segment %d: first keyframe %+v; HeaderSize %d, KeyframeEnd %d, Start %v", i, k, seg.HeaderSize, seg.KeyframeEnd, seg.Start)
		}
		var ts []float64
		for j, k := range kfs {
			if k.Offset%PacketSize != 0 || k.Size <= 0 || k.Size%PacketSize != 0 || k.Offset+k.Size > seg.Size {
				t.Errorf("segment %d keyframe %d: range %d+%d not whole packets inside %d bytes", i, j, k.Offset, k.Size, seg.Size)
				continue
			}
			if p := data[k.Offset:]; packetPID(p) != vpid || p[1]&0x40 == 0 {
				t.Errorf("segment %d keyframe %d: packet at %d is not a video PES start", i, j, k.Offset)
			}
			if typ, err := firstVCLType(data, int(k.Offset), vpid); err != nil || typ != nalSliceIDR {
				t.Errorf("segment %d keyframe %d: first VCL NAL type %d, %v; want IDR", i, j, typ, err)
			}
			if j > 0 {
				if p := kfs[j-1]; k.Offset < p.Offset+p.Size || !(k.Time > p.Time) {
					t.Errorf("segment %d keyframe %d: %+v does not follow %+v", i, j, k, p)
				}
			}
			ts = append(ts, k.Time)
		}
		all = append(all, ts...)
		times = append(times, ts)
	}
	for i := 1; i < len(all); i++ {
		if !(all[i] > all[i-1]) {
			t.Errorf("keyframe times over all segments do not increase: %v", all)
			break
		}
	}
	if video && !slices.Equal(all, want) {
		t.Errorf("keyframe times over all segments\n%v\nwant the input's IDRs\n%v", all, want)
	}
	return times
}

// frameTimes returns the times of n frames at 30 fps from frame first on.
func frameTimes(first, n int) []float64 {
	ts := make([]float64, n)
	for i := range ts {
		ts[i] = float64(first+i) / 30
	}
	return ts
}

// TestSplitKeyframes checks Segment.Keyframes and HeaderSize on synthetic
// streams with several IDRs per segment.
func TestSplitKeyframes(t *testing.T) {
	every := func(n int) func(int) bool { return func(i int) bool { return i%n == 0 } }
	at := func(secs ...float64) func(int) bool {
		return func(i int) bool {
			return slices.ContainsFunc(secs, func(s float64) bool { return int(math.Round(s*30)) == i })
		}
	}
	lookBack := at(0, 2.5, 5, 5.5, 7, 11, 13, 17.9)
	tests := []struct {
		name   string
		opts   synthOpts
		target time.Duration
		want   [][]float64 // keyframe times per segment; nil for audio-only
		header int         // HeaderSize; 0 means PAT + PMT in a packet each
	}{
		{"regular", synthOpts{frames: 600, keyframe: every(60), audio: 235}, 6 * time.Second,
			[][]float64{{0, 2, 4}, {6, 8, 10}, {12, 14, 16}, {18}}, 0},
		// The look-back cut at 5.5 happens when 7 arrives: 7 belongs to the
		// next segment, as does 11 (cut at 13 looks back to nothing).
		{"look-back", synthOpts{frames: 600, keyframe: lookBack}, 6 * time.Second,
			[][]float64{{0, 2.5, 5}, {5.5, 7, 11}, {13, 17.9}}, 0},
		// 13 first cuts at the look-back candidate 5.9, then at itself.
		{"two cuts at once", synthOpts{frames: 600, keyframe: at(0, 1, 5.9, 13, 14)}, 6 * time.Second,
			[][]float64{{0, 1}, {5.9}, {13, 14}}, 0},
		{"wrap", synthOpts{frames: 600, keyframe: every(60), audio: 100, startPTS: ptsWrap - 90000}, 6 * time.Second,
			[][]float64{{0, 2, 4}, {6, 8, 10}, {12, 14, 16}, {18}}, 0},
		// PTS wraps at 5.75 s, between the look-back candidate 5.5 and 7.
		{"wrap at look-back", synthOpts{frames: 600, keyframe: lookBack, audio: 50, startPTS: ptsWrap - 5*90000 - 67500}, 6 * time.Second,
			[][]float64{{0, 2.5, 5}, {5.5, 7, 11}, {13, 17.9}}, 0},
		{"every frame", synthOpts{frames: 90, keyframe: every(1)}, time.Second,
			[][]float64{frameTimes(0, 30), frameTimes(30, 30), frameTimes(60, 30)}, 0},
		// The last keyframe is the last PES: its range runs to the end.
		{"last frame", synthOpts{frames: 121, keyframe: every(60), audio: 20}, 6 * time.Second, [][]float64{{0, 2, 4}}, 0},
		// The IDR is only recognized a few packets after its PES start.
		{"split header", synthOpts{frames: 300, keyframe: every(30), firstLimit: 5}, 4 * time.Second,
			[][]float64{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}, 0},
		{"two-packet PMT", synthOpts{frames: 300, keyframe: every(30), audio: 40, splitPMT: 10}, 4 * time.Second,
			[][]float64{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}, 3 * PacketSize},
		{"audio only", synthOpts{audio: 100}, 2 * time.Second, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := synthStream(tt.opts)
			c, err := split(t, in, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			video := tt.opts.frames > 0
			got := checkKeyframes(t, in, c, synthVideoPID, video)
			header := int64(tt.header)
			if header == 0 {
				header = 2 * PacketSize
			}
			for i, seg := range c.segs {
				if seg.HeaderSize != header {
					t.Errorf("segment %d: HeaderSize %d, want %d", i, seg.HeaderSize, header)
				}
			}
			if !video {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("keyframe times %v, want %v", got, tt.want)
			}
			for i := range got {
				if len(got[i]) != len(tt.want[i]) {
					t.Fatalf("segment %d: %d keyframes at %v, want %v", i, len(got[i]), got[i], tt.want[i])
				}
				for j := range got[i] {
					if math.Abs(got[i][j]-tt.want[i][j]) > 1e-9 {
						t.Fatalf("segment %d: keyframes at %v, want %v", i, got[i], tt.want[i])
					}
				}
			}
			if tt.header == 0 { // (these helpers expect a one-packet PMT)
				for i := range c.segs {
					checkSegment(t, c.segs[i], c.data[i], video)
				}
				checkPassThrough(t, in, c.data)
			}
		})
	}
}

// TestSplitKeyframesKept makes sure the Keyframes handed to emit are not
// reused: a callback may keep them while data is gone.
func TestSplitKeyframesKept(t *testing.T) {
	in := synthStream(synthOpts{frames: 600, keyframe: func(i int) bool { return i%30 == 0 }})
	var kept [][]Keyframe
	var copies [][]Keyframe
	_, err := SplitTS(bytes.NewReader(in), Options{TargetDuration: 3 * time.Second}, func(seg Segment, data []byte) error {
		kept = append(kept, seg.Keyframes)
		copies = append(copies, slices.Clone(seg.Keyframes))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keyframes every second, 3 s segments, 20 s.
	want := []int{3, 3, 3, 3, 3, 3, 2}
	if len(kept) != len(want) {
		t.Fatalf("%d segments, want %d", len(kept), len(want))
	}
	for i := range kept {
		if len(copies[i]) != want[i] || !slices.Equal(kept[i], copies[i]) {
			t.Errorf("segment %d: kept Keyframes %v, at emit %v; want %d", i, kept[i], copies[i], want[i])
		}
	}
}

// checkKeyframesDecode plays an I-frame playlist: for each keyframe, the
// segment header followed by the keyframe's byte range must decode with
// ffmpeg to exactly one key frame with the keyframe's PTS.
func checkKeyframesDecode(t *testing.T, c collected, origin float64) {
	t.Helper()
	dir := t.TempDir()
	wrap := float64(ptsWrap) / clockRate
	for i, seg := range c.segs {
		data := c.data[i]
		for j, k := range seg.Keyframes {
			name := filepath.Join(dir, fmt.Sprintf("kf%03d-%02d.ts", i, j))
			b := slices.Concat(data[:seg.HeaderSize], data[k.Offset:k.Offset+k.Size])
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pts_time,key_frame,pict_type",
				"-of", "csv=p=0", name)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("segment %d keyframe %d: ffprobe: %v\n%s", i, j, err, stderr.String())
			}
			lines := strings.Fields(strings.TrimSpace(string(out)))
			if len(lines) != 1 {
				t.Errorf("segment %d keyframe %d (%d+%d): decoded frames %q, want one", i, j, k.Offset, k.Size, lines)
				continue
			}
			f := strings.Split(lines[0], ",")
			if len(f) < 3 || f[0] != "1" || f[2] != "I" {
				t.Errorf("segment %d keyframe %d: frame %q is not a key frame", i, j, lines[0])
				continue
			}
			pts, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("ffprobe pts %q: %v", f[1], err)
			}
			if rel := math.Mod(pts-origin+wrap, wrap); math.Abs(rel-k.Time) > 1e-4 {
				t.Errorf("segment %d keyframe %d: decoded PTS %v is %v after the first, Time %v", i, j, pts, rel, k.Time)
			}
		}
	}
}

// firstKeyPTS returns ffprobe's PTS of the first video keyframe of path.
func firstKeyPTS(t *testing.T, path string) float64 {
	t.Helper()
	for _, p := range probePackets(t, path, "v") {
		if p.Key {
			return p.PTS
		}
	}
	t.Fatalf("ffprobe finds no video keyframe in %s", path)
	return 0
}

// checkKeyframeTimes compares the keyframe times of all segments with
// ffprobe's key packets of the input.
func checkKeyframeTimes(t *testing.T, path string, c collected) {
	t.Helper()
	var want []float64
	for _, p := range probePackets(t, path, "v") {
		if p.Key {
			want = append(want, p.PTS)
		}
	}
	origin := want[0]
	for i := range want {
		want[i] -= origin
	}
	slices.Sort(want[1:])
	var got []float64
	for _, seg := range c.segs {
		for _, k := range seg.Keyframes {
			got = append(got, k.Time)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("keyframes at %v, ffprobe says %v", got, want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-4 {
			t.Fatalf("keyframes at %v, ffprobe says %v", got, want)
		}
	}
}
