// Package videotest holds an in-memory video.Records for unit tests of the
// services, which declare the part of it they use as an interface. It keeps
// the bucket's rules (Create refuses an existing id, Update applies a
// function to the latest record and ErrNoChange leaves it), so a service
// tested against it behaves as against JetStream's bucket; the bucket itself
// is tested with a real NATS server (pkg/queue).
package videotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// Records is an in-memory video.Records. The zero value is empty and ready.
type Records struct {
	mu      sync.Mutex
	videos  map[string][]byte // stored as JSON, as the bucket stores them: no aliasing
	changed chan struct{}     // closed and replaced on every change (Watch)
}

// Create stores a new video, setting its creation and update times.
func (r *Records) Create(_ context.Context, v *video.Video) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.videos[v.ID]; ok {
		return fmt.Errorf("create video %s: exists", v.ID)
	}
	now := time.Now().UTC()
	v.CreatedAt, v.UpdatedAt = now, now
	return r.put(*v)
}

// Get returns the current record.
func (r *Records) Get(_ context.Context, id string) (video.Video, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.get(id)
}

// Update applies fn to the current record and stores the result.
func (r *Records) Update(_ context.Context, id string, fn func(*video.Video) error) (video.Video, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.get(id)
	if err != nil {
		return video.Video{}, err
	}
	if err := fn(&v); err != nil {
		if errors.Is(err, video.ErrNoChange) {
			return v, nil
		}
		return v, err
	}
	v.UpdatedAt = time.Now().UTC()
	return v, r.put(v)
}

// Delete forgets a record.
func (r *Records) Delete(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.videos, id)
	r.notify()
	return nil
}

// List returns every record, newest first (as video.Records.List).
func (r *Records) List(_ context.Context) ([]video.Video, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]video.Video, 0, len(r.videos))
	for id := range r.videos {
		v, err := r.get(id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Watch sends the record and then every change until ctx ends or the
// record is deleted (as video.Records.Watch).
func (r *Records) Watch(ctx context.Context, id string) (<-chan video.Video, error) {
	out := make(chan video.Video, 1)
	go func() {
		defer close(out)
		var last []byte
		for {
			r.mu.Lock()
			b, ok := r.videos[id]
			changed := r.changedLocked()
			r.mu.Unlock()
			if !ok {
				return
			}
			if string(b) != string(last) {
				last = b
				var v video.Video
				if json.Unmarshal(b, &v) == nil {
					select {
					case out <- v:
					case <-ctx.Done():
						return
					}
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// changedLocked is the channel the next change closes; r.mu is held.
func (r *Records) changedLocked() chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

// notify wakes the watchers; r.mu is held.
func (r *Records) notify() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

func (r *Records) get(id string) (video.Video, error) {
	b, ok := r.videos[id]
	if !ok {
		return video.Video{}, fmt.Errorf("video %s: %w", id, video.ErrNotFound)
	}
	var v video.Video
	err := json.Unmarshal(b, &v)
	return v, err
}

func (r *Records) put(v video.Video) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if r.videos == nil {
		r.videos = map[string][]byte{}
	}
	r.videos[v.ID] = b
	r.notify()
	return nil
}
