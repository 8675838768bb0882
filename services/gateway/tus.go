package gateway

// Resumable uploads with the tus protocol (https://tus.io, version 1.0.0:
// core, creation, creation-with-upload, creation-defer-length, termination)
// through tusd's handler, mounted at /api/uploads/ behind the API tokens.
//
// The upload's id is the future video's id (on S3 followed by "+" and the
// multipart upload id), so a client knows which video it is making from the
// first answer. When the last byte arrives, the PreFinishResponseCallback
// hands the bytes to acceptAs, the path every multipart upload takes (store
// the source, record the video, queue its encode), removes the tus copy and
// answers the final PATCH with Hlsd-Video-Id and Hlsd-Status-Url. A HEAD on
// a finished upload answers from the video state, so a client whose final
// answer was lost learns the same; a HEAD on an upload that is complete but
// was never made into a video (the gateway stopped, or the store failed, in
// between) makes the video then.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/tusstore"
	"github.com/hlsd/hlsd/pkg/video"
)

// TusPath is where the tus endpoint is mounted: POST here creates an
// upload, TusPath+ID takes HEAD, PATCH and DELETE.
const TusPath = "/api/uploads/"

// Response headers that name the video an upload became.
const (
	HeaderVideoID   = "Hlsd-Video-Id"
	HeaderStatusURL = "Hlsd-Status-Url"
)

// Resumable keeps unfinished tus uploads in a tusstore.Store (tusd's
// filestore on disk, or its s3store in the object store's bucket), which
// the wiring builds.
type Resumable struct {
	store *tusstore.Store
}

// NewResumable keeps unfinished uploads in st.
func NewResumable(st *tusstore.Store) *Resumable { return &Resumable{store: st} }

// Sweep terminates the unfinished uploads created before now-maxAge and
// returns how many it removed. An upload being written to is interrupted.
func (rs *Resumable) Sweep(ctx context.Context, now time.Time, maxAge time.Duration) (int, error) {
	pending, err := rs.store.Pending(ctx)
	if err != nil {
		return 0, fmt.Errorf("list unfinished uploads in %s: %w", rs.store.Where, err)
	}
	n := 0
	for _, p := range pending {
		if !p.Created.Before(now.Add(-maxAge)) {
			continue
		}
		err := rs.terminate(ctx, p.ID)
		if errors.Is(err, tushandler.ErrNotFound) {
			continue // finished or terminated meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("remove expired upload %s: %w", p.ID, err)
		}
		n++
	}
	return n, nil
}

// terminate removes an unfinished upload, under its lock; tusd's
// ErrNotFound if it finished or was removed meanwhile.
func (rs *Resumable) terminate(ctx context.Context, id string) error {
	return rs.withLock(ctx, id, func() error {
		up, err := rs.store.Composer.Core.GetUpload(ctx, id)
		if err != nil {
			return err
		}
		return rs.store.Composer.Terminater.AsTerminatableUpload(up).Terminate(ctx)
	})
}

// TerminateVideo ends the unfinished upload that would become video id,
// if there is one, and tells whether there was: a video deleted while it
// is still being uploaded leaves nothing either.
func (rs *Resumable) TerminateVideo(ctx context.Context, id string) (bool, error) {
	pending, err := rs.store.Pending(ctx)
	if err != nil {
		return false, fmt.Errorf("list unfinished uploads in %s: %w", rs.store.Where, err)
	}
	for _, p := range pending {
		if videoIDOf(p.ID) != id {
			continue
		}
		err := rs.terminate(ctx, p.ID)
		if errors.Is(err, tushandler.ErrNotFound) {
			return false, nil // finished or terminated meanwhile
		}
		return err == nil, err
	}
	return false, nil
}

// RunSweeper sweeps uploads older than maxAge now and every interval until
// ctx ends.
func (rs *Resumable) RunSweeper(ctx context.Context, interval, maxAge time.Duration, log *slog.Logger) {
	sweepEvery(ctx, interval, log.With("older_than", maxAge), "expired resumable uploads", func(now time.Time) (int, error) {
		return rs.Sweep(ctx, now, maxAge)
	})
}

