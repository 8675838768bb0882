// Package connlimit bounds the connections an HTTP server holds open, so a
// crowd of idle or silent clients cannot take every file descriptor of the
// process (19,980 idle keep-alive connections once did: accept4 failed with
// "too many open files" and nobody new was served).
//
// A Limiter wraps the server's listener and follows its connections'
// states (net/http's and fasthttp's ConnState hooks). Accept waits while
// Max connections are open. From three quarters of Max on, idle keep-alive
// connections are closed, the one kind a server may drop without breaking a
// request: clients reconnect when they next ask. Silent new connections
// end at the server's header timeout.
package connlimit

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// Limiter counts and bounds the open connections of one listener.
type Limiter struct {
	max  int
	slot chan struct{} // one token per open connection

	mu   sync.Mutex
	idle map[net.Conn]struct{}
	shed int // idle connections closed to make room, for tests and metrics
}

// New is a Limiter for at most max open connections (max ≥ 1).
func New(max int) *Limiter {
	if max < 1 {
		max = 1
	}
	return &Limiter{max: max, slot: make(chan struct{}, max), idle: map[net.Conn]struct{}{}}
}

// Default is the bound hlsd uses when none is configured: half the
// process's file limit (the rest is for stored files, NATS, ffmpeg's pipes
// and the kernel's backlog), between 64 and 10,000.
func Default() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1024
	}
	n := int(min(rl.Cur/2, 10000))
	return max(n, 64)
}

// Max is the bound.
func (l *Limiter) Max() int { return l.max }

// Open is the number of connections open now.
func (l *Limiter) Open() int { return len(l.slot) }

// Shed is how many idle connections were closed to make room so far.
func (l *Limiter) Shed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shed
}

// Listener wraps ln: a connection it accepts waits for a free slot.
func (l *Limiter) Listener(ln net.Listener) net.Listener { return &listener{Listener: ln, l: l} }

// SetIdle tells the limiter a connection is idle (between requests) or not;
// wire it to the server's ConnState hook.
func (l *Limiter) SetIdle(c net.Conn, idle bool) {
	l.mu.Lock()
	if !idle {
		delete(l.idle, c)
		l.mu.Unlock()
		return
	}
	busy := l.busy()
	if !busy {
		l.idle[c] = struct{}{}
	} else {
		l.shed++
	}
	l.mu.Unlock()
	if busy {
		c.Close() // no room for idlers now
	}
}

// busy is whether connections should be shed; l.mu is held.
func (l *Limiter) busy() bool { return len(l.slot) >= (l.max*3+3)/4 }

// shedIdle closes every idle connection when the limiter is busy.
func (l *Limiter) shedIdle() {
	l.mu.Lock()
	if !l.busy() || len(l.idle) == 0 {
		l.mu.Unlock()
		return
	}
	idle := make([]net.Conn, 0, len(l.idle))
	for c := range l.idle {
		idle = append(idle, c)
	}
	clear(l.idle)
	l.shed += len(idle)
	l.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

type listener struct {
	net.Listener
	l *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l := ln.l
	select {
	case l.slot <- struct{}{}:
	default:
		// Full: make room among the idle, then wait for a slot (holding
		// this one connection, which the kernel already accepted).
		l.shedIdle()
		l.slot <- struct{}{}
	}
	l.shedIdle()
	return &conn{Conn: c, l: l}, nil
}

// conn gives its slot back when it closes, once.
type conn struct {
	net.Conn
	l    *Limiter
	once sync.Once
}

// ReadFrom keeps the connection's own ReadFrom reachable through the
// wrapper: net/http hands a file body to it, and on TCP that is sendfile
// (the content service's segments from a disk store).
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.idle, c)
		c.l.mu.Unlock()
		<-c.l.slot
	})
	return err
}
