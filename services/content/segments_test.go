package content

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/store"
)

// remoteStore is a file store seen as a remote one: without LocalPather
// (so no sendfile), every call counted, as S3 calls would be.
type remoteStore struct {
	st          store.Store
	stats, gets atomic.Int64
}

func (r *remoteStore) Put(ctx context.Context, key string, rd io.Reader, size int64) error {
	return r.st.Put(ctx, key, rd, size)
}
func (r *remoteStore) Delete(ctx context.Context, key string) error { return r.st.Delete(ctx, key) }
func (r *remoteStore) List(ctx context.Context, prefix string, fn func(store.Info) error) error {
	return r.st.List(ctx, prefix, fn)
}
func (r *remoteStore) Stat(ctx context.Context, key string) (store.Info, error) {
	r.stats.Add(1)
	return r.st.Stat(ctx, key)
}
func (r *remoteStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	r.gets.Add(1)
	return r.st.Get(ctx, key, off, n)
}

func get(t *testing.T, url string, hdr ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// With a remote store, a segment many viewers fetch is read from the store
// once: later requests within segmentRecheck ask the store nothing, later
// ones one Stat; ranges come from the same bytes; concurrent misses share
// one read; a deleted segment stops being served once rechecked; and the
// cache never holds more than its bound.
func TestRemoteSegmentsAreReadOnce(t *testing.T) {
	f := newFixture(t)
	remote := &remoteStore{st: f.store}
	c := &clock{}
	c.set(time.Now())
	segSize := int64(len(f.seg))
	svc := New(Config{SegmentCacheBytes: 3 * segSize}, Deps{Store: remote, Log: quietLog(), Now: c.now})
	srv := httptest.NewServer(svc)
	defer srv.Close()
	url := srv.URL + "/streams/" + id + "/360p/seg_00000.ts"

	// Concurrent first requests: one read.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if status, body := get(t, url); status != 200 || !bytes.Equal(body, f.seg) {
				t.Errorf("first requests: %d, %d bytes", status, len(body))
			}
		})
	}
	wg.Wait()
	if n := remote.gets.Load(); n != 1 {
		t.Fatalf("16 concurrent requests made %d store reads, want 1", n)
	}
	stats := remote.stats.Load()
	for range 5 {
		if status, body := get(t, url); status != 200 || !bytes.Equal(body, f.seg) {
			t.Fatalf("cached: %d, %d bytes", status, len(body))
		}
	}
	if status, body := get(t, url, "Range", "bytes=100-199"); status != 206 || !bytes.Equal(body, f.seg[100:200]) {
		t.Fatalf("range from the cache: %d, %q", status, body)
	}
	if remote.gets.Load() != 1 || remote.stats.Load() != stats {
		t.Fatalf("within the recheck time the store was asked: %d reads, %d stats (was %d)", remote.gets.Load(), remote.stats.Load(), stats)
	}
	// After it, one Stat; the bytes stay.
	c.advance(segmentRecheck)
	if status, _ := get(t, url); status != 200 || remote.stats.Load() != stats+1 || remote.gets.Load() != 1 {
		t.Fatalf("after the recheck time: %d, %d stats (want %d), %d reads (want 1)", status, remote.stats.Load(), stats+1, remote.gets.Load())
	}

	// Bounded: more segments than fit.
	for i := 1; i <= 5; i++ {
		if err := f.store.Put(t.Context(), layout.SegmentKey(id, "360p", i), bytes.NewReader(f.seg), segSize); err != nil {
			t.Fatal(err)
		}
		if status, _ := get(t, fmt.Sprintf("%s/streams/%s/360p/seg_%05d.ts", srv.URL, id, i)); status != 200 {
			t.Fatalf("segment %d: %d", i, status)
		}
		if held := svc.segments.bytes(); held > 3*segSize {
			t.Fatalf("the cache holds %d bytes, past its bound of %d", held, 3*segSize)
		}
	}

	// Deleted: gone once rechecked.
	if err := f.store.Delete(t.Context(), layout.SegmentKey(id, "360p", 5)); err != nil {
		t.Fatal(err)
	}
	c.advance(segmentRecheck)
	if status, _ := get(t, fmt.Sprintf("%s/streams/%s/360p/seg_%05d.ts", srv.URL, id, 5)); status != 404 {
		t.Fatalf("a deleted segment, rechecked: %d, want 404", status)
	}
}
