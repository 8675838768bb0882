package encoder

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/video/videotest"
)

// published is a Queue that remembers what the encoder handed on.
type published struct {
	mu       sync.Mutex
	encode   []jobs.EncodeJob
	segment  []jobs.SegmentJob
	msgIDs   map[string]bool
	repeated []string
}

func (p *published) seen(id string) {
	if p.msgIDs == nil {
		p.msgIDs = map[string]bool{}
	}
	if p.msgIDs[id] {
		p.repeated = append(p.repeated, id)
	}
	p.msgIDs[id] = true
}

func (p *published) PublishEncode(_ context.Context, j jobs.EncodeJob) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen(j.MsgID())
	p.encode = append(p.encode, j)
	return nil
}

func (p *published) PublishSegment(_ context.Context, j jobs.SegmentJob) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen(j.MsgID())
	p.segment = append(p.segment, j)
	return nil
}

// takeSegments returns the segment jobs published since the last call.
func (p *published) takeSegments() []jobs.SegmentJob {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.segment
	p.segment = nil
	return out
}

// plannedVideo is an encoder on a file store, with an in-memory record and
// queue, and one video planned.
type plannedVideo struct {
	e    *Encoder
	st   *store.FileStore
	recs *videotest.Records
	q    *published
	id   string
}

// planSettings change what planVideo plans with; zero values are the
// defaults.
type planSettings struct {
	window    int // the chunk window
	maxAudios int // the profile's audio.max_tracks
}

