// Package natsembed runs a NATS server with JetStream inside the hlsd process,
// for `hlsd all` and for tests, so a single machine needs no broker to run.
package natsembed

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options for the embedded server.
type Options struct {
	StoreDir string // JetStream file storage
	// Listen, when non-empty ("127.0.0.1:4222"), also accepts TCP clients,
	// e.g. a separate encoder process joining a local `hlsd all`. Empty means
	// in-process connections only.
	Listen string
	// Token, if set, is required of every client, in-process ones too.
	Token string
}

// Server is a running embedded NATS server.
type Server struct {
	ns    *server.Server
	token string
}

// Start boots the server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	opts := &server.Options{
		ServerName:    "hlsd-embedded",
		JetStream:     true,
		StoreDir:      o.StoreDir,
		NoSigs:        true, // hlsd handles signals itself
		NoLog:         true,
		Authorization: o.Token,
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(o.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsembed: server not ready after 30s (store dir %s)", o.StoreDir)
	}
	return &Server{ns: ns, token: o.Token}, nil
}

// Connect opens an in-process client connection (no socket).
func (s *Server) Connect(name string) (*nats.Conn, error) {
	opts := []nats.Option{nats.InProcessServer(s.ns), nats.Name(name)}
	if s.token != "" {
		opts = append(opts, nats.Token(s.token))
	}
	nc, err := nats.Connect(s.ns.ClientURL(), opts...)
	if err != nil {
		return nil, fmt.Errorf("natsembed: connect: %w", err)
	}
	return nc, nil
}

// ClientURL is the TCP address clients can use when Listen was set.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Shutdown stops the server and waits for it to finish writing.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("natsembed: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("natsembed: listen address %q: bad port", addr)
	}
	return host, port, nil
}
