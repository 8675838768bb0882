// Package storetest holds the acceptance test every store.Store must pass,
// so the file and S3 backends behave the same for the services above them.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/hlsd/hlsd/pkg/store"
)

// Acceptance exercises s; prefix keeps parallel runs on a shared bucket apart.
func Acceptance(t *testing.T, s store.Store, prefix string) {
	ctx := context.Background()
	key := func(k string) string { return prefix + k }

	t.Run("missing keys", func(t *testing.T) {
		if _, err := s.Stat(ctx, key("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Stat missing: got %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, key("nope"), 0, -1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get missing: got %v, want ErrNotFound", err)
		}
		if _, err := s.Get(ctx, key("nope"), 5, 10); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get range missing: got %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, key("nope")); err != nil {
			t.Fatalf("Delete missing: %v", err)
		}
	})

	t.Run("invalid keys", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a/../b", "a//b", `a\b`, "a/./b", "a/b/", "sp ace", "nul\x00"} {
			if err := s.Put(ctx, k, bytes.NewReader(nil), 0); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Put(%q): got %v, want ErrInvalidKey", k, err)
			}
			if _, err := s.Get(ctx, k, 0, -1); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Get(%q): got %v, want ErrInvalidKey", k, err)
			}
		}
	})

	t.Run("put get stat range", func(t *testing.T) {
		data := []byte("0123456789abcdefghij")
		k := key("a/b/obj.ts")
		if err := s.Put(ctx, k, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, k, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, want %q", got, data)
		}
		for _, r := range []struct{ off, n int64 }{{0, 5}, {5, 5}, {10, -1}, {19, 1}, {0, 20}} {
			want := data[r.off:]
			if r.n >= 0 {
				want = data[r.off : r.off+r.n]
			}
			if got := readAll(t, s, k, r.off, r.n); !bytes.Equal(got, want) {
				t.Errorf("Get(%d,%d) = %q, want %q", r.off, r.n, got, want)
			}
		}
		info, err := s.Stat(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(data)) || info.Key != k || info.ETag == "" || info.ModTime.IsZero() {
			t.Fatalf("Stat = %+v", info)
		}
		// Overwrite with different bytes: the ETag must change (HTTP caches depend on it).
		if err := s.Put(ctx, k, bytes.NewReader([]byte("other")), -1); err != nil {
			t.Fatal(err)
		}
		info2, err := s.Stat(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if info2.Size != 5 || info2.ETag == info.ETag {
			t.Fatalf("after overwrite Stat = %+v (before %+v)", info2, info)
		}
	})

	t.Run("failed put leaves nothing", func(t *testing.T) {
		k := key("broken/obj")
		r := io.MultiReader(bytes.NewReader(make([]byte, 1000)), iotest.ErrReader(errors.New("client went away")))
		if err := s.Put(ctx, k, r, -1); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("partial object visible after failed Put: %v", err)
		}
	})

	t.Run("large object unknown size", func(t *testing.T) {
		// Bigger than one S3 part, so multipart upload is exercised.
		data := make([]byte, 40<<20+12345)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		k := key("large/obj")
		if err := s.Put(ctx, k, io.MultiReader(bytes.NewReader(data)), -1); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, k, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("large object differs (len %d vs %d)", len(got), len(data))
		}
		off := int64(17<<20 + 3)
		if got := readAll(t, s, k, off, 1000); !bytes.Equal(got, data[off:off+1000]) {
			t.Fatal("range across a part boundary differs")
		}
	})

	t.Run("list and delete", func(t *testing.T) {
		keys := []string{key("ls/x/1"), key("ls/x/2"), key("ls/y/3"), key("lsz/4")}
		for _, k := range keys {
			if err := s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
				t.Fatal(err)
			}
		}
		if got := list(t, s, key("ls/")); !equal(got, keys[:3]) {
			t.Fatalf("List(ls/) = %v, want %v", got, keys[:3])
		}
		if got := list(t, s, key("ls/x")); !equal(got, keys[:2]) {
			t.Fatalf("List(ls/x) = %v, want %v", got, keys[:2])
		}
		if err := store.DeletePrefix(ctx, s, key("ls/")); err != nil {
			t.Fatal(err)
		}
		if got := list(t, s, key("ls")); !equal(got, keys[3:]) {
			t.Fatalf("after DeletePrefix List = %v, want %v", got, keys[3:])
		}
		if got := list(t, s, key("nothing-here/")); len(got) != 0 {
			t.Fatalf("List(empty) = %v", got)
		}
	})

	t.Run("concurrent puts of one key", func(t *testing.T) {
		// Redelivered jobs write the same deterministic key at once; readers must
		// always see one complete version.
		k := key("race/obj")
		a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(d []byte) {
				defer wg.Done()
				if err := s.Put(ctx, k, bytes.NewReader(d), int64(len(d))); err != nil {
					t.Error(err)
				}
			}([][]byte{a, b}[i%2])
		}
		wg.Wait()
		got := readAll(t, s, k, 0, -1)
		if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Fatal("object is a mix of concurrent writes")
		}
	})
}

func readAll(t *testing.T, s store.Store, k string, off, n int64) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), k, off, n)
	if err != nil {
		t.Fatalf("Get(%s,%d,%d): %v", k, off, n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", k, err)
	}
	return b
}

func list(t *testing.T, s store.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := s.List(context.Background(), prefix, func(i store.Info) error { out = append(out, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
