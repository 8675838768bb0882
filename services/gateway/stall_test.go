package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// trickle sends a request's head and first bytes, then the bytes of rest
// one every 200 ms (never 16 KiB in a window), and returns the answer's
// status and body once the server gives one.
func trickle(t *testing.T, addr, head string, first, rest []byte) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	c.Write(first)
	answered := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-answered:
				return
			case <-t.C:
				if len(rest) == 0 {
					return
				}
				if _, err := c.Write(rest[:1]); err != nil {
					return
				}
				rest = rest[1:]
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	close(answered)
	if err != nil {
		t.Fatalf("no answer to a trickling body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A multipart upload that trickles is dropped with 408 after the stall
// window, and nothing of it is kept.
func TestTricklingUploadIsCut(t *testing.T) {
	t.Parallel()
	bus := startBus(t)
	d, storeDir := newDeps(t, bus, &logBuffer{})
	d.MaxUploadBytes = 1 << 30
	d.UploadStallTimeout = time.Second
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	const boundary = "b0undary"
	part := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"slow.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
	head := fmt.Sprintf("POST /api/videos HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n", boundary, 1<<20)
	start := time.Now()
	status, body := trickle(t, strings.TrimPrefix(srv.URL, "http://"), head, append([]byte(part), make([]byte, 1000)...), make([]byte, 1<<20))
	if status != http.StatusRequestTimeout || !strings.Contains(body, "stalled") {
		t.Fatalf("trickling multipart upload: %d %s, want 408 saying it stalled", status, body)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("cut after %v, with a 1 s stall window", took)
	}
	if files := storedFiles(t, storeDir); len(files) != 0 {
		t.Errorf("a dropped upload left %v", files)
	}
}

// A tus PATCH that trickles is cut with 408; what arrived is kept and the
// upload resumes from there.
func TestTricklingTusPatchIsCutAndResumable(t *testing.T) {
	t.Parallel()
	base, _, _, _ := tusGatewayWith(t, func(d *Gateway) { d.MaxUploadBytes, d.UploadStallTimeout = 1<<20, time.Second })
	c := tusClient{t: t}
	data := tusBody(30000)
	loc, _ := c.create(base, len(data), "slow.mp4")
	path := strings.TrimPrefix(loc, base)
	head := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", path, len(data))
	status, body := trickle(t, strings.TrimPrefix(base, "http://"), head, data[:1000], data[1000:])
	if status != http.StatusRequestTimeout || !strings.Contains(body, "stalled") {
		t.Fatalf("trickling PATCH: %d %s, want 408 saying it stalled", status, body)
	}
	off := c.offset(loc)
	if off < 1000 || off >= len(data) {
		t.Fatalf("offset %d after the cut, want the 1000 bytes sent at once and a few more", off)
	}
	r := c.patch(loc, off, data[off:])
	if r.status != http.StatusNoContent || r.header.Get(HeaderVideoID) == "" {
		t.Fatalf("resuming at %d: %d %s", off, r.status, r.body)
	}
}
