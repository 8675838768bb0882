// Package gateway is hlsd's front door: the upload form, the seed-compatible
// POST /upload (which answers the master playlist URL once the video is
// ready), and the JSON API under /api/videos. Uploads and the API take a
// bearer token when tokens are configured; the form page stays public.
package gateway

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
	"github.com/hlsd/hlsd/pkg/webhook"
)

// Config is how the gateway behaves.
type Config struct {
	Profiles profiles.Profiles // the ladder new uploads are encoded with
	// MaxUploadBytes bounds one upload's file size.
	MaxUploadBytes int64
	// ContentURL is the base URL players reach the content service at
	// ("https://cdn.example.com"); empty means the host the request came to.
	ContentURL string
	// APITokens, if any, are the bearer tokens POST /upload and every
	// /api/videos route require. None leaves them open: the caller decides
	// whether that is safe (cmd/hlsd/app allows it on loopback only).
	APITokens []string
	// AllowedOrigins are the web sites ("https://app.example.com") whose
	// pages may call uploads and the API from a browser; the gateway's own
	// pages always may. Others get 403.
	AllowedOrigins []string
	// UploadStallTimeout drops an upload body that brings fewer than
	// StallBytes in this long (0: DefaultUploadStallTimeout).
	UploadStallTimeout time.Duration
	// UploadExpiry is how long an unfinished tus upload is kept (0: 24 h).
	UploadExpiry time.Duration
	// FailedSourceRetention keeps a failed video's source this long (the
	// workers leave it, see encoder.Config.KeepFailedSources); 0: Run
	// sweeps none.
	FailedSourceRetention time.Duration
	// Webhook, with a URL, announces ready and failed videos (Run
	// delivers them).
	Webhook WebhookConfig
}

// WebhookConfig is where and how video events are delivered.
type WebhookConfig struct {
	URL     string
	Secret  []byte          // at least webhook.MinSecretBytes
	Backoff []time.Duration // nil: DefaultWebhookBackoff
}

// Records is what the gateway reads and changes of video records
// (video.Records).
type Records interface {
	Create(ctx context.Context, v *video.Video) error
	Get(ctx context.Context, id string) (video.Video, error)
	Update(ctx context.Context, id string, fn func(*video.Video) error) (video.Video, error)
	Delete(ctx context.Context, id string) error
	List(ctx context.Context) ([]video.Video, error)
	Watch(ctx context.Context, id string) (<-chan video.Video, error)
}

// Queue is where the gateway hands new uploads on (queue.Bus).
type Queue interface {
	PublishEncode(ctx context.Context, j jobs.EncodeJob) error
	// PublishSegment asks for a video's master to be written again
	// (subtitles added or deleted: jobs.SegmentJob.MasterOnly).
	PublishSegment(ctx context.Context, j jobs.SegmentJob) error
	AnnounceFinal(v video.Video, log *slog.Logger)
}

// Deps is what the gateway works with. Bus is only needed by Run, for the
// webhook consumer; Records and Queue are the bus's
// (its Videos, itself) in production.
type Deps struct {
	Bus     *queue.Bus
	Records Records
	Queue   Queue
	Store   store.Store
	Log     *slog.Logger
	// Signer, if set, signs the master URLs handed out (see pkg/playback);
	// the content service must hold the same secrets.
	Signer *playback.Signer
	// Resumable, if set, keeps unfinished tus uploads and mounts the tus
	// endpoint at /api/uploads/ (see tus.go).
	Resumable *Resumable
	// UploadedBytes, if set, counts bytes received.
	UploadedBytes func(n int64)
	// Observe, if set, is told how each webhook delivery ended.
	Observe func(stage string, o queue.Outcome, d time.Duration, redelivered bool)
	Now     func() time.Time // nil: time.Now
	// Done, if set, closes when the server shuts down: event streams end
	// then (without "end": clients reconnect, to another gateway), instead
	// of holding the shutdown for its whole grace period.
	Done <-chan struct{}
}

// Gateway is the front door.
type Gateway struct {
	Config
	Deps
}

// New makes a gateway: Handler serves it, Run does its background work.
func New(cfg Config, deps Deps) *Gateway {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	return &Gateway{Config: cfg, Deps: deps}
}

