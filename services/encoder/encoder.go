// Package encoder is the encode stage. A plan job probes the source as
// untrusted input, plans the ladder and cuts the video into chunks on
// segment boundaries; it queues one job per chunk, which any encoder takes
// (one ffmpeg decodes the chunk once and writes every video rendition as
// MPEG-TS), and one audio job, which encodes the audio rendition whole and
// hands it on piece by piece. Each stored chunk queues one segment job per
// rendition.
package encoder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// Config is how the encoder works.
type Config struct {
	Limits      ffmpeg.Limits
	WorkDir     string // local scratch space for sources and outputs
	Concurrency int    // plans and video chunks at once
	// AudioConcurrency is how many audio jobs run at once (1 if 0; see
	// DefaultAudioConcurrency).
	AudioConcurrency int
	// ChunkWindow is how many later chunks of a video are queued at a time
	// (0: jobs.DefaultChunkWindow): about how many encoders one video keeps
	// busy, and how many of its chunks another video's wait behind.
	ChunkWindow int
	// MinTimeout is the least time an encode may take; longer sources get
	// TimeoutPerSecond for each second of media on top.
	MinTimeout       time.Duration
	TimeoutPerSecond time.Duration
	ShutdownGrace    time.Duration
	// KeepFailedSources leaves a failed video's source for the retention
	// sweep (gateway.SweepFailedSources) instead of removing it with the
	// rest of the video's files.
	KeepFailedSources bool
}

// Records is what the encoder reads and changes of video records
// (video.Records).
type Records interface {
	Get(ctx context.Context, id string) (video.Video, error)
	Update(ctx context.Context, id string, fn func(*video.Video) error) (video.Video, error)
}

// Queue is where the encoder hands on work (queue.Bus): a plan queues the
// chunks and the audio, a chunk its segment jobs.
type Queue interface {
	PublishEncode(ctx context.Context, j jobs.EncodeJob) error
	PublishSegment(ctx context.Context, j jobs.SegmentJob) error
}

// Deps is what the encoder works with. Bus is only needed by Run (the
// consumers it takes jobs from); Records and Queue are the bus's
// (its Videos, itself) in production.
type Deps struct {
	Bus     *queue.Bus
	Records Records
	Queue   Queue
	Store   store.Store
	Log     *slog.Logger
	// Observe, if set, is told how each job ended (metrics.ObserveJob).
	Observe func(stage string, o queue.Outcome, d time.Duration, redelivered bool)
	// Speed, if set, is told how fast each encode ran (seconds of media per second).
	Speed func(x float64)
	// Waited, if set, is told how long each job waited in the queue
	// (metrics.ObserveWait).
	Waited func(stage string, later bool, d time.Duration)
}

// Encoder is the encode stage.
type Encoder struct {
	Config
	Deps
	sources *sourceCache // local copies of sources, shared by the jobs of a video
	probes  *probeCache
	// startWork counts the plans and first chunks this encoder is running
	// (see yieldToStart).
	startWork atomic.Int32
	// host shares start work with the deployment's other encoders on this
	// machine (nil without a bus: unit tests).
	host *hostStartWork
}

// New makes an encoder; Run starts it.
func New(cfg Config, deps Deps) *Encoder {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Encoder{Config: cfg, Deps: deps, sources: newSourceCache(cfg.WorkDir), probes: newProbeCache()}
}

// Run encodes jobs until ctx ends: plans and video chunks, Concurrency at
// a time, and audio renditions, AudioConcurrency at a time (audio is
// light, and must not wait behind video chunks: the master appears only
// once the audio's first chunk is in too).
func (e *Encoder) Run(ctx context.Context) error {
	if err := os.MkdirAll(e.WorkDir, 0o755); err != nil {
		return fmt.Errorf("encoder: work dir: %w", err)
	}
	go e.sources.sweep(ctx)
	if e.Bus != nil && e.Bus.JS != nil {
		if h, err := newHostStartWork(e.Bus.JS.Conn().ConnectedServerId()); err != nil {
			e.Log.Warn("start work is not shared with this machine's other encoders", "err", err)
		} else {
			e.host = h
			go h.run(ctx, func() bool { return e.startWork.Load() > 0 })
		}
	}
	removeAll := func(ctx context.Context, p ...string) error { return store.DeletePrefixes(ctx, e.Store, p...) }
	chunks := &queue.Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: e.Bus.Encoder, Middle: e.Bus.EncoderShort, Later: e.Bus.EncoderLater, Express: expressLanes, Bus: e.Bus,
		Concurrency: e.Concurrency, ShutdownGrace: e.ShutdownGrace, Log: e.Log, Observe: e.Observe, Waited: e.Waited,
		VideoID:   func(j jobs.EncodeJob) string { return j.VideoID },
		Handle:    func(ctx context.Context, j jobs.EncodeJob, a queue.Attempt) error { return e.encode(ctx, j, a) },
		OnFailed:  queue.RemoveFailed(removeAll, e.KeepFailedSources, e.Log),
		OnDeleted: queue.RemoveDeleted(removeAll, e.Log),
	}
	audio := *chunks
	audio.Stage, audio.Consumer, audio.Middle, audio.Later, audio.Express, audio.Concurrency = "audio", e.Bus.Audio, nil, nil, 0, max(e.AudioConcurrency, 1)
	errs := make(chan error, 2)
	go func() { errs <- chunks.Run(ctx) }()
	go func() { errs <- audio.Run(ctx) }()
	return errors.Join(<-errs, <-errs)
}

