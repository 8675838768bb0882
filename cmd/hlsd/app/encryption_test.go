package app_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/layout"
)

// encryptedProfiles is the shipped profiles.json with "encryption": "aes-128".
func encryptedProfiles(t *testing.T) func(*app.Config) {
	t.Helper()
	b, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	const off = `"encryption": "none"`
	if !bytes.Contains(b, []byte(off)) {
		t.Fatalf("profiles.json lacks %s", off)
	}
	p := filepath.Join(t.TempDir(), "profiles.json")
	if err := os.WriteFile(p, bytes.Replace(b, []byte(off), []byte(`"encryption": "aes-128"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(c *app.Config) { c.ProfilesPath = p }
}

// fetch GETs url and returns status, body and headers, whatever the status.
func fetch(t *testing.T, method, url string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

var signedMasterRe = regexp.MustCompile(`^(http://[^/]+/streams/([a-z2-7]{24})/)master\.m3u8(\?token=([A-Za-z0-9_-]+))?$`)

// A profile with "encryption": "aes-128" gives AES-128 HLS: segments that
// are not MPEG-TS without the key, a key behind /streams/{id}/key (and
// behind the playback token when URLs are signed), no I-frame playlists —
// and ffmpeg, the conformance suite and hls.js all play it.
func TestEncryptedHLSPlays(t *testing.T) {
	t.Parallel()
	openData := t.TempDir()
	open := startAll(t, encryptedProfiles(t), func(c *app.Config) { c.DataDir = openData })
	signed := startAll(t, encryptedProfiles(t), func(c *app.Config) {
		c.PlaybackSecrets = [][]byte{[]byte("encryption-test-secret-0123456789abcdef")}
		c.PlaybackTTL = time.Hour
	})

	var masters []string
	names := []string{"video, open", "audio only, open", "video, signed"}
	for _, u := range []struct{ base, clip string }{
		{open, generate(t, "abr.mp4", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=48000",
			"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")},
		// play.js plays 3 s, then 1 s more on each level, then seeks to the
		// end: clips of 8 s leave room for a slow machine.
		{open, generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine=frequency=330", "-t", "8", "-c:a", "aac")},
		{signed, generate(t, "small.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")},
	} {
		status, body, _ := upload(t, u.base+"/upload", u.clip)
		if status != http.StatusOK {
			t.Fatalf("upload %s: %d %s", filepath.Base(u.clip), status, body)
		}
		masters = append(masters, strings.TrimSpace(body))
	}

	for i, master := range masters {
		m := signedMasterRe.FindStringSubmatch(master)
		if m == nil || (i == 2) != (m[3] != "") {
			t.Fatalf("master URL %q", master)
		}
		dir, query := m[1], m[3]
		t.Run(names[i], func(t *testing.T) { checkEncrypted(t, dir, query, master) })
	}

	// The key is not among the published files: it lives under keys/ in
	// the store, one per video, and the content service reads it from there.
	keys, _ := filepath.Glob(filepath.Join(openData, "store", "keys", "*", "aes128.key"))
	if len(keys) != 2 {
		t.Errorf("keys in the store: %v, want one per video", keys)
	}
	if leaked, _ := filepath.Glob(filepath.Join(openData, "store", "streams", "*", "*key*")); len(leaked) > 0 {
		t.Errorf("key files among the published streams: %v", leaked)
	}

	playEncryptedInHLSJS(t, masters)
}

// checkEncrypted checks one encrypted video whose master is at master, in
// dir (.../streams/{id}/), with query ("?token=..." or "") on every URL.
func checkEncrypted(t *testing.T, dir, query, master string) {
	// The master lists no I-frame playlist: byte ranges of segments
	// encrypted whole cannot be decrypted on their own.
	mb, _ := get(t, master)
	if strings.Contains(string(mb), "I-FRAME") {
		t.Errorf("master lists I-frame playlists:\n%s", mb)
	}
	variant := regexp.MustCompile(`(?m)^([a-z0-9]+)/index\.m3u8`).FindStringSubmatch(string(mb))
	if variant == nil {
		t.Fatalf("no variant in\n%s", mb)
	}
	if st, _, _ := fetch(t, "GET", dir+variant[1]+"/iframes.m3u8"+query); st != http.StatusNotFound {
		t.Errorf("iframes.m3u8 = %d, want 404", st)
	}

	// One EXT-X-KEY, relative, without IV (the IV is the sequence number),
	// carrying the token when playback is signed.
	media, _ := get(t, dir+variant[1]+"/index.m3u8"+query)
	wantKey := `#EXT-X-KEY:METHOD=AES-128,URI="../key` + query + `"` + "\n"
	if strings.Count(string(media), "#EXT-X-KEY") != 1 || !strings.Contains(string(media), wantKey) ||
		!strings.Contains(string(media), "#EXT-X-MEDIA-SEQUENCE:0\n") {
		t.Fatalf("media playlist lacks %q:\n%s", wantKey, media)
	}

	// The key: 16 bytes, never cached.
	st, key, hdr := fetch(t, "GET", dir+layout.KeyName+query)
	if st != http.StatusOK || len(key) != 16 || hdr.Get("Content-Type") != "application/octet-stream" ||
		hdr.Get("Cache-Control") != "private, no-store" || hdr.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET key = %d, %d bytes, %v", st, len(key), hdr)
	}
	if query != "" {
		// Signed: the key is as closed as the segments.
		for _, q := range []string{"", "?token=" + strings.Repeat("A", len(query)-7), "?token=" + query[7:len(query)-2] + "xx"} {
			if st, body, _ := fetch(t, "GET", dir+layout.KeyName+q); st != http.StatusForbidden {
				t.Errorf("GET key%s = %d %q, want 403", q, st, body)
			}
		}
	}

	// A segment is not MPEG-TS without the key: a plain one has the sync
	// byte 0x47 every 188 bytes; ciphertext has it where chance puts it
	// (the first byte alone is 0x47 in one segment of 256).
	st, seg, _ := fetch(t, "GET", dir+variant[1]+"/seg_00000.ts"+query)
	syncs := 0
	for i := 0; i < len(seg); i += 188 {
		if seg[i] == 0x47 {
			syncs++
		}
	}
	if st != http.StatusOK || len(seg) == 0 || len(seg)%16 != 0 || 2*syncs > (len(seg)+187)/188 {
		t.Fatalf("segment 0: %d, %d bytes, %d of %d packet starts are 0x47", st, len(seg), syncs, (len(seg)+187)/188)
	}
	if out, err := ffprobeStreams(seg); err == nil && strings.TrimSpace(out) != "" {
		t.Errorf("ffprobe reads the encrypted segment without its key: %q", out)
	}
	// ...and is with it: AES-128-CBC, IV = media sequence number 0, PKCS#7.
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, len(seg))
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], 0)
	cipher.NewCBCDecrypter(block, iv[:]).CryptBlocks(plain, seg)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 16 {
		t.Fatalf("padding %d", pad)
	}
	plain = plain[:len(plain)-pad]
	if out, err := ffprobeStreams(plain); err != nil || (!strings.Contains(out, "video") && !strings.Contains(out, "audio")) {
		t.Fatalf("the decrypted segment: %v %q", err, out)
	}

	// ffmpeg decodes every stream through the key, without a complaint.
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", master, "-map", "0", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding %s: %v\n%s", master, err, out)
	}
	// The conformance suite decrypts and measures every segment, and finds nothing.
	if r := assertConformant(t, master); r.IFrames != 0 {
		t.Errorf("hlsd check saw %d I-frame playlists", r.IFrames)
	}
}