// Handler routes the gateway's endpoints.
func (gw *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	registerWeb(mux, gw)
	g := guard{tokens: newTokenSet(gw.APITokens), origins: newOriginSet(gw.AllowedOrigins), log: gw.Log}
	mux.Handle("POST /upload", g.require(false, gw.upload))
	mux.Handle("POST /api/videos", g.require(true, gw.create))
	mux.Handle("GET /api/videos", g.require(true, gw.list))
	mux.Handle("GET /api/videos/{id}", g.require(true, gw.get))
	mux.Handle("DELETE /api/videos/{id}", g.require(true, gw.delete))
	mux.Handle("GET /api/videos/{id}/events", g.requireOrQueryToken(gw.events(SSEHeartbeat)))
	mux.Handle("POST /api/videos/{id}/subtitles", g.require(true, gw.addSubtitles))
	mux.Handle("DELETE /api/videos/{id}/subtitles/{sid}", g.require(true, gw.deleteSubtitles))
	mux.HandleFunc("GET /api/openapi.json", serveOpenAPI)
	mountTus(mux, gw, g)
	return mux
}

// Run does the gateway's background work until ctx ends: it removes
// expired tus uploads and, with a retention, kept sources of failed videos,
// and delivers webhooks when a webhook URL is set.
func (gw *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if gw.Resumable != nil {
		wg.Go(func() { gw.Resumable.RunSweeper(ctx, time.Hour, cmp.Or(gw.UploadExpiry, 24*time.Hour), gw.Log) })
	}
	if gw.FailedSourceRetention > 0 {
		wg.Go(func() { gw.RunFailedSourceSweeper(ctx, gw.FailedSourceRetention) })
	}
	var err error
	if gw.Webhook.URL != "" {
		wh := &Webhooks{
			Bus: gw.Bus, URL: gw.Webhook.URL, Secret: gw.Webhook.Secret, Backoff: gw.Webhook.Backoff,
			ContentURL: gw.ContentURL, Signer: gw.Signer, Log: gw.Log, Observe: gw.Observe,
		}
		gw.Log.Info("webhooks on: ready and failed videos are announced", "url", webhook.RedactURL(gw.Webhook.URL))
		err = wh.Run(ctx)
	}
	wg.Wait()
	return err
}

// Upload problems the client caused.
var (
	errNotMultipart = errors.New("Send the file as multipart/form-data in a field named \"upload\".")
	errNoFile       = errors.New("The form has no file in a field named \"upload\".")
	errEmpty        = errors.New("The uploaded file is empty.")
)

type tooLargeError struct{ max int64 }

func (e tooLargeError) Error() string {
	return fmt.Sprintf("The file is larger than the %s upload limit.", humanBytes(e.max))
}

// receive streams the multipart file into the store (never into memory),
// records the video and queues its encode job.
func (gw *Gateway) receive(w http.ResponseWriter, r *http.Request) (video.Video, int, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return video.Video{}, http.StatusBadRequest, errNotMultipart
	}
	// Bound the whole body (file plus a little form overhead) so nobody can
	// stream forever, nor stall.
	gw.guardBody(w, r)
	r.Body = http.MaxBytesReader(w, r.Body, gw.MaxUploadBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		return video.Video{}, http.StatusBadRequest, errNotMultipart
	}
	var subs []uploadedSubtitle // subtitle files sent with it (subtitles.go)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return video.Video{}, http.StatusBadRequest, errNoFile
		}
		if err != nil {
			status, e := readErrStatus(err, gw.MaxUploadBytes)
			return video.Video{}, status, e
		}
		switch name := part.FormName(); {
		case name == "upload" || name == "file":
			// Subtitle parts after the file are read once it is stored,
			// before the video is recorded.
			return gw.acceptAs(r.Context(), layout.NewVideoID(), part.FileName(), part, func() ([]uploadedSubtitle, int, error) {
				return readSubtitleParts(mr, subs, gw.MaxUploadBytes)
			})
		case isSubtitleField(name):
			if subs, err = readSubtitlePart(part, subs); err != nil {
				status, e := subtitlePartStatus(err, gw.MaxUploadBytes)
				return video.Video{}, status, e
			}
		default:
			part.Close()
		}
	}
}

