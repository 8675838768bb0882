package connlimit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs a net/http server behind a Limiter of max connections.
func serve(t *testing.T, max int) (addr string, l *Limiter) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = New(max)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       10 * time.Minute, // the test's idlers stay unless shed
		ConnState:         func(c net.Conn, s http.ConnState) { l.SetIdle(c, s == http.StateIdle) },
	}
	go srv.Serve(l.Listener(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), l
}

// idler opens a keep-alive connection, makes one request and stays silent.
func idler(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c, nil
}

// holdIdlers opens n idlers one after the other, checking after each,
// and holds them until the test ends.
func holdIdlers(t *testing.T, addr string, n int, check func()) {
	t.Helper()
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := 0; i < n; i++ {
		c, err := idler(addr)
		if err != nil {
			t.Fatalf("idler %d: %v", i, err)
		}
		held = append(held, c)
		check()
	}
}

// Thousands of idle keep-alive connections (the attack that exhausted the
// file limit) against a bound of 100: every idler is served in turn, the
// server never holds more than the bound, and a fresh client is served.
func TestIdleCrowdDoesNotLockOutAFreshClient(t *testing.T) {
	t.Parallel()
	const max, crowd = 100, 3000
	addr, l := serve(t, max)
	holdIdlers(t, addr, crowd, func() {
		if n := l.Open(); n > max {
			t.Fatalf("%d connections open, over the bound of %d", n, max)
		}
	})
	if l.Shed() < crowd-max {
		t.Errorf("%d idle connections shed, want at least %d", l.Shed(), crowd-max)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a fresh client beside %d idle connections: %v", crowd, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("fresh client: %d %q", resp.StatusCode, b)
	}
}

// Below three quarters of the bound nobody is shed: keep-alive works as usual.
func TestNoSheddingBelowTheMark(t *testing.T) {
	t.Parallel()
	addr, l := serve(t, 100)
	for i := 0; i < 70; i++ {
		c, err := idler(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if l.Shed() != 0 || l.Open() != 70 {
		t.Fatalf("shed %d, open %d; want 0 and 70", l.Shed(), l.Open())
	}
}

// A full server whose connections are all busy makes a newcomer wait, not
// fail: it is served once a connection closes.
func TestFullServerQueuesTheNextClient(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(2)
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-release
			}
			fmt.Fprintln(w, "ok")
		}),
		ConnState: func(c net.Conn, s http.ConnState) { l.SetIdle(c, s == http.StateIdle) },
	}
	go srv.Serve(l.Listener(ln))
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	slow := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			tr := &http.Transport{DisableKeepAlives: true}
			resp, err := (&http.Client{Transport: tr}).Get(url + "/slow")
			if err == nil {
				resp.Body.Close()
			}
			slow <- err
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.Open() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the two slow requests never connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fast := make(chan error, 1)
	go func() {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(url + "/fast")
		if err == nil {
			resp.Body.Close()
		}
		fast <- err
	}()
	select {
	case err := <-fast:
		t.Fatalf("a third connection was served beside two busy ones with a bound of 2 (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-slow; err != nil {
			t.Fatal(err)
		}
	}
	if err := <-fast; err != nil {
		t.Fatalf("the waiting client: %v", err)
	}
}
