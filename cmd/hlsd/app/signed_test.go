package app_test

import (
	"bytes"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

// With playback secrets, the master URL hlsd hands out is signed, players
// and the conformance suite get through with it, and nothing under
// /streams/ opens without a valid token for that very video.
func TestSignedPlaybackURLs(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) {
		c.PlaybackSecrets = [][]byte{[]byte("0123456789abcdef0123456789abcdef-test")}
		c.PlaybackTTL = time.Hour
	})
	var masters []string
	for _, name := range []string{"a.mp4", "b.mp4"} {
		clip := generate(t, name, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
			"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
		status, body, _ := upload(t, base+"/upload", clip)
		if status != http.StatusOK {
			t.Fatalf("upload: %d %s", status, body)
		}
		masters = append(masters, strings.TrimSpace(body))
	}
	m := regexp.MustCompile(`^(http://[^/]+/streams/([a-z2-7]{24})/master\.m3u8)\?token=([A-Za-z0-9_-]+)$`).FindStringSubmatch(masters[0])
	if m == nil {
		t.Fatalf("master URL %q carries no token", masters[0])
	}
	bare, token := m[1], m[3]
	otherToken := masters[1][strings.Index(masters[1], "token=")+6:]

	// The whole stream conforms and decodes through the signed URL.
	assertConformant(t, masters[0])
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", masters[0], "-map", "0", "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg through the signed URL: %v\n%s", err, out)
	}

	// Every URI in the playlists carries the token.
	body, _ := get(t, masters[0])
	media := bare[:strings.LastIndex(bare, "/")+1] + "234p/index.m3u8?token=" + token
	mbody, _ := get(t, media)
	segment := ""
	for _, line := range strings.Split(string(body)+string(mbody), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasSuffix(line, "?token="+token) {
			t.Errorf("URI %q does not carry the token", line)
		}
		if strings.HasPrefix(line, "seg_") {
			segment = bare[:strings.LastIndex(bare, "/")+1] + "234p/" + strings.TrimSuffix(line, "?token="+token)
		}
	}
	if segment == "" {
		t.Fatalf("no segment in %s", mbody)
	}

	tampered := []byte(token)
	tampered[len(tampered)/2] ^= 1
	for _, tc := range []struct {
		name, url string
		want      int
	}{
		{"master without token", bare, 403},
		{"segment without token", segment, 403},
		{"segment with token", segment + "?token=" + token, 200},
		{"another video's token", bare + "?token=" + otherToken, 403},
		{"tampered token", bare + "?token=" + string(tampered), 403},
		{"forged token", bare + "?token=" + strings.Repeat("A", len(token)), 403},
		{"garbage token", bare + "?token=" + url.QueryEscape("../../etc/passwd"), 403},
		{"two tokens", bare + "?token=" + token + "&token=" + token, 403},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.url, resp.StatusCode, tc.want)
		}
	}
}
