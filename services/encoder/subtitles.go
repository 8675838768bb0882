package encoder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/subtitles"
	"github.com/hlsd/hlsd/pkg/video"
)

// MaxSubtitleTracks is how many text subtitle tracks of a source become
// renditions; the rest are named in the video's notes. Films carry up to
// 30 or so.
const MaxSubtitleTracks = 32

// textSubtitles splits a video source's subtitle tracks: the text ones it
// keeps (up to MaxSubtitleTracks), and notes for the others. An audio-only
// source keeps none: there is no picture to show them on.
func textSubtitles(p ffmpeg.Source) (text []ffmpeg.SubtitleStream, notes []string) {
	var pictures []string
	for _, s := range p.Subtitles {
		switch {
		case !s.Text():
			pictures = append(pictures, s.Codec)
		case p.Video == nil:
		default:
			text = append(text, s)
		}
	}
	if p.Video == nil && len(p.Subtitles) > 0 {
		return nil, []string{"The source's subtitle tracks were left out: it has no picture to show them on."}
	}
	if n := len(pictures); n > 0 {
		notes = append(notes, fmt.Sprintf("%d subtitle track%s made of pictures (%s) %s left out: only text subtitles become WebVTT.",
			n, plural(n), strings.Join(pictures, ", "), map[bool]string{true: "was", false: "were"}[n == 1]))
	}
	if n := len(text) - MaxSubtitleTracks; n > 0 {
		notes = append(notes, fmt.Sprintf("%d more subtitle track%s left out: a video keeps its first %d.", n, plural(n), MaxSubtitleTracks))
		text = text[:MaxSubtitleTracks]
	}
	return text, notes
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// plannedGrid is the video's segment grid as planned (the durations of its
// segments, from 0): each chunk cut into segments of its length from its
// boundary, the last to the end of the video. The segmenter cuts at the
// keyframes the encoder puts on this grid, so the two agree within a frame.
func plannedGrid(chunks []jobs.Chunk, segmentDuration, duration float64) []float64 {
	var grid []float64
	for i, c := range chunks {
		d := segmentDuration
		if c.SegmentDuration > 0 {
			d = c.SegmentDuration
		}
		end := duration
		if i+1 < len(chunks) {
			end = chunks[i+1].Boundary
		}
		for t := c.Boundary; t < end-1e-3; t += d {
			grid = append(grid, math.Min(d, end-t))
		}
	}
	return grid
}

// encodeSubtitles makes the video's subtitle renditions (makeSubtitles).
// Subtitles that cannot be made at all — its last attempt failed, or a
// permanent error — do not fail the video: it goes on without them, and
// its facts say so.
func (e *Encoder) encodeSubtitles(ctx context.Context, job jobs.EncodeJob, a queue.Attempt) error {
	err := e.makeSubtitles(ctx, job)
	var pe *queue.PermanentError
	if err == nil || ctx.Err() != nil || !a.Last && !errors.As(err, &pe) {
		return err
	}
	id := job.VideoID
	e.Log.Error("the video goes on without subtitles", "stage", "subtitles", "video", id, "err", err)
	v, uerr := e.Records.Update(ctx, id, func(v *video.Video) error {
		if !v.SubtitlesPending || v.State == video.StateFailed {
			return video.ErrNoChange
		}
		v.SubtitlesPending, v.PendingSubtitles = false, nil
		if v.Source != nil {
			v.Source.Notes = append(v.Source.Notes, "The subtitles could not be made; the error was logged.")
		}
		return nil
	})
	if uerr != nil {
		return uerr
	}
	// The final master may have been waiting for the subtitles. (The
	// revision is unchanged: one past it keeps this ask apart from one
	// already sent for it, which JetStream's duplicate window would drop.)
	return e.Queue.PublishSegment(ctx, masterJob(job, v.SubtitlesRevision+1))
}

// masterJob asks for the video's master to be written again
// (jobs.SegmentJob.MasterOnly), with the video's segment settings: the
// segmenter that takes it may grow its media playlists in the same round.
// rev tells it from earlier asks.
func masterJob(job jobs.EncodeJob, rev int) jobs.SegmentJob {
	return jobs.SegmentJob{VideoID: job.VideoID, Revision: rev,
		SegmentDuration: job.Profiles.SegmentDuration, Encryption: job.Profiles.Encryption, Container: job.Profiles.Container}
}

// makeSubtitles turns the source's text subtitle tracks, and the files
// sent with the upload, into WebVTT renditions on the planned segment
// grid, records them (the plan set SubtitlesPending; this clears it) and
// asks for the master to be written again. A track that cannot be read is
// left out with a note; the video goes on.
func (e *Encoder) makeSubtitles(ctx context.Context, job jobs.EncodeJob) error {
	id := job.VideoID
	log := e.Log.With("stage", "subtitles", "video", id)
	v, err := e.Records.Get(ctx, id)
	if err != nil || v.State.Final() || !v.SubtitlesPending {
		return err // done already (a redelivery), or nothing to do
	}
	src, release, err := e.openSource(ctx, job)
	if err != nil {
		return err
	}
	defer release()
	tracks, _ := textSubtitles(src.probe)
	// IDs follow those of the files sent with the upload; nothing else
	// takes one while the video is not ready, so a redelivered job picks
	// the same.
	base := v.SubtitlesRevision
	dir, err := os.MkdirTemp(e.WorkDir, "subtitles-"+id+"-")
	if err != nil {
		return fmt.Errorf("encoder: %w", err)
	}
	defer os.RemoveAll(dir)
	// Demuxing only, like the remux.
	timeout := e.MinTimeout + time.Duration(src.probe.Duration*float64(e.TimeoutPerSecond)/10)
	paths, errs := ffmpeg.ExtractSubtitles(ctx, src.path, src.probe, tracks, dir, timeout)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	origin := src.probe.VideoClockOrigin(len(job.Chunks) > 1 && !ffmpeg.Seekable(src.probe.Format))
	grid := plannedGrid(job.Chunks, job.Profiles.SegmentDuration, src.probe.Duration)
	if len(grid) == 0 {
		return queue.Permanent(video.CodeInternal, "The subtitles could not be made; the error was logged.", errors.New("no segment grid"))
	}

	var made []video.Subtitle
	var notes []string
	used := map[string]bool{}
	defaulted := false
	for i, t := range tracks {
		what := fmt.Sprintf("The subtitle track %d (%s)", i+1, t.Codec)
		var cues []subtitles.Cue
		if errs[i] == nil {
			var b []byte
			if b, err = os.ReadFile(paths[i]); err != nil {
				return fmt.Errorf("encoder: %w", err)
			}
			cues, err = subtitles.Parse(b)
		} else {
			err = errs[i]
		}
		if err == nil {
			if cues = subtitles.Shift(cues, -origin); len(cues) == 0 {
				err = errors.New("no cue within the video")
			}
		}
		if err != nil {
			log.Warn("subtitle track left out", "track", t.Index, "codec", t.Codec, "err", err)
			var se *subtitles.Error
			reason := "FFmpeg could not read it"
			if errors.As(err, &se) {
				reason = strings.TrimSuffix(se.Reason, ".")
			}
			notes = append(notes, fmt.Sprintf("%s was left out: %s.", what, reason))
			continue
		}
		// A closed-caption track describes sounds too (SDH).
		captions := t.Codec == "eia_608"
		s := video.Subtitle{ID: video.SubtitleID(base + i + 1), Language: bcp47(t.Language), Forced: t.Forced,
			HearingImpaired: t.HearingImpaired || captions, Origin: video.SubtitlesFromSource, Cues: len(cues)}
		s.Label = video.UniqueLabel(subtitleLabel(cleanLabel(t.Title), s.Language, s.Forced, s.HearingImpaired, captions, len(made), len(tracks)), used)
		// Matroska's default flag is the file's wish to show the track;
		// MP4/MOV's is the track-enabled bit, which muxers set on the
		// first track of each kind on their own (FFmpeg always does):
		// there it says nothing, and QuickTime shows subtitles only when
		// chosen.
		if t.Default && !defaulted && src.probe.Format != "mov" {
			s.Default, defaulted = true, true
		}
		if err := subtitles.WriteRendition(ctx, e.Store, id, s.ID, cues, grid, int(math.Round(job.Profiles.SegmentDuration))); err != nil {
			return err
		}
		made = append(made, s)
	}
	// The files sent with the upload, on the same grid; their cues are on
	// the video's clock as they are.
	uploaded := v.PendingSubtitles
	for _, p := range uploaded {
		cues, err := e.pendingCues(ctx, id, p.ID)
		if err != nil {
			return err
		}
		if len(cues) == 0 {
			notes = append(notes, fmt.Sprintf("The subtitle file %q was left out: it has no cue within the video.", p.Label))
			continue
		}
		if err := subtitles.WriteRendition(ctx, e.Store, id, p.ID, cues, grid, int(math.Round(job.Profiles.SegmentDuration))); err != nil {
			return err
		}
		p.Cues = len(cues)
		made = append(made, p)
	}
	v, err = e.Records.Update(ctx, id, func(v *video.Video) error {
		if !v.SubtitlesPending || v.State == video.StateFailed {
			return video.ErrNoChange
		}
		v.SubtitlesPending = false
		v.Subtitles, v.PendingSubtitles = made, nil
		v.SubtitlesRevision = max(v.SubtitlesRevision, base+len(tracks))
		if v.Source != nil {
			v.Source.Notes = append(v.Source.Notes, notes...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The upload's files are renditions now; failing to delete them only
	// costs space until the video is deleted.
	for _, p := range uploaded {
		_ = e.Store.Delete(ctx, layout.PendingSubtitleKey(id, p.ID))
	}
	log.Info("subtitles made", "renditions", len(made), "left_out", len(notes))
	// The master (early or final) may have been written without them, and
	// the final one may have been waiting for them.
	return e.Queue.PublishSegment(ctx, masterJob(job, v.SubtitlesRevision))
}

// pendingCues reads a subtitle file sent with the upload (stored as safe
// WebVTT by the gateway), keeping the cues within the video.
func (e *Encoder) pendingCues(ctx context.Context, id, sid string) ([]subtitles.Cue, error) {
	rc, err := e.Store.Get(ctx, layout.PendingSubtitleKey(id, sid), 0, -1)
	if err != nil {
		return nil, fmt.Errorf("encoder: subtitles %s of the upload: %w", sid, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, subtitles.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("encoder: subtitles %s of the upload: %w", sid, err)
	}
	cues, err := subtitles.Parse(b)
	if err != nil {
		return nil, queue.Permanent(video.CodeInternal, "The subtitles sent with the upload could not be read; the error was logged.", err)
	}
	return subtitles.Shift(cues, 0), nil
}

// subtitleLabel is the NAME of a subtitle rendition: the track's title,
// else its language in that language ("English", "Français"), else
// "Subtitles" or "Closed captions" (numbered when there are several); with
// its kind, unless the title says it.
func subtitleLabel(title, lang string, forced, sdh, captions bool, i, n int) string {
	kind, what := "", "Subtitles"
	switch {
	case captions && lang == "":
		what = "Closed captions" // says it all
	case captions:
		kind = "CC"
	case forced:
		kind = "forced"
	case sdh:
		kind = "SDH"
	}
	return trackLabel(title, lang, what, kind, i, n)
}
