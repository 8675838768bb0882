// Package segmenter is the segment stage: it cuts one chunk of a rendition's
// transport stream into HLS segments in Go (no ffmpeg) and records what it
// made; then it publishes whatever the chunks now in allow. Media playlists
// grow as EVENT playlists while chunks land, in order; the master appears
// as soon as every rendition has its first chunk, so players start while
// the rest is encoded; once every chunk is in, the playlists are rewritten
// as VOD with ENDLIST, the master with the measured bit rates, and the
// video is ready.
package segmenter

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/cmaf"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/mpegts"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// Config is how the segmenter works.
type Config struct {
	Concurrency   int // segment jobs at once
	ShutdownGrace time.Duration
	// KeepFailedSources leaves a failed video's source for the retention
	// sweep (gateway.SweepFailedSources) instead of removing it with the
	// rest of the video's files.
	KeepFailedSources bool
}

// Records is what the segmenter reads and changes of video records
// (video.Records).
type Records interface {
	Get(ctx context.Context, id string) (video.Video, error)
	Update(ctx context.Context, id string, fn func(*video.Video) error) (video.Video, error)
}

// Announcer tells the world a video became ready (queue.Bus: the event
// webhooks are delivered from).
type Announcer interface {
	AnnounceFinal(v video.Video, log *slog.Logger)
}

// Deps is what the segmenter works with. Bus is only needed by Run (the
// consumer it takes jobs from); Records and Announcer are the bus's
// (its Videos, itself) in production.
type Deps struct {
	Bus       *queue.Bus
	Records   Records
	Announcer Announcer
	Store     store.Store
	Log       *slog.Logger
	// Observe, if set, is told how each job ended (metrics.ObserveJob).
	Observe func(stage string, o queue.Outcome, d time.Duration, redelivered bool)
}

// Segmenter is the segment stage.
type Segmenter struct {
	Config
	Deps
	manifests *manifestCache // what each chunk became, read once
}

// New makes a segmenter; Run starts it.
func New(cfg Config, deps Deps) *Segmenter {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Segmenter{Config: cfg, Deps: deps, manifests: newManifestCache()}
}

// Run segments jobs until ctx ends.
func (sg *Segmenter) Run(ctx context.Context) error {
	removeAll := func(ctx context.Context, p ...string) error { return store.DeletePrefixes(ctx, sg.Store, p...) }
	w := &queue.Worker[jobs.SegmentJob]{
		Stage: "segment", Stream: jobs.StreamSegment, Consumer: sg.Bus.Segmenter, Bus: sg.Bus,
		Concurrency: sg.Concurrency, ShutdownGrace: sg.ShutdownGrace, Log: sg.Log, Observe: sg.Observe,
		VideoID:   func(j jobs.SegmentJob) string { return j.VideoID },
		ReadyToo:  jobs.SegmentJob.MasterOnly,
		Handle:    func(ctx context.Context, j jobs.SegmentJob, a queue.Attempt) error { return sg.segment(ctx, j) },
		OnFailed:  queue.RemoveFailed(removeAll, sg.KeepFailedSources, sg.Log),
		OnDeleted: queue.RemoveDeleted(removeAll, sg.Log),
	}
	return w.Run(ctx)
}

// chunkManifest is what one chunk of a rendition became (stored at
// layout.ChunkManifestKey): the playlists are built from these.
type chunkManifest struct {
	Segments []playlist.Segment `json:"segments"`
	IFrames  []playlist.IFrame  `json:"iframes,omitempty"`
	// Header is the PAT/PMT every segment starts with (chunk 0 only), the
	// I-frame playlist's EXT-X-MAP.
	Header     *playlist.IFrame `json:"header,omitempty"`
	VideoCodec string           `json:"video_codec,omitempty"`
	AudioCodec string           `json:"audio_codec,omitempty"`
	Channels   int              `json:"channels,omitempty"`
	Width      int              `json:"width,omitempty"`
	Height     int              `json:"height,omitempty"`
	Captions   bool             `json:"captions,omitempty"` // CEA-608/708 in the video
	// VideoRange is "PQ" or "HLG" for an HDR rendition (CMAF: from its
	// bitstream); "" is SDR.
	VideoRange string `json:"video_range,omitempty"`
	// CMAF only: each segment's earliest presentation time and duration
	// in Timescale, for DASH's SegmentTimeline.
	Timescale uint32      `json:"timescale,omitempty"`
	Timeline  []timeEntry `json:"timeline,omitempty"`
}

