// Package mpegts cuts an MPEG transport stream (as written by ffmpeg's mpegts
// muxer: one program with an H.264 and/or an AAC ADTS stream) into HLS media
// segments, in a single streaming pass and without external tools.
//
// Segments start at IDR access units (or at audio PES starts for audio-only
// streams) chosen on a fixed time grid, so renditions encoded with the same
// keyframe times are cut at the same times. Each segment starts with a PAT and
// a PMT so it can be decoded on its own; every other packet is copied
// unchanged, so the concatenated segments carry the original elementary
// streams.
package mpegts

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Sentinel errors; SplitTS wraps them with context, test with errors.Is.
var (
	// ErrNotTransportStream: the input is empty or not made of 188-byte
	// packets starting with the 0x47 sync byte.
	ErrNotTransportStream = errors.New("not an MPEG transport stream")
	// ErrTruncated: the input ends inside a packet.
	ErrTruncated = errors.New("truncated packet")
	// ErrNoPAT: no valid program association table was found.
	ErrNoPAT = errors.New("no program association table")
	// ErrNoPMT: the PAT names a PMT PID, but no valid PMT was found there.
	ErrNoPMT = errors.New("no program map table")
	// ErrNoMedia: the PMT lists neither an H.264 (0x1b) nor an AAC ADTS (0x0f) stream.
	ErrNoMedia = errors.New("no H.264 or AAC stream")
	// ErrNoKeyframe: the streams exist but no segment could start: no IDR
	// access unit (or, audio-only, no audio PES) with a PTS.
	ErrNoKeyframe = errors.New("no keyframe to start a segment")
	// ErrSegmentTooLarge: a segment (with its look-back) exceeded
	// Options.MaxSegmentSize, e.g. a video without keyframes.
	ErrSegmentTooLarge = errors.New("segment too large")
	// ErrInvalidOptions: Options are out of range.
	ErrInvalidOptions = errors.New("invalid options")
)

const (
	// DefaultMaxSegmentSize is the buffering limit used when
	// Options.MaxSegmentSize is 0.
	DefaultMaxSegmentSize = 512 << 20
	// MaxTargetDuration bounds Options.TargetDuration so that grid
	// arithmetic cannot overflow.
	MaxTargetDuration = 24 * time.Hour
	// MaxHold bounds Options.Hold.
	MaxHold = 16

	readSize      = 256 << 10 // bytes asked of the reader at a time
	minBufferSize = 512 << 10 // initial segment buffer capacity

	// Grid arithmetic is exact in integers: a PTS tick (1/90000 s) is
	// ticksScale units and a nanosecond is nanosScale units.
	ticksScale = 100000
	nanosScale = 9
	// maxRelTicks ignores cut candidates absurdly far from the first PTS
	// (about 127 days), which only garbage produces, keeping the scaled
	// values far from int64 overflow.
	maxRelTicks = 1 << 40
)

// Options controls where SplitTS cuts.
type Options struct {
	TargetDuration time.Duration // e.g. 6*time.Second; must be > 0 and <= MaxTargetDuration
	// MaxSegmentSize bounds the bytes buffered for one segment plus its
	// look-back GOP; 0 means DefaultMaxSegmentSize.
	MaxSegmentSize int64
	// MaxSegments, if > 0, stops cutting once that many segments are
	// started: the rest of the stream joins the last one. A chunk of a
	// longer video planned as N segments is cut into N, however its audio
	// packets happen to fall near its end.
	MaxSegments int
	// Hold is how many emitted segments' data stay valid: a segment's data
	// is left alone until the Hold-th emit after it returns. 0 means 1.
	// Each costs a buffer of a segment's size; Behind writes that many
	// segments at once.
	Hold int
	// Continuous makes the output of separate runs over consecutive pieces
	// of one presentation (a video's chunks, each written by its own muxer,
	// whose counters all start again at 0) play as one stream: the
	// continuity counter of every PID is numbered from 0 in the first
	// segment, and the last segment is padded so that every PID's counter
	// ends on 15, where the next piece's first packet (0) continues it
	// (RFC 8216 §3: each segment carries on the bitstream of the one
	// before). The padding splits packets already there (the payload bytes
	// spread over more packets, with adaptation-field stuffing; PAT and PMT
	// repeated), so no byte of any elementary stream changes. Packets of
	// PIDs that are neither PAT, PMT nor a stream SplitTS cuts (SDT, null
	// packets) are dropped: nothing could keep their counters in step.
	Continuous bool
}

