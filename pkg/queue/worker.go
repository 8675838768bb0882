package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PermanentError is a failure that no retry can fix, such as an upload that is
// not a video. The worker marks the video failed at once with Reason.
type PermanentError struct {
	Code   string
	Reason string // one sentence for the person who uploaded the video
	Err    error  // details for the logs
}

func (e *PermanentError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a failure retries cannot fix.
func Permanent(code, reason string, err error) error {
	return &PermanentError{Code: code, Reason: reason, Err: err}
}

// Attempt tells a handler which delivery of its job this is.
type Attempt struct {
	Number uint64 // 1 for the first delivery
	Last   bool   // no redelivery follows a failure
}

// Outcome of one job, for metrics: a plain string, so an observer
// (metrics.ObserveJob) needs no import of this package.
type Outcome = string

const (
	// OutcomeStarted is reported when a job begins, before its real outcome.
	OutcomeStarted   Outcome = "started"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeRetried   Outcome = "retried"
	OutcomeFailed    Outcome = "failed"
	OutcomeSkipped   Outcome = "skipped"
)

// Worker pulls jobs of type T from a stage's durable consumer and runs Handle
// on each, Concurrency at a time. It owns the delivery rules (docs/architecture.md, "Jobs"): ack
// only after Handle returned nil (its output is durably stored), heartbeats while
// it runs, back-off between attempts, and a failed video once a job is out of
// attempts or cannot succeed.
type Worker[T any] struct {
	Stage    string // "encode", "segment": for logs and metrics
	Stream   string
	Consumer jetstream.Consumer
	// Later, if set, is a consumer of lower priority on the same stream
	// (later video chunks): a worker takes from it when Consumer has
	// nothing, and first on every LaterEvery-th job, so that a stream of
	// start work never starves it.
	Later jetstream.Consumer
	// Middle, if set, is taken after Consumer and before Later (the other
	// chunks of short videos).
	Middle jetstream.Consumer
	// Express is how many more jobs, beyond Concurrency, the worker runs
	// from Consumer (the first express slot also from Middle), never from
	// Later: start work begins at once even while every regular slot is
	// busy with a long later chunk (which gives way to it, so the start
	// work gets the cores). A second slot lets one video's plan, which
	// keeps about one core busy, run beside another's first chunk.
	Express     int
	Bus         *Bus
	Concurrency int
	// VideoID extracts the video a job belongs to.
	VideoID func(T) string
	// Handle does the work. It must be idempotent: a job can run more than once.
	Handle func(ctx context.Context, job T, a Attempt) error
	// ShutdownGrace is how long running jobs may finish after ctx ends before
	// they are cancelled and handed back to the queue.
	ShutdownGrace time.Duration
	Log           *slog.Logger
	// Observe, if set, is told how each job ended and how long it ran.
	Observe func(stage string, o Outcome, d time.Duration, redelivered bool)
	// Waited, if set, is told how long each job waited between its
	// publication and its start, and whether it came from Later.
	Waited func(stage string, later bool, d time.Duration)
	// OnFailed, if set, runs once the worker has recorded a video as failed
	// (after the failure event): it removes what the video left behind.
	OnFailed func(ctx context.Context, v video.Video)
	// OnDeleted, if set, runs after a job whose video was deleted while it
	// ran: it removes every object of the video, since the job may have
	// written some after the delete removed the rest. A delete removes the
	// record first, so a job that finds the record afterwards finished its
	// writes before the delete's own sweep.
	OnDeleted func(id string)
	// Retry, if set, replaces the video rules with a plain retry policy for
	// work that is not a stage of a video (webhook deliveries): no job is
	// skipped for its video's state and no video is failed.
	Retry *Retry
	// Skip, if set, is asked before a job runs; a reason drops the job
	// unrun. published is when the job was queued.
	Skip func(job T, published time.Time) (reason string)
	// ReadyToo, if set, reports whether a job still has work for a video
	// that is ready (a master-only segment job: its subtitles changed);
	// other jobs of final videos are dropped unrun.
	ReadyToo func(job T) bool
}

// Retry is a Worker's policy for jobs that are not a stage of a video: a
// failed attempt n is retried after Backoff[n-1]; after len(Backoff)+1
// attempts, or on a PermanentError, the job is dropped and GiveUp told why.
// The consumer's MaxDeliver must be len(Backoff)+1.
type Retry struct {
	Backoff []time.Duration
	GiveUp  func(log *slog.Logger, attempts uint64, err error)
}

// deleted tells whether the video's record is gone (a lookup that fails
// otherwise says no: the next job will look again).
func (w *Worker[T]) deleted(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.Bus.Videos.Get(ctx, id)
	return errors.Is(err, video.ErrNotFound)
}

// Run works until ctx ends, then lets running jobs finish (up to
// ShutdownGrace) and returns.
func (w *Worker[T]) Run(ctx context.Context) error {
	if w.Concurrency < 1 {
		w.Concurrency = 1
	}
	// Jobs run on their own context so that a shutdown lets them finish.
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	go func() {
		<-ctx.Done()
		select {
		case <-time.After(w.ShutdownGrace):
			cancelJobs()
		case <-jobCtx.Done():
		}
	}()

	if w.Retry == nil { // a job of a video: its last attempt may die with its worker
		sub, err := w.watchExhausted(jobCtx)
		if err != nil {
			return err
		}
		defer sub.Unsubscribe()
	}

	// Each slot fetches with its own rule and runs what it got, until ctx
	// ends.
	serve := func(fetch func(turn int) (jetstream.Msg, bool, error)) {
		for turn := 0; ctx.Err() == nil; {
			msg, later, err := fetch(turn)
			if err != nil {
				if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					w.Log.Warn("fetch failed", "stage", w.Stage, "err", err)
					sleep(ctx, time.Second) // broker unreachable: don't spin
				}
				continue
			}
			turn++
			w.process(jobCtx, msg, later)
		}
	}
	var wg sync.WaitGroup
	for range w.Concurrency {
		wg.Go(func() { serve(w.next) })
	}
	for lane := range w.Express {
		wg.Go(func() { serve(func(int) (jetstream.Msg, bool, error) { return w.nextExpress(lane) }) })
	}
	wg.Wait()
	return nil
}