// sweepEvery runs sweep now and every interval until ctx ends, logging
// what it removed (what names it) and its failures.
func sweepEvery(ctx context.Context, interval time.Duration, log *slog.Logger, what string, sweep func(now time.Time) (int, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := sweep(time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("sweeping "+what+" failed", "err", err)
		case n > 0:
			log.Info(what+" removed", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// withLock runs fn holding the upload's lock, as tusd's handlers do.
func (rs *Resumable) withLock(ctx context.Context, id string, fn func() error) error {
	lock, err := rs.store.Composer.Locker.NewLock(id)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); err != nil {
		return err
	}
	defer lock.Unlock()
	return fn()
}

// uploadIDRe is an upload id: a video id, on S3 followed by "+" and the
// multipart upload id. Anything else is refused before tusd sees it, so no
// id can reach outside the upload directory.
var uploadIDRe = regexp.MustCompile(`^[a-z2-7]{24}(\+[A-Za-z0-9._~=-]{1,1000})?$`)

// videoIDOf is the video an upload id becomes.
func videoIDOf(uploadID string) string {
	id, _, _ := strings.Cut(uploadID, "+")
	return id
}

// tusServer is the tus endpoint of one gateway.
type tusServer struct {
	gw       *Gateway
	g        guard
	composer *tushandler.StoreComposer
	h        *tushandler.UnroutedHandler
}

// mountTus registers the tus endpoint on mux when gw.Resumable is set.
func mountTus(mux *http.ServeMux, gw *Gateway, g guard) {
	if gw.Resumable == nil {
		return
	}
	t := &tusServer{gw: gw, g: g, composer: gw.Resumable.store.Composer}
	cors := tushandler.DefaultCorsConfig
	cors.ExposeHeaders += ", " + HeaderVideoID + ", " + HeaderStatusURL
	h, err := tushandler.NewUnroutedHandler(tushandler.Config{
		StoreComposer:             t.composer,
		MaxSize:                   gw.MaxUploadBytes,
		BasePath:                  TusPath,
		DisableDownload:           true, // uploads are read back as videos, not here
		DisableConcatenation:      true, // partial uploads would each become a video
		Cors:                      &cors,
		NetworkTimeout:            gw.stallTimeout(), // silence on a PATCH body
		RespectForwardedHeaders:   true,              // Location behind a TLS-terminating proxy
		Logger:                    expslog.New(tusLog{gw.Log.Handler()}),
		PreUploadCreateCallback:   t.preCreate,
		PreFinishResponseCallback: t.preFinish,
	})
	if err != nil {
		panic("gateway: tus handler: " + err.Error()) // only a programming error gets here
	}
	t.h = h
	// Every route to t, which routes further; "POST …/{id}" is for clients
	// that send PATCH and DELETE as POST with X-HTTP-Method-Override.
	for _, p := range []string{
		"POST /api/uploads", "POST /api/uploads/{$}", "POST /api/uploads/{id}",
		"HEAD /api/uploads/{id}", "PATCH /api/uploads/{id}", "DELETE /api/uploads/{id}",
		"OPTIONS /api/uploads", "OPTIONS /api/uploads/",
	} {
		mux.Handle(p, t)
	}
}

func (t *tusServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Other web sites are refused before tusd's CORS sees them, so it
	// reflects only the gateway's own origin and the allowed ones.
	if t.g.refuseCrossOrigin(w, r, true) {
		return
	}
	// CORS on hlsd's own answers too (401, 404), so browsers show them.
	if origin := r.Header.Get("Origin"); origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Vary", "Origin")
		w.Header().Set("Access-Control-Expose-Headers", "Tus-Resumable, "+HeaderVideoID+", "+HeaderStatusURL)
	}
	if r.Method == http.MethodOptions {
		// Protocol discovery and CORS preflight carry no token.
		t.h.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
		return
	}
	t.g.require(true, t.serve).ServeHTTP(w, r)
}

type responseControllerKey struct{}

func (t *tusServer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Tus-Resumable", "1.0.0")
	tw := &tusWriter{ResponseWriter: w, max: t.gw.MaxUploadBytes}
	defer tw.flush()
	r = r.WithContext(context.WithValue(r.Context(), responseControllerKey{}, http.NewResponseController(w)))
	if r.Body != nil && r.Body != http.NoBody && (r.Method == http.MethodPatch || r.Method == http.MethodPost) {
		t.gw.guardBody(w, r) // tusd's own read timeout catches silence, this a trickle
	}
	method := r.Method
	if o := r.Header.Get("X-HTTP-Method-Override"); method == http.MethodPost && o != "" {
		method = o // as tusd's middleware will
	}
	id := strings.Trim(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(TusPath, "/")), "/")
	if id == "" {
		if method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			jsonError(w, http.StatusMethodNotAllowed, "Create an upload with POST "+TusPath+"; HEAD, PATCH and DELETE go to the upload's URL.")
			return
		}
		if r.Header.Get("Upload-Defer-Length") != "" && !t.capBody(tw, r, 0) {
			return
		}
		t.h.Middleware(http.HandlerFunc(t.h.PostFile)).ServeHTTP(tw, r)
		return
	}
	if !uploadIDRe.MatchString(id) {
		jsonError(w, http.StatusNotFound, "No upload has that id.")
		return
	}
	// tusd reads the id from the path relative to its base.
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = "/"+id, ""
	r2.URL = &u
	switch method {
	case http.MethodHead:
		t.head(tw, r2, id)
	case http.MethodPatch:
		if !t.capDeferredPatch(tw, r2, id) {
			return
		}
		t.h.Middleware(http.HandlerFunc(t.h.PatchFile)).ServeHTTP(tw, r2)
	case http.MethodDelete:
		t.h.Middleware(http.HandlerFunc(t.h.DelFile)).ServeHTTP(tw, r2)
	default:
		w.Header().Set("Allow", "HEAD, PATCH, DELETE, OPTIONS")
		jsonError(w, http.StatusMethodNotAllowed, "An upload takes HEAD (its offset), PATCH (more bytes) and DELETE (termination).")
	}
}

