// Package layout is where everything of a video lives in the object store,
// and the ids that name videos: every key and prefix, in one place that the
// content service can import without the job queue. Keys never contain user
// text. See docs/architecture.md, "Object layout".
package layout

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"strconv"
)

// SourceKey is a video's upload as it came.
func SourceKey(id string) string { return UploadPrefix(id) + "source" }

// WorkKey is a rendition's intermediate transport stream for one chunk.
func WorkKey(id, rendition string, chunk int) string {
	return fmt.Sprintf("work/%s/%s/%d.ts", id, rendition, chunk)
}

// ChunkManifestKey records what the segmenter made of one chunk of a
// rendition (segments, keyframes, codecs), from which playlists are built.
func ChunkManifestKey(id, rendition string, chunk int) string {
	return fmt.Sprintf("work/%s/%s/%d.json", id, rendition, chunk)
}

// StoryboardManifestKey records one chunk's storyboard sheet.
func StoryboardManifestKey(id string, chunk int) string {
	return fmt.Sprintf("work/%s/storyboard/%d.json", id, chunk)
}

// RemuxedSourceKey is a seekable copy of a source that is not (MPEG-TS, for
// one), which the chunk and audio jobs read instead.
func RemuxedSourceKey(id string) string { return "work/" + id + "/source.mkv" }

// UploadPrefix holds a video's source as uploaded.
func UploadPrefix(id string) string { return "uploads/" + id + "/" }

// VideoPrefixes are every place a video has objects: deleting them all
// leaves nothing of it. withSource false leaves its upload out (a failed
// video's source kept for a while, see queue.Worker.OnFailed).
func VideoPrefixes(id string, withSource bool) []string {
	p := []string{StreamPrefix(id), WorkPrefix(id), KeyPrefix(id)}
	if withSource {
		p = append(p, UploadPrefix(id))
	}
	return p
}

// WorkPrefix holds a video's intermediate files.
func WorkPrefix(id string) string { return "work/" + id + "/" }

// StreamPrefix is where a video's published HLS lives.
func StreamPrefix(id string) string { return "streams/" + id + "/" }

// MasterKey is the master playlist, written last.
func MasterKey(id string) string { return StreamPrefix(id) + "master.m3u8" }

// MediaPlaylistKey is a rendition's media playlist.
func MediaPlaylistKey(id, rendition string) string {
	return StreamPrefix(id) + rendition + "/index.m3u8"
}

// IFramePlaylistKey is a video rendition's I-frame playlist.
func IFramePlaylistKey(id, rendition string) string {
	return StreamPrefix(id) + rendition + "/" + IFramePlaylistName
}

// IFramePlaylistName is the I-frame playlist's file name in its rendition's directory.
const IFramePlaylistName = "iframes.m3u8"

// SegmentKey is one media segment.
func SegmentKey(id, rendition string, n int) string {
	return fmt.Sprintf("%s%s/%s", StreamPrefix(id), rendition, SegmentName(n))
}

// CMAFSegmentKey is one CMAF media segment.
func CMAFSegmentKey(id, rendition string, n int) string {
	return StreamPrefix(id) + rendition + "/" + CMAFSegmentName(n)
}

// EncryptionKeyKey is a video's AES-128 key (16 random bytes), written once by
// the encoder. It lies outside streams/ so that no path of the content
// service maps onto it as a file; players get it only at /streams/{id}/key
// (KeyName).
func EncryptionKeyKey(id string) string { return "keys/" + id + "/aes128.key" }

// KeyPrefix holds everything of a video's under keys/ (deleted with it).
func KeyPrefix(id string) string { return "keys/" + id + "/" }

// KeyName is the key's URL path under /streams/{id}/, where the content
// service answers with the object at EncryptionKeyKey. Media playlists,
// one directory down, name it "../key".
const KeyName = "key"

// SegmentName is a segment's file name, relative to its media playlist.
func SegmentName(n int) string { return fmt.Sprintf("seg_%05d.ts", n) }

// CMAFSegmentName is a CMAF (fragmented MP4) segment's file name, relative
// to its media playlist.
func CMAFSegmentName(n int) string { return fmt.Sprintf("seg_%05d.m4s", n) }

// InitSegmentName is a CMAF rendition's initialization segment (EXT-X-MAP),
// in its rendition's directory.
const InitSegmentName = "init.mp4"

// DASHManifestName is a CMAF video's DASH manifest, beside its master.
const DASHManifestName = "manifest.mpd"

// DASHManifestKey is a CMAF video's DASH manifest.
func DASHManifestKey(id string) string { return StreamPrefix(id) + DASHManifestName }

// InitSegmentKey is a CMAF rendition's initialization segment.
func InitSegmentKey(id, rendition string) string {
	return StreamPrefix(id) + rendition + "/" + InitSegmentName
}

// SubtitleSegmentName is a WebVTT segment's file name, relative to its
// subtitle rendition's media playlist.
func SubtitleSegmentName(n int) string { return fmt.Sprintf("seg_%05d.vtt", n) }

// SubtitleSegmentKey is one WebVTT segment of a subtitle rendition.
func SubtitleSegmentKey(id, rendition string, n int) string {
	return StreamPrefix(id) + rendition + "/" + SubtitleSegmentName(n)
}

// PendingSubtitleKey is a subtitle file sent with the upload, as safe
// WebVTT, until the encoder makes it a rendition.
func PendingSubtitleKey(id, subtitle string) string { return UploadPrefix(id) + subtitle + ".vtt" }

// RenditionPrefix holds everything of one rendition (a replaced subtitle
// rendition is deleted by it).
func RenditionPrefix(id, rendition string) string { return StreamPrefix(id) + rendition + "/" }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewVideoID returns a random, unguessable id (120 bits, 24 characters).
func NewVideoID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return idEncoding.EncodeToString(b)
}

var idRe = regexp.MustCompile(`^[a-z2-7]{24}$`)

// ValidVideoID reports whether s has the shape of an id from NewVideoID.
func ValidVideoID(s string) bool { return idRe.MatchString(s) }

// File names of a video's still pictures, directly under /streams/{id}/ (and
// streams/{id}/ in the store), beside master.m3u8.
const (
	PosterName     = "poster.jpg"
	ThumbnailsName = "thumbnails.vtt" // the storyboard's WebVTT track
)

// SpriteName is storyboard sheet k's file name: sprite_0.jpg, sprite_1.jpg…
func SpriteName(k int) string { return "sprite_" + strconv.Itoa(k) + ".jpg" }

// PosterKey is a video's poster frame.
func PosterKey(id string) string { return StreamPrefix(id) + PosterName }

// ThumbnailsKey is a video's storyboard track, whose cues name the sprites.
func ThumbnailsKey(id string) string { return StreamPrefix(id) + ThumbnailsName }

// SpriteKey is storyboard sheet k of a video.
func SpriteKey(id string, k int) string { return StreamPrefix(id) + SpriteName(k) }
