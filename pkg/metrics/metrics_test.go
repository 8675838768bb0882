package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRouteKeepsIDsOutOfLabels(t *testing.T) {
	for path, want := range map[string]string{
		"/": "/", "/upload": "/upload", "/api/videos": "/api/videos",
		"/api/videos/abcdefghijklmnopqrstuvwx":          "/api/videos/{id}",
		"/streams/abcdefghijklmnopqrstuvwx/master.m3u8": "/streams/{playlist}",
		"/streams/abc/360p/seg_00001.ts":                "/streams/{segment}",
		"/wp-admin/../../etc/passwd":                    "other",
		"/api/videos/abcdefghijklmnopqrstuvwx/events":   "/api/videos/{id}/events",
		"/api/uploads/abcdefghijklmnopqrstuvwx":         "/api/uploads/{id}",
		"/api/uploads":                                  "/api/uploads/{id}",
		"/videos":                                       "/videos",
		"/videos/abcdefghijklmnopqrstuvwx":              "/videos/{id}",
		"/static/vendor/hls.min.js":                     "/static/{file}",
		"/streams/abcdefghijklmnopqrstuvwx/poster.jpg":  "/streams/{file}",
	} {
		if got := Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestCountersMove(t *testing.T) {
	m := New()
	h := m.Instrument("content", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(make([]byte, 1000))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/streams/x/360p/seg_00000.ts", nil))
	m.ObserveJob("encode", "started", 0, true)
	m.ObserveJob("encode", "retried", time.Second, true)
	m.AddUploaded(42)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`hlsd_http_requests_total{code="206",route="/streams/{segment}",service="content"} 1`,
		`hlsd_served_bytes_total 1000`,
		`hlsd_jobs_total{outcome="retried",stage="encode"} 1`,
		`hlsd_jobs_redelivered_total{stage="encode"} 1`,
		`hlsd_jobs_started_total{stage="encode"} 1`,
		`hlsd_uploaded_bytes_total 42`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