// capDeferredPatch holds a PATCH to an upload of deferred length to the
// upload limit: tusd caps such a body at the limit only when it comes
// without Content-Length (v2.9.1 lets a Content-Length raise the cap), so
// without this two PATCHes of 100 MiB each were stored on a server limited
// to 20 MiB. It answers and returns false when the request cannot fit.
func (t *tusServer) capDeferredPatch(tw *tusWriter, r *http.Request, id string) bool {
	if t.gw.MaxUploadBytes <= 0 {
		return true
	}
	if l := r.Header.Get("Upload-Length"); l != "" {
		// Declaring the length: tusd checks it against the limit, but
		// answers that it is not a whole number.
		if n, err := strconv.ParseInt(l, 10, 64); err == nil && n > t.gw.MaxUploadBytes {
			jsonError(tw.ResponseWriter, http.StatusRequestEntityTooLarge, tooLargeError{t.gw.MaxUploadBytes}.Error())
			return false
		}
	}
	up, err := t.composer.Core.GetUpload(r.Context(), id)
	if err != nil {
		return true // tusd answers
	}
	info, err := up.GetInfo(r.Context())
	if err != nil || !info.SizeIsDeferred {
		return true
	}
	// tusd refuses a PATCH whose Upload-Offset is not the stored offset
	// (under the upload's lock), so the header is the offset this body
	// would be written at.
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		return true // tusd answers
	}
	return t.capBody(tw, r, offset)
}

// capBody refuses a body that would take an upload written from offset past
// the upload limit: at once when its Content-Length says so, else when the
// byte past the limit arrives (tusd stores what came before it, and answers
// 413 with the limit's sentence).
func (t *tusServer) capBody(tw *tusWriter, r *http.Request, offset int64) bool {
	max := t.gw.MaxUploadBytes
	if max <= 0 {
		return true
	}
	room := max - offset
	if room < 0 {
		room = 0
	}
	if r.ContentLength > room {
		jsonError(tw.ResponseWriter, http.StatusRequestEntityTooLarge, tooLargeError{max}.Error())
		return false
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(tw, r.Body, room)
		tw.capped = true
	}
	return true
}