// LaterEvery: a worker with a Later consumer looks there first on every
// LaterEvery-th job, so later work ages into its turn: with start work
// always waiting, later work still gets a quarter of the workers' jobs.
const LaterEvery = 4

// next fetches the worker's next job: from Consumer, or from Later when
// Consumer has none (or first, on every LaterEvery-th turn).
func (w *Worker[T]) next(turn int) (msg jetstream.Msg, later bool, err error) {
	if w.Later == nil {
		msg, err = w.Consumer.Next(jetstream.FetchMaxWait(time.Second))
		return msg, false, err
	}
	order := []jetstream.Consumer{w.Consumer, w.Middle, w.Later}
	if turn%LaterEvery == LaterEvery-1 {
		order = []jetstream.Consumer{w.Later, w.Consumer, w.Middle}
	}
	for _, c := range order {
		if c == nil {
			continue
		}
		if msg, err = fetchNoWait(c); msg != nil || err != nil {
			return msg, c == w.Later, err
		}
	}
	// Both empty: wait on start work a little, then look at both again.
	msg, err = w.Consumer.Next(jetstream.FetchMaxWait(250 * time.Millisecond))
	return msg, false, err
}

// nextExpress fetches an express lane's next job: start work, else (in the
// first lane) a short video's chunk; never a later one.
func (w *Worker[T]) nextExpress(lane int) (jetstream.Msg, bool, error) {
	if w.Middle != nil && lane == 0 {
		for _, c := range []jetstream.Consumer{w.Consumer, w.Middle} {
			if msg, err := fetchNoWait(c); msg != nil || err != nil {
				return msg, false, err
			}
		}
		msg, err := w.Consumer.Next(jetstream.FetchMaxWait(250 * time.Millisecond))
		return msg, false, err
	}
	msg, err := w.Consumer.Next(jetstream.FetchMaxWait(time.Second))
	return msg, false, err
}