// DefaultAudioConcurrency is how many audio jobs an encoder process runs
// at once. Most of them stand stopped in a burst of uploads: each waits,
// once its first piece is out, for its video's first chunk (audioHold),
// then gives way to other videos' start work. A stopped run must not keep
// a new upload's audio from starting, since the master waits for its first
// piece: with two slots, the ninth upload of a burst became playable only
// after 33 s, its audio queued behind held runs. A held run costs memory
// only (tens of MiB).
const DefaultAudioConcurrency = 8

// expressLanes is how many job slots each encoder keeps, beside its
// regular ones, for start work (queue.Worker.Express).
const expressLanes = 2

func (e *Encoder) encode(ctx context.Context, job jobs.EncodeJob, a queue.Attempt) error {
	if job.Part == jobs.PartVideo && job.Chunk.Index == 0 {
		e.startWork.Add(1) // see yieldToStart; the plan counts itself
		defer e.startWork.Add(-1)
	}
	switch job.Part {
	case jobs.PartPlan:
		return e.plan(ctx, job)
	case jobs.PartVideo:
		return e.encodeChunk(ctx, job)
	case jobs.PartAudio:
		return e.encodeAudio(ctx, job)
	case jobs.PartSubtitles:
		return e.encodeSubtitles(ctx, job, a)
	}
	return queue.Permanent(video.CodeInternal, "The video could not be encoded; the error was logged.", fmt.Errorf("unknown part %q", job.Part))
}

// source is a video's source as a local file, probed.
type source struct {
	path  string
	probe ffmpeg.Source
	plan  []profiles.Planned
	fps   float64
	rate  string // fps in ffmpeg's notation
	// droppedAudios is how many audio tracks past the profile's
	// audio.max_tracks the video leaves out.
	droppedAudios int
	// captionsLeftOut: the source has closed captions the renditions
	// cannot carry (see checkCaptions).
	captionsLeftOut bool
}

// openSource makes the source local and probes it as untrusted input.
func (e *Encoder) openSource(ctx context.Context, job jobs.EncodeJob) (source, func(), error) {
	path, release, err := e.localSource(ctx, job.VideoID, job.SourceKey)
	if err != nil {
		return source{}, nil, err
	}
	probe, err := e.probes.probe(ctx, path, e.Limits)
	var pe *ffmpeg.ProbeError
	if errors.As(err, &pe) {
		release()
		return source{}, nil, queue.Permanent(pe.Code, pe.Reason+".", pe.Err)
	}
	if err != nil {
		release()
		return source{}, nil, err
	}
	if job.Duration > 0 && job.Duration < probe.Duration {
		probe.Duration = job.Duration // measured by the plan
	}
	dropped := len(probe.Audios)
	probe.KeepAudios(job.Profiles.Audio.Tracks())
	src := source{path: path, probe: probe, droppedAudios: dropped - len(probe.Audios)}
	if probe.Video != nil {
		probe.Video.Combed = job.Combed
	}
	src.planLadder(job.Profiles)
	return src, release, nil
}

// planLadder picks the video renditions and the output frame rate.
func (src *source) planLadder(p profiles.Profiles) {
	v := src.probe.Video
	if v == nil {
		return
	}
	src.rate, src.fps = ffmpeg.OutputFrameRate(v, p.Video.MaxFrameRate)
	src.plan = p.Select(v.DisplayWidth, v.DisplayHeight)
}

// detectCombing looks for interlaced frames in a source not flagged
// interlaced, and plans again if it finds them (the frame rate doubles).
// A failed look is logged and the source taken as it says it is: its
// chunks will fail with the reason if it cannot be decoded.
func (e *Encoder) detectCombing(ctx context.Context, src *source, p profiles.Profiles, log *slog.Logger) error {
	v := src.probe.Video
	if v == nil || v.Interlaced() {
		return nil
	}
	parity, err := ffmpeg.DetectCombing(ctx, src.path, src.probe, e.MinTimeout)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		log.Warn("looking for interlaced frames failed; taking the source as progressive", "err", err)
	case parity != "":
		log.Info("interlaced frames in a source not flagged so: deinterlacing", "field_order", v.FieldOrder, "first_field", parity)
		v.Combed = parity
		src.planLadder(p)
	}
	return nil
}

