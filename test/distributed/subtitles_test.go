package distributed

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/testutil"
)

// Subtitles across separate services on MinIO: the source's SubRip track
// (the encoder's subtitles job), a file sent with the upload (kept by the
// gateway, cut by the encoder), and a file added to the ready video
// through the API (cut by the gateway, the master written again by a
// segmenter), then deleted.
func TestSubtitlesAcrossServices(t *testing.T) {
	c := newCluster(t, 1, 1)
	srt := filepath.Join(t.TempDir(), "en.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:02,000\nHello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := testutil.Generate(t, "subs.mkv", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=sample_rate=48000", "-i", srt, "-map", "0", "-map", "1", "-map", "2", "-t", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s", "copy", "-metadata:s:s:0", "language=eng")
	video, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	status, body := testutil.PostForm(t, c.gateway+"/upload",
		testutil.FormPart{Field: "subtitles.de", Filename: "de.vtt", Body: []byte("WEBVTT\n\n00:00:02.000 --> 00:00:03.000\nHallo\n")},
		testutil.FormPart{Field: "upload", Filename: "subs.mkv", Body: video})
	body = strings.TrimSpace(body)
	if status != http.StatusOK || !strings.HasSuffix(body, "/master.m3u8") {
		t.Fatalf("POST /upload = %d %q", status, body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(body, c.content+"/streams/"), "/master.m3u8")
	c.checkPlayable(t, id, 4)
	master := get(t, body)
	for _, want := range []string{`LANGUAGE="en",NAME="English"`, `LANGUAGE="de",NAME="Deutsch"`} {
		if !strings.Contains(master, want) {
			t.Errorf("master lacks %s:\n%s", want, master)
		}
	}

	status, body = testutil.PostForm(t, c.gateway+"/api/videos/"+id+"/subtitles",
		testutil.FormPart{Field: "file", Filename: "fr.srt", Body: []byte("1\n00:00:00,500 --> 00:00:01,500\nBonjour\n")},
		testutil.FormPart{Field: "language", Body: []byte("fr")})
	var added struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal([]byte(body), &added) != nil || added.ID == "" {
		t.Fatalf("POST subtitles = %d %s", status, body)
	}
	waitFor(t, "the master to list the French subtitles", 10*time.Second, func() bool {
		return strings.Contains(get(t, c.content+"/streams/"+id+"/master.m3u8"), `URI="`+added.ID+`/index.m3u8"`)
	})
	if vtt := get(t, c.content+"/streams/"+id+"/"+added.ID+"/seg_00000.vtt"); !strings.Contains(vtt, "Bonjour") {
		t.Errorf("the added subtitles' first segment:\n%s", vtt)
	}
	c.checkPlayable(t, id, 4)

	req, _ := http.NewRequest(http.MethodDelete, c.gateway+"/api/videos/"+id+"/subtitles/"+added.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE subtitles: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	waitFor(t, "the master to leave the French subtitles out", 10*time.Second, func() bool {
		return !strings.Contains(get(t, c.content+"/streams/"+id+"/master.m3u8"), added.ID)
	})
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	return string(b)
}