// Segment describes one cut, handed to the emit callback with its bytes.
type Segment struct {
	Index int // 0-based
	// Start is in seconds since the first presentation timestamp of the
	// main stream (video if present, else audio), unwrapped from 33 bits:
	// the PTS of the segment's first keyframe (or audio PES) minus that of
	// segment 0, so segment 0 starts at 0.
	Start float64
	// Duration is in seconds, from PTS: the next segment's Start minus this
	// Start. For the last segment it runs to the end of the main stream:
	// its largest PTS plus one frame (the most common step between sorted
	// PTS values), or for audio-only the end of the last PES's ADTS frames.
	Duration float64
	Size     int64 // len(data)
	// KeyframeEnd is the byte offset in data where the segment's first
	// keyframe (IDR access unit) ends: the offset of the first packet of the
	// next video PES (len(data) if there is none). 0 for audio-only.
	KeyframeEnd int64
	// HeaderSize is the length of the PAT/PMT packets at the start of data
	// (the segment header SplitTS puts in front of every segment).
	HeaderSize int64
	// Keyframes lists the IDR access units in the segment, in order (nil for
	// audio-only): Offset of the keyframe PES's first packet in data, Size up
	// to the first packet of the next video PES (or the end of data), and
	// Time, its PTS in seconds since the first PTS of the stream (the same
	// clock as Segment.Start). Keyframes[0] is the one the segment starts
	// with: Offset == HeaderSize, Size == KeyframeEnd-HeaderSize and Time ==
	// Start.
	//
	// These are the IDRs of the main video stream that SplitTS considers as
	// cut points: those with a PTS, whose PES starts in the segment. The
	// ranges are packet-aligned, ordered and do not overlap; Times increase
	// as long as the stream's timestamps do (see SplitTS). Together with
	// data[:HeaderSize] as the initialization section, each range can be
	// decoded on its own, which is what an I-frame playlist
	// (EXT-X-I-FRAMES-ONLY) refers to.
	//
	// The slice is freshly allocated for each segment: unlike data, the
	// callback may keep it.
	Keyframes []Keyframe
}

// Keyframe is an IDR access unit in a segment's data; see Segment.Keyframes.
type Keyframe struct {
	Offset, Size int64   // byte range in the segment data, whole packets
	Time         float64 // PTS in seconds since the first PTS of the stream
}

// Info describes the stream, found while splitting.
type Info struct {
	VideoCodec    string // RFC 6381 string from the first SPS, e.g. "avc1.64001f"; "" if no video
	AudioCodec    string // "mp4a.40.N" with N = ADTS profile + 1; "" if no audio
	Width, Height int    // cropped picture size from the SPS; 0 if no video
	SampleRate    int    // Hz, from the first ADTS header; 0 if no audio
	Channels      int    // from the first ADTS header's channel_configuration
	// Captions: the video carries CEA-608/708 closed captions (an SEI
	// with ATSC A/53 cc_data before some access unit's first slice).
	Captions bool
	Duration float64 // total seconds (sum of segment durations)
	Segments int
}

// SplitTS reads a transport stream from r (as a stream: it never holds more
// than the current segment plus one GOP in memory) and cuts it into
// segments, calling emit for each in order. data stays valid until the next
// call of emit returns (the Options.Hold-th next), or after the last one,
// so emit may hand it to a writer that works while the next segments are
// cut, provided it waits for that write before then (see Behind).
// seg.Keyframes may be kept. A nil emit only gathers Info. r is read in
// large blocks; it needs no buffering.
//
// Segments start at IDR access units (audio-only: at audio PES starts). The
// k-th cut is the candidate nearest to k*TargetDuration after the first PTS
// (ties go to the later one); the next cut then aims at the first multiple
// of TargetDuration after the cut. So renditions with the same keyframe
// times get the same cuts.
//
// Packets before the first cut point (other than PAT/PMT, which are used as
// the segment headers) are dropped: ffmpeg output starts with an IDR, so this
// normally drops nothing but a leading SDT.
//
// Timestamps must increase apart from 33-bit wraparound and frame
// reordering; after a backwards jump (a splice) no keyframe qualifies until
// the timeline catches up, and the segment grows until MaxSegmentSize.
//
// On error, Info holds what was found so far; segments already emitted stay
// valid, and a partial last segment is not emitted.
func SplitTS(r io.Reader, opts Options, emit func(seg Segment, data []byte) error) (Info, error) {
	if opts.TargetDuration <= 0 || opts.TargetDuration > MaxTargetDuration {
		return Info{}, fmt.Errorf("mpegts: TargetDuration %v must be in (0, %v]: %w", opts.TargetDuration, MaxTargetDuration, ErrInvalidOptions)
	}
	if opts.MaxSegments < 0 {
		return Info{}, fmt.Errorf("mpegts: MaxSegments %d is negative: %w", opts.MaxSegments, ErrInvalidOptions)
	}
	if opts.Hold < 0 || opts.Hold > MaxHold {
		return Info{}, fmt.Errorf("mpegts: Hold %d must be in [0, %d]: %w", opts.Hold, MaxHold, ErrInvalidOptions)
	}
	if opts.MaxSegmentSize < 0 {
		return Info{}, fmt.Errorf("mpegts: MaxSegmentSize %d is negative: %w", opts.MaxSegmentSize, ErrInvalidOptions)
	}
	s := &splitter{
		emit:    emit,
		r:       r,
		step:    int64(opts.TargetDuration) * nanosScale,
		maxSize: opts.MaxSegmentSize,
		maxSegs: opts.MaxSegments,
		cc:      make(map[uint16]uint8, 2),
		joins:   opts.Continuous,
		kfs:     make([]keyframe, 0, 16),
		spares:  make([][]byte, max(opts.Hold, 1)),
		k:       1,
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxSegmentSize
	}
	if s.joins {
		s.next = new([8192]uint8)
	}
	s.video.video = true
	s.stats.hist = make(map[int64]int, 4)
	err := s.run()
	s.info.Segments = s.index
	return s.info, err
}