// checkCaptions looks, when the renditions cannot carry closed captions on
// (ffmpeg.KeepsCaptions: the frame rate changes), whether the source has
// any, so that the video's facts say they were left out. A failed look is
// logged and taken as none.
func (e *Encoder) checkCaptions(ctx context.Context, src *source, p profiles.Profiles, log *slog.Logger) {
	v := src.probe.Video
	if v == nil || ffmpeg.KeepsCaptions(v, p.Video.MaxFrameRate) {
		return
	}
	has, err := ffmpeg.HasCaptions(ctx, src.path, src.probe, e.MinTimeout)
	if err != nil {
		log.Warn("looking for closed captions failed", "err", err)
	}
	if has {
		log.Info("closed captions left out: the frame rate changes", "source_fps", v.FrameRate, "output_fps", src.fps)
	}
	src.captionsLeftOut = has
}

// measureExtent counts the packets of a small or suspiciously thin source
// (ffmpeg.ScanWorthwhile): its duration becomes what the packets span when
// the container claims more, and a video that would be mostly invented
// frames is refused. A failed count is logged and the claim believed.
func (e *Encoder) measureExtent(ctx context.Context, src *source, log *slog.Logger) error {
	fi, err := os.Stat(src.path)
	if err != nil || !ffmpeg.ScanWorthwhile(fi.Size(), src.probe.Duration) {
		return nil
	}
	ext, err := ffmpeg.ScanPackets(ctx, src.path, src.probe, e.MinTimeout)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		log.Warn("counting the source's packets failed; taking its duration as it says", "err", err)
		return nil
	}
	if src.probe.Video != nil {
		var pe *ffmpeg.ProbeError
		if err := ffmpeg.CheckInvented(ext, src.fps); errors.As(err, &pe) {
			return queue.Permanent(pe.Code, pe.Reason+".", nil)
		}
	}
	if real := ext.Seconds(); real > 0 && real+1 < src.probe.Duration {
		log.Info("the container claims more than its packets hold", "claimed", src.probe.Duration, "measured", real, "packets", ext.Packets)
		src.probe.Duration = real
	}
	return nil
}