// fetchNoWait takes one message from c if one is waiting (nil if none).
func fetchNoWait(c jetstream.Consumer) (jetstream.Msg, error) {
	batch, err := c.FetchNoWait(1)
	if err != nil {
		return nil, err
	}
	var msg jetstream.Msg
	for m := range batch.Messages() {
		msg = m
	}
	if err := batch.Error(); msg == nil && err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return nil, err
	}
	return msg, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (w *Worker[T]) process(ctx context.Context, msg jetstream.Msg, later bool) {
	start := time.Now()
	var job T
	if err := json.Unmarshal(msg.Data(), &job); err != nil {
		w.Log.Error("undecodable job dropped", "stage", w.Stage, "err", err)
		_ = msg.TermWithReason("undecodable job")
		return
	}
	id := w.VideoID(job)
	log := w.Log.With("stage", w.Stage, "video", id)
	attempt := Attempt{Number: 1}
	if md, err := msg.Metadata(); err == nil {
		attempt.Number = md.NumDelivered
		log = log.With("job", fmt.Sprintf("%s#%d", w.Stream, md.Sequence.Stream), "attempt", md.NumDelivered)
	}
	attempt.Last = attempt.Number >= uint64(w.Bus.Config.MaxDeliver)
	if w.Retry != nil {
		attempt.Last = attempt.Number > uint64(len(w.Retry.Backoff))
	}
	observe := func(o Outcome) {
		if w.Observe != nil {
			w.Observe(w.Stage, o, time.Since(start), attempt.Number > 1)
		}
	}

	if reason := w.skip(ctx, job, id, msg); reason != "" {
		log.Info("job skipped", "reason", reason)
		_ = msg.Term()
		observe(OutcomeSkipped)
		return
	}

	observe(OutcomeStarted)
	if md, err := msg.Metadata(); err == nil && w.Waited != nil {
		w.Waited(w.Stage, later, start.Sub(md.Timestamp))
	}
	stop := w.heartbeat(msg)
	err := w.Handle(ctx, job, attempt)
	stop()
	if w.OnDeleted != nil && w.deleted(id) {
		// Deleted while the job ran: what it wrote after the deleter
		// cleared the video's prefixes would stay for good.
		log.Info("the video was deleted while its job ran: its files are removed again", "job_err", err)
		w.OnDeleted(id)
		_ = msg.Term()
		observe(OutcomeSkipped)
		return
	}

	var perm *PermanentError
	switch {
	case err == nil:
		if err := msg.DoubleAck(ctx); err != nil {
			// The output is stored; a redelivery will find the work done.
			log.Warn("ack failed", "err", err)
		}
		log.Info("job done", "took", time.Since(start).Round(time.Millisecond))
		observe(OutcomeSucceeded)
	case errors.As(err, &perm) && w.Retry != nil:
		w.Retry.GiveUp(log, attempt.Number, err)
		_ = msg.Term()
		observe(OutcomeFailed)
	case errors.As(err, &perm):
		log.Warn("job failed for good", "code", perm.Code, "err", err)
		w.fail(log, id, perm.Code, perm.Reason)
		_ = msg.Term()
		observe(OutcomeFailed)
	case ctx.Err() != nil:
		// Shutting down: hand the job back at once for another worker.
		log.Info("job interrupted by shutdown, returned to the queue")
		_ = msg.Nak()
		observe(OutcomeRetried)
	case attempt.Last && w.Retry != nil:
		w.Retry.GiveUp(log, attempt.Number, err)
		_ = msg.Term()
		observe(OutcomeFailed)
	case attempt.Last:
		log.Error("job failed on its last attempt", "err", err)
		w.fail(log, id, video.CodeInternal, fmt.Sprintf("Processing failed after %d attempts; the error was logged.", attempt.Number))
		_ = msg.Term()
		observe(OutcomeFailed)
	default:
		delay := w.Bus.Config.RetryDelay(attempt.Number)
		if w.Retry != nil {
			delay = w.Retry.Backoff[attempt.Number-1]
		}
		log.Warn("job failed, will retry", "err", err, "retry_in", delay)
		_ = msg.NakWithDelay(delay)
		observe(OutcomeRetried)
	}
}

