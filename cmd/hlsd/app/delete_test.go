package app_test

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// A deleted video is gone for good, at whatever stage it was deleted: no
// object of it stays in the store, nothing of it is served, and no job
// still running for it writes anything afterwards (a chunk that was
// encoding once landed after the delete and stayed, 43 MB of it).
func TestDeletesAreFinal(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir; c.EncoderWorkers = 2 })
	// Four chunks (6 s, then 30 s each), slow enough to catch each stage.
	clip := generate(t, "long.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "70", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	storeDir := filepath.Join(dataDir, "store")

	for _, stage := range []struct {
		name string
		when func(v api.Video) bool
	}{
		{"while the first chunk encodes", func(v api.Video) bool { return v.State == api.StateEncoding && v.Chunks > 0 }},
		{"while segmenting and encoding (playable)", func(v api.Video) bool { return v.PlayableAt != nil }},
	} {
		status, body, hdr := upload(t, base+"/api/videos", clip)
		if status != http.StatusAccepted {
			t.Fatalf("upload: %d %s", status, body)
		}
		id := strings.TrimPrefix(hdr.Get("Location"), "/api/videos/")
		var v api.Video
		testutil.WaitFor(t, "the video to reach the stage "+stage.name, 3*time.Minute, func() bool {
			b, _ := get(t, base+"/api/videos/"+id)
			_ = json.Unmarshal(b, &v)
			return stage.when(v) || v.State.Final()
		})
		if v.State.Final() {
			t.Fatalf("%s: the video was %s before the stage came", stage.name, v.State)
		}
		if status := deleteVideo(t, base, id); status != http.StatusNoContent {
			t.Fatalf("%s: DELETE = %d", stage.name, status)
		}
		// Every job that was running for it has ended (the queue is idle),
		// then the store holds nothing of it and nothing is served.
		waitIdle(t, base)
		var left []string
		filepath.WalkDir(storeDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(p, id) {
				left = append(left, strings.TrimPrefix(p, storeDir))
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("%s: left in the store after DELETE: %v", stage.name, left)
		}
		for _, name := range []string{"master.m3u8", "poster.jpg", "sprite_0.jpg", "360p/index.m3u8"} {
			if r, err := http.Get(base + "/streams/" + id + "/" + name); err == nil {
				r.Body.Close()
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("%s: GET %s after DELETE = %d", stage.name, name, r.StatusCode)
				}
			}
		}
	}
	if entries, err := os.ReadDir(filepath.Join(dataDir, "scratch")); err == nil {
		for _, e := range entries {
			t.Errorf("scratch space keeps %s", e.Name())
		}
	}
}

// waitIdle waits until no job is queued or in flight in any stage (the
// queue gauges count both).
func waitIdle(t *testing.T, base string) {
	t.Helper()
	pending := regexp.MustCompile(`(?m)^hlsd_queue_pending_jobs\{stage="([\w-]+)"\} (\S+)`)
	testutil.WaitFor(t, "every job to end", 5*time.Minute, func() bool {
		b, _ := get(t, base+"/metrics")
		stages := pending.FindAllStringSubmatch(string(b), -1)
		for _, p := range stages {
			if p[2] != "0" {
				return false
			}
		}
		return len(stages) == 5 // encode, encode-short, encode-later, audio, segment
	})
}

// deleteVideo sends DELETE /api/videos/{id} and returns the status.
func deleteVideo(t *testing.T, base, id string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/videos/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
