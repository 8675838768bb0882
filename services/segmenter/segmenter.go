// Package segmenter is the segment stage: it cuts a rendition's transport
// stream into HLS segments in Go (no ffmpeg), writes the segments and the
// media playlist, and — when the last rendition of a video is done — writes
// the master playlist last and marks the video ready.
package segmenter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/mpegts"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

// Deps is what the segmenter needs.
type Deps struct {
	Bus           *jobs.Bus
	Store         store.Store
	Concurrency   int
	ShutdownGrace time.Duration
	Log           *slog.Logger
	Observe       func(stage string, o jobs.Outcome, d time.Duration, redelivered bool)
}

// Run segments jobs until ctx ends.
func Run(ctx context.Context, d Deps) error {
	w := &jobs.Worker[jobs.SegmentJob]{
		Stage: "segment", Stream: jobs.StreamSegment, Consumer: d.Bus.Segmenter, Bus: d.Bus,
		Concurrency: d.Concurrency, ShutdownGrace: d.ShutdownGrace, Log: d.Log, Observe: d.Observe,
		VideoID: func(j jobs.SegmentJob) string { return j.VideoID },
		Handle:  func(ctx context.Context, j jobs.SegmentJob, a jobs.Attempt) error { return d.segment(ctx, j) },
	}
	return w.Run(ctx)
}

func (d Deps) segment(ctx context.Context, job jobs.SegmentJob) error {
	id, name := job.VideoID, job.Rendition
	log := d.Log.With("stage", "segment", "video", id, "rendition", name)
	block, err := d.segmentCipher(ctx, job)
	if err != nil {
		return err
	}
	rc, err := d.Store.Get(ctx, job.Key, 0, -1)
	if err != nil {
		return fmt.Errorf("segmenter: %w", err)
	}
	defer rc.Close()

	var segs []playlist.Segment
	var iframes []playlist.IFrame
	var header playlist.IFrame // the PAT/PMT every segment starts with
	info, err := mpegts.SplitTS(bufio.NewReaderSize(storeReader{rc}, 1<<20),
		mpegts.Options{TargetDuration: time.Duration(job.SegmentDuration * float64(time.Second))},
		func(seg mpegts.Segment, data []byte) error {
			size := seg.Size
			if block != nil {
				// Our playlists start at media sequence 0: the index is the sequence number.
				data = encryptSegment(block, uint64(seg.Index), data)
				size = int64(len(data)) // bandwidth is what players download
			}
			if err := d.Store.Put(ctx, jobs.SegmentKey(id, name, seg.Index), bytes.NewReader(data), int64(len(data))); err != nil {
				return fmt.Errorf("%w: %w", errStore, err)
			}
			uri := jobs.SegmentName(seg.Index)
			segs = append(segs, playlist.Segment{URI: uri, Duration: seg.Duration, Size: size})
			if block != nil {
				// No I-frame playlist for encrypted segments: an I-frame entry
				// is a byte range in the middle of a segment, and a range of
				// a CBC-encrypted segment cannot be decrypted on its own
				// (RFC 8216 4.3.2.4 encrypts the whole segment as one unit;
				// an I-frame playlist of ranges would need every keyframe
				// encrypted separately). Players still seek; they lose only
				// the trick-play thumbnails.
				return nil
			}
			if seg.Index == 0 {
				header = playlist.IFrame{URI: uri, Size: seg.HeaderSize}
			}
			for i, kf := range seg.Keyframes {
				// Each I-frame lasts until the next one, the last until the segment's end.
				end := seg.Start + seg.Duration
				if i+1 < len(seg.Keyframes) {
					end = seg.Keyframes[i+1].Time
				}
				if end > kf.Time { // after a timestamp splice an IDR may not move time on: leave it out
					iframes = append(iframes, playlist.IFrame{URI: uri, Offset: kf.Offset, Size: kf.Size, Duration: end - kf.Time})
				}
			}
			return nil
		})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, errStore) {
			return fmt.Errorf("segmenter: %w", err) // worth a retry
		}
		// Our own encoder wrote this stream; if it cannot be cut, retrying won't help.
		return jobs.Permanent(jobs.CodeInternal, "The encoded video could not be segmented; the error was logged.", err)
	}
	var key *playlist.Key
	if block != nil {
		// Relative, so it resolves under /streams/{id}/ and signed-URL
		// rewriting gives it the token like every other URI.
		key = &playlist.Key{URI: "../" + jobs.KeyName}
	}
	body, err := playlist.Media(segs, int(math.Round(job.SegmentDuration)), key)
	if err != nil {
		return jobs.Permanent(jobs.CodeInternal, "The encoded video produced no segments.", err)
	}
	if err := d.Store.Put(ctx, jobs.MediaPlaylistKey(id, name), bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	// Trick play: an I-frame playlist for video renditions (RFC 8216 4.3.3.6).
	var iPeak, iAvg int
	if len(iframes) > 0 {
		body, err := playlist.IFrames(iframes, header)
		if err != nil {
			return jobs.Permanent(jobs.CodeInternal, "The I-frame playlist could not be written; the error was logged.", err)
		}
		if err := d.Store.Put(ctx, jobs.IFramePlaylistKey(id, name), bytes.NewReader(body), int64(len(body))); err != nil {
			return err
		}
		iPeak, iAvg = playlist.IFrameBandwidth(iframes)
	}
	peak, avg := playlist.Bandwidth(segs)
	log.Info("rendition segmented", "segments", len(segs), "duration", info.Duration, "codecs", codecs(info), "peak_bps", peak)

	video, err := d.Bus.Videos.Update(ctx, id, func(v *jobs.Video) error {
		if v.State.Final() {
			return jobs.ErrNoChange
		}
		done, found := 0, false
		for i := range v.Renditions {
			r := &v.Renditions[i]
			if r.Name == name {
				found = true
				r.Done, r.Codecs, r.Bandwidth, r.AverageBandwidth = true, codecs(info), peak, avg
				r.Segments, r.Duration = len(segs), info.Duration
				r.IFrameBandwidth, r.IFrameAverageBandwidth = iPeak, iAvg
				if info.Width > 0 { // the bitstream is the truth
					r.Width, r.Height = info.Width, info.Height
				}
			}
			if r.Done {
				done++
			}
		}
		if !found {
			return fmt.Errorf("segmenter: rendition %s is not in the video's plan", name)
		}
		v.Progress = max(v.Progress, 0.9+0.09*float64(done)/float64(len(v.Renditions)))
		return nil
	})
	if err != nil {
		return err
	}
	// Not only in "segmenting": a redelivered encode job may have set the
	// state back to "encoding" while its earlier segment jobs finished; its
	// own re-published segment jobs are then dropped as duplicates, so the
	// last segmenter to finish must publish whatever the state says.
	if !video.State.Final() && video.AllRenditionsDone() {
		return d.publish(ctx, log, video)
	}
	return nil
}

