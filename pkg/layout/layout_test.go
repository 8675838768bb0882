package layout

import (
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	const id = "abcdefghijklmnopqrstuvwx"
	for got, want := range map[string]string{
		SourceKey(id):                 "uploads/" + id + "/source",
		WorkKey(id, "360p", 3):        "work/" + id + "/360p/3.ts",
		ChunkManifestKey(id, "a", 0):  "work/" + id + "/a/0.json",
		StoryboardManifestKey(id, 2):  "work/" + id + "/storyboard/2.json",
		RemuxedSourceKey(id):          "work/" + id + "/source.mkv",
		MasterKey(id):                 "streams/" + id + "/master.m3u8",
		MediaPlaylistKey(id, "720p"):  "streams/" + id + "/720p/index.m3u8",
		IFramePlaylistKey(id, "720p"): "streams/" + id + "/720p/iframes.m3u8",
		SegmentKey(id, "720p", 12):    "streams/" + id + "/720p/seg_00012.ts",
		EncryptionKeyKey(id):          "keys/" + id + "/aes128.key",
		PosterKey(id):                 "streams/" + id + "/poster.jpg",
		ThumbnailsKey(id):             "streams/" + id + "/thumbnails.vtt",
		SpriteKey(id, 4):              "streams/" + id + "/sprite_4.jpg",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// The prefixes a delete removes hold every key above.
func TestVideoPrefixesHoldEveryKey(t *testing.T) {
	const id = "abcdefghijklmnopqrstuvwx"
	all := VideoPrefixes(id, true)
	for _, k := range []string{SourceKey(id), WorkKey(id, "a", 0), RemuxedSourceKey(id), MasterKey(id), SegmentKey(id, "a", 0),
		EncryptionKeyKey(id), PosterKey(id), SpriteKey(id, 0), StoryboardManifestKey(id, 0)} {
		held := false
		for _, p := range all {
			held = held || strings.HasPrefix(k, p)
		}
		if !held {
			t.Errorf("%s is under none of %v", k, all)
		}
	}
	for _, p := range VideoPrefixes(id, false) {
		if strings.HasPrefix(SourceKey(id), p) {
			t.Errorf("without the source, %s still holds it", p)
		}
	}
}

func TestVideoIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewVideoID()
		if !ValidVideoID(id) || seen[id] {
			t.Fatalf("id %q: valid %v, seen %v", id, ValidVideoID(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "ABCDEFGHIJKLMNOPQRSTUVWX", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvwx1", "../../etc/passwdaaaaaaaaa", "abcdefghijklmnopqrstuv0x"} {
		if ValidVideoID(bad) {
			t.Errorf("%q passes as an id", bad)
		}
	}
}
