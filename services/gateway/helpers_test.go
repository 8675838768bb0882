package gateway

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/natsembed"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// startBus runs a real embedded JetStream server until the test (or the
// fuzz run) ends.
func startBus(tb testing.TB) *queue.Bus {
	tb.Helper()
	ns, err := natsembed.Start(natsembed.Options{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := ns.Connect("gateway-test")
	if err != nil {
		ns.Shutdown()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close(); ns.Shutdown() })
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	bus, err := queue.Setup(context.Background(), js, queue.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	return bus
}

// Stub outcomes of stubEncoder, by the uploaded size modulo 3.
const (
	stubUnsupported = "The file is not a video or audio format hlsd reads."
	stubNoMedia     = "The file has no video or audio track."
)

// stubEncoder finishes every encode job at once without ffmpeg, so POST
// /upload (which waits for the video to be final) answers: ready, or failed
// as an unsupported format (415) or without media (422), chosen by the
// upload's size.
func stubEncoder(tb testing.TB, bus *queue.Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &queue.Worker[jobs.EncodeJob]{
		Stage: "encode", Stream: jobs.StreamEncode, Consumer: bus.Encoder, Bus: bus, Concurrency: 4,
		VideoID: func(j jobs.EncodeJob) string { return j.VideoID },
		Handle: func(ctx context.Context, j jobs.EncodeJob, _ queue.Attempt) error {
			v, err := bus.Videos.Get(ctx, j.VideoID)
			if err != nil {
				return err
			}
			switch v.Size % 3 {
			case 1:
				return queue.Permanent(video.CodeUnsupported, stubUnsupported, nil)
			case 2:
				return queue.Permanent(video.CodeNoMedia, stubNoMedia, nil)
			}
			_, err = bus.Videos.Update(ctx, j.VideoID, func(v *video.Video) error {
				v.State, v.Progress = video.StateReady, 1
				return nil
			})
			return err
		},
		ShutdownGrace: time.Second, Log: slog.New(slog.DiscardHandler),
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
}

// logBuffer collects what the gateway logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newDeps is a gateway on bus with a file store in its own directory,
// which it returns too.
func newDeps(tb testing.TB, bus *queue.Bus, logs *logBuffer, tokens ...string) (*Gateway, string) {
	tb.Helper()
	dir := tb.TempDir()
	st, err := store.NewFileStore(dir)
	if err != nil {
		tb.Fatal(err)
	}
	prof, err := profiles.Load("../../profiles.json")
	if err != nil {
		tb.Fatal(err)
	}
	deps := Deps{Bus: bus, Store: st, Log: slog.New(slog.NewTextHandler(logs, nil))}
	if bus != nil {
		deps.Records, deps.Queue = bus.Videos, bus
	}
	return New(Config{Profiles: prof, MaxUploadBytes: 4 << 10, ContentURL: "https://media.example.com", APITokens: tokens}, deps), dir
}

// storedFiles lists the files under a store directory.
func storedFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return files
}
