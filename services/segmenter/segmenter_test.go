package segmenter

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/video/videotest"
)

// announcements is an Announcer that remembers what it was told.
type announcements struct {
	mu     sync.Mutex
	videos []video.Video
}

func (a *announcements) AnnounceFinal(v video.Video, _ *slog.Logger) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.videos = append(a.videos, v)
}

func (a *announcements) list() []video.Video {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]video.Video(nil), a.videos...)
}

// setup makes a segmenter on a file store, with in-memory records and
// announcements: no NATS server (the queue's side is pkg/queue's tests and
// the end-to-end tests).
func setup(t *testing.T) *Segmenter {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg")
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{}, Deps{Records: &videotest.Records{}, Announcer: &announcements{}, Store: st,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// records is the segmenter's in-memory records, to create videos in.
func records(sg *Segmenter) *videotest.Records { return sg.Records.(*videotest.Records) }

// putTS stores an encoder-like rendition stream for video id.
func putTS(t *testing.T, d *Segmenter, id, rendition string) string {
	ts := testutil.Generate(t, rendition+".ts", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-force_key_frames", "expr:gte(t,n_forced*2)", "-c:a", "aac", "-shortest", "-f", "mpegts")
	f, err := os.Open(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key := layout.WorkKey(id, rendition, 0)
	if err := d.Store.Put(context.Background(), key, f, -1); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestLastRenditionPublishesMasterLast(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting,
		Chunks: 1, Renditions: []video.Rendition{{Name: "a", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false}},
			{Name: "b", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false}}}}); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"a", "b"} {
		key := putTS(t, d, id, name)
		if err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: name, Key: key, SegmentDuration: 6, Chunk: jobs.Chunk{Count: 1}}); err != nil {
			t.Fatal(err)
		}
		_, err := d.Store.Stat(ctx, layout.MasterKey(id))
		v, _ := d.Records.Get(ctx, id)
		if i == 0 && (err == nil || v.State != video.StateSegmenting) {
			t.Fatalf("after the first of two renditions: master exists=%v, state %s", err == nil, v.State)
		}
		if i == 1 && (err != nil || v.State != video.StateReady || v.Progress != 1) {
			t.Fatalf("after the last rendition: master err=%v, state %s, progress %g", err, v.State, v.Progress)
		}
		// The ready event goes out once, with the ready record.
		if got := d.Announcer.(*announcements).list(); len(got) != i || i == 1 && (got[0].ID != id || got[0].State != video.StateReady) {
			t.Fatalf("after rendition %d: announced %+v", i+1, got)
		}
	}
	// A redelivered last job announces nothing again.
	if err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "b", Key: layout.WorkKey(id, "b", 0), SegmentDuration: 6, Chunk: jobs.Chunk{Count: 1}}); err != nil {
		t.Logf("redelivered job: %v", err)
	}
	if got := d.Announcer.(*announcements).list(); len(got) != 1 {
		t.Fatalf("announced %d times after a redelivery", len(got))
	}
	// Intermediate streams are gone once the video is ready.
	var left []string
	_ = d.Store.List(ctx, "work/"+id+"/", func(i store.Info) error { left = append(left, i.Key); return nil })
	if len(left) != 0 {
		t.Fatalf("work files left: %v", left)
	}
}

// The last segment job of a video whose chunks are all encoded makes it
// ready; while the record says a chunk is still to encode, it may not (the
// state machine: only segmenting, or an audio-only encoding, becomes
// ready). A redelivered plan can no longer set a segmenting video back to
// encoding (video.Video.StartEncoding), which this once had to survive.
func TestPublishesWhenEveryChunkIsEncoded(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	early := layout.NewVideoID()
	if err := records(d).Create(ctx, &video.Video{ID: early, State: video.StateEncoding, Chunks: 1, Encoded: []bool{false},
		Renditions: []video.Rendition{{Name: "a", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false}}}}); err != nil {
		t.Fatal(err)
	}
	if err := d.segment(ctx, jobs.SegmentJob{VideoID: early, Rendition: "a", Key: putTS(t, d, early, "a"), SegmentDuration: 6, Chunk: jobs.Chunk{Count: 1}}); !errors.Is(err, video.ErrTransition) {
		t.Fatalf("segmenting the last chunk of a video whose chunk is not encoded yet: %v, want ErrTransition", err)
	}

	id := layout.NewVideoID()
	if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting, Chunks: 1, Encoded: []bool{true},
		Renditions: []video.Rendition{{Name: "a", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false}}}}); err != nil {
		t.Fatal(err)
	}
	key := putTS(t, d, id, "a")
	if err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "a", Key: key, SegmentDuration: 6, Chunk: jobs.Chunk{Count: 1}}); err != nil {
		t.Fatal(err)
	}
	v, _ := d.Records.Get(ctx, id)
	if v.State != video.StateReady {
		t.Fatalf("state %s, want ready", v.State)
	}
	rc, err := d.Store.Get(ctx, layout.MediaPlaylistKey(id, "a"), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(b), "#EXT-X-ENDLIST") || strings.Count(string(b), "#EXTINF:") != 2 {
		t.Fatalf("media playlist:\n%s", b)
	}
}

func TestUnknownRenditionFails(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting, Renditions: []video.Rendition{{Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	key := putTS(t, d, id, "zzz")
	if err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "zzz", Key: key, SegmentDuration: 6}); err == nil {
		t.Fatal("a rendition outside the plan was accepted")
	}
}

// Chunks of one rendition segmented at once by different workers: the one
// publisher at a time (the lease) leaves the complete playlist, never an
// older one written late over it.
func TestConcurrentChunksPublishTheWholePlaylist(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	for round := range 8 {
		id := layout.NewVideoID()
		if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting, Chunks: 2,
			Renditions: []video.Rendition{{Name: "a", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false, false}}}}); err != nil {
			t.Fatal(err)
		}
		key := putTS(t, d, id, "a") // 8 s: two segments per chunk
		chunks := []jobs.Chunk{{Index: 0, Count: 2, FirstSegment: 0, Segments: 2}, {Index: 1, Count: 2, FirstSegment: 2}}
		errs := make(chan error, 2)
		for _, c := range chunks {
			go func() {
				errs <- d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "a", Key: key, SegmentDuration: 6, Chunk: c})
			}()
		}
		for range chunks {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		v, _ := d.Records.Get(ctx, id)
		rc, err := d.Store.Get(ctx, layout.MediaPlaylistKey(id, "a"), 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if v.State != video.StateReady || v.Publisher != nil || !strings.HasSuffix(string(b), "#EXT-X-ENDLIST\n") ||
			strings.Count(string(b), "#EXTINF:") != 4 || !strings.Contains(string(b), "seg_00003.ts") {
			t.Fatalf("round %d: state %s, publisher %+v, media playlist:\n%s", round, v.State, v.Publisher, b)
		}
	}
}
