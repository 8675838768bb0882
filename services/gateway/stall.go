package gateway

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// Uploads must keep moving: a body that brings fewer than StallBytes in
// any window of Deps.UploadStallTimeout is dropped (its stored part
// removed; a tus upload keeps what it had and stays resumable). Without
// this, a body sending 1 byte every 10 s held a connection and a temp file
// for as long as it liked.
const (
	StallBytes                = 16 << 10
	DefaultUploadStallTimeout = 30 * time.Second
)

// stallError ends a body that stopped moving. It is a timeout as net.Error
// has it, which tusd answers as a read timeout (408, see tusSentence).
type stallError struct{}

func (stallError) Error() string {
	return "The upload stalled: fewer than 16 KiB arrived in too long a time, so it was dropped."
}
func (stallError) Timeout() bool   { return true }
func (stallError) Temporary() bool { return false }

var errStalled error = stallError{}

func (gw *Gateway) stallTimeout() time.Duration {
	if gw.UploadStallTimeout > 0 {
		return gw.UploadStallTimeout
	}
	return DefaultUploadStallTimeout
}

// guardBody makes r's body subject to the stall rule and lifts the
// server's write timeout, which counts from the request's start and would
// cut the answer to a long upload.
func (gw *Gateway) guardBody(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	window := gw.stallTimeout()
	b := &stallGuard{ReadCloser: r.Body, rc: rc, window: window, until: time.Now().Add(window)}
	_ = rc.SetReadDeadline(b.until)
	r.Body = b
}

// stallGuard counts a body's bytes and moves the connection's read
// deadline one window on each time StallBytes have arrived. A body that
// trickles (some bytes, never enough) is ended by the clock check, one
// that sends nothing by the deadline.
type stallGuard struct {
	io.ReadCloser
	rc     *http.ResponseController
	window time.Duration
	got    int64
	until  time.Time
}

func (b *stallGuard) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.got += int64(n)
	now := time.Now()
	switch {
	case b.got >= StallBytes:
		b.got = 0
		b.until = now.Add(b.window)
		_ = b.rc.SetReadDeadline(b.until)
	case err == nil && now.After(b.until):
		return n, errStalled
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errStalled
	}
	if err == io.EOF {
		// All in: the handler may now wait as long as it must (POST
		// /upload waits for the video) without the deadline ending it.
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
