// Package testutil holds what hlsd's tests share: real test media made with
// ffmpeg's lavfi sources, uploads the way curl -F sends them, and waiting on
// conditions with a deadline instead of sleeping and hoping.
package testutil

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireTools fails the test, with the command that installs them, when a
// tool is missing.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run `make test`, which installs it", tool)
		}
	}
}

// Generate runs ffmpeg with args (inputs, options) writing to a new file
// named name in a temporary directory, and returns its path.
func Generate(t testing.TB, name string, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate %s: %v\n%s", name, err, b)
	}
	return out
}

// WriteFile writes b to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Upload streams the file at path to url as the multipart field "upload",
// as `curl -F upload=@path` does, and returns the answer.
func Upload(t testing.TB, url, path string) (status int, body []byte, header http.Header) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("upload", filepath.Base(path))
		if err == nil {
			var f *os.File
			if f, err = os.Open(path); err == nil {
				_, err = io.Copy(part, f)
				f.Close()
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	body, _ = io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// ProcessState is the state letter of process pid from /proc/PID/stat
// ("R", "S", "T" for stopped...), or "" if it cannot be read.
func ProcessState(pid string) string {
	st, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	if i := bytes.LastIndexByte(st, ')'); i >= 0 && len(st) > i+2 {
		return string(st[i+2])
	}
	return ""
}

// WaitFor polls cond until it holds, failing the test after d.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FormPart is one part of a multipart form PostForm sends: a file when it
// has a Filename, a plain field otherwise.
type FormPart struct {
	Field, Filename string
	Body            []byte
}

// PostForm posts parts, in order, as multipart/form-data and returns the
// status and body of the answer.
func PostForm(t testing.TB, url string, parts ...FormPart) (int, string) {
	t.Helper()
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.Filename != "" {
			w, err = mw.CreateFormFile(p.Field, p.Filename)
		} else {
			w, err = mw.CreateFormField(p.Field)
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.Body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
