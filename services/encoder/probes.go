package encoder

import (
	"context"
	"os"
	"sync"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
)

// probeCacheSize is how many sources' probes an encoder keeps.
const probeCacheSize = 64

// probeCache keeps the probes of the sources this encoder read last. Every
// job of a video used to probe its source again before its ffmpeg could
// start, and ffprobe reads a long MP4's whole index: 0.3 s for an hour of
// 1080p, in front of the first chunk. A file is known by its path, size and
// modification time, so a source replaced under the same name is probed
// anew.
type probeCache struct {
	mu      sync.Mutex
	entries map[probeKey]ffmpeg.Source
	order   []probeKey // oldest first
}

type probeKey struct {
	path     string
	size     int64
	modified int64 // Unix nanoseconds
}

func newProbeCache() *probeCache { return &probeCache{entries: map[probeKey]ffmpeg.Source{}} }

// probe is ffmpeg.Probe, from the cache when it can. Every caller gets its
// own copy (jobs change the duration and the combing of theirs). Failures
// are not kept.
func (c *probeCache) probe(ctx context.Context, path string, lim ffmpeg.Limits) (ffmpeg.Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ffmpeg.Probe(ctx, path, lim)
	}
	k := probeKey{path: path, size: fi.Size(), modified: fi.ModTime().UnixNano()}
	c.mu.Lock()
	src, ok := c.entries[k]
	c.mu.Unlock()
	if ok {
		return src.Clone(), nil
	}
	src, err = ffmpeg.Probe(ctx, path, lim)
	if err != nil {
		return src, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok {
		c.entries[k] = src.Clone()
		c.order = append(c.order, k)
		if len(c.order) > probeCacheSize {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	return src, nil
}
