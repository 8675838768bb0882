package content

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
	"golang.org/x/sync/singleflight"
)

// playlistTTL is how long a playlist read from the store is served from
// memory. Every player of a video asks for the same few playlists, often
// (live-style reloads of EVENT playlists, every session's master); asking
// the store each time costs a stat and a read (two S3 calls with MinIO).
// A second is short beside what clients may cache themselves (2 s for a
// growing playlist, a day for a finished one), so a rewritten or deleted
// playlist is served at most a second longer than it exists.
const playlistTTL = time.Second

// maxCachedPlaylists bounds the cache; playlists are small (a 2-hour
// rendition's is about 40 KB).
const maxCachedPlaylists = 4096

// playlistCache keeps recently read playlists, and their gzip encoding once
// a client asked for it, for playlistTTL.
type playlistCache struct {
	mu      sync.Mutex
	entries map[string]*cachedPlaylist

	loads singleflight.Group // fills in progress, by path
	fills atomic.Int64       // calls of fill (read by tests)
}

type cachedPlaylist struct {
	key     string // in the store
	info    store.Info
	body    []byte
	expires time.Time

	// Header values of the plain response, made once (see hdrAllowOrigin).
	etag, length, lastModified []string

	gzOnce sync.Once
	gz     []byte

	inProgress   sync.Once
	stillGrowing bool
}

func newPlaylistCache() *playlistCache {
	return &playlistCache{entries: map[string]*cachedPlaylist{}}
}

// fillTimeout bounds a shared fill, which no single request's context may
// cancel.
const fillTimeout = 30 * time.Second

// fill returns the entry for path, made by load (which puts it in the
// cache), loading it once however many requests miss at the same time.
// When a playlist every player polls expires under load, each request in
// that instant would otherwise go to the store: with MinIO on the same
// machine that stampede took p99 to 300 ms (BENCHMARKS.md). load runs
// detached from the first caller's context, so that caller leaving does
// not fail the others; each caller still stops waiting when its own
// context ends.
func (c *playlistCache) fill(ctx context.Context, path string, load func(context.Context) (*cachedPlaylist, error)) (*cachedPlaylist, error) {
	if c == nil {
		return load(ctx)
	}
	c.fills.Add(1)
	ch := c.loads.DoChan(path, func() (any, error) {
		if e := c.get(path, time.Now()); e != nil {
			return e, nil // filled while this caller was on its way
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fillTimeout)
		defer cancel()
		return load(lctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*cachedPlaylist), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// get returns the fresh entry for a request path, or nil.
func (c *playlistCache) get(path string, now time.Time) *cachedPlaylist {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[path]
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	return e
}

// put keeps body, the playlist stored at key, as the answer to path (the
// request path ObjectKey mapped to key) until now+playlistTTL.
func (c *playlistCache) put(path, key string, info store.Info, body []byte, now time.Time) *cachedPlaylist {
	e := &cachedPlaylist{
		key: key, info: info, body: body, expires: now.Add(playlistTTL),
		etag:         []string{info.ETag},
		length:       []string{strconv.Itoa(len(body))},
		lastModified: []string{httpDate(info.ModTime)},
	}
	if c == nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedPlaylists {
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedPlaylists {
			clear(c.entries) // all fresh: a burst of distinct playlists; start over
		}
	}
	c.entries[path] = e
	return e
}

// prune drops the entries expired at now.
func (c *playlistCache) prune(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}

// growing reports whether the playlist will still change
// (playlist.InProgress), looked at once per entry.
func (e *cachedPlaylist) growing() bool {
	e.inProgress.Do(func() { e.stillGrowing = playlist.InProgress(e.body) })
	return e.stillGrowing
}

// httpDate formats t for Last-Modified; the last result is kept, as a
// playlist served many times a second has the same time every time.
func httpDate(t time.Time) string {
	if c := lastDate.Load(); c != nil && c.t.Equal(t) {
		return c.s
	}
	c := &formattedDate{t: t, s: t.UTC().Format(http.TimeFormat)}
	lastDate.Store(c)
	return c.s
}

type formattedDate struct {
	t time.Time
	s string
}

var lastDate atomic.Pointer[formattedDate]

// gzipped is the entry's body, gzip-encoded once.
func (e *cachedPlaylist) gzipped() []byte {
	e.gzOnce.Do(func() { e.gz = gzipBytes(e.body) })
	return e.gz
}

// gzipBytes compresses b with a pooled writer.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	zw.Reset(nil) // drop the reference to buf before pooling
	gzipWriters.Put(zw)
	return buf.Bytes()
}
