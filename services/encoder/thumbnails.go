package encoder

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/store"
)

// thumbnailTimeout bounds one poster or storyboard run. Both are cheap (a
// seek and one frame; the keyframes of the smallest rendition), and best
// effort: a run that hangs must not hold the video back for long.
func thumbnailTimeout(duration float64) time.Duration {
	return time.Minute + time.Duration(duration*float64(100*time.Millisecond))
}

// pictures makes a video's still pictures (jobs.Thumbnails): the poster from
// the source while the encode runs, and the storyboard from the smallest
// rendition once it exists. That rendition has a keyframe at every multiple
// of the keyframe interval, so only keyframes need decoding, at a small
// size, and the thumbnails still fall exactly every N seconds whatever the
// source's keyframes; it is upright, square-pixelled and 8-bit already.
//
// Nothing here fails a video: a picture that cannot be made is logged and
// left out, and the video is published without it.
type pictures struct {
	store  store.Store
	id     string
	probe  ffmpeg.Source
	dir    string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	poster bool // once done is closed
}

// startPictures starts the poster run; audio-only sources have no pictures.
func (d Deps) startPictures(ctx context.Context, id, src string, probe ffmpeg.Source, dir string, log *slog.Logger) *pictures {
	p := &pictures{store: d.Store, id: id, probe: probe, dir: dir, log: log, done: make(chan struct{})}
	if probe.Video == nil {
		close(p.done)
		return p
	}
	ctx, p.cancel = context.WithCancel(ctx)
	go func() {
		defer close(p.done)
		ok, err := ffmpeg.Poster(ctx, ffmpeg.PosterSpec{Input: src, Source: probe, Path: p.path(jobs.PosterName),
			Timeout: thumbnailTimeout(probe.Duration)})
		if err != nil && ctx.Err() == nil {
			log.Warn("no poster: the video is published without one", "err", err)
		}
		p.poster = ok && err == nil
	}()
	return p
}

func (p *pictures) path(name string) string { return filepath.Join(p.dir, "pictures-"+name) }

// stop ends the poster run if it is still going (the encode failed), and
// waits for it, so the scratch directory can go.
func (p *pictures) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	<-p.done
}

// finish waits for the poster, makes the storyboard from the smallest
// video output, stores what was made and says what there is: nil for none.
func (p *pictures) finish(ctx context.Context, outputs []ffmpeg.Output, prof profiles.Profiles) *jobs.Thumbnails {
	<-p.done
	if p.probe.Video == nil {
		return nil
	}
	started := time.Now()
	t := &jobs.Thumbnails{}
	if p.poster {
		if err := p.put(ctx, jobs.PosterKey(p.id), p.path(jobs.PosterName)); err != nil {
			p.log.Warn("no poster: it could not be stored", "err", err)
		} else {
			t.Poster = true
		}
	}
	if err := p.storyboard(ctx, outputs, prof, t); err != nil {
		p.log.Warn("no storyboard: the video is published without seek previews", "err", err)
		t.Interval, t.Count, t.Sprites, t.Width, t.Height = 0, 0, 0, 0, 0
	}
	p.log.Info("pictures made", "poster", t.Poster, "thumbnails", t.Count, "interval", t.Interval, "took", time.Since(started).Round(time.Millisecond))
	if !t.Poster && t.Count == 0 {
		return nil
	}
	return t
}

func (p *pictures) storyboard(ctx context.Context, outputs []ffmpeg.Output, prof profiles.Profiles, t *jobs.Thumbnails) error {
	var small *ffmpeg.Output
	for i, o := range outputs {
		if o.Width > 0 && (small == nil || o.Width*o.Height < small.Width*small.Height) {
			small = &outputs[i]
		}
	}
	if small == nil {
		return fmt.Errorf("no video rendition among %d", len(outputs))
	}
	n := ffmpeg.StoryboardInterval(p.probe.Duration, prof.KeyframeInterval)
	kf := float64(n) / prof.KeyframeInterval
	dir := p.path("storyboard")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	sb, err := ffmpeg.MakeStoryboard(ctx, ffmpeg.StoryboardSpec{
		Input: small.Path, Format: "mpegts", Width: small.Width, Height: small.Height,
		Duration: p.probe.Duration, Interval: n, KeyframesOnly: prof.KeyframeInterval > 0 && math.Abs(kf-math.Round(kf)) < 1e-9,
		Dir: dir, Timeout: thumbnailTimeout(p.probe.Duration),
	})
	if err != nil {
		return err
	}
	// The sheets before the track that names them.
	for k, path := range sb.Sprites {
		if err := p.put(ctx, jobs.SpriteKey(p.id, k), path); err != nil {
			return err
		}
	}
	vtt := sb.VTT()
	if err := p.store.Put(ctx, jobs.ThumbnailsKey(p.id), bytes.NewReader(vtt), int64(len(vtt))); err != nil {
		return err
	}
	t.Interval, t.Count, t.Sprites, t.Width, t.Height = sb.Interval, sb.Count, len(sb.Sprites), sb.Width, sb.Height
	return nil
}

func (p *pictures) put(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return p.store.Put(ctx, key, f, st.Size())
}
