package segmenter

import (
	"context"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

// A chunk record read once is served from the cache afterwards: the
// publisher's rounds do not read it from the store again.
func TestManifestsReadOnce(t *testing.T) {
	st, err := store.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := New(Config{}, Deps{Store: st})
	ctx := context.Background()
	id := layout.NewVideoID()
	key := layout.ChunkManifestKey(id, "a", 3)
	body := `{"segments":[{"URI":"seg_00011.ts","Duration":6,"Size":1000}],"video_codec":"avc1.64001f"}`
	if err := st.Put(ctx, key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	want := chunkManifest{Segments: []playlist.Segment{{URI: "seg_00011.ts", Duration: 6, Size: 1000}}, VideoCodec: "avc1.64001f"}
	for round := range 2 {
		m, err := d.manifest(ctx, id, "a", 3)
		if err != nil || len(m.Segments) != 1 || m.Segments[0] != want.Segments[0] || m.VideoCodec != want.VideoCodec {
			t.Fatalf("round %d: %+v, %v", round, m, err)
		}
		if err := st.Delete(ctx, key); err != nil && round == 0 {
			t.Fatal(err)
		}
	}
	// Another segmenter (another process) has no copy: it asks the store,
	// where the record is gone.
	if _, err := New(Config{}, Deps{Store: st}).manifest(ctx, id, "a", 3); err == nil {
		t.Error("a deleted record was read by a segmenter that never saw it")
	}
}
