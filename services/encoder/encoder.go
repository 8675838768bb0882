// Package encoder is the encode stage: it takes a source from the store,
// probes it as untrusted input, plans the ladder, runs one ffmpeg that decodes
// once and writes every rendition as MPEG-TS, stores those, and queues one
// segment job per rendition.
package encoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/store"
)

// Deps is what the encoder needs.
type Deps struct {
	Bus         *jobs.Bus
	Store       store.Store
	Limits      ffmpeg.Limits
	WorkDir     string // local scratch space for sources and outputs
	Concurrency int
	// MinTimeout is the least time an encode may take; longer sources get
	// TimeoutPerSecond for each second of media on top.
	MinTimeout       time.Duration
	TimeoutPerSecond time.Duration
	ShutdownGrace    time.Duration
	Log              *slog.Logger
	Observe          func(stage string, o jobs.Outcome, d time.Duration, redelivered bool)
	// Speed, if set, is told how fast each encode ran (seconds of media per second).
	Speed func(x float64)
}

// AudioRendition names the single rendition of an audio-only source.
const AudioRendition = "audio"

// Run encodes jobs until ctx ends.
func Run(ctx context.Context, d Deps) error {
	if err := os.MkdirAll(d.WorkDir, 0o755); err != nil {
		return fmt.Errorf("encoder: work dir: %w", err)
	}
	w := &jobs.Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: d.Bus.Encoder, Bus: d.Bus,
		Concurrency: d.Concurrency, ShutdownGrace: d.ShutdownGrace, Log: d.Log, Observe: d.Observe,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID },
		Handle:  func(ctx context.Context, j jobs.EncodeJob, a jobs.Attempt) error { return d.encode(ctx, j) },
	}
	return w.Run(ctx)
}

