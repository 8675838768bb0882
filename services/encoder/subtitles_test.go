package encoder

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/video"
)

func TestPlannedGrid(t *testing.T) {
	for _, tt := range []struct {
		name                     string
		duration, segment, early float64
		want                     []float64
	}{
		{"early segments, then 6 s", 40, 6, 2, []float64{2, 2, 2, 6, 6, 6, 6, 6, 4}},
		{"shorter than a segment", 2.5, 6, 2, []float64{2.5}},
		{"one chunk of 6 s and a tail", 7, 6, 0, []float64{6, 1}},
		{"an hour", 3600, 6, 2, append([]float64{2, 2, 2}, slices.Repeat([]float64{6}, 599)...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := plannedGrid(PlanChunks(tt.duration, tt.segment, tt.early, 30, 1), tt.segment, tt.duration)
			if len(got) != len(tt.want) {
				t.Fatalf("grid %v, want %v", got, tt.want)
			}
			for i := range got {
				if d := got[i] - tt.want[i]; d > 1e-9 || d < -1e-9 {
					t.Fatalf("grid %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestTextSubtitles(t *testing.T) {
	v := &ffmpeg.VideoStream{Codec: "h264"}
	subs := []ffmpeg.SubtitleStream{{Index: 2, Codec: "subrip"}, {Index: 3, Codec: "hdmv_pgs_subtitle"}, {Index: 4, Codec: "ass"},
		{Index: 5, Codec: "dvb_subtitle"}, {Index: 6, Codec: "mov_text"}, {Index: 7, Codec: "dvb_teletext"}, {Index: 8, Codec: "eia_608"}}
	text, notes := textSubtitles(ffmpeg.Source{Video: v, Subtitles: subs})
	if len(text) != 5 || text[0].Index != 2 || text[1].Index != 4 || text[2].Index != 6 || text[3].Index != 7 || text[4].Index != 8 {
		t.Errorf("kept %+v, want the SubRip, ASS, mov_text, teletext and EIA-608 tracks", text)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "2 subtitle tracks made of pictures (hdmv_pgs_subtitle, dvb_subtitle) were left out") {
		t.Errorf("notes %q", notes)
	}
	text, notes = textSubtitles(ffmpeg.Source{Subtitles: subs[:1]})
	if len(text) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "no picture") {
		t.Errorf("audio-only source: kept %+v, notes %q", text, notes)
	}
	many := slices.Repeat([]ffmpeg.SubtitleStream{{Codec: "subrip"}}, MaxSubtitleTracks+2)
	if text, notes = textSubtitles(ffmpeg.Source{Video: v, Subtitles: many}); len(text) != MaxSubtitleTracks || len(notes) != 1 || !strings.Contains(notes[0], "2 more subtitle tracks") {
		t.Errorf("%d tracks kept, notes %q", len(text), notes)
	}
	if text, notes = textSubtitles(ffmpeg.Source{Video: v}); len(text) != 0 || len(notes) != 0 {
		t.Errorf("no subtitles: %+v %q", text, notes)
	}
}

func TestSubtitleLabel(t *testing.T) {
	for _, tt := range []struct {
		title, lang           string
		forced, sdh, captions bool
		i, n                  int
		want                  string
	}{
		{"", "en", false, false, false, 0, 1, "English"},
		{"", "fr", true, false, false, 0, 2, "Français (forced)"},
		{"", "en", false, true, false, 1, 2, "English (SDH)"},
		{"Director's notes", "en", false, true, false, 0, 1, "Director's notes"},
		{"", "", false, false, false, 1, 3, "Subtitles 2"},
		{"", "", false, false, false, 0, 1, "Subtitles"},
		{"", "", false, true, true, 0, 1, "Closed captions"},
		{"", "en", false, true, true, 0, 1, "English (CC)"},
	} {
		if got := subtitleLabel(tt.title, tt.lang, tt.forced, tt.sdh, tt.captions, tt.i, tt.n); got != tt.want {
			t.Errorf("subtitleLabel(%q, %q, forced %v, sdh %v) = %q, want %q", tt.title, tt.lang, tt.forced, tt.sdh, got, tt.want)
		}
	}
}

// Subtitles that cannot be made are retried, and after the last attempt
// the video goes on without them, saying so: they never fail it.
func TestSubtitlesThatCannotBeMadeDoNotFailTheVideo(t *testing.T) {
	v := planVideo(t, planSettings{}, "clip.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
		"-f", "lavfi", "-i", "sine", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	ctx := context.Background()
	// A file sent with the upload, whose stored copy is gone.
	if _, err := v.recs.Update(ctx, v.id, func(r *video.Video) error {
		r.PendingSubtitles = []video.Subtitle{{ID: video.SubtitleID(1), Label: "Français", Language: "fr", Origin: video.SubtitlesUploaded}}
		r.SubtitlesPending, r.SubtitlesRevision = true, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	job := v.q.encode[0]
	job.Part, job.Chunk = jobs.PartSubtitles, jobs.Chunk{}
	v.q.takeSegments()
	if err := v.e.encode(ctx, job, queue.Attempt{Number: 1}); err == nil {
		t.Fatal("a subtitles job that cannot read its file succeeded")
	}
	if r, _ := v.recs.Get(ctx, v.id); !r.SubtitlesPending {
		t.Fatal("a failed attempt gave the subtitles up before the last")
	}
	if err := v.e.encode(ctx, job, queue.Attempt{Number: 3, Last: true}); err != nil {
		t.Fatalf("the last attempt: %v", err)
	}
	r, _ := v.recs.Get(ctx, v.id)
	if r.SubtitlesPending || len(r.PendingSubtitles) != 0 || r.State == video.StateFailed ||
		!slices.Contains(r.Source.Notes, "The subtitles could not be made; the error was logged.") {
		t.Errorf("after the last attempt: pending %v %v, state %s, notes %q", r.SubtitlesPending, r.PendingSubtitles, r.State, r.Source.Notes)
	}
	if segs := v.q.takeSegments(); len(segs) != 1 || !segs[0].MasterOnly() {
		t.Errorf("published %+v, want one master-only segment job (the final master was waiting)", segs)
	}
}
