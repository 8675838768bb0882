package encoder

import (
	"context"
	"os"
	"testing"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// The probe cache answers for a file it has seen (same path, size and
// modification time) without reading it, gives every caller its own copy,
// and probes a changed file again.
func TestProbeCache(t *testing.T) {
	t.Parallel()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	ctx, lim := context.Background(), ffmpeg.DefaultLimits()
	src := testutil.Generate(t, "src.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast")
	c := newProbeCache()
	first, err := c.probe(ctx, src, lim)
	if err != nil || first.Video == nil || first.Video.Width != 320 {
		t.Fatalf("first probe: %+v, %v", first, err)
	}
	first.Video.Combed, first.Duration = "tff", 99 // what a job does to its copy

	// The same size and time, but no longer a media file: only the cache
	// can answer.
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, make([]byte, fi.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(src, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	again, err := c.probe(ctx, src, lim)
	if err != nil {
		t.Fatalf("a cached probe failed: %v (the file was read again)", err)
	}
	if again.Video == first.Video || again.Video.Combed != "" || again.Duration == 99 || again.Video.Width != 320 {
		t.Fatalf("the cached probe is %+v (video %+v): want an unchanged copy of its own", again, again.Video)
	}

	// Another picture under the same name is probed anew.
	other := testutil.Generate(t, "other.mp4", "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast")
	if err := os.Rename(other, src); err != nil {
		t.Fatal(err)
	}
	changed, err := c.probe(ctx, src, lim)
	if err != nil || changed.Video == nil || changed.Video.Width != 480 {
		t.Fatalf("the changed file: %+v, %v; want it probed again (480 wide)", changed, err)
	}
}
