package store_test

import (
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
