package encoder

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

func storedKey(t *testing.T, st store.Store, id string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), layout.EncryptionKeyKey(id), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A key is made once per video; a redelivered job finds and keeps it.
func TestEnsureKeyIsMadeOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id, other := layout.NewVideoID(), layout.NewVideoID()
	if err := ensureKey(ctx, st, id); err != nil {
		t.Fatal(err)
	}
	first := storedKey(t, st, id)
	if len(first) != KeySize || bytes.Equal(first, make([]byte, KeySize)) {
		t.Fatalf("key %x", first)
	}
	for range 3 {
		if err := ensureKey(ctx, st, id); err != nil {
			t.Fatal(err)
		}
	}
	if again := storedKey(t, st, id); !bytes.Equal(again, first) {
		t.Fatalf("a redelivery replaced the key %x with %x", first, again)
	}
	if err := ensureKey(ctx, st, other); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(storedKey(t, st, other), first) {
		t.Fatal("two videos share a key")
	}
	var keys []string
	_ = st.List(ctx, "", func(i store.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) != 2 || keys[0][:5] != "keys/" || keys[1][:5] != "keys/" {
		t.Fatalf("objects: %v, want two under keys/", keys)
	}
}

// A damaged key is never silently replaced: segments may already use the old one.
func TestEnsureKeyRefusesADamagedKey(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	id := layout.NewVideoID()
	if err := st.Put(ctx, layout.EncryptionKeyKey(id), bytes.NewReader([]byte("short")), 5); err != nil {
		t.Fatal(err)
	}
	err = ensureKey(ctx, st, id)
	var pe *queue.PermanentError
	if !errors.As(err, &pe) || pe.Code != video.CodeInternal {
		t.Fatalf("got %v, want a permanent internal error", err)
	}
	if got := storedKey(t, st, id); string(got) != "short" {
		t.Fatalf("the damaged key was replaced by %x", got)
	}
}