// timeEntry is one CMAF segment's place on its track's clock.
type timeEntry struct {
	Start    uint64 `json:"t"`
	Duration uint64 `json:"d"`
}

func (sg *Segmenter) segment(ctx context.Context, job jobs.SegmentJob) error {
	id, name, c := job.VideoID, job.Rendition, job.Chunk
	log := sg.Log.With("stage", "segment", "video", id, "rendition", name, "chunk", c.Index)
	if job.MasterOnly() {
		// Subtitles changed: the master is written again by whoever
		// publishes (a ready video's too).
		return sg.publish(ctx, log.With("rendition", nil), job)
	}
	if v, err := sg.Records.Get(ctx, id); err != nil || v.State.Final() {
		return err
	}
	m, err := sg.split(ctx, job)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := sg.Store.Put(ctx, layout.ChunkManifestKey(id, name, c.Index), bytes.NewReader(b), int64(len(b))); err != nil {
		return err
	}
	sg.manifests.put(layout.ChunkManifestKey(id, name, c.Index), m)
	if _, err := sg.Records.Update(ctx, id, func(v *video.Video) error {
		if v.State.Final() {
			return video.ErrNoChange
		}
		r := rendition(v, name)
		if r == nil || c.Index >= len(r.Segmented) {
			return fmt.Errorf("segmenter: chunk %d of rendition %s is not in the video's plan", c.Index, name)
		}
		if r.Segmented[c.Index] {
			return video.ErrNoChange // a redelivery
		}
		r.Segmented[c.Index] = true
		return nil
	}); err != nil {
		return err
	}
	log.Debug("chunk segmented", "segments", len(m.Segments))
	return sg.publish(ctx, log, job)
}

func rendition(v *video.Video, name string) *video.Rendition {
	for i := range v.Renditions {
		if v.Renditions[i].Name == name {
			return &v.Renditions[i]
		}
	}
	return nil
}

