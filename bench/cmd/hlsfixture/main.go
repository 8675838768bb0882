// Command hlsfixture publishes one video's HLS files into an hlsd store
// (a directory or s3://… URL, opened with pkg/store as hlsd opens it), in the
// layout the content service serves, for bench/content.sh:
//
//	streams/{id}/master.m3u8
//	streams/{id}/720p/index.m3u8         -segments entries of 6 s (pkg/playlist.Media)
//	streams/{id}/720p/seg_NNNNN.ts       each the first -seg-bytes of -ts, cut to whole 188-byte packets
//
//	hlsfixture -store DIR_OR_S3_URL -id ID -ts some.ts [-segments 100] [-seg-bytes 1048576]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

func main() {
	storeURL := flag.String("store", "", "hlsd store: a directory or s3://KEY:SECRET@host:port/bucket?secure=false")
	id := flag.String("id", "", "video id (24 characters of a-z2-7)")
	tsPath := flag.String("ts", "", "MPEG-TS file the segment bytes come from")
	n := flag.Int("segments", 100, "segments in the media playlist (100 × 6 s: a 10-minute video)")
	segBytes := flag.Int("seg-bytes", 1<<20, "segment size (rounded down to whole TS packets)")
	flag.Parse()
	if *storeURL == "" || *tsPath == "" || !layout.ValidVideoID(*id) || *n < 1 {
		fail(errors.New("need -store, -ts, a valid -id and -segments >= 1"))
	}
	ts, err := os.ReadFile(*tsPath)
	if err != nil {
		fail(err)
	}
	size := *segBytes / 188 * 188
	if len(ts) < size {
		fail(fmt.Errorf("%s has %d bytes, fewer than %d", *tsPath, len(ts), size))
	}
	seg := ts[:size]
	ctx := context.Background()
	st, err := store.Open(ctx, *storeURL)
	if err != nil {
		fail(err)
	}
	put := func(key string, b []byte) {
		if err := st.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
			fail(err)
		}
	}
	var segs []playlist.Segment
	for i := 0; i < *n; i++ {
		name := layout.SegmentName(i)
		segs = append(segs, playlist.Segment{URI: name, Duration: 6, Size: int64(size)})
		put(layout.SegmentKey(*id, "720p", i), seg)
	}
	media, err := playlist.Media(segs, 6, playlist.Header{})
	if err != nil {
		fail(err)
	}
	put(layout.StreamPrefix(*id)+"720p/index.m3u8", media)
	bw := size * 8 / 6
	master := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"+
		"#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=30.000\n720p/index.m3u8\n",
		bw, bw)
	put(layout.MasterKey(*id), []byte(master))
	fmt.Printf("published %s: %d segments of %d bytes, media playlist %d bytes\n", *id, *n, size, len(media))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hlsfixture:", err)
	os.Exit(2)
}
