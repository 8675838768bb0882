package encoder

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// thumbnailTimeout bounds the poster run. It is cheap (a seek and one
// frame) and best effort: a run that hangs must not hold the video back.
func thumbnailTimeout(duration float64) time.Duration {
	return time.Minute + time.Duration(duration*float64(100*time.Millisecond))
}

// pictures makes a video's poster from the source while its first chunk
// encodes. (The storyboard's thumbnails come out of every chunk's encode:
// see storeSheet.)
//
// Nothing here fails a video: a picture that cannot be made is logged and
// left out, and the video is published without it.
type pictures struct {
	store  store.Store
	id     string
	dir    string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	poster bool // once done is closed
}

// startPoster starts the poster run.
func (e *Encoder) startPoster(ctx context.Context, id, src string, probe ffmpeg.Source, dir string, log *slog.Logger) *pictures {
	p := &pictures{store: e.Store, id: id, dir: dir, log: log, done: make(chan struct{})}
	ctx, p.cancel = context.WithCancel(ctx)
	go func() {
		defer close(p.done)
		ok, err := ffmpeg.Poster(ctx, ffmpeg.PosterSpec{Input: src, Source: probe, Path: p.path(),
			Timeout: thumbnailTimeout(probe.Duration)})
		if err != nil && ctx.Err() == nil {
			log.Warn("no poster: the video is published without one", "err", err)
		}
		p.poster = ok && err == nil
	}()
	return p
}

func (p *pictures) path() string { return filepath.Join(p.dir, "pictures-"+layout.PosterName) }

// stop ends the poster run if it is still going (the encode failed), and
// waits for it, so the scratch directory can go.
func (p *pictures) stop() {
	p.cancel()
	<-p.done
}

// finish waits for the poster and stores it; it reports whether there is one.
func (p *pictures) finish(ctx context.Context) bool {
	<-p.done
	if !p.poster {
		return false
	}
	if _, err := putOutput(ctx, p.store, layout.PosterKey(p.id), p.path(), true); err != nil {
		p.log.Warn("no poster: it could not be stored", "err", err)
		return false
	}
	return true
}

// storeSheet tiles a chunk's storyboard thumbnails into its sheet, stores
// it, and records it for the segmenter, which writes the track once every
// chunk is in. A chunk without its sheet leaves a gap in the previews.
func (e *Encoder) storeSheet(ctx context.Context, log *slog.Logger, id string, chunk int, t *ffmpeg.ThumbnailSpec, sheet video.StoryboardSheet) {
	paths, _ := filepath.Glob(filepath.Join(t.Dir, "t_*.jpg")) // sorted: the names are zero-padded
	if len(paths) == 0 {
		return // a last chunk shorter than the interval
	}
	body, cols, err := ffmpeg.TileSheet(paths, t.Width, t.Height)
	if err == nil {
		err = e.Store.Put(ctx, layout.SpriteKey(id, chunk), bytes.NewReader(body), int64(len(body)))
	}
	if err == nil {
		sheet.Count, sheet.Columns = len(paths), cols
		var m []byte
		sheet.Interval, sheet.Width, sheet.Height = t.Interval, t.Width, t.Height
		m, err = json.Marshal(sheet)
		if err == nil {
			err = e.Store.Put(ctx, layout.StoryboardManifestKey(id, chunk), bytes.NewReader(m), int64(len(m)))
		}
	}
	if err != nil {
		log.Warn("no storyboard sheet for this chunk: its previews are left out", "err", err)
	}
}
