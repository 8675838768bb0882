package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"
)

const (
	token1 = "f3a1c9e07b5d42868a0e9d1c7b3f5a21"
	token2 = "rotated-in-0123456789" // the second configured token
)

// multipartBody is a form with one file in the field "upload".
func multipartBody(t testing.TB, content string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, err := mw.CreateFormFile("upload", "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(w, content)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// Every protected route × every way of (not) sending a token.
func TestRoutesNeedAToken(t *testing.T) {
	bus := startBus(t)
	var logs logBuffer
	d, _ := newDeps(t, bus, &logs, token1, token2)
	h := d.Handler()

	newVideo := func(t *testing.T) string {
		id := layout.NewVideoID()
		if err := bus.Videos.Create(context.Background(), &video.Video{ID: id, State: video.StateUploaded}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Each route, and the answer it gives once past the token check. POST
	// /upload gets a body that is not multipart: its 400 proves the handler
	// ran without waiting for an encode.
	routes := []struct {
		method, path string // {id}: a fresh video's id
		api          bool
		ok           int
	}{
		{"POST", "/upload", false, http.StatusBadRequest},
		{"POST", "/api/videos", true, http.StatusAccepted},
		{"GET", "/api/videos", true, http.StatusOK},
		{"GET", "/api/videos/{id}", true, http.StatusOK},
		{"DELETE", "/api/videos/{id}", true, http.StatusNoContent},
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("hlsd:"+token1))
	cases := []struct {
		name          string
		authorization string // "-": no header at all
		pass          bool
		invalidToken  bool // refused as a wrong token rather than a missing one
	}{
		{"no header", "-", false, false},
		{"empty header", "", false, false},
		{"wrong scheme", basic, false, false},
		{"token without scheme", token1, false, false},
		{"other scheme with the token", "Token " + token1, false, false},
		{"scheme without token", "Bearer ", false, false},
		{"wrong token", "Bearer not-" + token1, false, true},
		{"token prefix", "Bearer " + token1[:len(token1)-1], false, true},
		{"token with a suffix", "Bearer " + token1 + "x", false, true},
		{"two tokens", "Bearer " + token1 + " " + token2, false, true},
		{"token with extra whitespace", "  Bearer   " + token1 + " \t", true, false},
		{"lower-case scheme", "bearer " + token1, true, false},
		{"correct token", "Bearer " + token1, true, false},
		{"second configured token", "Bearer " + token2, true, false},
	}
	for _, rt := range routes {
		for _, tc := range cases {
			t.Run(rt.method+" "+rt.path+"/"+tc.name, func(t *testing.T) {
				path := strings.ReplaceAll(rt.path, "{id}", newVideo(t))
				var body io.Reader = strings.NewReader("not a form")
				ct := "text/plain"
				if rt.path == "/api/videos" && rt.method == "POST" {
					var b []byte
					ct, b = multipartBody(t, "some bytes")
					body = bytes.NewReader(b)
				}
				read := &countingBody{r: body}
				req := httptest.NewRequest(rt.method, path, read)
				req.Header.Set("Content-Type", ct)
				req.RemoteAddr = "203.0.113.7:51234"
				if tc.authorization != "-" {
					req.Header.Set("Authorization", tc.authorization)
				}
				before := len(logs.String())
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				logged := logs.String()[before:]

				if tc.pass {
					if rec.Code != rt.ok {
						t.Fatalf("got %d %q, want %d", rec.Code, rec.Body, rt.ok)
					}
					if strings.Contains(logged, "refused") {
						t.Errorf("an accepted request was logged as refused: %s", logged)
					}
					return
				}
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("got %d %q, want 401", rec.Code, rec.Body)
				}
				wantChallenge, wantMsg := `Bearer realm="hlsd"`, msgNoToken
				if tc.invalidToken {
					wantChallenge, wantMsg = `Bearer realm="hlsd", error="invalid_token"`, msgBadToken
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != wantChallenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, wantChallenge)
				}
				msg := rec.Body.String()
				if rt.api {
					var e struct{ Error string }
					if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Header().Get("Content-Type") != "application/json" {
						t.Fatalf("not a JSON error: %q %q", rec.Header().Get("Content-Type"), msg)
					}
					msg = e.Error
				} else if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
					t.Errorf("Content-Type %q, want text/plain", rec.Header().Get("Content-Type"))
				}
				if strings.TrimSpace(msg) != wantMsg {
					t.Errorf("body %q, want %q", msg, wantMsg)
				}
				for _, secret := range []string{token1, token2, token1[:len(token1)-1]} {
					if strings.Contains(rec.Body.String(), secret) || strings.Contains(logged, secret) {
						t.Errorf("the answer or the log shows a token: %q / %q", rec.Body, logged)
					}
				}
				if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "remote=203.0.113.7:51234") {
					t.Errorf("the refusal was not logged as a warning with the remote address: %q", logged)
				}
				if read.n != 0 {
					t.Errorf("%d bytes of the body were read before the token was checked", read.n)
				}
			})
		}
	}
}

