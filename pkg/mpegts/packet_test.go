package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// collected is the result of one SplitTS run with copies of all segment data.
type collected struct {
	info Info
	segs []Segment
	data [][]byte
}

func split(tb testing.TB, in []byte, target time.Duration) (collected, error) {
	tb.Helper()
	var c collected
	var err error
	c.info, err = SplitTS(bytes.NewReader(in), Options{TargetDuration: target}, func(seg Segment, data []byte) error {
		c.segs = append(c.segs, seg)
		c.data = append(c.data, bytes.Clone(data))
		return nil
	})
	return c, err
}

func TestSplitTSErrors(t *testing.T) {
	pat := newTSWriter()
	pat.psi(pidPAT, patSection(synthPMTPID))
	patOnly := bytes.Repeat(pat.bytes(), 3)

	noMedia := newTSWriter()
	noMedia.psi(pidPAT, patSection(synthPMTPID))
	noMedia.psi(synthPMTPID, pmtSection(0x100, esDesc{0x02, 0x100})) // MPEG-2 video

	null := make([]byte, PacketSize)
	null[0], null[1], null[2], null[3] = syncByte, 0x1f, 0xff, 0x10

	videoNoIDR := synthStream(synthOpts{frames: 10, keyframe: func(int) bool { return false }})

	badCRC := newTSWriter()
	sec := patSection(synthPMTPID)
	sec[len(sec)-1] ^= 1
	badCRC.psi(pidPAT, sec)

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotTransportStream},
		{"no sync", make([]byte, 3*PacketSize), ErrNotTransportStream},
		{"text", []byte(strings.Repeat("hello, world ", 100)), ErrNotTransportStream},
		{"short garbage", []byte{1, 2, 3}, ErrNotTransportStream},
		{"short packet", []byte{syncByte, 0, 0, 0x10}, ErrTruncated},
		{"truncated packet", append(bytes.Clone(patOnly), make([]byte, 100)...), ErrTruncated},
		{"lost sync", append(bytes.Clone(patOnly), make([]byte, PacketSize)...), ErrNotTransportStream},
		{"no PAT", bytes.Repeat(null, 5), ErrNoPAT},
		{"PAT with bad CRC", badCRC.bytes(), ErrNoPAT},
		{"PAT without PMT", patOnly, ErrNoPMT},
		{"PMT without supported stream", noMedia.bytes(), ErrNoMedia},
		{"video without IDR", videoNoIDR, ErrNoKeyframe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := split(t, tt.in, 6*time.Second)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "mpegts: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if len(c.segs) != 0 {
				t.Errorf("emitted %d segments", len(c.segs))
			}
		})
	}
}

func TestSplitTSOptions(t *testing.T) {
	in := synthStream(synthOpts{frames: 30})
	for _, d := range []time.Duration{0, -time.Second, MaxTargetDuration + 1} {
		if _, err := split(t, in, d); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("TargetDuration %v: err = %v, want ErrInvalidOptions", d, err)
		}
	}
	_, err := SplitTS(bytes.NewReader(in), Options{TargetDuration: time.Second, MaxSegmentSize: 10 * PacketSize}, nil)
	if !errors.Is(err, ErrSegmentTooLarge) {
		t.Errorf("small MaxSegmentSize: err = %v, want ErrSegmentTooLarge", err)
	}
}