// split cuts the chunk's stream into its segments, stores them (encrypted
// if the video is), and describes them.
func (sg *Segmenter) split(ctx context.Context, job jobs.SegmentJob) (chunkManifest, error) {
	var m chunkManifest
	if job.Key == "" {
		return m, nil // a chunk past the end of this rendition's stream
	}
	id, name, c := job.VideoID, job.Rendition, job.Chunk
	block, err := sg.segmentCipher(ctx, job)
	if err != nil {
		return m, err
	}
	rc, err := sg.Store.Get(ctx, job.Key, 0, -1)
	if err != nil {
		return m, fmt.Errorf("segmenter: %w", err)
	}
	defer rc.Close()
	// Each segment is stored while the next one is cut.
	var behind mpegts.Behind
	fmp4 := job.Container == profiles.ContainerCMAF
	info, err := mpegts.SplitTS(storeReader{rc},
		// Continuous: each chunk is its own muxer's output, whose counters
		// start at 0; the padding makes them run on across the joins. CMAF
		// segments have no counters.
		mpegts.Options{TargetDuration: time.Duration(cmp.Or(c.SegmentDuration, job.SegmentDuration) * float64(time.Second)), MaxSegments: c.Segments, Continuous: !fmp4},
		func(seg mpegts.Segment, data []byte) error {
			n := c.FirstSegment + seg.Index
			if fmp4 {
				d := seg.Duration
				if c.Duration > 0 && c.Segments > 0 && seg.Index == c.Segments-1 {
					// The chunk's last segment: to the tick where the next
					// chunk starts.
					d = float64(ffmpeg.ChunkTicks(c.Start, c.Start+c.Duration)-int64(math.Round(seg.Start*90000))) / 90000
				}
				return sg.storeCMAF(ctx, &behind, &m, job, n, seg, d, data)
			}
			size := seg.Size
			if block != nil {
				// Our playlists start at media sequence 0: the number is the sequence number.
				data = encryptSegment(block, uint64(n), data)
				size = int64(len(data)) // bandwidth is what players download
			}
			if err := behind.Go(func() error {
				if err := sg.Store.Put(ctx, layout.SegmentKey(id, name, n), bytes.NewReader(data), int64(len(data))); err != nil {
					return fmt.Errorf("%w: %w", errStore, err)
				}
				return nil
			}); err != nil {
				return err
			}
			uri := layout.SegmentName(n)
			m.Segments = append(m.Segments, playlist.Segment{URI: uri, Duration: seg.Duration, Size: size})
			if block != nil {
				// No I-frame playlist for encrypted segments: an I-frame entry
				// is a byte range in the middle of a segment, and a range of
				// a CBC-encrypted segment cannot be decrypted on its own
				// (RFC 8216 4.3.2.4 encrypts the whole segment as one unit).
				// Players still seek; they lose only trick play.
				return nil
			}
			if n == 0 {
				m.Header = &playlist.IFrame{URI: uri, Size: seg.HeaderSize}
			}
			for i, kf := range seg.Keyframes {
				// Each I-frame lasts until the next one, the last until the segment's end.
				end := seg.Start + seg.Duration
				if i+1 < len(seg.Keyframes) {
					end = seg.Keyframes[i+1].Time
				}
				if end > kf.Time { // after a timestamp splice an IDR may not move time on: leave it out
					m.IFrames = append(m.IFrames, playlist.IFrame{URI: uri, Offset: kf.Offset, Size: kf.Size, Duration: end - kf.Time})
				}
			}
			return nil
		})
	if werr := behind.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, errStore) {
			return m, fmt.Errorf("segmenter: %w", err) // worth a retry
		}
		// Our own encoder wrote this stream; if it cannot be cut, retrying won't help.
		return m, queue.Permanent(video.CodeInternal, "The encoded video could not be segmented; the error was logged.", err)
	}
	if fmp4 && c.FirstSegment == 0 && len(m.Segments) > 0 {
		m.Header = &playlist.IFrame{URI: layout.InitSegmentName}
	}
	if c.Segments > 0 && len(m.Segments) != c.Segments {
		// A chunk cut into fewer segments than planned would leave a gap in
		// the numbering; the planned boundaries always have a keyframe.
		sg.Log.Warn("chunk cut into fewer segments than planned", "video", id, "rendition", name, "chunk", c.Index, "segments", len(m.Segments), "planned", c.Segments)
	}
	// HEVC and AV1 (CMAF only) are described by the CMAF packer (storeCMAF).
	m.VideoCodec, m.AudioCodec = cmp.Or(info.VideoCodec, m.VideoCodec), cmp.Or(info.AudioCodec, m.AudioCodec)
	m.Width, m.Height, m.Channels = cmp.Or(info.Width, m.Width), cmp.Or(info.Height, m.Height), cmp.Or(info.Channels, m.Channels)
	m.Captions = info.Captions
	return m, nil
}