// esStream is the parsing state of one elementary stream PID.
type esStream struct {
	pid     uint16
	present bool
	video   bool
	codec   Codec // video
	rai     bool  // the PES's first packet said random access (HEVC, AV1)

	inPES    bool // inside a PES whose header is valid (so far)
	hdr      pesHeader
	pts, dts int64 // unwrapped
	hasPTS   bool
	off      int  // offset in splitter.cur of the PES's first packet, -1 if not buffered
	reported bool // the keyframe decision for this PES has been made

	nal  nalScanner  // video
	adts adtsScanner // audio
}

// candidate is a possible cut point in the current segment buffer.
type candidate struct {
	off   int   // offset of the keyframe PES's first packet in splitter.cur
	t     int64 // PTS ticks since origin
	valid bool
}

// keyframe is an IDR access unit of the main video stream in splitter.cur.
type keyframe struct {
	off int   // offset of its PES's first packet
	end int   // offset of the first packet of the next video PES, -1 until known
	t   int64 // PTS ticks since origin
}

// deltaStats finds the most common positive difference between consecutive
// sorted PTS values without keeping them all: values are sorted in small
// chunks, which is exact except for a reordered frame straddling a chunk
// boundary; the mode is unaffected by such rare outliers.
type deltaStats struct {
	chunk    []int64
	last     int64
	haveLast bool
	hist     map[int64]int
}

const deltaChunk = 64

func (d *deltaStats) add(v int64) {
	d.chunk = append(d.chunk, v)
	if len(d.chunk) >= deltaChunk {
		d.flush()
	}
}

func (d *deltaStats) flush() {
	slices.Sort(d.chunk)
	for _, v := range d.chunk {
		if d.haveLast {
			if dd := v - d.last; dd > 0 {
				d.hist[dd]++
			}
		}
		d.last, d.haveLast = v, true
	}
	d.chunk = d.chunk[:0]
}

// mode returns the most common delta (the smallest on ties), 0 if none.
func (d *deltaStats) mode() int64 {
	d.flush()
	var best int64
	n := 0
	for v, c := range d.hist {
		if c > n || c == n && v < best {
			best, n = v, c
		}
	}
	return best
}

type splitter struct {
	emit    func(Segment, []byte) error
	r       io.Reader
	pkt     []byte // the packet being handled: cur[len(cur):][:PacketSize]
	offset  int64  // input offset of pkt
	pending int    // bytes read into cur after len(cur), not yet handled
	// rebased: cur was rebased while handling pkt, which (with the payload
	// slices the handlers hold) now lies in the newest of spares.
	rebased bool
	step    int64 // TargetDuration in scaled units
	maxSize int64
	maxSegs int
	info    Info

	// PSI.
	pat, pmt         sectionBuffer
	patPkts, pmtPkts []byte // latest complete PAT/PMT packets: segment headers
	havePAT, havePMT bool
	pmtPID           uint16
	cc               map[uint16]uint8 // next output continuity counter of PSI PIDs
	// joins: Options.Continuous. next is then the next output continuity
	// counter of every PID.
	joins bool
	next  *[8192]uint8

	video, audio esStream
	mainVideo    bool // cut on video keyframes (else on audio PES starts)

	haveSPS    bool
	haveADTS   bool
	sampleRate int
	rbsp       []byte // SPS parsing scratch

	unwrap  unwrapper
	stats   deltaStats // main stream PTS deltas
	maxPTS  int64      // unwrapped, main stream
	havePTS bool
	// audioEnd is the unwrapped end of the last complete audio PES (PTS +
	// its ADTS samples), in ticks; audio-only.
	audioEnd     float64
	haveAudioEnd bool

	// Current segment. cur holds the PAT/PMT header followed by the
	// segment's packets, then (after the look-back candidate) the packets
	// of the next segment so far.
	cur []byte
	// bufCap is the largest capacity cur has needed: new buffers start
	// there rather than growing (and copying) their way up again.
	bufCap int
	// spares are the buffers of the last emitted segments, oldest first:
	// Options.Hold of them, left alone until they are the oldest.
	spares   [][]byte
	hdrLen   int   // length of the PAT/PMT header at the start of cur
	psiOffs  []int // offsets in cur of PAT/PMT packets, whose CC we rewrite
	psiSpare []int
	// kfs are the keyframes in cur, in order (video only). The first one
	// starts the segment; only the last one can still wait for its end.
	kfs        []keyframe
	started    bool
	origin     int64 // unwrapped PTS of the first segment
	index      int
	k          int64 // next grid boundary is k*TargetDuration
	segStart   int64 // ticks since origin
	prev       candidate
	totalTicks int64
}

