package content

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/hlsd/hlsd/pkg/store"
)

// segmentRecheck is how long a cached segment is served without asking the
// store. After it, one Stat says whether the object is still there with the
// same ETag (segments are never rewritten with other bytes; a deleted
// video's are gone within this time, well within a job's ack-wait).
const segmentRecheck = 5 * time.Second

// maxCachedSegment is the largest object the cache keeps; segments are a
// few MB at most (6 s at 12 Mb/s is 9 MB).
const maxCachedSegment = 32 << 20

// segmentCache keeps the segments a remote store (S3) served last, up to a
// number of bytes, least recently used out first. With every viewer of a
// video fetching the same segments, the store is read once per segment
// instead of once per viewer: with MinIO on the same machine each request
// cost a HEAD and a GET (BENCHMARKS.md, "Content service").
type segmentCache struct {
	max int64

	mu      sync.Mutex
	size    int64
	entries map[string]*list.Element // of *cachedSegment
	lru     list.List                // front: most recently used

	loads singleflight.Group // reads in progress, by key
	reads atomic.Int64       // store reads made (read by tests)
}

type cachedSegment struct {
	key     string
	info    store.Info
	body    []byte
	checked time.Time // when the store last confirmed info
}

func newSegmentCache(max int64) *segmentCache {
	return &segmentCache{max: max, entries: map[string]*list.Element{}}
}

// fits reports whether an object of size bytes is one the cache keeps (a
// nil cache keeps none).
func (c *segmentCache) fits(size int64) bool {
	return c != nil && size >= 0 && size <= min(maxCachedSegment, c.max)
}

// fresh returns the entry for key if the store confirmed it within
// segmentRecheck of now, else nil. A nil cache has nothing.
func (c *segmentCache) fresh(key string, now time.Time) *cachedSegment {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, e := c.lookup(key)
	if e == nil || now.Sub(e.checked) >= segmentRecheck {
		return nil
	}
	c.lru.MoveToFront(el)
	return e
}

// body returns the bytes of key as the store described it (info, from a
// Stat or a fresh entry): the cached ones if their ETag matches, else read
// once however many requests ask at the same moment, and kept.
func (c *segmentCache) body(ctx context.Context, st store.Store, key string, info store.Info, now time.Time) ([]byte, error) {
	if b := c.confirm(key, info, now); b != nil {
		return b, nil
	}
	ch := c.loads.DoChan(key+"\x00"+info.ETag, func() (any, error) {
		// Detached from the first caller, bounded: the others wait for it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fillTimeout)
		defer cancel()
		return c.load(lctx, st, key, info, now)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]byte), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// confirm returns the cached bytes of key if they are those of info, and
// marks them confirmed now.
func (c *segmentCache) confirm(key string, info store.Info, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, e := c.lookup(key)
	if e == nil {
		return nil
	}
	if e.info.ETag != info.ETag || e.info.Size != info.Size {
		c.remove(el)
		return nil
	}
	e.checked = now
	c.lru.MoveToFront(el)
	return e.body
}

func (c *segmentCache) load(ctx context.Context, st store.Store, key string, info store.Info, now time.Time) ([]byte, error) {
	if info.Size < 0 || info.Size > maxCachedSegment {
		return nil, fmt.Errorf("content: %s is %d bytes, past the segment cache's %d", key, info.Size, maxCachedSegment)
	}
	c.reads.Add(1)
	rc, err := st.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body := make([]byte, info.Size)
	if _, err := io.ReadFull(rc, body); err != nil {
		return nil, fmt.Errorf("content: read %s: %w", key, err)
	}
	c.put(&cachedSegment{key: key, info: info, body: body, checked: now})
	return body, nil
}

// put keeps e, making room by dropping the least recently used.
func (c *segmentCache) put(e *cachedSegment) {
	n := int64(len(e.body))
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[e.key]; old != nil {
		c.remove(old)
	}
	for c.size+n > c.max {
		c.remove(c.lru.Back())
	}
	c.entries[e.key] = c.lru.PushFront(e)
	c.size += n
}

// drop forgets key (the store says it is gone). A nil cache has nothing.
func (c *segmentCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[key]; el != nil {
		c.remove(el)
	}
}

// lookup finds key's entry (nil if none); c.mu is held.
func (c *segmentCache) lookup(key string) (*list.Element, *cachedSegment) {
	el := c.entries[key]
	if el == nil {
		return nil, nil
	}
	return el, el.Value.(*cachedSegment)
}

// remove takes el out; c.mu is held.
func (c *segmentCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cachedSegment)
	delete(c.entries, e.key)
	c.size -= int64(len(e.body))
}

// bytes is how much the cache holds.
func (c *segmentCache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
