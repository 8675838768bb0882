package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

// /readyz tells a prober why it is not ready in a few words; the details
// (paths, addresses) go to the log only.
func TestReadyzSaysTheClassOnly(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	// The readiness probe's key cannot be looked at: "readyz" is a file.
	if err := os.MkdirAll(filepath.Join(dataDir, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "store", "readyz"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := startAll(t, func(c *app.Config) { c.DataDir = dataDir })
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(b)) != "not ready: object store unreachable" {
		t.Fatalf("/readyz: %d %q", resp.StatusCode, b)
	}
}

// /metrics behind a token.
func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	base := startAll(t, func(c *app.Config) { c.MetricsToken = token })
	for _, tc := range []struct {
		auth   string
		status int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer " + token, 200}} {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 200 && !strings.Contains(string(b), "hlsd_")) {
			t.Errorf("/metrics with %q: %d", tc.auth, resp.StatusCode)
		}
	}
}

// The embedded NATS opened to the network needs a token: without one hlsd
// refuses to start; with one, clients without it are refused.
func TestEmbeddedNATSListenNeedsAToken(t *testing.T) {
	t.Parallel()
	cfg := app.Config{DataDir: t.TempDir(), NATSListen: "0.0.0.0:0", Listen: "127.0.0.1:0", ProfilesPath: "../../../profiles.json"}
	cfg.Log = discardLog()
	err := app.Run(context.Background(), app.All, cfg)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("--nats-listen 0.0.0.0 without a token: %v", err)
	}

	const token = "nats-token-0123456789abc"
	natsAddr := freeAddr(t)
	startAll(t, func(c *app.Config) { c.NATSListen = natsAddr; c.NATSToken = token })
	if nc, err := nats.Connect("nats://" + natsAddr); err == nil {
		nc.Close()
		t.Error("a client without the token was let in")
	}
	nc, err := nats.Connect("nats://"+natsAddr, nats.Token(token))
	if err != nil {
		t.Fatalf("a client with the token: %v", err)
	}
	nc.Close()
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// freeAddr is a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