func (s *splitter) run() error {
	for {
		if s.pending < PacketSize {
			err := s.fill()
			if err != nil && err != io.EOF {
				return fmt.Errorf("mpegts: read at offset %d: %w", s.offset+int64(s.pending), err)
			}
			if err == io.EOF && s.pending < PacketSize {
				switch {
				case s.offset == 0 && s.pending > 0 && s.cur[:1][0] != syncByte:
					return fmt.Errorf("mpegts: no sync byte at offset 0 (found %#02x) in %d bytes of input: %w", s.cur[:1][0], s.pending, ErrNotTransportStream)
				case s.pending > 0:
					return fmt.Errorf("mpegts: input ends inside the packet at offset %d: %w (%w)", s.offset, ErrTruncated, io.ErrUnexpectedEOF)
				case s.offset == 0:
					return fmt.Errorf("mpegts: empty input: %w", ErrNotTransportStream)
				default:
					return s.finish()
				}
			}
			if s.pending < PacketSize {
				continue // a short read: read more
			}
		}
		at := len(s.cur)
		s.pkt = s.cur[at : at+PacketSize : at+PacketSize]
		if s.pkt[0] != syncByte {
			if s.offset == 0 {
				return fmt.Errorf("mpegts: no sync byte at offset 0 (found %#02x): %w", s.pkt[0], ErrNotTransportStream)
			}
			return fmt.Errorf("mpegts: lost sync at offset %d (found %#02x): %w", s.offset, s.pkt[0], ErrNotTransportStream)
		}
		s.rebased = false
		if err := s.packet(); err != nil {
			return err
		}
		s.offset += PacketSize
	}
}

