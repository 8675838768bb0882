package encoder

import (
	"context"
	"io"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// The track names sheets as ffmpeg wrote them; the store keeps them so.
func TestSpriteNamesAgree(t *testing.T) {
	for k := range 12 {
		if a, b := ffmpeg.SpriteName(k), path.Base(jobs.SpriteKey("x", k)); a != b || a != jobs.SpriteName(k) {
			t.Errorf("sheet %d: %s in the track, %s in the store", k, a, b)
		}
	}
}

func picturesFixture(t *testing.T, args ...string) (Deps, string, ffmpeg.Source, []ffmpeg.Output, profiles.Profiles) {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	src := testutil.Generate(t, "src.mkv", args...)
	probe, err := ffmpeg.Probe(context.Background(), src, ffmpeg.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	prof.Video.Preset = "ultrafast"
	plan, _ := planRenditions(prof, probe)
	dir := t.TempDir()
	var outputs []ffmpeg.Output
	for _, p := range plan {
		outputs = append(outputs, ffmpeg.Output{Name: p.Name, Width: p.Width, Height: p.Height, VideoKbps: max(p.VideoKbps, 300),
			MaxrateKbps: max(p.MaxrateKbps, 300), BufsizeKbps: max(p.BufsizeKbps, 600), Path: filepath.Join(dir, p.Name+".ts")})
	}
	if err := ffmpeg.Encode(context.Background(), ffmpeg.EncodeSpec{Input: src, Source: probe, Outputs: outputs, Profiles: prof}); err != nil {
		t.Fatal(err)
	}
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return Deps{Store: st}, src, probe, outputs, prof
}

func keysOf(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	var keys []string
	err := st.List(context.Background(), jobs.StreamPrefix(id), func(i store.Info) error {
		keys = append(keys, strings.TrimPrefix(i.Key, jobs.StreamPrefix(id)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestPictures(t *testing.T) {
	t.Parallel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	t.Run("video", func(t *testing.T) {
		t.Parallel()
		d, src, probe, outputs, prof := picturesFixture(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "9", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
		id := jobs.NewVideoID()
		p := d.startPictures(ctx, id, src, probe, t.TempDir(), quiet)
		got := p.finish(ctx, outputs, prof)
		want := jobs.Thumbnails{Poster: true, Interval: 2, Count: 5, Sprites: 1, Width: 160, Height: 90}
		if got == nil || *got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		if keys := strings.Join(keysOf(t, d.Store, id), " "); keys != "poster.jpg sprite_0.jpg thumbnails.vtt" {
			t.Errorf("stored %s", keys)
		}
	})
	t.Run("no storyboard without a rendition to make it from", func(t *testing.T) {
		t.Parallel()
		d, src, probe, outputs, prof := picturesFixture(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast")
		outputs[0].Path += ".gone"
		id := jobs.NewVideoID()
		p := d.startPictures(ctx, id, src, probe, t.TempDir(), quiet)
		if got := p.finish(ctx, outputs, prof); got == nil || *got != (jobs.Thumbnails{Poster: true}) {
			t.Fatalf("got %+v, want a poster only", got)
		}
		if keys := strings.Join(keysOf(t, d.Store, id), " "); keys != "poster.jpg" {
			t.Errorf("stored %s", keys)
		}
	})
	t.Run("audio only", func(t *testing.T) {
		t.Parallel()
		d, src, probe, outputs, prof := picturesFixture(t, "-f", "lavfi", "-i", "sine", "-t", "3", "-c:a", "aac")
		id := jobs.NewVideoID()
		p := d.startPictures(ctx, id, src, probe, t.TempDir(), quiet)
		if got := p.finish(ctx, outputs, prof); got != nil {
			t.Fatalf("got %+v for an audio-only source", got)
		}
		if keys := keysOf(t, d.Store, id); len(keys) != 0 {
			t.Errorf("stored %v", keys)
		}
	})
	t.Run("stopped with the encode", func(t *testing.T) {
		t.Parallel()
		d, src, probe, _, _ := picturesFixture(t, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
		p := d.startPictures(ctx, jobs.NewVideoID(), src, probe, t.TempDir(), quiet)
		p.stop()
		p.stop() // twice is fine (a deferred stop after finish)
	})
}
