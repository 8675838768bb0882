package distributed

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/video"
)

const (
	encodedSucceeded   = `hlsd_jobs_total{outcome="succeeded",stage="encode"}`
	segmentedSucceeded = `hlsd_jobs_total{outcome="succeeded",stage="segment"}`
)

// (d) Twenty uploads at once with two workers of each kind: every one ends
// ready with its own content, each job done exactly once, both workers busy.
func TestConcurrentUploadsShareWorkers(t *testing.T) {
	c := newCluster(t, 2, 2)
	const n = 20
	durations := make([]float64, n)
	clips := make([]string, n)
	for i := range clips {
		// Distinct lengths tell the videos apart afterwards.
		durations[i] = 2 + 0.2*float64(i)
		clips[i] = clip(t, fmt.Sprintf("c%02d.mp4", i), durations[i], "320x180")
	}
	masters := make([]string, n)
	var wg sync.WaitGroup
	for i := range clips {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, body := post(t, c.gateway+"/upload", clips[i])
			if status != http.StatusOK {
				t.Errorf("upload %d: %d %q", i, status, body)
			}
			masters[i] = body
		}(i)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for i, m := range masters {
		id := strings.TrimSuffix(strings.TrimPrefix(m, c.content+"/streams/"), "/master.m3u8")
		if !layout.ValidVideoID(id) || seen[id] {
			t.Fatalf("upload %d answered %q", i, m)
		}
		seen[id] = true
		c.checkPlayable(t, id, durations[i])
	}
	var enc, seg float64
	for _, p := range c.encoders {
		v := metric(t, p, encodedSucceeded)
		if v == 0 {
			t.Errorf("%s did no work", p.name)
		}
		enc += v
	}
	for _, p := range c.segmenters {
		v := metric(t, p, segmentedSucceeded)
		if v == 0 {
			t.Errorf("%s did no work", p.name)
		}
		seg += v
	}
	// Each clip is one chunk (shorter than 6 s) of one video rendition
	// (320x180 is below every rung) and the audio rendition: a plan and a
	// chunk to encode (the audio has a stage of its own), two chunks to
	// segment.
	if enc != 2*n || seg != 2*n {
		t.Errorf("%g encodes and %g segmentations for %d videos, want exactly two each", enc, seg, n)
	}
}

// (a) kill -9 the encoder that is running ffmpeg: the job goes to the other
// encoder and the video ends ready and correct.
func TestEncoderKilledMidJob(t *testing.T) {
	c := newCluster(t, 2, 1)
	id := c.create(t, clip(t, "long.mp4", 30, "960x540"))
	var victim *proc
	waitFor(t, "an encoder to be running ffmpeg", time.Minute, func() bool {
		v, ok := c.video(id)
		if !ok || v.State != video.StateEncoding || v.Progress < 0.15 {
			return false
		}
		for _, p := range c.encoders {
			if p.hasFFmpegChild() {
				victim = p
				return true
			}
		}
		return false
	})
	victim.kill()
	v := c.waitFinal(t, id, 3*time.Minute)
	if v.State != video.StateReady {
		t.Fatalf("video ended %s: %+v", v.State, v.Failure)
	}
	c.checkPlayable(t, id, 30)
	// The victim may have been running several encodes (a chunk and, in
	// its express slots, others; the audio, which stands stopped while
	// start work runs and so is often the ffmpeg found): each is redelivered.
	for _, p := range c.encoders {
		if p == victim {
			continue
		}
		n := metric(t, p, `hlsd_jobs_redelivered_total{stage="encode"}`) + metric(t, p, `hlsd_jobs_redelivered_total{stage="audio"}`)
		if n < 1 {
			t.Errorf("%s did not take over the redelivered job (%g redelivered)", p.name, n)
		}
		t.Logf("%s took over %g redelivered encode and audio jobs", p.name, n)
	}
}