// skip says why a job should not run, or "": a video that is gone, failed
// or already ready needs no more work (a duplicate or a late redelivery).
func (w *Worker[T]) skip(ctx context.Context, job T, id string, msg jetstream.Msg) string {
	if w.Skip != nil {
		var published time.Time
		if md, err := msg.Metadata(); err == nil {
			published = md.Timestamp
		}
		if reason := w.Skip(job, published); reason != "" {
			return reason
		}
	}
	if w.Retry != nil {
		return ""
	}
	rec, err := w.Bus.Videos.Get(ctx, id)
	if err == nil && rec.State == video.StateReady && w.ReadyToo != nil && w.ReadyToo(job) {
		return ""
	}
	if errors.Is(err, video.ErrNotFound) || (err == nil && rec.State.Final()) {
		return "video finished or deleted"
	}
	return ""
}

func (w *Worker[T]) fail(log *slog.Logger, id, code, reason string) {
	// Use a fresh context: the failure must be recorded even during shutdown.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := false
	rec, err := w.Bus.Videos.Update(ctx, id, func(v *video.Video) error {
		failed = false
		if v.State.Final() {
			return video.ErrNoChange
		}
		v.Fail(code, reason)
		failed = true
		return nil
	})
	if err != nil && !errors.Is(err, video.ErrNotFound) {
		log.Error("could not record failure", "err", err)
	}
	if err == nil && failed {
		w.Bus.AnnounceFinal(rec, log) // the video.failed webhook
		if w.OnFailed != nil {
			w.OnFailed(ctx, rec)
		}
	}
}

// RemoveFailed is an OnFailed that deletes every object of the failed
// video with del (store.DeletePrefixes on the worker's store), its source
// too unless keepSource (a retention sweep removes it later). The record
// stays, with the reason, until the video is deleted. A refused upload thus
// keeps no bytes: 20 refused sources were once found kept for good.
func RemoveFailed(del func(ctx context.Context, prefixes ...string) error, keepSource bool, log *slog.Logger) func(context.Context, video.Video) {
	return func(_ context.Context, v video.Video) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := del(ctx, layout.VideoPrefixes(v.ID, !keepSource)...); err != nil {
			log.Warn("removing a failed video's files failed; deleting the video removes them", "video", v.ID, "err", err)
		}
	}
}

// RemoveDeleted is an OnDeleted that deletes every object of the video
// with del (store.DeletePrefixes on the worker's store).
func RemoveDeleted(del func(ctx context.Context, prefixes ...string) error, log *slog.Logger) func(id string) {
	return func(id string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := del(ctx, layout.VideoPrefixes(id, true)...); err != nil {
			log.Warn("removing a deleted video's late files failed", "video", id, "err", err)
		}
	}
}

// heartbeat keeps telling JetStream the job is alive until stop is called.
func (w *Worker[T]) heartbeat(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(w.Bus.Config.Heartbeat())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// deliveryExceeded is JetStream's advisory for a job out of attempts.
type deliveryExceeded struct {
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
}

// watchExhausted covers the case the worker cannot: a job whose last attempt
// died with its worker (kill -9, lost machine). JetStream then announces that
// the job is out of attempts; we mark the video failed and drop the job.
// Several workers may handle one advisory; every step is idempotent.
func (w *Worker[T]) watchExhausted(ctx context.Context) (*nats.Subscription, error) {
	subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.*", w.Stream)
	return w.Bus.JS.Conn().Subscribe(subject, func(m *nats.Msg) {
		var adv deliveryExceeded
		if json.Unmarshal(m.Data, &adv) != nil {
			return
		}
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := w.Bus.JS.Stream(actx, w.Stream)
		if err != nil {
			return
		}
		raw, err := stream.GetMsg(actx, adv.StreamSeq)
		if err != nil {
			return // already handled
		}
		var job T
		if json.Unmarshal(raw.Data, &job) == nil {
			id := w.VideoID(job)
			log := w.Log.With("stage", w.Stage, "video", id)
			log.Error("job ran out of attempts without an answer from its worker")
			w.fail(log, id, video.CodeInternal, fmt.Sprintf("Processing failed after %d attempts; a worker stopped while working on it.", w.Bus.Config.MaxDeliver))
		}
		_ = stream.DeleteMsg(actx, adv.StreamSeq)
	})
}

func publishJSON(ctx context.Context, js jetstream.JetStream, subject, msgID string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := js.Publish(ctx, subject, b, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("queue: publish %s %s: %w", subject, msgID, err)
	}
	return nil
}
