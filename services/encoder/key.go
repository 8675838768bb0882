package encoder

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// KeySize is the size of an AES-128 key.
const KeySize = 16

// ensureKey makes sure video id has its AES-128 key at
// layout.EncryptionKeyKey, generating one only when there is none: a
// redelivered encode job reuses the key of the first delivery, whose segments
// may already be published, and never makes a second one.
//
// The key is made here, at planning time, before ffmpeg runs, while the
// segmenters (which read it from the store) only run after the encode: so
// even two deliveries of one job running at once (a worker cut off from the
// broker while its job is redelivered) both finish writing the key long
// before any segment is encrypted, and every segment of the video is
// encrypted with the one key left in the store.
func ensureKey(ctx context.Context, st store.Store, id string) error {
	key := layout.EncryptionKeyKey(id)
	_, err := readKey(ctx, st, key)
	if !errors.Is(err, store.ErrNotFound) {
		return err // nil: the key exists and is sound
	}
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on supported platforms
	if err := st.Put(ctx, key, bytes.NewReader(k), KeySize); err != nil {
		return fmt.Errorf("encoder: storing the encryption key: %w", err)
	}
	_, err = readKey(ctx, st, key) // what is stored is what counts
	return err
}

// readKey reads a stored key, which must be exactly KeySize bytes.
func readKey(ctx context.Context, st store.Store, key string) ([]byte, error) {
	rc, err := st.Get(ctx, key, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("encoder: encryption key: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, KeySize+1))
	if err != nil {
		return nil, fmt.Errorf("encoder: encryption key: %w", err)
	}
	if len(b) != KeySize {
		return nil, queue.Permanent(video.CodeInternal, "The video's encryption key is damaged; the error was logged.",
			fmt.Errorf("encoder: %s holds %d bytes, not %d", key, len(b), KeySize))
	}
	return b, nil
}
