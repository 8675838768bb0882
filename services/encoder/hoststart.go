package encoder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// hostStartWork lets the encoder processes of one deployment on one machine
// see each other's start work, so that every other chunk on the machine
// gives way to it (startYield), not only those of the process running it:
// two encoder processes on the same two cores made the last upload of a
// burst wait 18 s for its first chunk, against 10 s with one.
//
// Each encoder keeps a file in a directory of the machine's temporary
// space, named for the deployment's NATS server, and touches it while it
// runs start work; a file touched in the last second is start work under
// way. Encoders on other machines (or in other containers) have other
// temporary spaces, and other cores: they do not wait for each other.
type hostStartWork struct {
	dir, self string
	others    atomic.Bool // another encoder here runs start work
}

// startWorkFresh is how recently a file must have been touched to count.
const startWorkFresh = time.Second

// newHostStartWork places this encoder's file among the deployment's
// (scope: the NATS server's id).
func newHostStartWork(scope string) (*hostStartWork, error) {
	dir := filepath.Join(os.TempDir(), "hlsd-start-work", safeName(scope))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &hostStartWork{dir: dir, self: filepath.Join(dir, hex.EncodeToString(b))}, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// run keeps this encoder's file touched while busy() says it runs start
// work, and looks at the others', four times a second, until ctx ends.
func (h *hostStartWork) run(ctx context.Context, busy func() bool) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	defer os.Remove(h.self)
	for {
		h.update(busy())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *hostStartWork) update(busy bool) {
	if busy {
		now := time.Now()
		if os.Chtimes(h.self, now, now) != nil {
			_ = os.WriteFile(h.self, nil, 0o644)
		}
	} else {
		_ = os.Remove(h.self)
	}
	entries, _ := os.ReadDir(h.dir)
	others := false
	for _, e := range entries {
		p := filepath.Join(h.dir, e.Name())
		if p == h.self {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		switch age := time.Since(info.ModTime()); {
		case age < startWorkFresh:
			others = true
		case age > time.Minute: // left by a process that died
			_ = os.Remove(p)
		}
	}
	h.others.Store(others)
}

// othersBusy reports whether another encoder on this machine runs start
// work (false without a hostStartWork).
func (h *hostStartWork) othersBusy() bool { return h != nil && h.others.Load() }