func readErrStatus(err error, max int64) (int, error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, tooLargeError{max}
	}
	if errors.Is(err, errStalled) {
		return http.StatusRequestTimeout, errStalled
	}
	return http.StatusBadRequest, errors.New("The upload was interrupted or malformed.")
}

func (gw *Gateway) accept(ctx context.Context, filename string, body io.Reader) (video.Video, int, error) {
	return gw.acceptAs(ctx, layout.NewVideoID(), filename, body, nil)
}

// acceptAs stores body as the source of video id, records the video and
// queues its encode job: the path of every upload, multipart or tus.
// subtitles, if set, gives the subtitle files sent with it once the source
// is stored (a multipart upload reads its last parts then); a bad one
// refuses the whole upload, and nothing of it is kept.
func (gw *Gateway) acceptAs(ctx context.Context, id, filename string, body io.Reader, subtitles func() ([]uploadedSubtitle, int, error)) (video.Video, int, error) {
	log := gw.Log.With("video", id)
	cr := &countingReader{r: body, max: gw.MaxUploadBytes}
	if err := gw.Store.Put(ctx, layout.SourceKey(id), cr, -1); err != nil {
		if cr.tooLarge {
			return video.Video{}, http.StatusRequestEntityTooLarge, tooLargeError{gw.MaxUploadBytes}
		}
		if cr.readErr != nil {
			status, e := readErrStatus(cr.readErr, gw.MaxUploadBytes)
			return video.Video{}, status, e
		}
		log.Error("storing upload failed", "err", err)
		return video.Video{}, http.StatusServiceUnavailable, errors.New("The upload could not be stored; try again shortly.")
	}
	if gw.UploadedBytes != nil {
		gw.UploadedBytes(cr.n)
	}
	if cr.n == 0 {
		_ = gw.Store.Delete(ctx, layout.SourceKey(id))
		return video.Video{}, http.StatusBadRequest, errEmpty
	}
	rec := video.Video{ID: id, State: video.StateUploaded, Filename: CleanFilename(filename), Size: cr.n}
	if subtitles != nil {
		subs, status, err := subtitles()
		if err == nil {
			err = gw.storePendingSubtitles(ctx, &rec, subs)
			status = http.StatusServiceUnavailable
		}
		if err != nil {
			_ = store.DeletePrefix(context.WithoutCancel(ctx), gw.Store, layout.UploadPrefix(id))
			return video.Video{}, status, err
		}
	}
	if err := gw.Records.Create(ctx, &rec); err != nil {
		log.Error("recording upload failed", "err", err)
		_ = store.DeletePrefix(context.WithoutCancel(ctx), gw.Store, layout.UploadPrefix(id))
		return video.Video{}, http.StatusServiceUnavailable, errors.New("The upload could not be recorded; try again shortly.")
	}
	job := jobs.EncodeJob{VideoID: id, SourceKey: layout.SourceKey(id), Profiles: gw.Profiles, Part: jobs.PartPlan}
	if err := gw.Queue.PublishEncode(ctx, job); err != nil {
		log.Error("queueing encode failed", "err", err)
		if failed, err := gw.Records.Update(context.WithoutCancel(ctx), id, func(v *video.Video) error {
			v.Fail(video.CodeInternal, "The video could not be queued for encoding.")
			return nil
		}); err == nil {
			gw.Queue.AnnounceFinal(failed, log)
		}
		_ = gw.Store.Delete(context.WithoutCancel(ctx), layout.SourceKey(id))
		return video.Video{}, http.StatusServiceUnavailable, errors.New("The video could not be queued for encoding; try again shortly.")
	}
	log.Info("upload received", "bytes", cr.n)
	return rec, 0, nil
}

// countingReader counts bytes and stops past max.
type countingReader struct {
	r        io.Reader
	n, max   int64
	tooLarge bool
	readErr  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		c.tooLarge = true
		return n, errors.New("upload too large")
	}
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return n, err
}

