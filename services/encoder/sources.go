package encoder

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/store"
)

// sourceIdle is how long a downloaded source is kept after its last use:
// long enough for the next chunks of the same video, which usually follow
// at once.
const sourceIdle = 10 * time.Minute

// sourceCache keeps local copies of sources from a remote store, one per
// object key, shared by the jobs of this process: a video's chunks would
// otherwise each download the whole source.
type sourceCache struct {
	dir     string
	mu      sync.Mutex
	entries map[string]*cachedSource
}

type cachedSource struct {
	path     string
	ready    chan struct{} // closed once downloaded (or failed)
	err      error
	users    int
	lastUsed time.Time
}

func newSourceCache(workDir string) *sourceCache {
	return &sourceCache{dir: filepath.Join(workDir, "sources"), entries: map[string]*cachedSource{}}
}

// get returns the local copy of the object at key, downloading it if this
// process has none. release must be called when done with it.
func (c *sourceCache) get(ctx context.Context, st store.Store, key string) (string, func(), error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		// Keys are ours (no user text): a flat file name is unambiguous.
		e = &cachedSource{path: filepath.Join(c.dir, strings.ReplaceAll(key, "/", "_")), ready: make(chan struct{})}
		c.entries[key] = e
	}
	e.users++
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		e.users--
		e.lastUsed = time.Now()
		c.mu.Unlock()
	}
	if !ok {
		e.err = download(ctx, st, key, e.path)
		close(e.ready)
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		release()
		return "", nil, ctx.Err()
	}
	if e.err != nil {
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key) // the next job tries again
		}
		c.mu.Unlock()
		release()
		return "", nil, e.err
	}
	return e.path, release, nil
}

// sweep deletes copies unused for sourceIdle, until ctx ends; then all.
func (c *sourceCache) sweep(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.drop(0)
			return
		case <-t.C:
			c.drop(sourceIdle)
		}
	}
}

func (c *sourceCache) drop(idle time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, e := range c.entries {
		select {
		case <-e.ready:
		default:
			continue // still downloading
		}
		if e.users == 0 && time.Since(e.lastUsed) >= idle {
			_ = os.Remove(e.path)
			delete(c.entries, key)
		}
	}
}

// download copies key to path, whole or not at all.
func download(ctx context.Context, st store.Store, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("encoder: source copy: %w", err)
	}
	rc, err := st.Get(ctx, key, 0, -1)
	if err != nil {
		return fmt.Errorf("encoder: source: %w", err)
	}
	defer rc.Close()
	tmp := path + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("encoder: source copy: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("encoder: source copy: %w", err)
	}
	return nil
}
