package video

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned (wrapped) for an unknown video id.
var ErrNotFound = errors.New("video not found")

// ErrNoChange, returned by an Update function, leaves the stored value as it is.
var ErrNoChange = errors.New("no change")

// Records is the video state bucket. Every change goes through Update, a
// compare-and-set loop, so concurrent workers never lose each other's writes.
type Records struct {
	kv jetstream.KeyValue
	js jetstream.JetStream // for a consistent listing of the bucket's keys
}

// NewRecords wraps an opened bucket (see Setup).
func NewRecords(js jetstream.JetStream, kv jetstream.KeyValue) *Records {
	return &Records{kv: kv, js: js}
}

// Create stores a new video, setting its creation and update times; it
// fails if the id exists.
func (v *Records) Create(ctx context.Context, video *Video) error {
	now := time.Now().UTC()
	video.CreatedAt, video.UpdatedAt = now, now // the caller's copy is the stored one
	b, err := json.Marshal(video)
	if err != nil {
		return err
	}
	if _, err := v.kv.Create(ctx, video.ID, b); err != nil {
		return fmt.Errorf("create video %s: %w", video.ID, err)
	}
	return nil
}

// Get returns the current state of a video.
func (v *Records) Get(ctx context.Context, id string) (Video, error) {
	video, _, err := v.get(ctx, id)
	return video, err
}

func (v *Records) get(ctx context.Context, id string) (Video, uint64, error) {
	if !layout.ValidVideoID(id) {
		return Video{}, 0, fmt.Errorf("video %q: %w", id, ErrNotFound)
	}
	e, err := v.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Video{}, 0, fmt.Errorf("video %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Video{}, 0, fmt.Errorf("get video %s: %w", id, err)
	}
	var video Video
	if err := json.Unmarshal(e.Value(), &video); err != nil {
		return Video{}, 0, fmt.Errorf("decode video %s: %w", id, err)
	}
	return video, e.Revision(), nil
}

// Update applies fn to the latest state and writes it back only if nobody
// wrote in between; on a conflict it reads again and retries. fn may run
// several times, so it must only change the video it is given.
func (v *Records) Update(ctx context.Context, id string, fn func(*Video) error) (Video, error) {
	for attempt := 0; ; attempt++ {
		video, rev, err := v.get(ctx, id)
		if err != nil {
			return Video{}, err
		}
		if err := fn(&video); err != nil {
			if errors.Is(err, ErrNoChange) {
				return video, nil
			}
			return video, err
		}
		video.UpdatedAt = time.Now().UTC()
		b, err := json.Marshal(video)
		if err != nil {
			return video, err
		}
		_, err = v.kv.Update(ctx, id, b, rev)
		if err == nil {
			return video, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return video, fmt.Errorf("update video %s: %w", id, err)
		}
		if attempt > 1000 {
			return video, fmt.Errorf("update video %s: too much contention", id)
		}
	}
}

// Delete forgets a video's state.
func (v *Records) Delete(ctx context.Context, id string) error {
	if err := v.kv.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete video %s: %w", id, err)
	}
	return nil
}

// List returns every video, newest first.
func (v *Records) List(ctx context.Context) ([]Video, error) {
	// Not kv.ListKeys: its watcher can miss a key that is updated while it
	// runs (the key's message moves past the end of the initial snapshot),
	// so a processing video would vanish from the list now and then. The
	// stream's per-subject state is one consistent snapshot of every key.
	stream, err := v.js.Stream(ctx, "KV_"+Bucket)
	if err != nil {
		return nil, fmt.Errorf("list videos: %w", err)
	}
	prefix := "$KV." + Bucket + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, fmt.Errorf("list videos: %w", err)
	}
	var out []Video
	for subject := range info.State.Subjects {
		video, err := v.Get(ctx, strings.TrimPrefix(subject, prefix))
		if errors.Is(err, ErrNotFound) {
			continue // deleted (a delete marker keeps its subject) or meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, video)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Watch sends the video's current state and then every change until ctx ends
// or the video is deleted. The channel is closed at the end.
func (v *Records) Watch(ctx context.Context, id string) (<-chan Video, error) {
	if !layout.ValidVideoID(id) {
		return nil, fmt.Errorf("video %q: %w", id, ErrNotFound)
	}
	w, err := v.kv.Watch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("watch video %s: %w", id, err)
	}
	out := make(chan Video, 1)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // end of the initial values
					continue
				}
				if e.Operation() != jetstream.KeyValuePut {
					return
				}
				var video Video
				if json.Unmarshal(e.Value(), &video) != nil {
					continue
				}
				select {
				case out <- video:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
