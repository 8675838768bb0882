package store_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/store/storetest"
	"github.com/hlsd/hlsd/pkg/testutil/miniotest"
)

func TestS3StoreAcceptance(t *testing.T) {
	m := miniotest.Start(t)
	s, err := store.Open(context.Background(), m.URL("hlsd-test"))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Acceptance(t, s, "")
	// A second Open finds the bucket already there.
	if _, err := store.Open(context.Background(), m.URL("hlsd-test")); err != nil {
		t.Fatalf("reopen: %v", err)
	}
}

func TestParseS3URL(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		secure  bool
		bucket  string
		keyFrom string
	}{
		{"s3://k:s@minio:9000/videos?secure=false", true, false, "videos", "k"},
		{"s3://k:s@s3.amazonaws.com/videos", true, true, "videos", "k"},
		{"s3://minio:9000/", false, false, "", ""},
		{"s3://minio:9000/a/b", false, false, "", ""},
		{"s3://k:s@minio:9000/v?secure=maybe", false, false, "", ""},
	} {
		u, _ := url.Parse(tc.in)
		cfg, err := store.ParseS3URL(u)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v", tc.in, err)
			continue
		}
		if tc.ok && (cfg.Secure != tc.secure || cfg.Bucket != tc.bucket || cfg.AccessKey != tc.keyFrom) {
			t.Errorf("%s: %+v", tc.in, cfg)
		}
	}
}