// head answers the offset of an unfinished upload (tusd), or, for an upload
// that became a video, its full length and the video's headers.
func (t *tusServer) head(tw *tusWriter, r *http.Request, id string) {
	ctx := r.Context()
	if v, err := t.gw.Records.Get(ctx, videoIDOf(id)); err == nil {
		t.headFinished(tw, v)
		return
	}
	// Complete but never made into a video: make it now.
	if up, err := t.composer.Core.GetUpload(ctx, id); err == nil {
		if info, err := up.GetInfo(ctx); err == nil && !info.SizeIsDeferred && info.Size > 0 && info.Offset == info.Size {
			var rec video.Video
			var status int
			err := t.gw.Resumable.withLock(ctx, id, func() error {
				up, err := t.composer.Core.GetUpload(ctx, id)
				if err != nil {
					return err
				}
				info, err := up.GetInfo(ctx)
				if err != nil {
					return err
				}
				rec, status, err = t.finish(context.WithoutCancel(ctx), up, info)
				return err
			})
			if err == nil {
				t.headFinished(tw, rec)
				return
			}
			if !errors.Is(err, tushandler.ErrNotFound) { // else finished meanwhile: see below
				if status == 0 {
					status = http.StatusServiceUnavailable
					err = errors.New("The upload is being finished by another request; ask again shortly.")
				}
				jsonError(tw.ResponseWriter, status, err.Error())
				return
			}
		}
	}
	t.h.Middleware(http.HandlerFunc(t.h.HeadFile)).ServeHTTP(tw, r)
	if tw.held && tw.status == http.StatusNotFound {
		// Finished (and removed) while we looked.
		if v, err := t.gw.Records.Get(ctx, videoIDOf(id)); err == nil {
			tw.held = false
			tw.Header().Del("Content-Type")
			tw.Header().Del("Content-Length")
			t.headFinished(tw, v)
		}
	}
}

func (t *tusServer) headFinished(w http.ResponseWriter, v video.Video) {
	h := w.Header()
	h.Set("Tus-Resumable", "1.0.0")
	h.Set("Cache-Control", "no-store")
	h.Set("Upload-Offset", strconv.FormatInt(v.Size, 10))
	h.Set("Upload-Length", strconv.FormatInt(v.Size, 10))
	if v.Filename != "" {
		h.Set("Upload-Metadata", tushandler.SerializeMetadataHeader(tushandler.MetaData{"filename": v.Filename}))
	}
	setVideoHeaders(h, v.ID)
	w.WriteHeader(http.StatusOK)
}

func setVideoHeaders(h http.Header, id string) {
	h.Set(HeaderVideoID, id)
	h.Set(HeaderStatusURL, "/api/videos/"+id)
}

// preCreate names the upload after the video it will become and refuses an
// empty file.
func (t *tusServer) preCreate(ev tushandler.HookEvent) (tushandler.HTTPResponse, tushandler.FileInfoChanges, error) {
	if !ev.Upload.SizeIsDeferred && ev.Upload.Size == 0 {
		return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{}, tushandler.NewError("HLSD_EMPTY", errEmpty.Error(), http.StatusBadRequest)
	}
	id := layout.NewVideoID()
	return tushandler.HTTPResponse{Header: tushandler.HTTPHeader{HeaderVideoID: id}}, tushandler.FileInfoChanges{ID: id}, nil
}