// ffprobeStreams lists the stream types ffprobe finds in MPEG-TS data.
func ffprobeStreams(data []byte) (string, error) {
	cmd := exec.Command("ffprobe", "-v", "error", "-f", "mpegts", "-i", "pipe:0", "-show_entries", "stream=codec_type", "-of", "csv=p=0")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	return string(out), err
}

// playEncryptedInHLSJS plays masters in hls.js in headless Chromium, as
// TestPlaysInHLSJS does; only this part is skipped where there is no browser.
func playEncryptedInHLSJS(t *testing.T, masters []string) {
	t.Helper()
	playInHLSJS(t, requireBrowser(t), masters)
}

// Deleting an encrypted video deletes its key too.
func TestDeleteRemovesTheKey(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	base := startAll(t, encryptedProfiles(t), func(c *app.Config) { c.DataDir = data })
	clip := generate(t, "audio.m4a", "-f", "lavfi", "-i", "sine", "-t", "2", "-c:a", "aac")
	status, body, _ := upload(t, base+"/upload", clip)
	m := signedMasterRe.FindStringSubmatch(strings.TrimSpace(body))
	if status != http.StatusOK || m == nil {
		t.Fatalf("upload: %d %s", status, body)
	}
	dir, id := m[1], m[2]
	keyFile := filepath.Join(data, "store", filepath.FromSlash(layout.EncryptionKeyKey(id)))
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("the key is not at %s: %v", layout.EncryptionKeyKey(id), err)
	}
	if st, _, _ := fetch(t, "GET", dir+layout.KeyName); st != http.StatusOK {
		t.Fatalf("GET key = %d", st)
	}
	if st, body, _ := fetch(t, "DELETE", base+"/api/videos/"+id); st != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", st, body)
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("the key outlived its video (gateway delete must remove layout.KeyPrefix): %v", err)
	}
	if st, _, _ := fetch(t, "GET", dir+layout.KeyName); st != http.StatusNotFound {
		t.Errorf("GET key after DELETE = %d, want 404", st)
	}
}
