package segmenter

import "sync"

// maxCachedManifests bounds manifestCache (a chunk's record is a few KB).
const maxCachedManifests = 4096

// manifestCache keeps the chunk records this process wrote or read. The
// publisher rebuilds a growing playlist from every chunk record of its
// rendition at each round, so without it a long video's records would be
// read from the store over and over (a number of reads growing with the
// square of its chunks). A record never changes once written (a redelivered
// chunk writes the same one), so a cached copy is never stale.
type manifestCache struct {
	mu sync.Mutex
	m  map[string]chunkManifest
}

func newManifestCache() *manifestCache { return &manifestCache{m: map[string]chunkManifest{}} }

// get returns the record under key; a nil cache has none.
func (c *manifestCache) get(key string) (chunkManifest, bool) {
	if c == nil {
		return chunkManifest{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[key]
	return m, ok
}

// put keeps a record; when full, the cache starts over (records are cheap
// to read again, and a full cache means many videos at once).
func (c *manifestCache) put(key string, m chunkManifest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedManifests {
		clear(c.m)
	}
	c.m[key] = m
}
