package videotest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/video"
)

// The in-memory records keep the bucket's rules: Create refuses an
// existing id, Update applies to the latest record, ErrNoChange leaves it,
// List is newest first, Watch sends each change and ends with a delete.
func TestRecordsKeepTheBucketsRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var r Records
	if err := r.Create(ctx, &video.Video{ID: "a", State: video.StateUploaded}); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, &video.Video{ID: "a"}); err == nil {
		t.Fatal("a second Create of one id succeeded")
	}
	ch, err := r.Watch(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if v := <-ch; v.State != video.StateUploaded {
		t.Fatalf("first watched state %s", v.State)
	}
	if _, err := r.Update(ctx, "a", (*video.Video).StartEncoding); err != nil {
		t.Fatal(err)
	}
	if v := <-ch; v.State != video.StateEncoding {
		t.Fatalf("watched state after StartEncoding: %s", v.State)
	}
	if v, err := r.Update(ctx, "a", func(*video.Video) error { return video.ErrNoChange }); err != nil || v.State != video.StateEncoding {
		t.Fatalf("ErrNoChange: %s, %v", v.State, err)
	}
	if err := r.Create(ctx, &video.Video{ID: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, "b", func(v *video.Video) error { v.CreatedAt = v.CreatedAt.Add(time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	if vs, _ := r.List(ctx); len(vs) != 2 || vs[0].ID != "b" {
		t.Fatalf("List: %+v, want b then a", vs)
	}
	if err := r.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Fatal("the watch went on after the delete")
	}
	if _, err := r.Get(ctx, "a"); !errors.Is(err, video.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
}
