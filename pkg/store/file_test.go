package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/store/storetest"
)

func TestFileStoreAcceptance(t *testing.T) {
	s, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Acceptance(t, s, "")
}

func TestValidateKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"uploads/abc/source", true},
		{"streams/abc/360p/seg_00001.ts", true},
		{"", false}, {"/etc/passwd", false}, {"a/../../etc", false}, {"..", false},
		{"a/b/", false}, {"a//b", false}, {`a\..\b`, false}, {"a/b c", false}, {"a/%2e%2e/b", false}, {"a\x00b", false},
	} {
		if err := store.ValidateKey(tc.key); (err == nil) != tc.ok {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
}

// Puts never fail while Deletes elsewhere prune the directories they share
// (a refused upload's files were removed while another upload was being
// stored, and its MkdirAll once failed on the vanished uploads/).
func TestPutsRacePrunes(t *testing.T) {
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errs := make(chan error, 8*300)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				key := fmt.Sprintf("uploads/v%d/deep/%d/source", g, i%3)
				if err := st.Put(ctx, key, strings.NewReader("x"), 1); err != nil {
					errs <- err
					continue
				}
				if err := st.Delete(ctx, key); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
