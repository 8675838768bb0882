// Package miniotest starts a real MinIO server process for tests. MinIO is
// AGPL, so it is never linked into hlsd: tests run the pinned binary that
// `make test` builds with `go install` (see the Makefile).
package miniotest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Server is a running MinIO.
type Server struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	cmd       *exec.Cmd
	dir       string
	bin       string
}

// Binary finds the minio executable: $HLSD_MINIO_BIN, PATH, or GOPATH/bin.
func Binary() (string, error) {
	if p := os.Getenv("HLSD_MINIO_BIN"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(trim(gopath)), "bin", "minio")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no minio binary: run `make test` (it runs `go install` of the pinned minio) or set HLSD_MINIO_BIN")
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Start runs MinIO on a free loopback port with a fresh data directory and
// stops it when the test ends. Without a binary the test fails under
// HLSD_REQUIRE_TEST_SERVERS=1 (as `make test` sets) and is skipped otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("HLSD_REQUIRE_TEST_SERVERS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{AccessKey: "hlsdtest", SecretKey: "hlsdtest-secret", dir: t.TempDir(), bin: bin, Endpoint: ln.Addr().String()}
	ln.Close()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Resume starts a stopped server again on the same address and data, as
// after an outage.
func (s *Server) Resume() error { return s.start() }

func (s *Server) start() error {
	s.cmd = exec.Command(s.bin, "server", "--quiet", "--address", s.Endpoint, "--console-address", "127.0.0.1:0", s.dir)
	s.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	logf, err := os.OpenFile(filepath.Join(s.dir, "..", "minio.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start minio: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("minio at %s not ready after 60s", s.Endpoint)
}

// URL is the hlsd store URL for a bucket on this server.
func (s *Server) URL(bucket string) string {
	return fmt.Sprintf("s3://%s:%s@%s/%s?secure=false", s.AccessKey, s.SecretKey, s.Endpoint, bucket)
}

// Stop kills the server (it can be resumed).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