type countingBody struct {
	r io.Reader
	n int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// The form page stays public, and sends the token only as a header.
func TestFormIsPublic(t *testing.T) {
	var logs logBuffer
	d, _ := newDeps(t, nil, &logs, token1)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	script := httptest.NewRecorder()
	d.Handler().ServeHTTP(script, httptest.NewRequest("GET", "/static/index.js", nil))
	if rec.Code != http.StatusOK || !strings.Contains(page, `<input type="password" id="token"`) || !strings.Contains(page, `<script src="/static/index.js">`) ||
		script.Code != http.StatusOK || !strings.Contains(script.Body.String(), `headers: hlsd.authHeaders()`) {
		t.Fatalf("GET / = %d, want the form with its token box, whose script sends the token as a header:\n%s", rec.Code, page)
	}
	if strings.Contains(page, `name="token"`) {
		t.Error("the token box has a name: the token would travel in the form body")
	}
}

// With no token configured the routes are open (cmd/hlsd/app allows that on
// loopback only).
func TestNoTokensMeansOpen(t *testing.T) {
	bus := startBus(t)
	var logs logBuffer
	d, _ := newDeps(t, bus, &logs)
	h := d.Handler()
	ct, body := multipartBody(t, "some bytes")
	req := httptest.NewRequest("POST", "/api/videos", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("POST /api/videos = %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/videos", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"state": "uploaded"`) {
		t.Fatalf("GET /api/videos = %d %q", rec.Code, rec.Body)
	}
}

// The comparison looks at every configured token whichever matches, so its
// time does not tell how many tokens come before the right one.
func TestEveryTokenIsCompared(t *testing.T) {
	tokens := []string{"first-token-0123456789", "second-token-0123456789", "third-token-0123456789", "fourth-token-0123456789"}
	s := newTokenSet(tokens)
	for _, presented := range append(tokens, "none-of-them-0123456789", "", tokens[0][:3]) {
		calls := 0
		got := matchAny(s.hashes, sha256.Sum256([]byte(presented)), func(a, b []byte) int {
			calls++
			if len(a) != sha256.Size || len(b) != sha256.Size {
				t.Errorf("compared %d and %d bytes, want two %d-byte hashes", len(a), len(b), sha256.Size)
			}
			return subtle.ConstantTimeCompare(a, b)
		})
		want := presented == tokens[0] || presented == tokens[1] || presented == tokens[2] || presented == tokens[3]
		if got != want || s.valid(presented) != want {
			t.Errorf("%q: matched %v, want %v", presented, got, want)
		}
		if calls != len(tokens) {
			t.Errorf("%q: %d comparisons, want one per token (%d)", presented, calls, len(tokens))
		}
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":        "abc",
		"BEARER abc":        "abc",
		"Bearer    abc   ":  "abc",
		"Bearer a b":        "a b", // compared as is: no token has a space
		"Bearer":            "",
		"Bearer    ":        "",
		"Basic abc":         "",
		"Bearerabc":         "",
		"Bearer\tabc":       "",
		"":                  "",
		"abc":               "",
		"Bearer abc, other": "abc, other",
	} {
		got, ok := bearerToken(in)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