// storeCMAF packs one cut of a chunk as a CMAF segment (the same samples
// and timestamps: pkg/cmaf) and stores it while the next is cut; the
// rendition's first segment stores the init segment too. Each keyframe is
// a fragment of its own, which the I-frame playlist names.
func (sg *Segmenter) storeCMAF(ctx context.Context, behind *mpegts.Behind, m *chunkManifest, job jobs.SegmentJob, n int, seg mpegts.Segment, duration float64, data []byte) error {
	id, name := job.VideoID, job.Rendition
	packed, err := cmaf.FromTS(data, cmaf.Options{Number: n, Duration: duration})
	if err != nil {
		return err // our encoder's stream: a bug, not worth a retry
	}
	if err := behind.Go(func() error {
		if n == 0 {
			// Before the first segment, so the init segment is in the store
			// before anything can name it.
			if err := sg.Store.Put(ctx, layout.InitSegmentKey(id, name), bytes.NewReader(packed.Init), int64(len(packed.Init))); err != nil {
				return fmt.Errorf("%w: %w", errStore, err)
			}
		}
		if err := sg.Store.Put(ctx, layout.CMAFSegmentKey(id, name, n), bytes.NewReader(packed.Data), int64(len(packed.Data))); err != nil {
			return fmt.Errorf("%w: %w", errStore, err)
		}
		return nil
	}); err != nil {
		return err
	}
	uri := layout.CMAFSegmentName(n)
	m.Segments = append(m.Segments, playlist.Segment{URI: uri, Duration: seg.Duration, Size: int64(len(packed.Data))})
	m.Timescale = packed.Timescale
	if packed.Width > 0 && m.VideoCodec == "" {
		m.VideoCodec, m.Width, m.Height = packed.Codec, packed.Width, packed.Height
	}
	if packed.VideoRange != "" && packed.VideoRange != "SDR" {
		m.VideoRange = packed.VideoRange
	}
	m.Timeline = append(m.Timeline, timeEntry{Start: packed.Start, Duration: packed.Duration})
	for i, kf := range packed.Keyframes {
		// Each I-frame lasts until the next one, the last until the segment's end.
		end := seg.Duration * float64(packed.Timescale)
		if i+1 < len(packed.Keyframes) {
			end = float64(packed.Keyframes[i+1].Time - packed.Keyframes[0].Time)
		}
		if d := (end - float64(kf.Time-packed.Keyframes[0].Time)) / float64(packed.Timescale); d > 0 {
			m.IFrames = append(m.IFrames, playlist.IFrame{URI: uri, Offset: kf.Offset, Size: kf.Size, Duration: d})
		}
	}
	return nil
}

// leaseTime is how long a publisher may go without renewing its lease
// before another segmenter may take over (it renews at every round).
const leaseTime = 20 * time.Second

// publish brings the video's published playlists up to what the state says
// is segmented. One segmenter at a time does it, holding the video's
// publisher lease (taken and released with compare-and-set on the video's
// state): two writers of one playlist could otherwise land their writes out
// of order and leave an older playlist over a newer one. A segmenter that
// finds the lease held leaves the work to its holder, which keeps going
// until a release finds nothing left to do; the release is a
// compare-and-set, so a chunk marked meanwhile makes it fail and look again.
// A holder that dies loses the lease after leaseTime, and its job's
// redelivery (or any later job) takes over.
func (sg *Segmenter) publish(ctx context.Context, log *slog.Logger, job jobs.SegmentJob) error {
	id, owner := job.VideoID, layout.NewVideoID()
	for range 10000 {
		var held bool
		v, err := sg.Records.Update(ctx, id, func(v *video.Video) error {
			held = false
			if !pending(v) || v.Publisher.Held(owner, time.Now()) {
				return video.ErrNoChange
			}
			v.Publisher, held = &video.Lease{Owner: owner, Until: time.Now().Add(leaseTime)}, true
			return nil
		})
		if err != nil || !held {
			return err // nothing to do, or the holder will do it
		}
		if err := sg.publishRound(ctx, log, job, v); err != nil {
			sg.release(ctx, id, owner)
			return err
		}
		released := false
		if _, err := sg.Records.Update(ctx, id, func(v *video.Video) error {
			released = false
			if v.Publisher == nil || v.Publisher.Owner != owner {
				return video.ErrNoChange // lost it (expired): the new holder goes on
			}
			if pending(v) {
				return video.ErrNoChange // more came in: another round
			}
			v.Publisher, released = nil, true
			return nil
		}); err != nil {
			return err
		}
		if released {
			return nil
		}
	}
	return fmt.Errorf("segmenter: video %s: playlists still growing after 10000 rounds", id)
}

