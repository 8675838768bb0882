package segmenter

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafov/m3u8"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/testutil"
	"github.com/hlsd/hlsd/pkg/video"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newBlock(t *testing.T, key []byte) cipher.Block {
	t.Helper()
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decryptSegment is what a player does with a segment: AES-128-CBC with the
// sequence-number IV, then PKCS#7 padding off.
func decryptSegment(block cipher.Block, seq uint64, data []byte) ([]byte, error) {
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%d bytes: not a whole number of blocks", len(data))
	}
	out := make([]byte, len(data))
	iv := playlist.SegmentIV(seq)
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("bad padding")
	}
	return out[:len(out)-pad], nil
}

// Known answers, from
//
//	printf %s PLAINTEXT | openssl enc -aes-128-cbc -K KEY -iv IV -nosalt | xxd -p
//
// with IV the sequence number as a 128-bit big-endian integer.
func TestEncryptSegmentKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		key, plain string
		seq        uint64
		want       string
	}{
		{"000102030405060708090a0b0c0d0e0f", "hlsd segment IV test: 37 bytes long!", 7, // 36 bytes: 12 of padding
			"c80ad4dde1c31921cc8b01a0161874a5433217b00902fabdc9f39658fcf7b2d1a2f3707a68a0c999f9658c7bd0397f5b"},
		{"2b7e151628aed2a6abf7158809cf4f3c", "0123456789abcdef0123456789ABCDEF", 0x0102030405060708, // a whole block of padding
			"4c575b64feff9351c85809918390a3e30e60a10aa2e62d7893f06de7c2b2c6bf95c77d8444a97d7d2f60e5f5f54699f6"},
	} {
		block := newBlock(t, mustHex(t, tc.key))
		got := encryptSegment(block, tc.seq, []byte(tc.plain))
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("encrypt %q seq %d:\n got %x\nwant %s", tc.plain, tc.seq, got, tc.want)
		}
		if back, err := decryptSegment(block, tc.seq, got); err != nil || string(back) != tc.plain {
			t.Errorf("decrypt: %q %v", back, err)
		}
	}
}

