package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/video/videotest"
)

// A video waiting to start says how many uploads wait ahead of it, in the
// video's answer and in the list; one that is encoding says nothing.
func TestQueuePosition(t *testing.T) {
	ctx := context.Background()
	recs := &videotest.Records{}
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{}, Deps{Records: recs, Store: st}).Handler())
	defer srv.Close()
	t0 := time.Now().UTC()
	var ids []string
	for i, state := range []video.State{video.StateUploaded, video.StateEncoding, video.StateUploaded, video.StateUploaded} {
		id := layout.NewVideoID()
		if err := recs.Create(ctx, &video.Video{ID: id, State: state}); err != nil {
			t.Fatal(err)
		}
		if _, err := recs.Update(ctx, id, func(v *video.Video) error { v.CreatedAt = t0.Add(time.Duration(i) * time.Second); return nil }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	want := map[string]int{ids[0]: 1, ids[1]: 0, ids[2]: 2, ids[3]: 3}
	for id, pos := range want {
		var v api.Video
		getJSON(t, srv.URL+"/api/videos/"+id, &v)
		if v.QueuePosition != pos {
			t.Errorf("video %d: queue_position %d, want %d", slicesIndex(ids, id), v.QueuePosition, pos)
		}
	}
	var page api.Page
	getJSON(t, srv.URL+"/api/videos", &page)
	if len(page.Videos) != 4 {
		t.Fatalf("the list has %d videos", len(page.Videos))
	}
	for _, v := range page.Videos {
		if v.QueuePosition != want[v.ID] {
			t.Errorf("listed video %d: queue_position %d, want %d", slicesIndex(ids, v.ID), v.QueuePosition, want[v.ID])
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func slicesIndex(ids []string, id string) int {
	for i, x := range ids {
		if x == id {
			return i
		}
	}
	return -1
}
