package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/layout"
)

const fuzzToken = "fuzz-token-0123456789abcdef"

// FuzzUpload sends arbitrary requests through the real gateway handler:
// POST /upload or POST /api/videos with any Authorization header, any
// Content-Type (multipart boundaries and all) and any body, received into a
// file store of its own, recorded and queued on a real embedded JetStream.
// A stub encoder finishes each job at once, so POST /upload answers too.
//
// Invariants: no panic; a status hlsd documents for uploads; a 4xx answer is
// one sentence with no Go error text in it; the right token is never refused
// and no token is never accepted; and a refused upload leaves no file behind.
// The seeds in testdata/fuzz/FuzzUpload are valid and malformed forms.
func FuzzUpload(f *testing.F) {
	bus := startBus(f) // once per fuzzing process
	stubEncoder(f, bus)
	var logs logBuffer
	f.Fuzz(func(t *testing.T, isAPI bool, authorization, contentType string, body []byte) {
		d, dir := newDeps(t, bus, &logs, fuzzToken)
		path := "/upload"
		if isAPI {
			path = "/api/videos"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req)

		status, answer := rec.Code, rec.Body.String()
		t.Logf("POST %s: %d %q", path, status, answer)
		allowed := []int{200, 202, 400, 401, 413, 415, 422}
		if !slices.Contains(allowed, status) {
			t.Fatalf("POST %s answered %d %q; want one of %v", path, status, answer, allowed)
		}
		if tok, ok := bearerToken(authorization); (ok && tok == fuzzToken) != (status != http.StatusUnauthorized) {
			t.Fatalf("Authorization %q answered %d %q", authorization, status, answer)
		}
		if status >= 400 {
			msg := answer
			if isAPI {
				var e struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
					t.Fatalf("%d answer is not a JSON error: %q", status, answer)
				}
				msg = e.Error
			}
			if !isSentence(msg) {
				t.Fatalf("%d answer %q is not one plain sentence", status, msg)
			}
		}
		switch status {
		case 400, 401, 413:
			// Refused before the video was recorded: nothing may remain.
			if files := storedFiles(t, dir); len(files) > 0 {
				t.Fatalf("a refused upload (%d %q) left files behind: %v", status, answer, files)
			}
		case 202:
			var v api.Video
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || !layout.ValidVideoID(v.ID) || rec.Header().Get("Location") != v.StatusURL {
				t.Fatalf("202 answer %q (%v)", answer, err)
			}
		case 200:
			if !regexp.MustCompile(`^https://media\.example\.com/streams/[a-z2-7]{24}/master\.m3u8\n$`).MatchString(answer) {
				t.Fatalf("200 answer %q is not a master playlist URL", answer)
			}
		}
	})
}

// goInternals are signs of a Go error shown to a client; videoIDs are the
// ids an answer may name, random letters that can spell them ("…keof…").
var (
	goInternals = regexp.MustCompile(`(?i)multipart:|mime:|http:|EOF|runtime|goroutine|panic|nil|%!|\.go:|0x[0-9a-f]`)
	videoIDs    = regexp.MustCompile(`\b[a-z2-7]{24}\b`)
)

// isSentence tells whether msg is one sentence: one line, a capital first,
// a full stop last, and nothing of Go's error texts.
func isSentence(msg string) bool {
	msg = strings.TrimSuffix(msg, "\n")
	return msg != "" && !strings.ContainsAny(msg, "\n\r") && unicode.IsUpper([]rune(msg)[0]) &&
		strings.HasSuffix(msg, ".") && !goInternals.MatchString(videoIDs.ReplaceAllString(msg, "ID"))
}

// isSentence, the fuzz target's judge of answers, on answers it once got
// wrong: a video id whose letters spell "eof" is not Go's io.EOF.
func TestIsSentence(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"The file is not a video or audio format hlsd reads (video 4m5lbcxkeofersbi3zprhryz).\n", true},
		{"The upload is over the 1 GiB limit.", true},
		{"Reading the upload failed: unexpected EOF.", false},
		{"multipart: NextPart: EOF", false},
		{"The form is damaged (mime: invalid media parameter).", false},
		{"Two lines.\nOf text.", false},
		{"no capital first.", false},
	} {
		if got := isSentence(tc.msg); got != tc.want {
			t.Errorf("isSentence(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
}