// release gives the lease up after a failed round (the job's retry, or
// another job, takes it again).
func (sg *Segmenter) release(ctx context.Context, id, owner string) {
	_, _ = sg.Records.Update(context.WithoutCancel(ctx), id, func(v *video.Video) error {
		if v.Publisher == nil || v.Publisher.Owner != owner {
			return video.ErrNoChange
		}
		v.Publisher = nil
		return nil
	})
}

// pending reports whether a publisher has something to write: a playlist
// that can grow, a master that can appear or become final, or a published
// master that lists subtitles no longer current (a ready video's too).
func pending(v *video.Video) bool {
	switch v.State {
	case video.StateFailed:
		return false
	case video.StateReady:
		return v.MasterStale()
	}
	for _, r := range v.Renditions {
		if r.Contiguous() > r.Published {
			return true
		}
	}
	return v.AllRenditionsDone() || v.PlayableAt == nil && firstChunksListed(v) || v.PlayableAt != nil && v.MasterStale()
}

// firstChunksListed reports whether every rendition's playlist lists its
// first chunk: the early master can be written.
func firstChunksListed(v *video.Video) bool {
	for _, r := range v.Renditions {
		if r.Published == 0 || r.Bandwidth == 0 {
			return false
		}
	}
	return len(v.Renditions) > 0
}

// publishRound writes every playlist that can grow, records what it wrote,
// and then the master if it is due.
func (sg *Segmenter) publishRound(ctx context.Context, log *slog.Logger, job jobs.SegmentJob, v video.Video) error {
	if v.State == video.StateReady {
		return sg.rewriteMaster(ctx, log, v, true) // its subtitles changed
	}
	grew := map[string]renditionPlaylists{}
	for _, r := range v.Renditions {
		n := r.Contiguous()
		if n <= r.Published {
			continue
		}
		p, err := sg.writeMedia(ctx, job, v, r, n)
		if err != nil {
			return err
		}
		grew[r.Name] = p
	}
	v, err := sg.Records.Update(ctx, v.ID, func(v *video.Video) error {
		if v.State.Final() {
			return video.ErrNoChange
		}
		for i := range v.Renditions {
			r := &v.Renditions[i]
			if p, ok := grew[r.Name]; ok && p.chunks > r.Published {
				p.record(r)
			}
		}
		_ = v.SegmentsPublished() // the progress
		if v.Publisher != nil {
			v.Publisher.Until = time.Now().Add(leaseTime)
		}
		return nil
	})
	if err != nil || v.State.Final() {
		return err
	}
	return sg.publishMaster(ctx, log, v)
}

// renditionPlaylists is what writing a rendition's playlists measured.
type renditionPlaylists struct {
	chunks                 int
	final                  bool
	segments               int
	duration               float64
	peak, average          int
	iPeak, iAverage        int
	codecs                 string
	width, height          int
	videoCodec, audioCodec string
	channels               int
	captions               bool
	videoRange             string
}

func (p renditionPlaylists) record(r *video.Rendition) {
	r.Published = p.chunks
	r.Done = p.final
	r.Segments, r.Duration, r.Bandwidth, r.AverageBandwidth = p.segments, p.duration, p.peak, p.average
	r.IFrameBandwidth, r.IFrameAverageBandwidth = p.iPeak, p.iAverage
	r.Codecs = p.codecs
	r.Captions = r.Captions || p.captions
	r.VideoRange = p.videoRange
	if p.channels > 0 {
		r.Channels = p.channels
	}
	if p.width > 0 { // the bitstream is the truth
		r.Width, r.Height = p.width, p.height
	}
}