// fill reads more input into cur's free capacity, after the bytes already
// read (s.pending of them, from len(cur) on), growing cur if it has less
// than readSize free. Reading straight into the segment buffer, where the
// packets are then parsed and kept, spares copying every byte twice (into
// a read buffer, then into the segment).
func (s *splitter) fill() error {
	end := len(s.cur) + s.pending
	if cap(s.cur)-end < readSize {
		// Double rather than grow by what is needed: each growth copies the
		// whole segment so far.
		s.bufCap = max(2*cap(s.cur), end+readSize, minBufferSize, s.bufCap)
		grown := make([]byte, end, s.bufCap)
		copy(grown, s.cur[:end])
		s.cur = grown[:len(s.cur)]
	}
	for range 100 { // io.Reader allows (0, nil); don't spin on it forever
		n, err := s.r.Read(s.cur[end : end+readSize])
		s.pending += n
		if n > 0 || err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// packet handles the packet in s.pkt.
func (s *splitter) packet() error {
	p := s.pkt
	pid := packetPID(p)
	if p[1]&0x80 != 0 { // transport_error_indicator: don't parse it, just pass it on
		return s.appendPacket(pid == pidPAT || s.havePAT && pid == s.pmtPID)
	}
	pusi := p[1]&0x40 != 0
	payload := packetPayload(p)
	switch {
	case pid == pidPAT:
		s.handlePAT(payload, pusi)
		return s.appendPacket(true)
	case s.havePAT && pid == s.pmtPID:
		if err := s.handlePMT(payload, pusi); err != nil {
			return err
		}
		return s.appendPacket(true)
	case s.video.present && pid == s.video.pid:
		return s.handleES(&s.video, payload, pusi)
	case s.audio.present && pid == s.audio.pid:
		return s.handleES(&s.audio, payload, pusi)
	case s.joins:
		s.dropPacket()
		return nil
	default:
		return s.appendPacket(false)
	}
}

// dropPacket leaves s.pkt out: the input read after it moves up into its
// place. (Only SDT and the like, a few times a second at most.)
func (s *splitter) dropPacket() {
	at := len(s.cur)
	copy(s.cur[at:at+s.pending], s.cur[at+PacketSize:at+s.pending])
	s.pending -= PacketSize
}

// appendPacket keeps s.pkt, which lies right after the current segment's
// bytes in cur, as part of the segment. Until a PMT is known there is no
// header to put in front of it, so it is dropped: cur is empty then, and
// starts after it.
func (s *splitter) appendPacket(psi bool) error {
	s.pending -= PacketSize
	if !s.havePMT {
		s.cur = s.cur[PacketSize:PacketSize]
		return nil
	}
	if psi {
		s.psiOffs = append(s.psiOffs, len(s.cur))
	} else if s.joins {
		// Numbered now, while the packet is in cache (at emit time every
		// packet of a segment would be read again). It lies at the end of
		// cur, which may no longer be where s.pkt points (a rebase copies
		// it).
		s.number(s.cur[len(s.cur) : len(s.cur)+PacketSize])
	}
	s.cur = s.cur[:len(s.cur)+PacketSize]
	if int64(len(s.cur)) > s.maxSize {
		return fmt.Errorf("mpegts: segment %d exceeds %d bytes at input offset %d: %w", s.index, s.maxSize, s.offset, ErrSegmentTooLarge)
	}
	return nil
}

func (s *splitter) handlePAT(payload []byte, pusi bool) {
	if payload == nil {
		return
	}
	sec, ok := s.pat.feed(s.pkt, payload, pusi)
	if !ok {
		return
	}
	pmtPID, ok := parsePAT(sec)
	if !ok {
		return
	}
	s.patPkts = append(s.patPkts[:0], s.pat.packets...)
	s.havePAT, s.pmtPID = true, pmtPID
}

func (s *splitter) handlePMT(payload []byte, pusi bool) error {
	if payload == nil {
		return nil
	}
	sec, ok := s.pmt.feed(s.pkt, payload, pusi)
	if !ok {
		return nil
	}
	info, ok := parsePMT(sec, s.pmtPID)
	if !ok {
		return nil
	}
	if !info.hasVideo && !info.hasAudio {
		return fmt.Errorf("mpegts: PMT on PID %#x at offset %d: %w", s.pmtPID, s.offset, ErrNoMedia)
	}
	s.pmtPkts = append(s.pmtPkts[:0], s.pmt.packets...)
	setStream(&s.video, info.videoPID, info.hasVideo)
	s.video.codec = info.videoCodec
	setStream(&s.audio, info.audioPID, info.hasAudio)
	if !s.started {
		s.mainVideo = info.hasVideo
	}
	if !s.havePMT {
		s.havePMT = true
		s.rebase(len(s.cur)) // start the buffer with the header
	}
	return nil
}

// setStream points st at pid, resetting it if the PID changed.
func setStream(st *esStream, pid uint16, present bool) {
	if st.present == present && st.pid == pid {
		return
	}
	st.pid, st.present = pid, present
	st.inPES, st.hasPTS, st.off = false, false, -1
}

func (s *splitter) handleES(st *esStream, payload []byte, pusi bool) error {
	isMain := st.video == s.mainVideo
	rai := randomAccess(s.pkt) // before appendPacket, which may move the packet
	if !st.video && !isMain && s.haveADTS {
		// Audio alongside video: only its codec matters, and we have it.
		return s.appendPacket(false)
	}
	if pusi {
		s.endPES(st)
		if st.video {
			s.resolveKeyframeEnd()
		}
		if isMain && !s.started {
			s.rebase(len(s.cur)) // drop what came before this PES
			s.restartCounters()
		}
		st.inPES, st.hasPTS, st.reported = true, false, false
		st.off = len(s.cur)
		st.hdr.reset()
		if st.video {
			st.rai = rai
			st.nal.reset(!s.haveSPS && st.codec == H264)
		} else {
			st.adts.reset()
		}
	}
	if err := s.appendPacket(false); err != nil {
		return err
	}
	if !st.inPES || len(payload) == 0 {
		return nil
	}
	b := payload
	if !st.hdr.done {
		b = st.hdr.feed(b)
		if !st.hdr.done {
			if st.hdr.bad {
				st.inPES = false
			}
			return nil
		}
		if err := s.onPESHeader(st, isMain); err != nil {
			return err
		}
		if st.video && st.codec != H264 {
			// HEVC, AV1: a keyframe is what the muxer flagged.
			st.reported = true
			if st.rai && isMain && st.hasPTS {
				return s.onCandidate(st.off, st.pts)
			}
			return nil
		}
	}
	if st.video && st.codec != H264 {
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	if !st.video {
		st.adts.feed(b)
		if st.adts.first && !s.haveADTS {
			s.haveADTS = true
			s.sampleRate = st.adts.info.sampleRate
			s.info.AudioCodec = st.adts.info.codec()
			s.info.SampleRate = s.sampleRate
			s.info.Channels = st.adts.info.channels
		}
		return nil
	}
	if !st.nal.busy() {
		return nil
	}
	st.nal.feed(b)
	if st.nal.captions {
		s.info.Captions = true
	}
	if st.nal.spsReady && !s.haveSPS {
		s.useSPS(st)
	}
	if st.nal.done && !st.reported {
		st.reported = true
		if st.nal.idr && isMain && st.hasPTS {
			return s.onCandidate(st.off, st.pts)
		}
	}
	return nil
}

// onPESHeader records the timestamps of a PES whose header is complete.
func (s *splitter) onPESHeader(st *esStream, isMain bool) error {
	pts, dts, hasPTS, hasDTS := st.hdr.timestamps()
	if !hasPTS {
		return nil
	}
	st.pts, st.hasPTS = s.unwrap.unwrap(pts), true
	st.dts = st.pts
	if hasDTS {
		st.dts = s.unwrap.unwrap(dts)
	}
	if !isMain {
		return nil
	}
	s.stats.add(st.pts)
	if !s.havePTS || st.pts > s.maxPTS {
		s.maxPTS, s.havePTS = st.pts, true
	}
	if !st.video {
		// Audio-only: every audio PES start is a cut candidate.
		return s.onCandidate(st.off, st.pts)
	}
	return nil
}

// endPES finishes the PES in progress on st, if any.
func (s *splitter) endPES(st *esStream) {
	if !st.inPES {
		return
	}
	st.inPES = false
	if st.video {
		st.nal.finish()
		if st.nal.spsReady && !s.haveSPS {
			s.useSPS(st)
		}
		return
	}
	if st.video == s.mainVideo && st.hasPTS && st.adts.samples > 0 && s.sampleRate > 0 {
		end := float64(st.pts) + float64(st.adts.samples)*clockRate/float64(s.sampleRate)
		if !s.haveAudioEnd || end > s.audioEnd {
			s.audioEnd, s.haveAudioEnd = end, true
		}
	}
}

// useSPS parses the SPS captured on st; on failure the next SPS is tried.
func (s *splitter) useSPS(st *esStream) {
	sps, err := parseSPS(st.nal.sps, s.rbsp)
	st.nal.spsReady = false
	st.nal.sps = st.nal.sps[:0]
	if err != nil {
		return
	}
	s.haveSPS = true
	st.nal.wantSPS = false
	s.info.VideoCodec = sps.codec()
	s.info.Width, s.info.Height = sps.width, sps.height
}

// resolveKeyframeEnd is called at each video PES start, before its first
// packet is buffered: that packet ends the keyframe waiting for it.
func (s *splitter) resolveKeyframeEnd() {
	if n := len(s.kfs); n > 0 && s.kfs[n-1].end < 0 {
		s.kfs[n-1].end = len(s.cur)
	}
}

// onCandidate is called for each possible segment start: a keyframe PES whose
// first packet is at off in cur, with unwrapped PTS pts.
func (s *splitter) onCandidate(off int, pts int64) error {
	if off < 0 || off > len(s.cur) || off%PacketSize != 0 {
		return nil // its first packet is not (or no longer) buffered
	}
	if !s.started {
		s.started, s.origin = true, pts
		s.rebase(off)
		s.restartCounters()
		s.prev.valid = false
		if s.mainVideo {
			s.kfs = append(s.kfs[:0], keyframe{off: s.hdrLen, end: -1})
		}
		return nil
	}
	t := pts - s.origin
	if t < -maxRelTicks || t > maxRelTicks {
		return nil
	}
	if s.mainVideo {
		// Every keyframe goes on the list, whether or not it is a cut
		// candidate against the current boundary; cuts split the list at
		// their offset.
		s.kfs = append(s.kfs, keyframe{off: off, end: -1, t: t})
	}
	for {
		if s.maxSegs > 0 && s.index >= s.maxSegs-1 {
			return nil // the last planned segment takes the rest
		}
		boundary := s.k * s.step
		ts := t * ticksScale
		if ts < boundary {
			// Not there yet: remember it as the look-back candidate.
			if t > s.segStart {
				s.prev = candidate{off: off, t: t, valid: true}
			}
			return nil
		}
		if p := s.prev; p.valid && boundary-p.t*ticksScale < ts-boundary {
			// The previous candidate is strictly nearer the boundary: cut
			// there; this candidate then belongs to the next segment and is
			// considered again against the next boundary.
			s.prev.valid = false
			delta, err := s.cut(p.off, p.t)
			if err != nil {
				return err
			}
			off += delta
			continue
		}
		s.prev.valid = false
		_, err := s.cut(off, t)
		return err
	}
}

// cut emits cur[:off] as a segment ending at t (ticks since origin) and makes
// the rest of cur the start of the next segment. It returns how far offsets
// in cur moved.
func (s *splitter) cut(off int, t int64) (int, error) {
	if err := s.emitSegment(off, float64(t-s.segStart)); err != nil {
		return 0, err
	}
	s.totalTicks += t - s.segStart
	delta := s.rebase(off)
	s.segStart = t
	// This cut served boundary k; the next one is the first boundary after
	// t. (Only advancing "until k*T > t" would let a look-back cut just
	// before k*T serve boundary k twice and leave a short segment.)
	s.k = max(s.k+1, t*ticksScale/s.step+1)
	return delta, nil
}

// emitSegment hands cur[:off] to the callback as the segment s.index.
func (s *splitter) emitSegment(off int, durTicks float64) error {
	data := s.cur[:off]
	s.renumberPSI(data) // (elementary stream packets: see appendPacket)
	seg := Segment{
		Index:      s.index,
		Start:      float64(s.segStart) / clockRate,
		Duration:   durTicks / clockRate,
		Size:       int64(off),
		HeaderSize: int64(s.hdrLen),
	}
	s.index++
	if s.emit == nil {
		return nil
	}
	if s.mainVideo {
		seg.KeyframeEnd = int64(off)
		n := 0
		for n < len(s.kfs) && s.kfs[n].off < off {
			n++
		}
		if n > 0 {
			// A fresh slice per segment, so the callback may keep it.
			kfs := make([]Keyframe, n)
			for i, k := range s.kfs[:n] {
				end := k.end
				if end < 0 || end > off {
					end = off // no further video PES in this segment
				}
				kfs[i] = Keyframe{Offset: int64(k.off), Size: int64(end - k.off), Time: float64(k.t) / clockRate}
			}
			seg.Keyframes = kfs
			seg.KeyframeEnd = kfs[0].Offset + kfs[0].Size
		}
	}
	if err := s.emit(seg, data); err != nil {
		return fmt.Errorf("mpegts: emit segment %d: %w", seg.Index, err)
	}
	return nil
}

// rebase drops cur[:off] and puts the latest PAT/PMT in front of the rest,
// fixing up every stored offset. It returns the offset delta.
func (s *splitter) rebase(off int) int {
	hdrLen := len(s.patPkts) + len(s.pmtPkts)
	dst := s.spares[0][:0]
	if need := hdrLen + len(s.cur) - off + s.pending + readSize; s.rebased || cap(dst) < need {
		// (With s.rebased, the packet being handled, still read through its
		// payload slices, is in a spare: a second rebase within one packet
		// (the first segment's start, two cuts at one candidate) takes a
		// new buffer.)
		dst = make([]byte, 0, max(need, s.bufCap))
	}
	s.rebased = true
	n := append(dst, s.patPkts...)
	n = append(n, s.pmtPkts...)
	// The packet being handled and the input read after it go along.
	n = append(n, s.cur[off:len(s.cur)+s.pending]...)
	copy(s.spares, s.spares[1:])
	s.spares[len(s.spares)-1] = s.cur
	s.cur = n[:len(n)-s.pending]

	delta := hdrLen - off
	ps := s.psiSpare[:0]
	for o := 0; o < hdrLen; o += PacketSize {
		ps = append(ps, o)
	}
	for _, o := range s.psiOffs {
		if o >= off {
			ps = append(ps, o+delta)
		}
	}
	s.psiOffs, s.psiSpare = ps, s.psiOffs

	shift := func(o int) int {
		if o < off {
			return -1
		}
		return o + delta
	}
	s.video.off = shift(s.video.off)
	s.audio.off = shift(s.audio.off)
	if s.prev.valid {
		s.prev.off = shift(s.prev.off)
		if s.prev.off < 0 {
			s.prev.valid = false
		}
	}
	// Keyframes are in offset order: drop those before off, shift the rest
	// (their ends lie after their starts, so they stay buffered too).
	i := 0
	for i < len(s.kfs) && s.kfs[i].off < off {
		i++
	}
	kfs := s.kfs[:copy(s.kfs, s.kfs[i:])]
	for j := range kfs {
		kfs[j].off += delta
		if kfs[j].end >= 0 {
			kfs[j].end += delta
		}
	}
	s.kfs = kfs
	s.hdrLen = hdrLen
	return delta
}

// finish handles the end of input: it emits the last segment.
func (s *splitter) finish() error {
	switch {
	case !s.havePAT:
		return fmt.Errorf("mpegts: %d packets read: %w", s.offset/PacketSize, ErrNoPAT)
	case !s.havePMT:
		return fmt.Errorf("mpegts: PMT PID %#x: %w", s.pmtPID, ErrNoPMT)
	case !s.started && s.mainVideo:
		return fmt.Errorf("mpegts: video PID %#x has no IDR access unit with a PTS: %w", s.video.pid, ErrNoKeyframe)
	case !s.started:
		return fmt.Errorf("mpegts: audio PID %#x has no PES with a PTS: %w", s.audio.pid, ErrNoKeyframe)
	}
	s.endPES(&s.video)
	s.endPES(&s.audio)
	if s.joins {
		s.padCounters()
	}
	dur := s.streamEnd() - float64(s.segStart)
	if !(dur > 0) { // also catches NaN
		dur = 0
	}
	if err := s.emitSegment(len(s.cur), dur); err != nil {
		return err
	}
	s.info.Duration = (float64(s.totalTicks) + dur) / clockRate
	return nil
}

// streamEnd returns the end of the main stream in ticks since origin: the
// last PTS plus one frame, or for audio the end of the last PES's samples.
func (s *splitter) streamEnd() float64 {
	maxRel := float64(s.maxPTS - s.origin)
	frame := float64(s.stats.mode())
	if !s.mainVideo {
		if s.haveAudioEnd {
			return s.audioEnd - float64(s.origin)
		}
		if s.sampleRate > 0 {
			frame = samplesPerAACBlock * clockRate / float64(s.sampleRate)
		}
	}
	return maxRel + frame
}

// number gives packet p, if it carries a payload, the next continuity
// counter of its PID (Options.Continuous).
func (s *splitter) number(p []byte) {
	if hasPayload(p) {
		pid := packetPID(p)
		setCC(p, s.next[pid])
		s.next[pid] = (s.next[pid] + 1) & 0x0f
	}
}

// restartCounters numbers the elementary stream packets kept in cur from 0
// again, after a rebase before the first segment dropped packets already
// numbered (Options.Continuous).
func (s *splitter) restartCounters() {
	if !s.joins {
		return
	}
	*s.next = [8192]uint8{}
	for o := s.hdrLen; o+PacketSize <= len(s.cur); o += PacketSize {
		if pid := packetPID(s.cur[o:]); pid != pidPAT && pid != s.pmtPID {
			s.number(s.cur[o : o+PacketSize])
		}
	}
}

// padCounters adds packets to the last segment (cur) so that, once
// renumbered, every PID's last continuity counter is 15 (Options.Continuous):
// PAT and PMT are repeated at the end, and elementary stream packets are
// split in two or more with adaptation-field stuffing. A PID that cannot be
// padded (no payload packet of it in the last segment with bytes to spare)
// is left as it is.
func (s *splitter) padCounters() {
	var counts [8192]int32
	var pids []uint16 // in order of appearance, so the padding is deterministic
	for o := 0; o+PacketSize <= len(s.cur); o += PacketSize {
		if p := s.cur[o : o+PacketSize]; hasPayload(p) {
			pid := packetPID(p)
			if counts[pid] == 0 {
				pids = append(pids, pid)
			}
			counts[pid]++
		}
	}
	for _, pid := range pids {
		var table []byte // the latest PAT or PMT: repeated
		switch pid {
		case pidPAT:
			table = s.patPkts
		case s.pmtPID:
			table = s.pmtPkts
		default:
			// Numbered already: s.next counts them.
			if need := (16 - int(s.next[pid])) % 16; need > 0 {
				s.padStream(pid, need, (int(s.next[pid])-int(counts[pid]))&0x0f)
			}
			continue
		}
		// Numbered at emit (renumberPSI), from s.cc on.
		need := (16 - (int(s.cc[pid])+int(counts[pid]))%16) % 16
		if need > 0 && len(table) == PacketSize { // (a table over several packets is left)
			s.cur = slices.Grow(s.cur, need*PacketSize)
			for range need {
				s.psiOffs = append(s.psiOffs, len(s.cur))
				s.cur = append(s.cur, table...)
			}
		}
	}
}

// padStream adds need packets of pid to cur by splitting its packets, the
// last ones first: a packet's payload is spread over several packets, the
// first keeping its header flags and adaptation field (PCR, random access),
// the rest continuing the payload. A PES header stays whole in its packet.
// The packets of pid in cur are then numbered again from first, the counter
// of the first of them.
func (s *splitter) padStream(pid uint16, need int, first int) {
	defer func() {
		s.next[pid] = uint8(first)
		for o := s.hdrLen; o+PacketSize <= len(s.cur); o += PacketSize {
			if packetPID(s.cur[o:]) == pid {
				s.number(s.cur[o : o+PacketSize])
			}
		}
	}()
	for o := len(s.cur) - PacketSize; o >= s.hdrLen && need > 0; o -= PacketSize {
		p := s.cur[o : o+PacketSize]
		if packetPID(p) != pid || p[1]&0x80 != 0 {
			continue
		}
		payload := packetPayload(p)
		keep := 1 // bytes the first piece must hold
		if p[1]&0x40 != 0 {
			if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 {
				continue
			}
			keep = 9 + int(payload[8])
		}
		n := min(need+1, len(payload)-keep+1) // pieces
		if n < 2 {
			continue
		}
		pieces := splitPacket(p, payload, n, keep)
		grow := (n - 1) * PacketSize
		s.cur = slices.Insert(s.cur, o+PacketSize, pieces[PacketSize:]...)
		copy(s.cur[o:o+PacketSize], pieces[:PacketSize])
		for i := range s.kfs {
			if s.kfs[i].off > o {
				s.kfs[i].off += grow
			}
			if s.kfs[i].end > o {
				s.kfs[i].end += grow
			}
		}
		for i, po := range s.psiOffs {
			if po > o {
				s.psiOffs[i] += grow
			}
		}
		need -= n - 1
	}
}

// splitPacket spreads the payload of packet p over n packets, the first
// holding at least keep bytes of it, and returns them.
func splitPacket(p, payload []byte, n, keep int) []byte {
	out := make([]byte, n*PacketSize)
	first := max(keep, len(payload)/n)
	rest := len(payload) - first
	at := 0
	for i := range n {
		size := first
		if i > 0 {
			size = rest / (n - 1)
			if i <= rest%(n-1) {
				size++
			}
		}
		q := out[i*PacketSize : (i+1)*PacketSize]
		q[0], q[1], q[2] = syncByte, p[1], p[2]
		if i > 0 {
			q[1] &^= 0x40 // payload_unit_start_indicator: only the first
		}
		scrambling := p[3] & 0xc0
		stuff := PacketSize - 4 - size // adaptation field bytes
		if stuff == 0 {
			q[3] = scrambling | 0x10
		} else {
			q[3] = scrambling | 0x30
			q[4] = byte(stuff - 1)
			f := q[5 : 4+stuff]
			for j := range f {
				f[j] = 0xff
			}
			if len(f) > 0 {
				f[0] = 0 // no flags
				if i == 0 && p[3]&0x20 != 0 && p[4] > 0 {
					// The original adaptation field's flags and fields
					// (it is no longer than the new one: the payload shrank).
					copy(f, p[5:5+int(p[4])])
				}
			}
		}
		copy(q[PacketSize-size:], payload[at:at+size])
		at += size
	}
	return out
}

// renumberPSI gives the PAT/PMT packets of data (header copies and in-stream
// ones) output continuity counters that run on across segments.
func (s *splitter) renumberPSI(data []byte) {
	for _, o := range s.psiOffs {
		if o >= len(data) {
			break
		}
		p := data[o : o+PacketSize]
		if !hasPayload(p) {
			continue
		}
		pid := packetPID(p)
		c := s.cc[pid]
		setCC(p, c)
		s.cc[pid] = (c + 1) & 0x0f
	}
}
