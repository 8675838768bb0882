package content

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// gatedStore counts reads and holds every Stat until release is closed.
type gatedStore struct {
	store.Store
	release     chan struct{}
	stats, gets atomic.Int64
}

func (g *gatedStore) Stat(ctx context.Context, key string) (store.Info, error) {
	g.stats.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return store.Info{}, ctx.Err()
	}
	return g.Store.Stat(ctx, key)
}

func (g *gatedStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, key, off, length)
}

// Requests that miss the playlist cache at the same moment (an expiry
// under load) share one read of the store, and the first of them leaving
// does not fail the others.
func TestPlaylistMissesShareOneRead(t *testing.T) {
	f := newFixture(t)
	key := "streams/" + id + "/360p/index.m3u8"
	rc, err := f.store.Get(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(want) == 0 {
		t.Fatalf("the fixture's playlist: %q, %v", want, err)
	}
	gate := &gatedStore{Store: f.store, release: make(chan struct{})}
	svc := New(Config{}, Deps{Store: gate, Log: quietLog()})
	srv := httptest.NewServer(svc)
	defer srv.Close()

	type result struct {
		status int
		body   string
		err    error
	}
	get := func(ctx context.Context, out chan<- result) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/"+key, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{resp.StatusCode, string(b), err}
	}
	// The first request starts the read and then gives up.
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan result, 1)
	go get(ctx, first)
	testutil.WaitFor(t, "the first request to reach the store", 10*time.Second, func() bool { return gate.stats.Load() == 1 })
	const n = 20
	rest := make(chan result, n)
	for range n {
		go get(t.Context(), rest)
	}
	testutil.WaitFor(t, "every request to wait for the playlist", 10*time.Second, func() bool {
		return svc.playlists.fills.Load() == n+1
	})
	cancel()
	if r := <-first; r.err == nil {
		t.Errorf("the cancelled request got %d %q", r.status, r.body)
	}
	close(gate.release)
	for range n {
		if r := <-rest; r.err != nil || r.status != http.StatusOK || r.body != string(want) {
			t.Errorf("got %d %q (%v), want 200 and the playlist", r.status, r.body, r.err)
		}
	}
	if s, g := gate.stats.Load(), gate.gets.Load(); s != 1 || g != 1 {
		t.Errorf("%d Stat and %d Get calls for %d requests, want one each", s, g, n+1)
	}
}