// writeMedia writes a rendition's media playlist listing its first n
// chunks: EVENT while chunks are missing, VOD with its I-frame playlist
// when n is all of them.
func (sg *Segmenter) writeMedia(ctx context.Context, job jobs.SegmentJob, v video.Video, r video.Rendition, n int) (renditionPlaylists, error) {
	p := renditionPlaylists{chunks: n, final: n == len(r.Segmented)}
	var segs []playlist.Segment
	var iframes []playlist.IFrame
	var header *playlist.IFrame
	for i := range n {
		m, err := sg.manifest(ctx, v.ID, r.Name, i)
		if err != nil {
			return p, err
		}
		segs = append(segs, m.Segments...)
		iframes = append(iframes, m.IFrames...)
		if m.Header != nil {
			header = m.Header
		}
		if p.videoCodec == "" && m.VideoCodec != "" {
			p.videoCodec, p.width, p.height = m.VideoCodec, m.Width, m.Height
		}
		if p.audioCodec == "" && m.AudioCodec != "" {
			p.audioCodec, p.channels = m.AudioCodec, m.Channels
		}
		p.captions = p.captions || m.Captions
		if p.videoRange == "" {
			p.videoRange = m.VideoRange
		}
	}
	if len(segs) == 0 {
		if p.final {
			return p, queue.Permanent(video.CodeInternal, "The encoded video produced no segments.", fmt.Errorf("rendition %s: no segments", r.Name))
		}
		return p, nil // nothing to list yet: the first chunks are empty
	}
	var h playlist.Header
	if job.Encryption == profiles.EncryptionAES128 {
		// Relative, so it resolves under /streams/{id}/ and signed-URL
		// rewriting gives it the token like every other URI.
		h.Key = &playlist.Key{URI: "../" + layout.KeyName}
	}
	if job.Container == profiles.ContainerCMAF {
		h.Map = layout.InitSegmentName
	}
	target := int(math.Round(job.SegmentDuration))
	write := playlist.Event
	if p.final {
		write = playlist.Media
	}
	body, err := write(segs, target, h)
	if err != nil {
		return p, queue.Permanent(video.CodeInternal, "The media playlist could not be written; the error was logged.", err)
	}
	if p.final && len(iframes) > 0 && header != nil {
		// Trick play: an I-frame playlist for video renditions (RFC 8216
		// 4.3.3.6), once the rendition is complete.
		ib, err := playlist.IFrames(iframes, *header)
		if err != nil {
			return p, queue.Permanent(video.CodeInternal, "The I-frame playlist could not be written; the error was logged.", err)
		}
		if err := sg.Store.Put(ctx, layout.IFramePlaylistKey(v.ID, r.Name), bytes.NewReader(ib), int64(len(ib))); err != nil {
			return p, err
		}
		p.iPeak, p.iAverage = playlist.IFrameBandwidth(iframes)
	}
	// The segments are all stored; the playlist naming them goes last.
	if err := sg.Store.Put(ctx, layout.MediaPlaylistKey(v.ID, r.Name), bytes.NewReader(body), int64(len(body))); err != nil {
		return p, err
	}
	p.segments = len(segs)
	for _, s := range segs {
		p.duration += s.Duration
	}
	p.peak, p.average = playlist.Bandwidth(segs)
	p.codecs = joinCodecs(p.videoCodec, p.audioCodec)
	return p, nil
}

func (sg *Segmenter) manifest(ctx context.Context, id, rendition string, chunk int) (chunkManifest, error) {
	key := layout.ChunkManifestKey(id, rendition, chunk)
	if m, ok := sg.manifests.get(key); ok {
		return m, nil
	}
	var m chunkManifest
	rc, err := sg.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return m, fmt.Errorf("segmenter: chunk %d of %s: %w", chunk, rendition, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return m, fmt.Errorf("segmenter: chunk %d of %s: %w", chunk, rendition, err)
	}
	sg.manifests.put(key, m)
	return m, nil
}

func joinCodecs(cs ...string) string {
	var out []string
	for _, c := range cs {
		if c != "" {
			out = append(out, c)
		}
	}
	return strings.Join(out, ",")
}

// errStore marks store trouble inside a split (worth a retry), as opposed to
// a stream that cannot be cut.
var errStore = errors.New("store")

// storeReader marks read errors of the stored stream as store trouble.
type storeReader struct{ r io.Reader }

func (s storeReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %w", errStore, err)
	}
	return n, err
}
