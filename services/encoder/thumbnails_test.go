package encoder

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

// The track names sheets as the store keeps them.
func TestSpriteNamesAgree(t *testing.T) {
	for k := range 12 {
		if a, b := ffmpeg.SpriteName(k), path.Base(layout.SpriteKey("x", k)); a != b || a != layout.SpriteName(k) {
			t.Errorf("sheet %d: %s in the track, %s in the store", k, a, b)
		}
	}
}

func keysOf(t *testing.T, st store.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := st.List(context.Background(), prefix, func(i store.Info) error {
		keys = append(keys, strings.TrimPrefix(i.Key, prefix))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func probeClip(t *testing.T, args ...string) (string, ffmpeg.Source) {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	src := testutil.Generate(t, "src.mkv", args...)
	probe, err := ffmpeg.Probe(context.Background(), src, ffmpeg.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return src, probe
}

func TestPoster(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	src, probe := probeClip(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast")
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{}, Deps{Store: st})
	id := layout.NewVideoID()
	p := e.startPoster(ctx, id, src, probe, t.TempDir(), quiet)
	if !p.finish(ctx) {
		t.Fatal("no poster")
	}
	p.stop() // after finish, as the deferred stop does
	if keys := strings.Join(keysOf(t, st, layout.StreamPrefix(id)), " "); keys != "poster.jpg" {
		t.Errorf("stored %s", keys)
	}
	// Stopped while running: no picture, no error, nothing left behind.
	p = e.startPoster(ctx, layout.NewVideoID(), src, probe, t.TempDir(), quiet)
	p.stop()
	p.stop()
}

// A chunk's encode writes its storyboard thumbnails; storeSheet tiles them
// into the chunk's sheet and records it for the track.
func TestChunkStoryboardSheet(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	src, probe := probeClip(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "20", "-c:v", "libx264", "-preset", "ultrafast")
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	prof.Video.Preset = "ultrafast"
	chunks := PlanChunks(probe.Duration, prof.SegmentDuration, prof.KeyframeInterval, 25, 1)
	if len(chunks) != 3 {
		t.Fatalf("%d chunks, want 3 (0–2 s, 2–6 s, 6–20 s)", len(chunks))
	}
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{}, Deps{Store: st})
	id := layout.NewVideoID()
	for _, c := range chunks {
		dir := t.TempDir()
		var next jobs.Chunk
		if !c.Last() {
			next = chunks[c.Index+1]
		}
		first, count := thumbnailsIn(c, next, c.Last(), 2, probe.Duration)
		spec := &ffmpeg.ThumbnailSpec{Interval: 2, Count: count, Width: 160, Height: 90, Dir: dir}
		out := ffmpeg.Output{Name: "360p", Width: 640, Height: 360, VideoKbps: 500, MaxrateKbps: 550, BufsizeKbps: 1000, Path: filepath.Join(dir, "360p.ts")}
		err := ffmpeg.Encode(context.Background(), ffmpeg.EncodeSpec{Input: src, Source: probe, Outputs: []ffmpeg.Output{out}, Profiles: prof,
			Chunk: &ffmpeg.ChunkSpec{Start: c.Start, Frames: c.Frames, Thumbnails: spec}})
		if err != nil {
			t.Fatal(err)
		}
		e.storeSheet(context.Background(), quiet, id, c.Index, spec, video.StoryboardSheet{Name: layout.SpriteName(c.Index), First: first})
	}
	// 0–2 s: thumbnail 0; 2–6 s: 2, 4; 6–20 s: 6, 8, ..., 18.
	for i, want := range []video.StoryboardSheet{
		{Name: "sprite_0.jpg", First: 0, Count: 1, Columns: 1, Interval: 2, Width: 160, Height: 90},
		{Name: "sprite_1.jpg", First: 1, Count: 2, Columns: 2, Interval: 2, Width: 160, Height: 90},
		{Name: "sprite_2.jpg", First: 3, Count: 7, Columns: 7, Interval: 2, Width: 160, Height: 90},
	} {
		b, err := readObject(st, layout.StoryboardManifestKey(id, i))
		if err != nil {
			t.Fatal(err)
		}
		var got video.StoryboardSheet
		if err := json.Unmarshal(b, &got); err != nil || got != want {
			t.Errorf("chunk %d: %+v (%v), want %+v", i, got, err, want)
		}
		img, err := readObject(st, layout.SpriteKey(id, i))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width != want.Columns*160 || cfg.Height != 90 {
			t.Errorf("sheet %d: %dx%d (%v)", i, cfg.Width, cfg.Height, err)
		}
	}
}

func readObject(st *store.FileStore, key string) ([]byte, error) {
	p, err := st.Path(key)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}