func TestSplitTSEmitError(t *testing.T) {
	in := synthStream(synthOpts{frames: 300, keyframe: func(i int) bool { return i%60 == 0 }})
	stop := errors.New("stop")
	calls := 0
	info, err := SplitTS(bytes.NewReader(in), Options{TargetDuration: 2 * time.Second}, func(Segment, []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 || info.Segments != 2 {
		t.Fatalf("err = %v after %d calls, %d segments; want stop after 2", err, calls, info.Segments)
	}
}

// TestSplitSynthetic covers cut placement on hand-made streams, including
// cases ffmpeg does not produce.
func TestSplitSynthetic(t *testing.T) {
	every := func(n int) func(int) bool { return func(i int) bool { return i%n == 0 } }
	at := func(secs ...float64) func(int) bool {
		return func(i int) bool {
			for _, s := range secs {
				if int(math.Round(s*30)) == i {
					return true
				}
			}
			return false
		}
	}
	tests := []struct {
		name   string
		opts   synthOpts
		target time.Duration
		want   []float64 // durations
	}{
		{"regular", synthOpts{frames: 600, keyframe: every(60), audio: 20*48000/4096 + 1}, 6 * time.Second, []float64{6, 6, 6, 2}},
		{"video only", synthOpts{frames: 600, keyframe: every(60)}, 6 * time.Second, []float64{6, 6, 6, 2}},
		// Boundary 6: 5.5 is nearer than 7, so the cut looks back; boundary
		// 12: 11 and 13 tie, so the later wins; 17.9 is never nearer to a
		// boundary than the end.
		{"look-back and ties", synthOpts{frames: 600, keyframe: at(0, 2.5, 5, 5.5, 7, 11, 13, 17.9)}, 6 * time.Second, []float64{5.5, 7.5, 7}},
		// Keyframes every 2 s, T = 5: 4 vs 6 tie at 5 → 6; 10 exact; 14 vs
		// 16 tie at 15 → 16.
		{"ties", synthOpts{frames: 600, keyframe: every(60)}, 5 * time.Second, []float64{6, 4, 6, 4}},
		// A long gap: 1 is nearer to 6 than 15 is, and 15 then serves 12.
		{"gap", synthOpts{frames: 600, keyframe: at(0, 1, 15, 16)}, 6 * time.Second, []float64{1, 14, 5}},
		// PTS starts just below 2^33 and wraps after 1 s.
		{"wrap", synthOpts{frames: 600, keyframe: every(60), audio: 100, startPTS: ptsWrap - 90000}, 6 * time.Second, []float64{6, 6, 6, 2}},
		// PES header split across packets.
		{"split header", synthOpts{frames: 300, keyframe: every(60), firstLimit: 5}, 4 * time.Second, []float64{4, 4, 2}},
		// AUD start code split across packets (header is 14 bytes).
		{"split start code", synthOpts{frames: 300, keyframe: every(60), firstLimit: 16}, 4 * time.Second, []float64{4, 4, 2}},
		// Audio only: PES every 7680 ticks (85.33 ms); 4 AAC frames each.
		// Boundary 2 → PES 23 (1.963 s), 4 → 47, 6 → 70, 8 → 94.
		{"audio only", synthOpts{audio: 100}, 2 * time.Second, []float64{
			23 * 7680.0 / clockRate, 24 * 7680.0 / clockRate, 23 * 7680.0 / clockRate, 24 * 7680.0 / clockRate, 6 * 7680.0 / clockRate,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := synthStream(tt.opts)
			c, err := split(t, in, tt.target)
			if err != nil {
				t.Fatal(err)
			}
			checkDurations(t, c, tt.want, 1e-9)
			video := tt.opts.frames > 0
			for i := range c.segs {
				checkSegment(t, c.segs[i], c.data[i], video)
			}
			checkContinuity(t, c.data)
			checkPassThrough(t, in, c.data)
			checkKeyframes(t, in, c, synthVideoPID, video)
			if video && (c.info.Width != 320 || c.info.Height != 180 || c.info.VideoCodec != "avc1.42c01e") {
				t.Errorf("info = %+v, want 320x180 avc1.42c01e", c.info)
			}
			if tt.opts.audio > 0 && (c.info.AudioCodec != "mp4a.40.2" || c.info.SampleRate != 48000) {
				t.Errorf("info = %+v, want mp4a.40.2 at 48000 Hz", c.info)
			}
		})
	}
}

// TestSplitHeaderLayouts moves the first-packet payload size of every video
// PES across the whole PES header and first start codes.
func TestSplitHeaderLayouts(t *testing.T) {
	for limit := 1; limit <= 40; limit++ {
		in := synthStream(synthOpts{frames: 120, keyframe: func(i int) bool { return i%30 == 0 }, firstLimit: limit})
		c, err := split(t, in, time.Second)
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		if len(c.segs) != 4 || c.info.Width != 320 {
			t.Errorf("limit %d: %d segments, info %+v; want 4 segments at 320 wide", limit, len(c.segs), c.info)
		}
	}
}

func checkDurations(t *testing.T, c collected, want []float64, tol float64) {
	t.Helper()
	got := make([]float64, len(c.segs))
	var sum float64
	for i, s := range c.segs {
		got[i] = s.Duration
		sum += s.Duration
		if s.Index != i {
			t.Errorf("segment %d has Index %d", i, s.Index)
		}
		if i > 0 {
			prev := c.segs[i-1]
			if d := s.Start - (prev.Start + prev.Duration); math.Abs(d) > 1e-9 {
				t.Errorf("segment %d Start %v != previous end %v", i, s.Start, prev.Start+prev.Duration)
			}
		} else if s.Start != 0 {
			t.Errorf("segment 0 Start = %v, want 0", s.Start)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("durations = %v, want %v", got, want)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("durations = %v, want %v", got, want)
		}
	}
	if c.info.Segments != len(c.segs) || math.Abs(c.info.Duration-sum) > 1e-9 {
		t.Errorf("info Segments=%d Duration=%v; want %d, %v", c.info.Segments, c.info.Duration, len(c.segs), sum)
	}
}

// tsPIDs reads the PMT, video and audio PIDs from a segment's header.
func tsPIDs(t *testing.T, data []byte) (pmt, video, audio uint16, hasVideo, hasAudio bool) {
	t.Helper()
	var sb sectionBuffer
	sec, ok := sb.feed(data[:PacketSize], packetPayload(data[:PacketSize]), true)
	if !ok {
		t.Fatal("segment does not start with a complete PAT section")
	}
	pmt, ok = parsePAT(sec)
	if !ok {
		t.Fatal("segment's first packet is not a valid PAT")
	}
	p := data[PacketSize : 2*PacketSize]
	if packetPID(p) != pmt {
		t.Fatalf("second packet has PID %#x, want PMT PID %#x", packetPID(p), pmt)
	}
	sec, ok = sb.feed(p, packetPayload(p), true)
	if !ok {
		t.Fatal("second packet does not hold a complete PMT section")
	}
	info, ok := parsePMT(sec, pmt)
	if !ok {
		t.Fatal("second packet is not a valid PMT")
	}
	return pmt, info.videoPID, info.audioPID, info.hasVideo, info.hasAudio
}

// firstVCLType returns the NAL type of the first VCL NAL in the video PES
// starting at data[off], found by a simple independent scan.
func firstVCLType(data []byte, off int, pid uint16) (int, error) {
	var es []byte
	for o := off; o+PacketSize <= len(data); o += PacketSize {
		p := data[o : o+PacketSize]
		if packetPID(p) != pid {
			continue
		}
		if o > off && p[1]&0x40 != 0 {
			break
		}
		es = append(es, packetPayload(p)...)
	}
	if len(es) < 9 || es[0] != 0 || es[1] != 0 || es[2] != 1 {
		return 0, fmt.Errorf("no PES start code")
	}
	es = es[9+int(es[8]):]
	for i := 0; i+3 < len(es); i++ {
		if es[i] == 0 && es[i+1] == 0 && es[i+2] == 1 {
			if typ := int(es[i+3] & 0x1f); typ >= 1 && typ <= 5 {
				return typ, nil
			}
		}
	}
	return 0, fmt.Errorf("no VCL NAL unit in %d bytes", len(es))
}

// checkSegment verifies the layout promised for every segment.
func checkSegment(t *testing.T, seg Segment, data []byte, video bool) {
	t.Helper()
	if seg.Size != int64(len(data)) || len(data)%PacketSize != 0 || len(data) < 3*PacketSize {
		t.Fatalf("segment %d: Size %d, len %d", seg.Index, seg.Size, len(data))
	}
	for o := 0; o < len(data); o += PacketSize {
		if data[o] != syncByte {
			t.Fatalf("segment %d: no sync byte at %d", seg.Index, o)
		}
	}
	_, vpid, apid, hasVideo, _ := tsPIDs(t, data)
	first := data[2*PacketSize : 3*PacketSize]
	if !video {
		if packetPID(first) != apid || first[1]&0x40 == 0 {
			t.Errorf("segment %d: third packet is not an audio PES start", seg.Index)
		}
		if seg.KeyframeEnd != 0 {
			t.Errorf("segment %d: audio-only KeyframeEnd = %d, want 0", seg.Index, seg.KeyframeEnd)
		}
		return
	}
	if !hasVideo || packetPID(first) != vpid || first[1]&0x40 == 0 {
		t.Fatalf("segment %d: third packet (PID %#x) is not a video PES start", seg.Index, packetPID(first))
	}
	typ, err := firstVCLType(data, 2*PacketSize, vpid)
	if err != nil || typ != nalSliceIDR {
		t.Fatalf("segment %d: first video PES: NAL type %d, %v; want IDR (5)", seg.Index, typ, err)
	}
	// KeyframeEnd is the next video PES start, with no other in between.
	ke := int(seg.KeyframeEnd)
	if ke <= 2*PacketSize || ke > len(data) || ke%PacketSize != 0 {
		t.Fatalf("segment %d: KeyframeEnd %d out of range (len %d)", seg.Index, ke, len(data))
	}
	for o := 3 * PacketSize; o < len(data); o += PacketSize {
		p := data[o : o+PacketSize]
		if packetPID(p) == vpid && p[1]&0x40 != 0 {
			if o != ke {
				t.Errorf("segment %d: next video PES at %d, KeyframeEnd %d", seg.Index, o, ke)
			}
			return
		}
	}
	if ke != len(data) {
		t.Errorf("segment %d: no second video PES, but KeyframeEnd %d != len %d", seg.Index, ke, len(data))
	}
}

// checkContinuity verifies that continuity counters of every PID run on
// without a gap across the concatenated segments.
func checkContinuity(t *testing.T, segs [][]byte) {
	t.Helper()
	if breaks := ccBreaks(segs); len(breaks) > 0 {
		t.Fatalf("%d counter breaks, the first: %s", len(breaks), breaks[0])
	}
}

// ccBreaks describes each packet whose continuity counter does not follow
// the one before of the same PID.
func ccBreaks(segs [][]byte) []string {
	last := map[uint16]uint8{}
	var breaks []string
	for i, data := range segs {
		for o := 0; o+PacketSize <= len(data); o += PacketSize {
			p := data[o : o+PacketSize]
			if !hasPayload(p) {
				continue
			}
			pid, cc := packetPID(p), p[3]&0x0f
			if l, ok := last[pid]; ok && cc != (l+1)&0x0f {
				breaks = append(breaks, fmt.Sprintf("segment %d offset %d: PID %#x CC %d after %d", i, o, pid, cc, l))
			}
			last[pid] = cc
		}
	}
	return breaks
}

// checkPassThrough verifies that, leaving out PAT/PMT, the concatenated
// segments are the input's packets from some point on, byte for byte.
func checkPassThrough(t *testing.T, in []byte, segs [][]byte) {
	t.Helper()
	pmt, _, _, _, _ := tsPIDs(t, segs[0])
	strip := func(b []byte) []byte {
		var out []byte
		for o := 0; o+PacketSize <= len(b); o += PacketSize {
			if pid := packetPID(b[o:]); pid != pidPAT && pid != pmt {
				out = append(out, b[o:o+PacketSize]...)
			}
		}
		return out
	}
	out := strip(bytes.Join(segs, nil))
	src := strip(in)
	if len(out) == 0 || len(out) > len(src) || !bytes.Equal(out, src[len(src)-len(out):]) {
		t.Fatalf("output packets (%d bytes) are not the tail of the input packets (%d bytes)", len(out), len(src))
	}
	if dropped := len(src) - len(out); dropped > 4*PacketSize {
		t.Errorf("%d bytes dropped before the first keyframe", dropped)
	}
}