// planVideo stores the clip ffmpeg makes from args as a new video's source
// and runs its plan on a new encoder.
func planVideo(t *testing.T, ps planSettings, name string, args ...string) plannedVideo {
	t.Helper()
	testutil.RequireTools(t, "ffmpeg", "ffprobe")
	ctx := context.Background()
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := plannedVideo{st: st, recs: &videotest.Records{}, q: &published{}, id: layout.NewVideoID()}
	v.e = New(Config{Limits: ffmpeg.DefaultLimits(), WorkDir: t.TempDir(), MinTimeout: 2 * time.Minute, TimeoutPerSecond: 10 * time.Second, ChunkWindow: ps.window},
		Deps{Records: v.recs, Queue: v.q, Store: st})
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	if ps.maxAudios > 0 {
		prof.Audio.MaxTracks = ps.maxAudios
	}
	f, err := os.Open(testutil.Generate(t, name, args...))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := st.Put(ctx, layout.SourceKey(v.id), f, -1); err != nil {
		t.Fatal(err)
	}
	if err := v.recs.Create(ctx, &video.Video{ID: v.id, State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	if err := v.e.encode(ctx, jobs.EncodeJob{VideoID: v.id, SourceKey: layout.SourceKey(v.id), Profiles: prof, Part: jobs.PartPlan}, queue.Attempt{Number: 1}); err != nil {
		t.Fatal(err)
	}
	return v
}

// The encoder's side of the job contract, without a NATS server: a plan
// queues the audio first, then the first chunk and a window of later ones
// (a window of 2 here), and records the plan; each chunk stores one stream
// per video rendition, queues one segment job per rendition and releases
// the chunk 2 after it; the audio queues one per chunk; the last
// chunk moves the video to segmenting; a failed video's chunk hands
// nothing on.
func TestEncoderHandsOnEveryPiece(t *testing.T) {
	// 40 s at 480x270: four chunks (0–2 s and 2–6 s in 2 s segments,
	// 6–36 s, 36–40 s), a small ladder, and audio.
	ctx := context.Background()
	pv := planVideo(t, planSettings{window: 2}, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=480x270:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	e, st, recs, q, id := pv.e, pv.st, pv.recs, pv.q, pv.id
	v, _ := recs.Get(ctx, id)
	if v.State != video.StateEncoding || v.Chunks != 4 || v.Source == nil || len(v.Renditions) < 3 {
		t.Fatalf("after the plan: state %s, %d chunks, source %+v, %d renditions", v.State, v.Chunks, v.Source, len(v.Renditions))
	}
	var videoRenditions []string
	for _, r := range v.Renditions {
		if r.Name != video.AudioRendition {
			videoRenditions = append(videoRenditions, r.Name)
		}
	}
	if len(q.encode) != 4 || q.encode[0].Part != jobs.PartAudio || len(q.encode[0].Chunks) != 4 ||
		q.encode[1].Part != jobs.PartVideo || q.encode[1].Chunk.Index != 0 || q.encode[1].Chunk.Segments != 1 || q.encode[1].Chunk.SegmentDuration != 2 ||
		q.encode[2].Chunk.Index != 1 || q.encode[3].Chunk.Index != 2 {
		t.Fatalf("the plan queued %+v; want the audio, then chunks 0 (one 2 s segment), 1 and 2", q.encode)
	}

	for i := range 4 {
		job := q.encode[1+i]
		if job.Part != jobs.PartVideo || job.Chunk.Index != i {
			t.Fatalf("job %d is %s chunk %d, want chunk %d", 1+i, job.Part, job.Chunk.Index, i)
		}
		if err := e.encode(ctx, job, queue.Attempt{Number: 1}); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		// Chunk 1 releases chunk 3; no other releases anything.
		if want := map[int]int{1: 5}[i]; want > 0 && len(q.encode) != want {
			t.Fatalf("after chunk %d: %d encode jobs queued, want %d", i, len(q.encode), want)
		}
		var got []string
		for _, s := range q.takeSegments() {
			if s.Chunk.Index != i || s.Key != layout.WorkKey(id, s.Rendition, i) || s.SegmentDuration != 6 {
				t.Errorf("chunk %d queued %+v", i, s)
			}
			if _, err := st.Stat(ctx, s.Key); err != nil {
				t.Errorf("chunk %d: %s queued but not stored: %v", i, s.Key, err)
			}
			got = append(got, s.Rendition)
		}
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(videoRenditions)); !slices.Equal(got, want) {
			t.Errorf("chunk %d queued segment jobs for %v, want %v", i, got, want)
		}
		v, _ := recs.Get(ctx, id)
		if want := []video.State{video.StateEncoding, video.StateEncoding, video.StateEncoding, video.StateSegmenting}[i]; v.State != want || !v.Encoded[i] {
			t.Errorf("after chunk %d: state %s (want %s), encoded %v", i, v.State, want, v.Encoded)
		}
	}

	if err := e.encode(ctx, q.encode[0], queue.Attempt{Number: 1}); err != nil {
		t.Fatalf("audio: %v", err)
	}
	audio := q.takeSegments()
	if len(audio) != 4 || audio[0].Rendition != video.AudioRendition || audio[0].Chunk.Index != 0 || audio[3].Chunk.Index != 3 {
		t.Fatalf("the audio queued %+v; want one segment job per chunk, in order", audio)
	}
	if len(q.repeated) > 0 {
		t.Errorf("message ids published twice: %v", q.repeated)
	}

	// A failed video's chunk (a late redelivery) hands nothing on.
	if _, err := recs.Update(ctx, id, func(v *video.Video) error { v.Fail(video.CodeInternal, "test"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.encode(ctx, q.encode[1], queue.Attempt{Number: 1}); err != nil {
		t.Fatal(err)
	}
	if late := q.takeSegments(); len(late) != 0 {
		t.Errorf("a failed video's chunk queued %+v", late)
	}
}

// Every audio track becomes a rendition of the audio group, up to the
// profile's audio.max_tracks: the plan records them with their languages
// and names, and the one audio job queues each track's pieces, chunk by
// chunk, as the rendition's segment jobs.
func TestAudioTracksBecomeRenditions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := planVideo(t, planSettings{}, "clip.mkv", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440", "-f", "lavfi", "-i", "sine=frequency=660", "-f", "lavfi", "-i", "sine=frequency=880",
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-t", "14", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=ger", "-metadata:s:a:2", "title=Commentary")
	rec, _ := v.recs.Get(ctx, v.id)
	var got []string
	for _, r := range rec.Renditions {
		if video.IsAudio(r.Name) {
			got = append(got, fmt.Sprintf("%s %s %q %v", r.Name, r.Language, r.Label, r.Default))
		}
	}
	want := []string{`audio en "English" true`, `audio-2 de "Deutsch" false`, `audio-3  "Commentary" false`}
	if !slices.Equal(got, want) || rec.AudioTracks() != 3 || len(rec.Source.Notes) != 0 {
		t.Fatalf("audio renditions %q, facts %+v; want %q", got, rec.Source, want)
	}
	audio := v.q.encode[0]
	if audio.Part != jobs.PartAudio {
		t.Fatalf("the plan queued %+v first, want the audio job", audio)
	}
	if err := v.e.encode(ctx, audio, queue.Attempt{Number: 1}); err != nil {
		t.Fatalf("audio: %v", err)
	}
	pieces := map[string][]int{}
	for _, j := range v.q.takeSegments() {
		pieces[j.Rendition] = append(pieces[j.Rendition], j.Chunk.Index)
		if _, err := v.st.Stat(ctx, j.Key); err != nil {
			t.Errorf("%s chunk %d queued but not stored: %v", j.Rendition, j.Chunk.Index, err)
		}
	}
	for _, name := range []string{"audio", "audio-2", "audio-3"} {
		if want := []int{0, 1, 2}; !slices.Equal(pieces[name], want) {
			t.Errorf("%s: pieces of chunks %v queued, want %v", name, pieces[name], want)
		}
	}

	// With audio.max_tracks 2, the third track is left out, and said so.
	v2 := planVideo(t, planSettings{maxAudios: 2}, "clip.mkv", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25",
		"-f", "lavfi", "-i", "sine", "-f", "lavfi", "-i", "sine", "-f", "lavfi", "-i", "sine",
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac")
	rec, _ = v2.recs.Get(ctx, v2.id)
	if n := len(rec.Renditions); n < 3 || !video.IsAudio(rec.Renditions[n-1].Name) || rec.Renditions[n-1].Name != "audio-2" ||
		rec.AudioTracks() != 2 || len(rec.Source.Notes) != 1 || !strings.Contains(rec.Source.Notes[0], "One more audio track was left out") {
		t.Errorf("with audio.max_tracks 2: renditions %+v, facts %+v; want two audio renditions and a note", rec.Renditions, rec.Source)
	}
}

// waitStopped waits until an ffmpeg reading v's source is stopped (state T
// in /proc/PID/stat), failing if the job (done) ends first or a minute
// passes; what names the run for the failure.
func waitStopped(t *testing.T, v plannedVideo, done <-chan error, what string) {
	t.Helper()
	source, err := v.st.Path(layout.SourceKey(v.id))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, what+" to be stopped", time.Minute, func() bool {
		select {
		case err := <-done:
			t.Fatalf("the job ended (%v) before %s was stopped", err, what)
		default:
		}
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			cmdline, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
			if err == nil && strings.Contains(string(cmdline), source) && testutil.ProcessState(d.Name()) == "T" {
				return true
			}
		}
		return false
	})
}

// waitDone waits for a job (done) to end without error within d; what
// names it, late says what it means if it does not.
func waitDone(t *testing.T, done <-chan error, d time.Duration, what, late string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(d):
		t.Fatalf("%s: %s", what, late)
	}
}

// planSound plans a video of minutes of sound under a tiny picture (an AAC
// encode of seconds, long enough to be caught at work) and returns its
// audio job.
func planSound(t *testing.T, seconds int) (plannedVideo, jobs.EncodeJob) {
	t.Helper()
	v := planVideo(t, planSettings{}, "clip.mkv", "-f", "lavfi", "-i", "color=size=64x64:rate=1", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac")
	audio := v.q.encode[0]
	if audio.Part != jobs.PartAudio || len(audio.Chunks) < 10 {
		t.Fatalf("the plan queued %+v first; want the audio job of a video of many chunks", audio)
	}
	return v, audio
}

// The audio run waits, once its first piece is out, while the video's first
// chunk is not encoded (audioHold), and goes on to every piece once it is.
func TestAudioWaitsForTheFirstChunk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, audio := planSound(t, 600)
	e, recs, q, id := v.e, v.recs, v.q, v.id
	done := make(chan error, 1)
	go func() { done <- e.encode(ctx, audio, queue.Attempt{Number: 1}) }()

	waitStopped(t, v, done, "the audio run (after its first piece)")
	pieces := q.takeSegments()
	if len(pieces) == 0 || len(pieces) >= len(audio.Chunks) || pieces[0].Chunk.Index != 0 {
		t.Fatalf("while held, the audio had queued %d of %d pieces; want the first, not all", len(pieces), len(audio.Chunks))
	}
	if _, err := recs.Update(ctx, id, func(v *video.Video) error { return v.ChunkEncoded(0) }); err != nil {
		t.Fatal(err)
	}
	waitDone(t, done, 2*time.Minute, "the audio", "it did not go on once the first chunk was encoded")
	if got := len(pieces) + len(q.takeSegments()); got != len(audio.Chunks) {
		t.Fatalf("the audio queued %d pieces, want %d", got, len(audio.Chunks))
	}
}

// Past its first piece and its own first chunk, the audio run gives way to
// other videos' start work (startYield) as a later chunk does, and still
// finishes while start work runs all along.
func TestAudioYieldsToStartWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, audio := planSound(t, 300)
	e, recs, q, id := v.e, v.recs, v.q, v.id
	// Its own first chunk is in: audioHold has nothing to wait for.
	if _, err := recs.Update(ctx, id, func(v *video.Video) error { return v.ChunkEncoded(0) }); err != nil {
		t.Fatal(err)
	}
	e.startWork.Add(1) // another video's plan or first chunk, all along
	done := make(chan error, 1)
	go func() { done <- e.encode(ctx, audio, queue.Attempt{Number: 1}) }()
	waitStopped(t, v, done, "the audio run (while another video's start work ran)")
	waitDone(t, done, 3*time.Minute, "the audio", "it never finished while start work ran: it must yield only part of its time")
	if got := len(q.takeSegments()); got != len(audio.Chunks) {
		t.Fatalf("the audio queued %d pieces, want %d", got, len(audio.Chunks))
	}
}

// A later chunk's ffmpeg (as every chunk's but a first) is stopped while
// the encoder runs start work (yieldToStart), but for no more than four
// fifths of its time: with start work running all along, it still finishes.
func TestLaterChunksYieldToStartWork(t *testing.T) {
	t.Parallel()
	// 100 s: six chunks (2, 4, 30, 30, 30 and 4 s), a long video's.
	ctx := context.Background()
	v := planVideo(t, planSettings{}, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "100", "-c:v", "libx264", "-preset", "ultrafast")
	e, recs, q, id := v.e, v.recs, v.q, v.id
	var later jobs.EncodeJob
	for _, j := range q.encode {
		if j.Part == jobs.PartVideo && j.Chunk.Index == 2 {
			later = j
		}
	}
	if later.Subject() != jobs.SubjectEncodeLater {
		t.Fatalf("chunk 2 of a %d-chunk video is on %q, want the later subject", len(later.Chunks), later.Subject())
	}

	e.startWork.Add(1) // as if a plan or a first chunk ran all along
	done := make(chan error, 1)
	go func() { done <- e.encode(ctx, later, queue.Attempt{Number: 1}) }()
	waitStopped(t, v, done, "the later chunk's ffmpeg (while start work ran)")
	waitDone(t, done, 3*time.Minute, "the later chunk", "it never finished while start work ran: it must yield only part of its time")
	if v, _ := recs.Get(ctx, id); !v.Encoded[2] {
		t.Fatal("chunk 2 is not recorded as encoded")
	}
}