// preFinish runs when the last byte is stored, under the upload's lock and
// before the final answer: the video exists when the client hears back.
func (t *tusServer) preFinish(ev tushandler.HookEvent) (tushandler.HTTPResponse, error) {
	// Finish even if the client hangs up after its last byte (HEAD tells it
	// the video later), and give the answer no deadline while the bytes move.
	ctx := context.WithoutCancel(ev.Context)
	if rc, ok := ctx.Value(responseControllerKey{}).(*http.ResponseController); ok {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	up, err := t.composer.Core.GetUpload(ctx, ev.Upload.ID)
	if err != nil {
		return tushandler.HTTPResponse{}, err
	}
	rec, status, err := t.finish(ctx, up, ev.Upload)
	if err != nil {
		return tushandler.HTTPResponse{}, tushandler.NewError("HLSD_NOT_ACCEPTED", err.Error(), status)
	}
	return tushandler.HTTPResponse{Header: tushandler.HTTPHeader{HeaderVideoID: rec.ID, HeaderStatusURL: "/api/videos/" + rec.ID}}, nil
}

// finish makes a complete upload a video through acceptAs, the path of
// every upload, then removes the upload. The caller holds its lock. A
// failure that a retry may cure (the store or the broker is away) keeps the
// bytes: the client's next HEAD tries again.
func (t *tusServer) finish(ctx context.Context, up tushandler.Upload, info tushandler.FileInfo) (video.Video, int, error) {
	vid := videoIDOf(info.ID)
	log := t.gw.Log.With("video", vid, "upload", info.ID)
	terminate := func() {
		if err := t.composer.Terminater.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			log.Warn("removing a finished resumable upload failed; the expiry sweep will", "err", err)
		}
	}
	if v, err := t.gw.Records.Get(ctx, vid); err == nil {
		terminate() // made into a video before the upload could be removed
		return v, 0, nil
	}
	body, err := up.GetReader(ctx)
	if err != nil {
		log.Error("reading a finished resumable upload failed", "err", err)
		return video.Video{}, http.StatusServiceUnavailable, errors.New("The upload could not be read back; send HEAD to this upload's URL shortly to finish it.")
	}
	filename := info.MetaData["filename"]
	if filename == "" {
		filename = info.MetaData["name"]
	}
	rec, status, err := t.gw.acceptAs(ctx, vid, filename, body, nil)
	body.Close()
	if err != nil {
		if _, gerr := t.gw.Records.Get(ctx, vid); gerr == nil || status < 500 {
			terminate() // the video exists (failed), or the file can never be one
		} else {
			log.Warn("a finished resumable upload could not be made into a video; kept for a retry", "err", err)
			err = errors.New("The upload is complete but could not be made into a video yet; send HEAD to this upload's URL shortly to finish it.")
		}
		return video.Video{}, status, err
	}
	terminate()
	log.Info("resumable upload finished", "bytes", info.Size)
	return rec, 0, nil
}

// tusWriter holds back tusd's error answers ("ERR_CODE: message") and
// sends them as hlsd's JSON errors with one sentence.
type tusWriter struct {
	http.ResponseWriter
	max         int64
	capped      bool // the body was cut at the upload limit (capBody)
	wroteHeader bool
	held        bool
	status      int
	body        []byte
}

