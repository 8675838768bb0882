package gateway

import (
	"bytes"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestWebPages(t *testing.T) {
	h := New(Config{ContentURL: "https://cdn.example.com/base"}, Deps{}).Handler()
	for _, tc := range []struct {
		path, want string
		status     int
	}{
		{"/", "<title>Upload a video", 200},
		{"/videos", "<title>Library", 200},
		{"/videos/abcdefghijklmnopqrstuvwx", "<title>Video", 200},
		{"/videos/not-an-id", "", 404},
		{"/videos/ABCDEFGHIJKLMNOPQRSTUVWX", "", 404},
		{"/static/app.css", ".drop", 200},
		{"/static/app.js", "const hlsd", 200},
		{"/static/vendor/hls.min.js", "", 200},
		{"/static/vendor/tus.min.js", "", 200},
		{"/static/", "", 404},
		{"/static/vendor/", "", 404},
		{"/static/index.html", "", 404},
		{"/static/../gateway.go", "", 404},
		{"/static/%2e%2e/gateway.go", "", 404},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status && !(tc.status == 404 && rec.Code >= 300 && rec.Code < 500) {
			t.Errorf("GET %s = %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		if tc.want != "" && !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s lacks %q", tc.path, tc.want)
		}
		if strings.HasSuffix(tc.path, ".js") && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
			t.Errorf("GET %s: Content-Type %q", tc.path, rec.Header().Get("Content-Type"))
		}
		if tc.status == 200 && !strings.HasPrefix(tc.path, "/static/") {
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "media-src 'self' https://cdn.example.com blob:") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				!strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("GET %s: CSP %q", tc.path, csp)
			}
			// Nothing the policy would block: no inline script, handler or style.
			for _, inline := range []string{"<script>", " onclick=", " onload=", " style=", "<style"} {
				if strings.Contains(rec.Body.String(), inline) {
					t.Errorf("GET %s has inline %q, which its CSP blocks", tc.path, inline)
				}
			}
		}
	}
}

// The pages load nothing from other sites: they work offline.
func TestWebPagesNeedNoCDN(t *testing.T) {
	for _, name := range []string{"index.html", "library.html", "video.html", "app.js", "index.js", "library.js", "video.js", "app.css"} {
		b, err := webFiles.ReadFile("web/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"src=\"http", "href=\"http", "url(http", "@import", "//cdn", "googleapis"} {
			if bytes.Contains(b, []byte(bad)) {
				t.Errorf("%s references %q", name, bad)
			}
		}
	}
}

// The UI plays with the same hls.js the browser tests install.
func TestVendoredHLSJSMatchesBrowserTest(t *testing.T) {
	installed, err := os.ReadFile("../../test/browser/node_modules/hls.js/dist/hls.min.js")
	if err != nil {
		t.Skip("test/browser's npm packages are not installed (make test installs them)")
	}
	vendored, err := webFiles.ReadFile("web/vendor/hls.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(installed, vendored) {
		t.Error("web/vendor/hls.min.js differs from the hls.js test/browser pins: run make vendor-web")
	}
}