// A real segment, encrypted by us, comes back byte for byte through openssl
// and is read by ffmpeg's own AES-128 decryption (the crypto: protocol its
// HLS demuxer uses).
func TestEncryptSegmentRoundTripWithOpenSSLAndFFmpeg(t *testing.T) {
	testutil.RequireTools(t, "ffmpeg", "ffprobe", "openssl")
	ts := testutil.Generate(t, "seg.ts", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-t", "1",
		"-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts")
	plain, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	key := mustHex(t, "8f1e2d3c4b5a69788796a5b4c3d2e1f0")
	const seq = 42
	enc := encryptSegment(newBlock(t, key), seq, plain)
	if len(enc)%16 != 0 || len(enc) <= len(plain) || enc[0] == 0x47 && enc[188] == 0x47 {
		t.Fatalf("%d bytes from %d, starting %x", len(enc), len(plain), enc[:4])
	}
	encPath := filepath.Join(t.TempDir(), "enc.ts")
	if err := os.WriteFile(encPath, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	iv := playlist.SegmentIV(seq)
	out, err := exec.Command("openssl", "enc", "-d", "-aes-128-cbc", "-K", hex.EncodeToString(key),
		"-iv", hex.EncodeToString(iv[:]), "-nosalt", "-in", encPath).Output()
	if err != nil || !bytes.Equal(out, plain) {
		t.Fatalf("openssl decrypt: %v; %d bytes, equal=%v", err, len(out), bytes.Equal(out, plain))
	}
	probe, err := exec.Command("ffprobe", "-v", "error", "-key", hex.EncodeToString(key), "-iv", hex.EncodeToString(iv[:]),
		"-select_streams", "v:0", "-show_entries", "stream=codec_name,width", "-of", "csv=p=0", "crypto:"+encPath).CombinedOutput()
	if err != nil || !strings.Contains(string(probe), "h264,160") {
		t.Fatalf("ffprobe crypto: %v\n%s", err, probe)
	}
}

// An encrypted rendition: segments that are not MPEG-TS without the key,
// decrypt with it (IV = index), one EXT-X-KEY naming ../key, no I-frame
// playlist, bandwidths from the encrypted sizes, and a master without
// EXT-X-I-FRAME-STREAM-INF.
func TestEncryptedRendition(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	id := layout.NewVideoID()
	if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting,
		Chunks: 1, Renditions: []video.Rendition{{Name: "a", Width: 320, Height: 180, FrameRate: 25, Segmented: []bool{false}}}}); err != nil {
		t.Fatal(err)
	}
	key := mustHex(t, "00112233445566778899aabbccddeeff")
	if err := d.Store.Put(ctx, layout.EncryptionKeyKey(id), bytes.NewReader(key), 16); err != nil {
		t.Fatal(err)
	}
	work := putTS(t, d, id, "a")
	plainTS := read(t, d.Store, work)
	if err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "a", Key: work, SegmentDuration: 6, Chunk: jobs.Chunk{Count: 1},
		Encryption: profiles.EncryptionAES128}); err != nil {
		t.Fatal(err)
	}

	body := read(t, d.Store, layout.MediaPlaylistKey(id, "a"))
	if strings.Count(string(body), "#EXT-X-KEY:") != 1 || !strings.Contains(string(body), "#EXT-X-KEY:METHOD=AES-128,URI=\"../key\"\n") ||
		strings.Contains(string(body), "IV=") {
		t.Fatalf("media playlist:\n%s", body)
	}
	pl, _, err := m3u8.Decode(*bytes.NewBuffer(body), true)
	if err != nil {
		t.Fatal(err)
	}
	mp := pl.(*m3u8.MediaPlaylist)
	if mp.SeqNo != 0 || mp.Count() != 2 {
		t.Fatalf("media sequence %d, %d segments", mp.SeqNo, mp.Count())
	}
	block := newBlock(t, key)
	var joined []byte
	var segs []playlist.Segment
	for i, s := range mp.GetAllSegments() {
		if s.URI != layout.SegmentName(i) {
			t.Fatalf("segment %d is %s", i, s.URI)
		}
		enc := read(t, d.Store, layout.SegmentKey(id, "a", i))
		if len(enc)%16 != 0 || enc[0] == 0x47 {
			t.Fatalf("segment %d: %d bytes starting %x: not encrypted", i, len(enc), enc[:4])
		}
		plain, err := decryptSegment(block, uint64(i), enc)
		if err != nil || plain[0] != 0x47 || len(plain)%188 != 0 {
			t.Fatalf("segment %d does not decrypt to MPEG-TS: %v", i, err)
		}
		// With any other IV (CBC: only the first block changes) it is not.
		if wrong, err := decryptSegment(block, uint64(i+1), enc); err == nil && bytes.Equal(wrong[:16], plain[:16]) {
			t.Errorf("segment %d decrypts alike with the next sequence number's IV", i)
		}
		joined = append(joined, plain...)
		segs = append(segs, playlist.Segment{Duration: s.Duration, Size: int64(len(enc))})
	}
	// Decrypted and joined, the segments are a cut of our encoder's stream:
	// about as many packets (less the SDT, plus the PAT/PMT in front of
	// each segment and up to 15 packets of counter padding per PID at the
	// end), and ffprobe reads them.
	if len(joined) < len(plainTS)-188*8 || len(joined) > len(plainTS)+188*(16+4*15) {
		t.Errorf("decrypted segments hold %d bytes, the stream %d", len(joined), len(plainTS))
	}
	p := filepath.Join(t.TempDir(), "joined.ts")
	if err := os.WriteFile(p, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", p).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "h264") || !strings.Contains(string(out), "aac") {
		t.Fatalf("ffprobe of the decrypted segments: %v\n%s", err, out)
	}

	if _, err := d.Store.Stat(ctx, layout.IFramePlaylistKey(id, "a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an I-frame playlist was written for encrypted segments: %v", err)
	}
	master := read(t, d.Store, layout.MasterKey(id))
	if strings.Contains(string(master), "I-FRAME") || !strings.Contains(string(master), "a/index.m3u8") {
		t.Errorf("master:\n%s", master)
	}
	v, _ := d.Records.Get(ctx, id)
	peak, avg := playlist.Bandwidth(segs)
	if r := v.Renditions[0]; v.State != video.StateReady || r.Bandwidth != peak || r.AverageBandwidth != avg || r.IFrameBandwidth != 0 {
		t.Errorf("state %s, rendition %+v; want bandwidth %d/%d from the encrypted sizes", v.State, r, peak, avg)
	}
	if !strings.Contains(string(master), fmt.Sprintf("BANDWIDTH=%d,", peak)) {
		t.Errorf("master does not declare the encrypted peak %d:\n%s", peak, master)
	}
}

func TestEncryptionKeyProblems(t *testing.T) {
	d := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		key        []byte // nil: none stored
		encryption string
		permanent  bool
	}{
		{"missing key", nil, profiles.EncryptionAES128, false},
		{"short key", []byte("0123456789abcde"), profiles.EncryptionAES128, true},
		{"long key", []byte("0123456789abcdef0"), profiles.EncryptionAES128, true},
		{"unknown method", []byte("0123456789abcdef"), "sample-aes", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := layout.NewVideoID()
			if err := records(d).Create(ctx, &video.Video{ID: id, State: video.StateSegmenting, Chunks: 1, Renditions: []video.Rendition{{Name: "a", Segmented: []bool{false}}}}); err != nil {
				t.Fatal(err)
			}
			if tc.key != nil {
				if err := d.Store.Put(ctx, layout.EncryptionKeyKey(id), bytes.NewReader(tc.key), int64(len(tc.key))); err != nil {
					t.Fatal(err)
				}
			}
			err := d.segment(ctx, jobs.SegmentJob{VideoID: id, Rendition: "a", Key: layout.WorkKey(id, "a", 0), SegmentDuration: 6, Encryption: tc.encryption, Chunk: jobs.Chunk{Count: 1}})
			var pe *queue.PermanentError
			if err == nil || errors.As(err, &pe) != tc.permanent {
				t.Fatalf("got %v, want an error, permanent=%v", err, tc.permanent)
			}
			var left []string
			_ = d.Store.List(ctx, layout.StreamPrefix(id), func(i store.Info) error { left = append(left, i.Key); return nil })
			if len(left) != 0 {
				t.Fatalf("published without a usable key: %v", left)
			}
		})
	}
}

func read(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key, 0, -1)
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