// (b) The broker restarts mid-pipeline: every video in flight ends ready.
func TestNATSRestartMidPipeline(t *testing.T) {
	c := newCluster(t, 1, 1)
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, c.create(t, clip(t, fmt.Sprintf("v%d.mp4", i), 10, "640x360")))
	}
	waitFor(t, "the first video to be encoding", time.Minute, func() bool {
		v, ok := c.video(ids[0])
		return ok && v.State == video.StateEncoding && v.Progress > 0.1
	})
	c.restartNATS(3 * time.Second)
	waitFor(t, "the encoder to reconnect to the restarted broker", time.Minute, func() bool {
		b, _ := os.ReadFile(c.encoders[0].log)
		return strings.Contains(string(b), "NATS reconnected")
	})
	for _, id := range ids {
		if v := c.waitFinal(t, id, 3*time.Minute); v.State != video.StateReady {
			t.Fatalf("video %s ended %s: %+v", id, v.State, v.Failure)
		}
		c.checkPlayable(t, id, 10)
	}
}

// (c) MinIO is gone for 20 s mid-pipeline: stages retry with back-off and
// every video finishes once it is back.
func TestStoreOutageMidPipeline(t *testing.T) {
	c := newCluster(t, 1, 1)
	var ids []string
	for i := 0; i < 2; i++ {
		ids = append(ids, c.create(t, clip(t, fmt.Sprintf("v%d.mp4", i), 10, "640x360")))
	}
	waitFor(t, "the first video to be encoding", time.Minute, func() bool {
		v, ok := c.video(ids[0])
		return ok && v.State == video.StateEncoding && v.Progress > 0.1
	})
	c.minio.Stop()
	time.Sleep(20 * time.Second) // the outage itself
	if err := c.minio.Resume(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if v := c.waitFinal(t, id, 4*time.Minute); v.State != video.StateReady {
			t.Fatalf("video %s ended %s: %+v", id, v.State, v.Failure)
		}
		c.checkPlayable(t, id, 10)
	}
	var retried float64
	for _, p := range append(c.encoders, c.segmenters...) {
		retried += metric(t, p, `hlsd_jobs_total{outcome="retried",stage="encode"}`) + metric(t, p, `hlsd_jobs_total{outcome="retried",stage="segment"}`)
	}
	if retried == 0 {
		t.Error("no job was retried during a 20 s store outage; the test did not exercise anything")
	}
}

// (e) A job that can never succeed ends failed with its reason after its
// attempts, visible in the API, while other videos go through.
func TestAlwaysFailingJobDoesNotBlockTheQueue(t *testing.T) {
	c := newCluster(t, 1, 1)
	nc, err := nats.Connect(c.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	cfg := queue.DefaultConfig()
	cfg.AckWait, cfg.MaxDeliver = 3*time.Second, 6
	cfg.BackOff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}
	ctx := context.Background()
	bus, err := queue.Setup(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	// A video whose source was never stored: every attempt fails.
	bad := layout.NewVideoID()
	if err := bus.Videos.Create(ctx, &video.Video{ID: bad, State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	if err := bus.PublishEncode(ctx, jobs.EncodeJob{VideoID: bad, SourceKey: layout.SourceKey(bad), Profiles: prof, Chunk: jobs.Chunk{Count: 1}}); err != nil {
		t.Fatal(err)
	}
	// A good upload right behind it is not held up.
	status, body := post(t, c.gateway+"/upload", clip(t, "good.mp4", 3, "320x180"))
	if status != http.StatusOK {
		t.Fatalf("good upload: %d %q", status, body)
	}
	if v, _ := c.video(bad); v.State.Final() {
		t.Errorf("the bad job already ended (%s) before the good video was ready; the test proves nothing", v.State)
	}
	v := c.waitFinal(t, bad, 3*time.Minute)
	if v.State != video.StateFailed || v.Failure == nil || !strings.Contains(v.Failure.Reason, "after 6 attempts") {
		t.Fatalf("bad video ended %s with %+v", v.State, v.Failure)
	}
}