// upload is the seed's endpoint: it holds the request until the video is
// ready and answers the master playlist URL as plain text, or a 4xx with the
// reason it failed.
func (gw *Gateway) upload(w http.ResponseWriter, r *http.Request) {
	rec, status, err := gw.receive(w, r)
	if err != nil {
		plainError(w, status, err.Error())
		return
	}
	// The body is in; the wait may be long, and a read deadline passing
	// during it would end the request (see guardBody).
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	final, err := gw.waitFinal(r.Context(), rec.ID)
	if err != nil {
		// The client went away or the broker did; the job goes on regardless.
		setVideoHeaders(w.Header(), rec.ID)
		plainError(w, http.StatusServiceUnavailable, "Lost track of the video while waiting; ask /api/videos/"+rec.ID+" for its state.")
		return
	}
	if final.State == video.StateFailed {
		// The id lets the client see the video's facts, and delete it.
		setVideoHeaders(w.Header(), rec.ID)
		plainError(w, failureStatus(final.Failure), strings.TrimSuffix(final.Failure.Reason, ".")+" (video "+rec.ID+").")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, gw.masterURL(r, rec.ID))
}

// waitFinal follows the video until it is ready or failed. A watcher that
// ends on its own (a broker hiccup under load once did, and the client
// was told "Lost track" two seconds before its video was ready) is
// replaced; only a deleted video or the client leaving ends the wait.
func (gw *Gateway) waitFinal(ctx context.Context, id string) (video.Video, error) {
	for {
		updates, err := gw.Records.Watch(ctx, id)
		if err != nil {
			return video.Video{}, err
		}
		for v := range updates {
			if v.State.Final() {
				return v, nil
			}
		}
		if ctx.Err() != nil {
			return video.Video{}, ctx.Err()
		}
		v, err := gw.Records.Get(ctx, id)
		switch {
		case errors.Is(err, video.ErrNotFound):
			return video.Video{}, errors.New("video deleted while waiting")
		case err == nil && v.State.Final():
			return v, nil
		case err != nil:
			gw.Log.Warn("reading the video while waiting for it failed; trying again", "video", id, "err", err)
		default:
			gw.Log.Warn("the video's watcher ended early; watching again", "video", id)
		}
		select {
		case <-ctx.Done():
			return video.Video{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// failureStatus maps a failure to the HTTP status that best describes it.
func failureStatus(f *video.Failure) int {
	if f == nil {
		return http.StatusInternalServerError
	}
	switch f.Code {
	case video.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case video.CodeUnsupported:
		return http.StatusUnsupportedMediaType
	case video.CodeNoMedia, video.CodeLimitExceeded, video.CodeEncodeFailed:
		return http.StatusUnprocessableEntity
	default:
		return http.StatusInternalServerError
	}
}

func (gw *Gateway) masterURL(r *http.Request, id string) string {
	return streamURL(gw.contentBase(r), id, "master.m3u8", gw.playbackToken(id))
}

func (gw *Gateway) present(r *http.Request, v video.Video) api.Video {
	return present(v, gw.contentBase(r), gw.playbackToken(v.ID))
}

// create is the API upload: 202 as soon as the file is stored.
func (gw *Gateway) create(w http.ResponseWriter, r *http.Request) {
	rec, status, err := gw.receive(w, r)
	if err != nil {
		jsonError(w, status, err.Error())
		return
	}
	w.Header().Set("Location", "/api/videos/"+rec.ID)
	writeJSON(w, http.StatusAccepted, gw.present(r, rec))
}

func (gw *Gateway) get(w http.ResponseWriter, r *http.Request) {
	v, err := gw.Records.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, video.ErrNotFound) {
		jsonError(w, http.StatusNotFound, "No video has that id.")
		return
	}
	if err != nil {
		gw.Log.Error("get video failed", "err", err)
		jsonError(w, http.StatusServiceUnavailable, "Video state is unavailable; try again shortly.")
		return
	}
	out := gw.present(r, v)
	out.QueuePosition = gw.queuePosition(r.Context(), v, nil)
	writeJSON(w, http.StatusOK, out)
}

// queuePosition is v's place among the uploads waiting to start (api.Video
// QueuePosition): 1 plus the uploaded videos created before it, from all
// (or, if nil, a fresh listing). 0 for a video that is not waiting, or when
// the records cannot be listed.
func (gw *Gateway) queuePosition(ctx context.Context, v video.Video, all []video.Video) int {
	if v.State != video.StateUploaded {
		return 0
	}
	if all == nil {
		var err error
		if all, err = gw.Records.List(ctx); err != nil {
			return 0
		}
	}
	pos := 1
	for _, o := range all {
		if o.State == video.StateUploaded && o.ID != v.ID && (o.CreatedAt.Before(v.CreatedAt) || o.CreatedAt.Equal(v.CreatedAt) && o.ID < v.ID) {
			pos++
		}
	}
	return pos
}

// list answers a page of videos, newest first (see page.go). The bucket has
// no index by time, so each page reads every video's state.
func (gw *Gateway) list(w http.ResponseWriter, r *http.Request) {
	limit, after, err := pageParams(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	vs, err := gw.Records.List(r.Context())
	if err != nil {
		gw.Log.Error("list videos failed", "err", err)
		jsonError(w, http.StatusServiceUnavailable, "Video state is unavailable; try again shortly.")
		return
	}
	all := vs
	vs, next := page(vs, limit, after)
	out := api.Page{Videos: make([]api.Video, 0, len(vs)), NextCursor: next}
	for _, v := range vs {
		a := gw.present(r, v)
		a.QueuePosition = gw.queuePosition(r.Context(), v, all)
		out.Videos = append(out.Videos, a)
	}
	writeJSON(w, http.StatusOK, out)
}

// delete removes every object of a video, then its state.
func (gw *Gateway) delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := gw.Records.Get(r.Context(), id); errors.Is(err, video.ErrNotFound) {
		// Still being uploaded (tus): end the upload, which is the video.
		if gw.Resumable != nil && layout.ValidVideoID(id) {
			ended, err := gw.Resumable.TerminateVideo(r.Context(), id)
			if err != nil {
				gw.Log.Error("terminating an unfinished upload failed", "video", id, "err", err)
				jsonError(w, http.StatusServiceUnavailable, "The video could not be deleted; try again shortly.")
				return
			}
			if ended {
				gw.Log.Info("video deleted while it was being uploaded", "video", id)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		// Files of a delete that failed half-way (the record went first)
		// go now; for an id that never existed this finds nothing.
		if layout.ValidVideoID(id) {
			_ = store.DeletePrefixes(r.Context(), gw.Store, layout.VideoPrefixes(id, true)...)
		}
		jsonError(w, http.StatusNotFound, "No video has that id.")
		return
	}
	// State first, so workers skip any job still queued for it.
	if err := gw.Records.Delete(r.Context(), id); err != nil {
		gw.Log.Error("delete video failed", "video", id, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "The video could not be deleted; try again shortly.")
		return
	}
	// Then every object. A job still running for it removes what it writes
	// after this (queue.Worker.OnDeleted).
	if err := store.DeletePrefixes(context.WithoutCancel(r.Context()), gw.Store, layout.VideoPrefixes(id, true)...); err != nil {
		gw.Log.Error("delete objects failed", "video", id, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "Some files of the video could not be deleted; try again shortly.")
		return
	}
	gw.Log.Info("video deleted", "video", id)
	w.WriteHeader(http.StatusNoContent)
}

// SweepFailedSources removes the sources of videos that failed before
// now-retention (those the workers kept, see encoder.Config.KeepFailedSources)
// and returns how many it removed.
func (gw *Gateway) SweepFailedSources(ctx context.Context, now time.Time, retention time.Duration) (int, error) {
	vs, err := gw.Records.List(ctx)
	if err != nil {
		return 0, fmt.Errorf("list videos: %w", err)
	}
	n := 0
	for _, v := range vs {
		if v.State != video.StateFailed || !v.UpdatedAt.Before(now.Add(-retention)) {
			continue
		}
		if _, err := gw.Store.Stat(ctx, layout.SourceKey(v.ID)); errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err := store.DeletePrefix(ctx, gw.Store, layout.UploadPrefix(v.ID)); err != nil {
			return n, fmt.Errorf("remove the source of failed video %s: %w", v.ID, err)
		}
		n++
	}
	return n, nil
}

// RunFailedSourceSweeper removes kept sources of failed videos once their
// retention is over, looking a few times per retention period (at most
// every 10 minutes).
func (gw *Gateway) RunFailedSourceSweeper(ctx context.Context, retention time.Duration) {
	every := min(max(retention/4, time.Second), 10*time.Minute)
	sweepEvery(ctx, every, gw.Log.With("kept_for", retention), "failed videos' sources", func(now time.Time) (int, error) {
		return gw.SweepFailedSources(ctx, now, retention)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Error: msg})
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.4g %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