func (w *tusWriter) WriteHeader(code int) {
	if !w.wroteHeader && !w.held && code >= 400 {
		w.held, w.status = true, code
		return
	}
	if code >= 200 {
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(p []byte) (int, error) {
	if w.held {
		if len(w.body) < 4096 {
			w.body = append(w.body, p...)
		}
		return len(p), nil
	}
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets tusd's http.ResponseController reach the connection.
func (w *tusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *tusWriter) flush() {
	if !w.held {
		return
	}
	w.held = false
	status, msg := tusSentence(w.status, string(w.body), w.max)
	if w.capped && strings.HasPrefix(string(w.body), "ERR_UPLOAD_SIZE_EXCEEDED") {
		status, msg = http.StatusRequestEntityTooLarge, tooLargeError{w.max}.Error()
	}
	w.Header().Del("Content-Length")
	jsonError(w.ResponseWriter, status, msg)
}

// tusSentence turns a tusd error answer into one sentence.
func tusSentence(status int, body string, max int64) (int, string) {
	code, msg, ok := strings.Cut(strings.TrimSpace(body), ": ")
	if !ok {
		code, msg = "", strings.TrimSpace(body)
	}
	switch code {
	case "ERR_MAX_SIZE_EXCEEDED":
		return status, tooLargeError{max}.Error()
	case "ERR_UNSUPPORTED_VERSION":
		return status, `Send "Tus-Resumable: 1.0.0": this endpoint speaks tus 1.0.0.`
	case "ERR_INVALID_CONTENT_TYPE":
		return status, `Send the bytes of a PATCH with "Content-Type: application/offset+octet-stream".`
	case "ERR_INVALID_UPLOAD_LENGTH":
		return status, "Upload-Length must be the file's size in bytes, a whole number."
	case "ERR_INVALID_OFFSET":
		return status, "Upload-Offset must be the number of bytes the server already has, a whole number."
	case "ERR_UPLOAD_NOT_FOUND":
		return status, "No upload has that id: it was never created, was terminated, or expired."
	case "ERR_UPLOAD_LOCKED", "ERR_LOCK_TIMEOUT":
		return status, "Another request is still writing to this upload; try again shortly."
	case "ERR_MISMATCHED_OFFSET":
		return status, "Upload-Offset does not match the bytes the server has; send HEAD for the current offset and resume from it."
	case "ERR_UPLOAD_SIZE_EXCEEDED":
		return status, "The request carries more bytes than the Upload-Length the upload was created with."
	case "ERR_AMBIGUOUS_UPLOAD_LENGTH":
		return status, "Send Upload-Length or Upload-Defer-Length, not both."
	case "ERR_INVALID_UPLOAD_LENGTH_DEFER":
		return status, `Upload-Defer-Length can only be "1".`
	case "ERR_CONCATENATION_UNSUPPORTED", "ERR_NOT_IMPLEMENTED":
		return status, "This server does not support that tus feature."
	case "ERR_READ_TIMEOUT":
		// tusd answers 500, but the client stalled, not the server.
		return http.StatusRequestTimeout, "The upload stalled: no bytes came for too long; send HEAD for the offset that was stored and resume from it."
	case "ERR_UNEXPECTED_EOF", "ERR_CONNECTION_RESET", "ERR_UPLOAD_INTERRUPTED":
		return status, "The upload was interrupted; send HEAD for the offset that was stored and resume from it."
	case "ERR_SERVER_SHUTDOWN":
		return status, "The server is shutting down; send HEAD for the offset that was stored and resume shortly."
	case "ERR_ORIGIN_NOT_ALLOWED":
		return status, "Uploads from this origin are not allowed."
	case "ERR_INTERNAL_SERVER_ERROR":
		return status, "The upload could not be stored; try again shortly."
	}
	switch {
	case strings.HasPrefix(code, "HLSD_") && msg != "":
		return status, msg // hlsd's own, a sentence already
	case status >= 500:
		return status, "The upload request could not be handled; try again shortly."
	case msg == "":
		return status, "The upload request was refused (" + http.StatusText(status) + ")."
	default:
		return status, "The upload request was refused: " + strings.TrimSuffix(msg, ".") + "."
	}
}

// tusLog sends tusd's log (golang.org/x/exp/slog) to hlsd's. tusd logs
// every request at info: that is debug here; an interrupted body, which
// resumable uploads expect, is info.
type tusLog struct{ h slog.Handler }

func tusLevel(l expslog.Level, msg string) slog.Level {
	switch {
	case msg == "BodyReadError":
		return slog.LevelInfo
	case l <= expslog.LevelInfo:
		return slog.LevelDebug
	default:
		return slog.Level(l)
	}
}

// Enabled is a first cut; Handle decides with the message known.
func (t tusLog) Enabled(ctx context.Context, l expslog.Level) bool {
	if l <= expslog.LevelInfo {
		return t.h.Enabled(ctx, slog.LevelDebug)
	}
	return t.h.Enabled(ctx, slog.LevelInfo) || t.h.Enabled(ctx, slog.Level(l))
}

func (t tusLog) Handle(ctx context.Context, r expslog.Record) error {
	level := tusLevel(r.Level, r.Message)
	if !t.h.Enabled(ctx, level) {
		return nil
	}
	rec := slog.NewRecord(r.Time, level, "tus: "+r.Message, r.PC)
	r.Attrs(func(a expslog.Attr) bool {
		rec.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	return t.h.Handle(ctx, rec)
}

func (t tusLog) WithAttrs(as []expslog.Attr) expslog.Handler {
	out := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		out = append(out, slog.Any(a.Key, a.Value.Any()))
	}
	return tusLog{t.h.WithAttrs(out)}
}

func (t tusLog) WithGroup(name string) expslog.Handler { return tusLog{t.h.WithGroup(name)} }
