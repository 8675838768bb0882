package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"
)

func TestPageOrderAndCursor(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// Two videos share an instant: the id breaks the tie.
	vs := []video.Video{
		{ID: "aaaaaaaaaaaaaaaaaaaaaaaa", CreatedAt: t0},
		{ID: "cccccccccccccccccccccccc", CreatedAt: t0.Add(time.Nanosecond)},
		{ID: "bbbbbbbbbbbbbbbbbbbbbbbb", CreatedAt: t0.Add(time.Nanosecond)},
		{ID: "dddddddddddddddddddddddd", CreatedAt: t0.Add(time.Hour)},
	}
	want := []string{"dddddddddddddddddddddddd", "cccccccccccccccccccccccc", "bbbbbbbbbbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaaaaaaaaaa"}
	for limit := 1; limit <= 5; limit++ {
		var got []string
		var after *pageCursor
		for pages := 0; ; pages++ {
			p, next := page(slices.Clone(vs), limit, after)
			if len(p) > limit || pages > len(vs) {
				t.Fatalf("limit %d: page of %d", limit, len(p))
			}
			for _, v := range p {
				got = append(got, v.ID)
			}
			if next == "" {
				break
			}
			c, err := decodeCursor(next)
			if err != nil {
				t.Fatalf("limit %d: cursor %q: %v", limit, next, err)
			}
			after = &c
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}
	for _, bad := range []string{"x", "!!!", "MTIz", "MTIzOmFiYw", "YWJjOmFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYQ"} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestListPagesOverHTTP(t *testing.T) {
	bus := startBus(t)
	d, _ := newDeps(t, bus, &logBuffer{})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	var created []string // oldest first
	for range 5 {
		id := layout.NewVideoID()
		if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateUploaded}); err != nil {
			t.Fatal(err)
		}
		created = append(created, id)
		time.Sleep(2 * time.Millisecond)
	}
	get := func(query string) (int, api.Page, string) {
		resp, err := http.Get(srv.URL + "/api/videos" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw map[string]json.RawMessage
		var p api.Page
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &p)
		return resp.StatusCode, p, string(b)
	}

	var seen []string
	var sizes []int
	cursor := ""
	for {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		status, p, raw := get(q)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", q, status, raw)
		}
		sizes = append(sizes, len(p.Videos))
		for _, v := range p.Videos {
			seen = append(seen, v.ID)
		}
		if p.NextCursor == "" {
			if containsKey(raw, "next_cursor") {
				t.Fatalf("the last page carries next_cursor: %s", raw)
			}
			break
		}
		cursor = p.NextCursor
	}
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)
	if !slices.Equal(sizes, []int{2, 2, 1}) || !slices.Equal(seen, newestFirst) {
		t.Fatalf("pages of %v: %v, want 2,2,1 of %v", sizes, seen, newestFirst)
	}

	// Default and maximum page sizes; the last page has no next_cursor.
	if status, p, raw := get(""); status != http.StatusOK || len(p.Videos) != 5 || containsKey(raw, "next_cursor") {
		t.Fatalf("no limit: %d %s", status, raw)
	}
	if status, p, _ := get("?limit=100000"); status != http.StatusOK || len(p.Videos) != 5 {
		t.Fatalf("limit above the maximum: %d", status)
	}

	// A cursor stays valid when its video is deleted.
	_, first, _ := get("?limit=2")
	if err := bus.Videos.Delete(context.Background(), first.Videos[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, p, raw := get("?limit=2&cursor=" + url.QueryEscape(first.NextCursor)); len(p.Videos) != 2 || p.Videos[0].ID != newestFirst[2] {
		t.Fatalf("page after a deleted cursor video: %s", raw)
	}

	for _, q := range []string{"?limit=0", "?limit=-1", "?limit=two", "?limit=1.5", "?cursor=nonsense", "?cursor=" + url.QueryEscape(first.NextCursor+"x")} {
		if status, _, raw := get(q); status != http.StatusBadRequest || !containsKey(raw, "error") {
			t.Errorf("GET /api/videos%s = %d %s, want 400", q, status, raw)
		}
	}
}

func containsKey(rawJSON, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(rawJSON), &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
