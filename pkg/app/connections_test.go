package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/pkg/app"
)

// The attack that took every file descriptor: thousands of keep-alive
// connections, one request each, then silence. With a bound of 200 the
// server sheds the idle ones, and a fresh client is served while the crowd
// still holds its sockets.
func TestIdleConnectionsDoNotLockOutNewClients(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.MaxConnections = 200 })
	host := strings.TrimPrefix(base, "http://")
	const crowd = 2000
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for i := 0; i < crowd; i++ {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("connection %d was not served: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/videos", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a fresh client beside %d idle connections: %v", crowd, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a fresh client beside %d idle connections: %d", crowd, resp.StatusCode)
	}
}