// plan probes the source, plans its renditions and chunks, and queues the
// audio job and one job per video chunk.
func (e *Encoder) plan(ctx context.Context, job jobs.EncodeJob) error {
	id := job.VideoID
	log := e.Log.With("stage", "plan", "video", id)
	videos := e.Records
	v, err := videos.Update(ctx, id, (*video.Video).StartEncoding)
	if errors.Is(err, video.ErrTransition) {
		log.Info("plan skipped: the video is past planning", "state", v.State)
		return nil // a plan redelivered after its chunks were encoded, or a finished video
	}
	if err != nil {
		return err
	}
	// Start work (see yieldToStart) until the plan is made: its remux, if
	// any, is disk work other chunks need not wait for.
	e.startWork.Add(1)
	planned := sync.OnceFunc(func() { e.startWork.Add(-1) })
	defer planned()
	src, release, err := e.openSource(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	if err := e.detectCombing(ctx, &src, job.Profiles, log); err != nil {
		return err
	}
	if err := e.measureExtent(ctx, &src, log); err != nil {
		return err
	}
	e.checkCaptions(ctx, &src, job.Profiles, log)
	probe := src.probe
	var num, den int64
	if probe.Video != nil {
		if num, den, err = ffmpeg.ParseRate(src.rate); err != nil {
			return queue.Permanent(video.CodeInternal, "The video could not be planned; the error was logged.", err)
		}
	}
	chunks := PlanChunks(probe.Duration, job.Profiles.SegmentDuration, job.Profiles.KeyframeInterval, num, den)
	renditions := plannedRenditions(src, len(chunks))
	log.Info("source probed", "format", probe.Format, "duration", probe.Duration, "renditions", len(renditions),
		"audio_tracks", len(probe.Audios), "chunks", len(chunks))
	if job.Profiles.Encrypted() {
		// Before any segment job can exist; see ensureKey.
		if err := ensureKey(ctx, e.Store, id); err != nil {
			return err
		}
	}
	subtitleTracks, _ := textSubtitles(probe)
	var subtitlesDue, uploadsDropped bool
	if _, err := videos.Update(ctx, id, func(v *video.Video) error {
		if err := v.Planned(len(chunks), mergePlan(v.Renditions, renditions), sourceFacts(src)); err != nil {
			return err
		}
		uploadsDropped = probe.Video == nil && len(v.PendingSubtitles) > 0
		if uploadsDropped {
			v.Source.Notes = append(v.Source.Notes, "The subtitle files sent with the upload were left out: the video has no picture to show them on.")
			v.PendingSubtitles = nil
		}
		// The source's tracks and the files sent with the upload.
		v.SubtitlesPending = len(subtitleTracks) > 0 || len(v.PendingSubtitles) > 0
		subtitlesDue = v.SubtitlesPending
		return nil
	}); err != nil {
		return err
	}
	if uploadsDropped {
		if err := store.DeletePrefix(ctx, e.Store, layout.UploadPrefix(id)+"subtitles-"); err != nil {
			log.Warn("could not delete the upload's subtitle files", "err", err)
		}
	}
	if subtitlesDue {
		// From the source itself (a remux keeps no subtitles), in the
		// audio lane: a demux, beside the start work.
		if err := e.Queue.PublishEncode(ctx, jobs.EncodeJob{VideoID: id, SourceKey: job.SourceKey, Profiles: job.Profiles,
			Part: jobs.PartSubtitles, Chunks: chunks, Duration: probe.Duration}); err != nil {
			return err
		}
	}

	// Start work first: the audio (the master waits for its first piece as
	// for the first chunk's video), then the first chunk; then a window of
	// later chunks, each of which, once encoded, releases the next
	// (EncodeJob.NextChunk).
	var videoJob jobs.EncodeJob
	if probe.Video != nil {
		videoJob = jobs.EncodeJob{VideoID: id, SourceKey: job.SourceKey, Profiles: job.Profiles, Part: jobs.PartVideo, Chunks: chunks,
			Thumbnails: ffmpeg.StoryboardInterval(probe.Duration, job.Profiles.KeyframeInterval), Combed: probe.Video.Combed,
			Duration: probe.Duration, Window: e.ChunkWindow}
	}
	publishStart := func(key string) error {
		if probe.Audio() != nil {
			if err := e.Queue.PublishEncode(ctx, jobs.EncodeJob{VideoID: id, SourceKey: key, Profiles: job.Profiles,
				Part: jobs.PartAudio, Chunks: chunks, Duration: probe.Duration}); err != nil {
				return err
			}
		}
		if probe.Video == nil {
			return nil
		}
		first := videoJob
		first.SourceKey, first.Chunk = key, chunks[0]
		return e.Queue.PublishEncode(ctx, first)
	}

	// Later chunks seek in the source; a source ffmpeg cannot seek in
	// reliably is remuxed once (no re-encoding) into one it can, which they
	// then read instead. The first chunk (no seek) and the audio (read
	// through) can read the source itself while the copy is made, if the
	// two have the same clock.
	laterKey, started := job.SourceKey, false
	if len(chunks) > 1 && !ffmpeg.Seekable(probe.Format) {
		if probe.ClockFromTracks() {
			if err := publishStart(job.SourceKey); err != nil {
				return err
			}
			started = true
		}
		planned()
		if laterKey, err = e.remux(ctx, id, src, log); err != nil {
			return err
		}
	}
	if !started {
		if err := publishStart(laterKey); err != nil {
			return err
		}
	}
	if probe.Video == nil {
		return nil
	}
	next := videoJob
	next.SourceKey = laterKey
	for _, c := range chunks[1:next.FirstChunks()] {
		next.Chunk = c
		if err := e.Queue.PublishEncode(ctx, next); err != nil {
			return err
		}
	}
	return nil
}

// remux stores a seekable copy of the source (see ffmpeg.Seekable) and
// returns its key.
func (e *Encoder) remux(ctx context.Context, id string, src source, log *slog.Logger) (string, error) {
	dir, err := os.MkdirTemp(e.WorkDir, "remux-"+id+"-")
	if err != nil {
		return "", fmt.Errorf("encoder: scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "source.mkv")
	started := time.Now()
	timeout := e.MinTimeout + time.Duration(src.probe.Duration*float64(e.TimeoutPerSecond)/10)
	if err := ffmpeg.Remux(ctx, src.path, src.probe, out, timeout); err != nil {
		return "", classifyEncodeError(err, timeout)
	}
	key := layout.RemuxedSourceKey(id)
	if _, err := putOutput(ctx, e.Store, key, out, true); err != nil {
		return "", err
	}
	log.Info("source remuxed for seeking", "format", src.probe.Format, "took", time.Since(started).Round(time.Millisecond))
	return key, nil
}

// encodeChunk encodes one chunk of every video rendition (and its storyboard
// thumbnails; chunk 0 also makes the poster), stores them, and queues their
// segment jobs.
func (e *Encoder) encodeChunk(ctx context.Context, job jobs.EncodeJob) error {
	id, c := job.VideoID, job.Chunk
	log := e.Log.With("stage", "encode", "video", id, "chunk", c.Index)
	if v, err := e.Records.Get(ctx, id); err != nil || v.State.Final() {
		return err // a failed or deleted video's chunks are dropped
	}
	src, release, err := e.openSource(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	if src.probe.Video == nil {
		return queue.Permanent(video.CodeInternal, "The video could not be encoded; the error was logged.", errors.New("a video chunk of a source without video"))
	}
	dir, err := os.MkdirTemp(e.WorkDir, "encode-"+id+"-")
	if err != nil {
		return fmt.Errorf("encoder: scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)

	var pics *pictures
	if c.Index == 0 {
		// The poster is taken from the source while the first chunk encodes.
		pics = e.startPoster(ctx, id, src.path, src.probe, dir, log)
		defer pics.stop()
	}
	outputs := make([]ffmpeg.Output, len(src.plan))
	small := 0
	var hdr10 *ffmpeg.HDR10
	read10 := false
	for i, p := range src.plan {
		hdr := ""
		if p.Codec != profiles.CodecH264 && src.probe.Video != nil {
			hdr = src.probe.Video.HDR() // HEVC and AV1 keep an HDR source's range; H.264 is tone-mapped
		}
		if hdr != "" && !read10 {
			// Best effort: without it the renditions are HDR all the same.
			read10 = true
			var err error
			if hdr10, err = ffmpeg.ReadHDR10(ctx, src.path, src.probe, e.Limits.Timeout); err != nil {
				log.Warn("could not read the source's HDR10 metadata", "err", err)
			}
		}
		outputs[i] = ffmpeg.Output{Name: p.Name, Codec: p.Codec, HDR: hdr, HDR10: hdr10, Width: p.Width, Height: p.Height,
			VideoKbps: p.VideoKbps, MaxrateKbps: p.MaxrateKbps, BufsizeKbps: p.BufsizeKbps,
			Path: filepath.Join(dir, p.Name+".ts")}
		if p.Width*p.Height < outputs[small].Width*outputs[small].Height {
			small = i
		}
	}
	spec := &ffmpeg.ChunkSpec{Start: c.Start, Frames: c.Frames}
	var sheet video.StoryboardSheet
	if job.Thumbnails > 0 {
		var next jobs.Chunk
		if !c.Last() && c.Index+1 < len(job.Chunks) {
			next = job.Chunks[c.Index+1]
		}
		first, count := thumbnailsIn(c, next, c.Last(), job.Thumbnails, src.probe.Duration)
		w, h := ffmpeg.ThumbnailSize(outputs[small].Width, outputs[small].Height)
		if count > 0 && w > 0 {
			tdir := filepath.Join(dir, "thumbnails")
			if err := os.Mkdir(tdir, 0o755); err != nil {
				return fmt.Errorf("encoder: scratch dir: %w", err)
			}
			spec.Thumbnails = &ffmpeg.ThumbnailSpec{Interval: job.Thumbnails, Count: count, Width: w, Height: h, Dir: tdir}
			sheet = video.StoryboardSheet{Name: layout.SpriteName(c.Index), First: first}
		}
	}
	chunkSeconds := c.Duration
	if chunkSeconds <= 0 {
		chunkSeconds = max(src.probe.Duration-c.Start, 1)
	}
	// TimeoutPerSecond is for H.264 at veryfast; slower presets and other
	// codecs get their share more.
	preset := job.Profiles.Video.Preset
	timeout := e.MinTimeout + time.Duration(chunkSeconds*float64(e.TimeoutPerSecond)*ffmpeg.LadderCost(outputs, preset))
	started := time.Now()
	var used ffmpeg.Usage
	err = ffmpeg.Encode(ctx, ffmpeg.EncodeSpec{
		Input: src.path, Source: src.probe, Outputs: outputs, Profiles: job.Profiles, Timeout: timeout,
		Chunk: spec, Progress: e.progressReporter(ctx, id),
		RunLimits: ffmpeg.RunLimits{
			CPUBudget: ffmpeg.ChunkCPUBudget(src.probe, outputs, preset, src.fps, chunkSeconds),
			Usage:     func(u ffmpeg.Usage) { used = u },
			Nice:      laterNice(job),
			Held:      e.yieldToStart(job),
		},
	})
	if err != nil {
		log.Warn("chunk encode failed", "cpu", used.CPU.Round(time.Millisecond), "peak_rss_mib", used.PeakRSS>>20, "err", err)
		return classifyEncodeError(err, timeout)
	}
	if took := time.Since(started).Seconds(); e.Speed != nil && took > 0 {
		e.Speed(chunkSeconds / took)
	}
	// Store every output before queueing any segment job: a segmenter must
	// never find a missing or partial transport stream. An empty output is
	// a chunk past the end of the video stream (shorter than the file).
	empty := map[string]bool{}
	for _, o := range outputs {
		ok, err := putOutput(ctx, e.Store, layout.WorkKey(id, o.Name, c.Index), o.Path, c.Index == 0)
		if err != nil {
			return err
		}
		if !ok {
			log.Warn("the chunk has no frames: the video stream ends before it", "rendition", o.Name)
		}
		empty[o.Name] = !ok
	}
	if spec.Thumbnails != nil {
		e.storeSheet(ctx, log, id, c.Index, spec.Thumbnails, sheet)
	}
	var poster bool
	if pics != nil {
		poster = pics.finish(ctx)
	}
	if _, err := e.Records.Update(ctx, id, func(v *video.Video) error {
		err := v.ChunkEncoded(c.Index)
		if err != nil && (!errors.Is(err, video.ErrNoChange) || !poster || v.Thumbnails.HasPoster() || v.State.Final()) {
			return err
		}
		if poster {
			if v.Thumbnails == nil {
				v.Thumbnails = &video.Thumbnails{}
			}
			v.Thumbnails.Poster = true
		}
		return nil
	}); err != nil {
		return err
	}
	for _, o := range outputs {
		key := layout.WorkKey(id, o.Name, c.Index)
		if empty[o.Name] {
			key = ""
		}
		if err := e.Queue.PublishSegment(ctx, jobs.SegmentJob{
			VideoID: id, Rendition: o.Name, Key: key,
			SegmentDuration: job.Profiles.SegmentDuration, Chunk: c, Encryption: job.Profiles.Encryption, Container: job.Profiles.Container,
		}); err != nil {
			return err
		}
	}
	if next, ok := job.NextChunk(); ok {
		// Before the ack: a redelivered chunk publishes it again, which
		// JetStream drops as a duplicate.
		if err := e.Queue.PublishEncode(ctx, next); err != nil {
			return err
		}
	}
	log.Info("chunk encoded", "start", c.Start, "frames", c.Frames, "took", time.Since(started).Round(time.Millisecond),
		"cpu", used.CPU.Round(time.Millisecond), "peak_rss_mib", used.PeakRSS>>20)
	return nil
}

// encodeAudio encodes the audio rendition in one run, and queues each
// chunk's piece for segmenting as soon as ffmpeg has finished it.
func (e *Encoder) encodeAudio(ctx context.Context, job jobs.EncodeJob) error {
	id := job.VideoID
	log := e.Log.With("stage", "audio", "video", id)
	if v, err := e.Records.Get(ctx, id); err != nil || v.State.Final() {
		return err
	}
	if len(job.Chunks) == 0 {
		return queue.Permanent(video.CodeInternal, "The audio could not be encoded; the error was logged.", errors.New("an audio job without chunks"))
	}
	src, release, err := e.openSource(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	if src.probe.Audio() == nil {
		return queue.Permanent(video.CodeInternal, "The audio could not be encoded; the error was logged.", errors.New("an audio job for a source without audio"))
	}
	dir, err := os.MkdirTemp(e.WorkDir, "audio-"+id+"-")
	if err != nil {
		return fmt.Errorf("encoder: scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	boundaries := make([]float64, 0, len(job.Chunks)-1)
	for _, c := range job.Chunks[1:] {
		boundaries = append(boundaries, c.Start)
	}
	tracks := len(src.probe.Audios)
	timeout := e.MinTimeout + time.Duration(src.probe.Duration*float64(tracks)*float64(e.TimeoutPerSecond)/4)
	started := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	hold := &audioHold{e: e, id: id, wait: src.probe.Video != nil && len(job.Chunks) > 1}
	go func() {
		done <- ffmpeg.EncodeAudio(runCtx, ffmpeg.AudioSpec{Input: src.path, Source: src.probe, Profiles: job.Profiles,
			Boundaries: boundaries, Dir: dir, Timeout: timeout + maxAudioHold,
			RunLimits: ffmpeg.RunLimits{CPUBudget: time.Duration(tracks) * ffmpeg.AudioCPUBudget(src.probe.Duration), Held: hold.held.Load}})
	}()
	pieces := &audioPieces{e: e, job: job, dir: dir, next: make([]int, tracks)}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				return classifyEncodeError(err, timeout)
			}
			running = false
		case <-tick.C:
		}
		// Pieces ffmpeg has finished, as they come, so the first chunk's
		// audio is segmented while the rest is still encoding.
		if err := pieces.publishFinished(ctx, running); err != nil {
			if running { // ffmpeg is still at work: stop it and wait for it
				cancel()
				<-done
			}
			return err
		}
		if running && slices.Min(pieces.next) > 0 {
			hold.update(ctx)
		}
	}
	log.Info("audio encoded", "tracks", tracks, "pieces", pieces.next[0], "took", time.Since(started).Round(time.Millisecond), "held", hold.total.Round(time.Millisecond))
	return nil
}

// maxAudioHold bounds how long an audio run waits for its video's first
// chunk (audioHold): a first chunk that fails and waits to be retried must
// not hold the audio back further.
const maxAudioHold = 20 * time.Second

// audioHold makes the audio run wait, once its first piece is out, until the
// video's first chunk is encoded (or maxAudioHold has passed). The master
// waits for just these two; the audio's other pieces are needed much later,
// and the run took one of two cores from the first chunk (an hour of AAC is
// a minute of encoding): 1 s of the first 6 s to playable of an hour-long
// 1080p source. After that, the run yields to other videos' start work as
// a later chunk does (startYield): a long video's audio ran at full
// priority through the start of a burst of uploads.
type audioHold struct {
	e     *Encoder
	id    string
	wait  bool // a video with more than one chunk, whose first is not encoded yet
	since time.Time
	held  atomic.Bool
	total time.Duration // how long the run waited for its first chunk
	yield func() bool   // from when the wait is over
}

// update looks at the video's record after every tick of the audio run
// once its first piece is out.
func (h *audioHold) update(ctx context.Context) {
	if h.wait {
		now := time.Now()
		if h.since.IsZero() {
			h.since = now
		}
		v, err := h.e.Records.Get(ctx, h.id)
		if err != nil || v.State.Final() || len(v.Encoded) == 0 || v.Encoded[0] || now.Sub(h.since) > maxAudioHold {
			h.wait = false
			h.total = now.Sub(h.since)
		}
	}
	if !h.wait && h.yield == nil {
		h.yield = h.e.startYield()
	}
	h.held.Store(h.wait || h.yield())
}

// audioPieces publishes the audio run's pieces, each track's in order.
type audioPieces struct {
	e    *Encoder
	job  jobs.EncodeJob
	dir  string
	next []int // pieces published so far, per track
}

// publishFinished stores and queues every piece ffmpeg lists as complete.
// After the run (final), chunks with no piece (audio ending before the
// video) are queued as empty, so the rendition still completes.
func (p *audioPieces) publishFinished(ctx context.Context, running bool) error {
	for track := range p.next {
		if err := p.publishTrack(ctx, track, running); err != nil {
			return err
		}
	}
	return nil
}

func (p *audioPieces) publishTrack(ctx context.Context, track int, running bool) error {
	b, err := os.ReadFile(filepath.Join(p.dir, ffmpeg.AudioPieceList(track)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("encoder: audio pieces: %w", err)
	}
	// Only whole lines: ffmpeg may be writing the next one.
	text := string(b)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = text[:i+1]
	} else {
		text = ""
	}
	var names []string
	for _, line := range strings.Split(text, "\n") {
		if name, _, ok := strings.Cut(line, ","); ok {
			names = append(names, name)
		}
	}
	id, chunks, rendition := p.job.VideoID, p.job.Chunks, video.AudioRenditionName(track)
	if len(names) > len(chunks) {
		return queue.Permanent(video.CodeInternal, "The audio could not be encoded; the error was logged.",
			fmt.Errorf("ffmpeg wrote %d pieces of audio track %d for %d chunks", len(names), track, len(chunks)))
	}
	for ; p.next[track] < len(chunks) && (p.next[track] < len(names) || !running); p.next[track]++ {
		n := p.next[track]
		c := chunks[n]
		key := ""
		if n < len(names) {
			key = layout.WorkKey(id, rendition, c.Index)
			ok, err := putOutput(ctx, p.e.Store, key, filepath.Join(p.dir, filepath.Base(names[n])), c.Index == 0)
			if err != nil {
				return err
			}
			if !ok {
				key = ""
			}
		}
		if err := p.e.Queue.PublishSegment(ctx, jobs.SegmentJob{
			VideoID: id, Rendition: rendition, Key: key,
			SegmentDuration: p.job.Profiles.SegmentDuration, Chunk: c, Encryption: p.job.Profiles.Encryption, Container: p.job.Profiles.Container,
		}); err != nil {
			return err
		}
	}
	return nil
}

// localSource gives ffmpeg a local file: the store's own when it is on this
// disk, otherwise a copy shared by this process's jobs of the same video
// (a video's chunks come to the same encoder often). release ends the use.
func (e *Encoder) localSource(ctx context.Context, id, key string) (string, func(), error) {
	if lp, ok := e.Store.(store.LocalPather); ok {
		p, err := lp.Path(key)
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return "", nil, fmt.Errorf("encoder: source %s: %w", key, err)
		}
		return p, func() {}, nil
	}
	return e.sources.get(ctx, e.Store, key)
}

// putOutput stores an output file. An empty file is stored as nothing and
// reported false, unless required, when it is an encode failure.
func putOutput(ctx context.Context, s store.Store, key, path string, required bool) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("encoder: output: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("encoder: output: %w", err)
	}
	if st.Size() == 0 {
		if required {
			return false, queue.Permanent(video.CodeEncodeFailed, "The video could not be encoded: ffmpeg produced no output.", nil)
		}
		return false, nil
	}
	return true, s.Put(ctx, key, f, st.Size())
}

// laterNice is the CPU priority of a chunk's ffmpeg: a later chunk of a
// long video runs at nice 10, so start work and short videos, taken beside
// it by the worker's express lane (queue.Worker.Express), get the cores
// first.
func laterNice(job jobs.EncodeJob) int {
	if job.Subject() == jobs.SubjectEncodeLater {
		return 10
	}
	return 0
}

// yieldToStart is the Held of every other chunk's run: it is stopped while
// this encoder runs start work (a plan or a first chunk, taken beside it by
// the express lanes). Nice alone was not enough for later chunks: a niced
// twin still cost a first chunk of 1080p 45% more time (it takes the core
// the first chunk leaves idle for a moment, and two cores here may be one
// core's two threads). A short video's second chunk, at full priority, cost
// its own first chunk as much.
func (e *Encoder) yieldToStart(job jobs.EncodeJob) func() bool {
	if job.Part != jobs.PartVideo || job.Subject() == jobs.SubjectEncode {
		return nil
	}
	return e.startYield()
}

// maxYieldShare bounds how much of a run's time so far startYield may hold
// it: a stream of uploads slows other work down but never stops it. A burst
// of uploads is start work for tens of seconds; at a half, the long video's
// chunk ran beside it half that time and slowed every upload's start, while
// what the long video lost it gets back once the burst is over (its time to
// ready is the machine's whole work either way).
const maxYieldShare = 0.8

// yieldGrace is how long a run may stand stopped before the share counts:
// a chunk that starts beside a first chunk waits for it whole (a first
// chunk takes 2–4 s), instead of taking a fifth of the cores from it.
const yieldGrace = 3 * time.Second

// startYield reports, when asked (from one goroutine: a run's watch),
// whether a run should stand stopped now: while this encoder, or another of
// the deployment's on this machine (hostStartWork), runs start work, for at
// most yieldGrace and maxYieldShare of the run's time from the first call.
func (e *Encoder) startYield() func() bool {
	var started, since time.Time
	var held time.Duration
	holding := false
	return func() bool {
		now := time.Now()
		if started.IsZero() {
			started, since = now, now
		}
		if holding {
			held += now.Sub(since)
		}
		since = now
		holding = (e.startWork.Load() > 0 || e.host.othersBusy()) && held < yieldGrace+time.Duration(maxYieldShare*float64(now.Sub(started)))
		return holding
	}
}

// plannedRenditions are the video's renditions, as the plan makes them:
// the ladder's, then one per audio track kept (audioRenditions), or those
// alone for a source without video.
func plannedRenditions(src source, chunks int) []video.Rendition {
	var out []video.Rendition
	if src.probe.Video != nil {
		for _, p := range src.plan {
			out = append(out, video.Rendition{Name: p.Name, Width: p.Width, Height: p.Height, FrameRate: src.fps})
		}
	}
	out = append(out, audioRenditions(src.probe.Audios)...)
	for i := range out {
		out[i].Segmented = make([]bool, chunks)
	}
	return out
}

// mergePlan records the plan, keeping what segmenters already finished if
// this is a redelivered job (the plan is deterministic, so names match).
func mergePlan(existing, planned []video.Rendition) []video.Rendition {
	had := map[string]video.Rendition{}
	for _, r := range existing {
		had[r.Name] = r
	}
	out := slices.Clone(planned)
	for i, p := range out {
		if r, ok := had[p.Name]; ok && len(r.Segmented) == len(p.Segmented) {
			out[i] = r
		}
	}
	return out
}

func sourceFacts(src source) *video.Source {
	p := src.probe
	s := &video.Source{Format: p.Format, Duration: p.Duration}
	if v := p.Video; v != nil {
		s.Width, s.Height, s.FrameRate, s.VideoCodec = v.DisplayWidth, v.DisplayHeight, v.FrameRate, v.Codec
		s.Interlaced, s.HDR = v.Interlaced(), v.HDR()
	}
	if a := p.Audio(); a != nil {
		s.AudioCodec = a.Codec
	}
	if src.captionsLeftOut {
		s.Notes = append(s.Notes, fmt.Sprintf("The source's closed captions were left out: they cannot be kept when the frame rate changes (%s to %s frames per second).",
			strconv.FormatFloat(math.Round(p.Video.FrameRate*1000)/1000, 'f', -1, 64), strconv.FormatFloat(math.Round(src.fps*1000)/1000, 'f', -1, 64)))
	}
	_, subtitleNotes := textSubtitles(p)
	s.Notes = append(s.Notes, subtitleNotes...)
	switch n := src.droppedAudios; {
	case n == 1:
		s.Notes = append(s.Notes, fmt.Sprintf("One more audio track was left out: a video keeps its first %d (audio.max_tracks in the profiles).", len(p.Audios)))
	case n > 1:
		s.Notes = append(s.Notes, fmt.Sprintf("%d more audio tracks were left out: a video keeps its first %d (audio.max_tracks in the profiles).", n, len(p.Audios)))
	}
	return s
}

// progressReporter writes encode progress to the video state, at most once a
// second (every write is a KV round trip that clients watch): the chunks
// encoded, plus this one's fraction.
func (e *Encoder) progressReporter(ctx context.Context, id string) func(float64) {
	var mu sync.Mutex
	var last time.Time
	return func(f float64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		_, _ = e.Records.Update(ctx, id, func(v *video.Video) error { return v.EncodingProgress(f) })
	}
}

// classifyEncodeError tells failures that will repeat (the input cannot be
// decoded, the encode is too slow) from ones worth a retry (ffmpeg killed,
// disk full, shutdown).
func classifyEncodeError(err error, timeout time.Duration) error {
	var ee *ffmpeg.ExitError
	var pe *ffmpeg.ProbeError
	switch {
	case errors.As(err, &pe): // a frame over the pixel limit, met mid-stream
		return queue.Permanent(pe.Code, pe.Reason+".", err)
	case errors.Is(err, ffmpeg.ErrCPUBudget):
		return queue.Permanent(video.CodeLimitExceeded, "Encoding the video took far more processing than its length and picture size justify, so it was stopped.", err)
	case errors.Is(err, ffmpeg.ErrTimeout):
		return queue.Permanent(video.CodeEncodeFailed, fmt.Sprintf("Encoding took longer than the %s limit.", timeout.Round(time.Second)), err)
	case errors.As(err, &ee) && !ee.Killed() && !strings.Contains(ee.Stderr, "No space left"):
		return queue.Permanent(video.CodeEncodeFailed, "The video could not be decoded; the file may be damaged or use a codec hlsd cannot read.", err)
	default:
		return fmt.Errorf("encoder: %w", err)
	}
}