// publish writes the master playlist, then marks the video ready. Every
// segmenter that sees all renditions done may get here (after a redelivery,
// say); writing the same master twice is harmless.
func (d Deps) publish(ctx context.Context, log *slog.Logger, v jobs.Video) error {
	variants := make([]playlist.Variant, 0, len(v.Renditions))
	for _, r := range v.Renditions {
		pv := playlist.Variant{
			URI: r.Name + "/index.m3u8", Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth,
			Codecs: r.Codecs, Width: r.Width, Height: r.Height, FrameRate: r.FrameRate,
		}
		if r.IFrameBandwidth > 0 {
			video, _, _ := strings.Cut(r.Codecs, ",") // the video codec comes first
			pv.IFrames = &playlist.IFrameVariant{
				URI: r.Name + "/" + jobs.IFramePlaylistName, Bandwidth: r.IFrameBandwidth,
				AverageBandwidth: r.IFrameAverageBandwidth, Codecs: video,
			}
		}
		variants = append(variants, pv)
	}
	body, err := playlist.Master(variants)
	if err != nil {
		return jobs.Permanent(jobs.CodeInternal, "The master playlist could not be written; the error was logged.", err)
	}
	if err := d.Store.Put(ctx, jobs.MasterKey(v.ID), bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	readied := false
	ready, err := d.Bus.Videos.Update(ctx, v.ID, func(v *jobs.Video) error {
		readied = false
		if v.State.Final() {
			return jobs.ErrNoChange
		}
		now := time.Now().UTC()
		v.State, v.Progress, v.ReadyAt = jobs.StateReady, 1, &now
		readied = true
		return nil
	})
	if err != nil {
		return err
	}
	if readied {
		d.Bus.AnnounceFinal(ready, log) // the video.ready webhook
	}
	log.Info("video ready", "renditions", len(v.Renditions))
	// Intermediate streams are no longer needed; failing to delete them only costs space.
	if err := store.DeletePrefix(ctx, d.Store, "work/"+v.ID+"/"); err != nil {
		log.Warn("could not delete intermediate files", "err", err)
	}
	return nil
}

func codecs(info mpegts.Info) string {
	var c []string
	for _, s := range []string{info.VideoCodec, info.AudioCodec} {
		if s != "" {
			c = append(c, s)
		}
	}
	return strings.Join(c, ",")
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