func (d Deps) encode(ctx context.Context, job jobs.EncodeJob) error {
	id := job.VideoID
	log := d.Log.With("stage", "encode", "video", id)
	videos := d.Bus.Videos
	if _, err := videos.Update(ctx, id, func(v *jobs.Video) error {
		if v.State.Final() {
			return jobs.ErrNoChange
		}
		v.State = jobs.StateEncoding
		return nil
	}); err != nil {
		return err
	}

	dir, err := os.MkdirTemp(d.WorkDir, "encode-"+id+"-")
	if err != nil {
		return fmt.Errorf("encoder: scratch dir: %w", err)
	}
	defer os.RemoveAll(dir)
	src, err := d.localSource(ctx, job.SourceKey, dir)
	if err != nil {
		return err
	}

	probe, err := ffmpeg.Probe(ctx, src, d.Limits)
	var pe *ffmpeg.ProbeError
	if errors.As(err, &pe) {
		return jobs.Permanent(pe.Code, pe.Reason+".", pe.Err)
	}
	if err != nil {
		return err
	}
	plan, fps := planRenditions(job.Profiles, probe)
	log.Info("source probed", "format", probe.Format, "duration", probe.Duration, "renditions", len(plan))
	// The poster is taken from the source while the encode runs.
	pics := d.startPictures(ctx, id, src, probe, dir, log)
	defer pics.stop()
	if job.Profiles.Encrypted() {
		// Before any segment job can exist; see ensureKey.
		if err := ensureKey(ctx, d.Store, id); err != nil {
			return err
		}
	}

	if _, err := videos.Update(ctx, id, func(v *jobs.Video) error {
		v.Source = sourceFacts(probe)
		v.Renditions = mergePlan(v.Renditions, plan, fps)
		v.Progress = 0.05
		return nil
	}); err != nil {
		return err
	}

	outputs := make([]ffmpeg.Output, len(plan))
	for i, p := range plan {
		outputs[i] = ffmpeg.Output{Name: p.Name, Width: p.Width, Height: p.Height,
			VideoKbps: p.VideoKbps, MaxrateKbps: p.MaxrateKbps, BufsizeKbps: p.BufsizeKbps,
			Path: filepath.Join(dir, p.Name+".ts")}
	}
	timeout := d.MinTimeout + time.Duration(probe.Duration*float64(d.TimeoutPerSecond))
	started := time.Now()
	err = ffmpeg.Encode(ctx, ffmpeg.EncodeSpec{
		Input: src, Source: probe, Outputs: outputs, Profiles: job.Profiles, Timeout: timeout,
		Progress: d.progressReporter(ctx, id),
	})
	if err != nil {
		return classifyEncodeError(err, timeout)
	}
	if took := time.Since(started).Seconds(); d.Speed != nil && took > 0 && probe.Duration > 0 {
		d.Speed(probe.Duration / took)
	}
	// Before the segment jobs, so a ready video has its pictures.
	thumbnails := pics.finish(ctx, outputs, job.Profiles)

	// Store every output before queueing any segment job: a segmenter must
	// never find a missing or partial transport stream.
	for _, o := range outputs {
		if err := putFile(ctx, d.Store, jobs.WorkKey(id, o.Name, job.Chunk.Index), o.Path); err != nil {
			return err
		}
	}
	if _, err := videos.Update(ctx, id, func(v *jobs.Video) error {
		if v.State.Final() {
			return jobs.ErrNoChange
		}
		v.State = jobs.StateSegmenting
		v.Progress = max(v.Progress, 0.9)
		v.Thumbnails = thumbnails
		return nil
	}); err != nil {
		return err
	}
	for _, o := range outputs {
		err := d.Bus.PublishSegment(ctx, jobs.SegmentJob{
			VideoID: id, Rendition: o.Name, Key: jobs.WorkKey(id, o.Name, job.Chunk.Index),
			SegmentDuration: job.Profiles.SegmentDuration, Chunk: job.Chunk, Encryption: job.Profiles.Encryption,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// localSource gives ffmpeg a local file: the store's own when it is on this
// disk, otherwise a copy in dir.
func (d Deps) localSource(ctx context.Context, key, dir string) (string, error) {
	if lp, ok := d.Store.(store.LocalPather); ok {
		p, err := lp.Path(key)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("encoder: source %s: %w", key, err)
		}
		return p, nil
	}
	rc, err := d.Store.Get(ctx, key, 0, -1)
	if err != nil {
		return "", fmt.Errorf("encoder: source: %w", err)
	}
	defer rc.Close()
	p := filepath.Join(dir, "source")
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("encoder: source copy: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return "", fmt.Errorf("encoder: source copy: %w", err)
	}
	return p, f.Close()
}

func putFile(ctx context.Context, s store.Store, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("encoder: output: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("encoder: output: %w", err)
	}
	if st.Size() == 0 {
		return jobs.Permanent(jobs.CodeEncodeFailed, "The video could not be encoded: ffmpeg produced no output.", nil)
	}
	return s.Put(ctx, key, f, st.Size())
}

// planRenditions picks the ladder for the source and the output frame rate.
func planRenditions(p profiles.Profiles, src ffmpeg.Source) ([]profiles.Planned, float64) {
	if src.Video == nil {
		return []profiles.Planned{{Rendition: profiles.Rendition{Name: AudioRendition}}}, 0
	}
	_, fps := ffmpeg.OutputFrameRate(src.Video, p.Video.MaxFrameRate)
	return p.Select(src.Video.DisplayWidth, src.Video.DisplayHeight), fps
}

// mergePlan records the plan, keeping what a segmenter already finished if
// this is a redelivered job (the plan is deterministic, so names match).
func mergePlan(existing []jobs.Rendition, plan []profiles.Planned, fps float64) []jobs.Rendition {
	done := map[string]jobs.Rendition{}
	for _, r := range existing {
		if r.Done {
			done[r.Name] = r
		}
	}
	out := make([]jobs.Rendition, len(plan))
	for i, p := range plan {
		if r, ok := done[p.Name]; ok {
			out[i] = r
			continue
		}
		out[i] = jobs.Rendition{Name: p.Name, Width: p.Width, Height: p.Height, FrameRate: fps}
	}
	return out
}

func sourceFacts(p ffmpeg.Source) *jobs.Source {
	s := &jobs.Source{Format: p.Format, Duration: p.Duration}
	if v := p.Video; v != nil {
		s.Width, s.Height, s.FrameRate, s.VideoCodec = v.DisplayWidth, v.DisplayHeight, v.FrameRate, v.Codec
	}
	if a := p.Audio; a != nil {
		s.AudioCodec = a.Codec
	}
	return s
}

// progressReporter writes encode progress to the video state, at most once a
// second (every write is a KV round trip that clients watch).
func (d Deps) progressReporter(ctx context.Context, id string) func(float64) {
	var mu sync.Mutex
	var last time.Time
	return func(f float64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		_, _ = d.Bus.Videos.Update(ctx, id, func(v *jobs.Video) error {
			p := 0.05 + 0.85*f
			if v.State.Final() || p <= v.Progress {
				return jobs.ErrNoChange
			}
			v.Progress = p
			return nil
		})
	}
}

// classifyEncodeError tells failures that will repeat (the input cannot be
// decoded, the encode is too slow) from ones worth a retry (ffmpeg killed,
// disk full, shutdown).
func classifyEncodeError(err error, timeout time.Duration) error {
	var ee *ffmpeg.ExitError
	switch {
	case errors.Is(err, ffmpeg.ErrTimeout):
		return jobs.Permanent(jobs.CodeEncodeFailed, fmt.Sprintf("Encoding took longer than the %s limit.", timeout.Round(time.Second)), err)
	case errors.As(err, &ee) && !ee.Killed() && !strings.Contains(ee.Stderr, "No space left"):
		return jobs.Permanent(jobs.CodeEncodeFailed, "The video could not be decoded; the file may be damaged or use a codec hlsd cannot read.", err)
	default:
		return fmt.Errorf("encoder: %w", err)
	}
}
