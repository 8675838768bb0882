package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/subtitles"
	"github.com/hlsd/hlsd/pkg/video"
)

// MaxSubtitles is how many subtitle renditions one video may have.
const MaxSubtitles = 64

// masterWait is how long a subtitles request waits for the master to list
// the change before answering 202 instead of 201/204.
const masterWait = 30 * time.Second

// addSubtitles is POST /api/videos/{id}/subtitles: a WebVTT or SubRip file
// (multipart field "file") with its language ("language", BCP 47), the name
// players show ("name"; the language's own name if left out), and the
// flags "default" and "forced". It becomes a subtitle rendition of the
// ready video, cut on its segments, without re-encoding anything; one with
// the same language and name is replaced. It answers once the master
// playlist lists it.
func (gw *Gateway) addSubtitles(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, ok := gw.subtitleVideo(w, r, id)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, subtitles.MaxFileSize+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("The subtitle file is too large; at most %d bytes are allowed.", subtitles.MaxFileSize))
			return
		}
		jsonError(w, http.StatusBadRequest, "Send the subtitle file as multipart/form-data, in the field \"file\".")
		return
	}
	defer r.MultipartForm.RemoveAll()
	f, _, err := r.FormFile("file")
	if err != nil {
		jsonError(w, http.StatusBadRequest, "Send the subtitle file (WebVTT or SubRip) in the multipart field \"file\".")
		return
	}
	body, err := io.ReadAll(io.LimitReader(f, subtitles.MaxFileSize+1))
	f.Close()
	if err != nil {
		jsonError(w, http.StatusBadRequest, "The subtitle file could not be read.")
		return
	}
	lang, err := subtitleLanguage(r.FormValue("language"))
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	label, err := subtitleName(r.FormValue("name"), lang)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	def, err1 := formBool(r, "default")
	forced, err2 := formBool(r, "forced")
	if err := errors.Join(err1, err2); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	cues, err := subtitles.Parse(body)
	if err != nil {
		var se *subtitles.Error
		if errors.As(err, &se) {
			jsonError(w, http.StatusBadRequest, se.Reason)
			return
		}
		jsonError(w, http.StatusBadRequest, "The subtitle file could not be read.")
		return
	}
	grid, target, err := gw.segmentGrid(r.Context(), v)
	if err != nil {
		gw.Log.Error("subtitles: the video's segment grid could not be read", "video", id, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "The video's playlists could not be read; try again shortly.")
		return
	}

	// A new id first (the revision counter), so that two requests never
	// write the same files; then the files; then the record lists them.
	v, err = gw.Records.Update(r.Context(), id, func(v *video.Video) error {
		if v.State != video.StateReady {
			return errNotReady
		}
		v.SubtitlesRevision++
		return nil
	})
	if err != nil {
		gw.subtitleUpdateError(w, id, err)
		return
	}
	st := video.Subtitle{ID: video.SubtitleID(v.SubtitlesRevision), Language: lang, Label: label, Default: def, Forced: forced,
		Origin: video.SubtitlesUploaded, Cues: len(cues)}
	if err := subtitles.WriteRendition(r.Context(), gw.Store, id, st.ID, cues, grid, target); err != nil {
		gw.Log.Error("subtitles: the rendition could not be stored", "video", id, "err", err)
		_ = store.DeletePrefix(context.WithoutCancel(r.Context()), gw.Store, layout.RenditionPrefix(id, st.ID))
		jsonError(w, http.StatusServiceUnavailable, "The subtitles could not be stored; try again shortly.")
		return
	}
	var replaced []string
	v, err = gw.Records.Update(r.Context(), id, func(v *video.Video) error {
		if v.State != video.StateReady {
			return errNotReady
		}
		replaced = replaced[:0]
		kept := v.Subtitles[:0:0]
		for _, o := range v.Subtitles {
			if o.Language == st.Language && strings.EqualFold(o.Label, st.Label) {
				replaced = append(replaced, o.ID)
				continue
			}
			if st.Default {
				o.Default = false // one default
			}
			kept = append(kept, o)
		}
		if len(kept) >= MaxSubtitles {
			return errTooManySubtitles
		}
		v.Subtitles = append(kept, st)
		v.SubtitlesRevision++
		return nil
	})
	if err != nil {
		_ = store.DeletePrefix(context.WithoutCancel(r.Context()), gw.Store, layout.RenditionPrefix(id, st.ID))
		gw.subtitleUpdateError(w, id, err)
		return
	}
	gw.Log.Info("subtitles added", "video", id, "subtitles", st.ID, "language", st.Language, "cues", st.Cues, "replaced", replaced)
	status := gw.rewriteMaster(r.Context(), v, replaced, http.StatusCreated)
	w.Header().Set("Location", "/api/videos/"+id+"/subtitles/"+st.ID)
	writeJSON(w, status, presentSubtitle(v, st, gw.contentBase(r), gw.playbackToken(id)))
}

// deleteSubtitles is DELETE /api/videos/{id}/subtitles/{sid}.
func (gw *Gateway) deleteSubtitles(w http.ResponseWriter, r *http.Request) {
	id, sid := r.PathValue("id"), r.PathValue("sid")
	if _, ok := gw.subtitleVideo(w, r, id); !ok {
		return
	}
	v, err := gw.Records.Update(r.Context(), id, func(v *video.Video) error {
		if v.State != video.StateReady {
			return errNotReady
		}
		for i, o := range v.Subtitles {
			if o.ID == sid {
				v.Subtitles = append(v.Subtitles[:i:i], v.Subtitles[i+1:]...)
				v.SubtitlesRevision++
				return nil
			}
		}
		return errNoSubtitle
	})
	if err != nil {
		gw.subtitleUpdateError(w, id, err)
		return
	}
	gw.Log.Info("subtitles deleted", "video", id, "subtitles", sid)
	if gw.rewriteMaster(r.Context(), v, []string{sid}, http.StatusNoContent) == http.StatusAccepted {
		writeJSON(w, http.StatusAccepted, struct{}{})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

var (
	errNotReady         = errors.New("not ready")
	errNoSubtitle       = errors.New("no such subtitles")
	errTooManySubtitles = errors.New("too many subtitles")
)

// subtitleVideo finds a ready video with a picture, or answers why not.
func (gw *Gateway) subtitleVideo(w http.ResponseWriter, r *http.Request, id string) (video.Video, bool) {
	v, err := gw.Records.Get(r.Context(), id)
	switch {
	case errors.Is(err, video.ErrNotFound):
		jsonError(w, http.StatusNotFound, "No video has that id.")
	case err != nil:
		gw.Log.Error("get video failed", "video", id, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "Video state is unavailable; try again shortly.")
	case v.State != video.StateReady:
		jsonError(w, http.StatusConflict, fmt.Sprintf("The video is %s; subtitles can be added once it is ready.", v.State))
	case firstVideoRendition(v) == "":
		jsonError(w, http.StatusConflict, "The video has no picture to show subtitles on (it is audio only).")
	default:
		return v, true
	}
	return v, false
}

func (gw *Gateway) subtitleUpdateError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, video.ErrNotFound):
		jsonError(w, http.StatusNotFound, "No video has that id.")
	case errors.Is(err, errNotReady):
		jsonError(w, http.StatusConflict, "The video is no longer ready; subtitles can be added once it is.")
	case errors.Is(err, errNoSubtitle):
		jsonError(w, http.StatusNotFound, "The video has no subtitles with that id.")
	case errors.Is(err, errTooManySubtitles):
		jsonError(w, http.StatusConflict, fmt.Sprintf("The video has %d subtitle renditions, the most it may have; delete one first.", MaxSubtitles))
	default:
		gw.Log.Error("subtitles: the video record could not be changed", "video", id, "err", err)
		jsonError(w, http.StatusServiceUnavailable, "Video state is unavailable; try again shortly.")
	}
}

// rewriteMaster asks a segmenter to write v's master again (see
// segmenter.rewriteMaster) and waits until it has: then the renditions
// the master no longer lists are deleted, and the answer is ok; if the
// wait runs out, 202 (the master follows, the old files stay).
func (gw *Gateway) rewriteMaster(ctx context.Context, v video.Video, removed []string, ok int) int {
	log := gw.Log.With("video", v.ID)
	if err := gw.Queue.PublishSegment(ctx, jobs.SegmentJob{VideoID: v.ID, Revision: v.SubtitlesRevision}); err != nil {
		log.Error("subtitles: the master could not be asked for", "err", err)
		return http.StatusAccepted
	}
	wctx, cancel := context.WithTimeout(ctx, masterWait)
	defer cancel()
	if !gw.waitFor(wctx, v.ID, func(n video.Video) bool {
		return n.MasterRevision >= v.SubtitlesRevision || n.State != video.StateReady
	}) {
		log.Warn("subtitles: the master was not written again in time", "revision", v.SubtitlesRevision)
		return http.StatusAccepted
	}
	for _, sid := range removed {
		if err := store.DeletePrefix(context.WithoutCancel(ctx), gw.Store, layout.RenditionPrefix(v.ID, sid)); err != nil {
			log.Warn("subtitles: a removed rendition's files could not be deleted", "subtitles", sid, "err", err)
		}
	}
	return ok
}

// waitFor watches a video's record until done holds (true) or ctx ends.
func (gw *Gateway) waitFor(ctx context.Context, id string, done func(video.Video) bool) bool {
	ch, err := gw.Records.Watch(ctx, id)
	if err != nil {
		return false
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case n, open := <-ch:
			if !open {
				return false
			}
			if done(n) {
				return true
			}
		}
	}
}

// segmentGrid is the video's segment durations and target duration, from
// its first video rendition's media playlist: subtitles are cut on the
// segments players fetch.
func (gw *Gateway) segmentGrid(ctx context.Context, v video.Video) ([]float64, int, error) {
	rc, err := gw.Store.Get(ctx, layout.MediaPlaylistKey(v.ID, firstVideoRendition(v)), 0, -1)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, 0, err
	}
	return playlist.Durations(b)
}

func firstVideoRendition(v video.Video) string {
	for _, r := range v.Renditions {
		if !video.IsAudio(r.Name) {
			return r.Name
		}
	}
	return ""
}

// subtitleLanguage checks a language field: "" (unknown) or a BCP 47 tag,
// returned in its canonical form ("pt-br" → "pt-BR").
func subtitleLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	t, err := language.Parse(s)
	if err != nil || len(s) > 35 {
		return "", fmt.Errorf("%q is not a language tag: give a BCP 47 tag such as \"en\", \"fr\" or \"pt-BR\".", clipText(s))
	}
	return t.String(), nil
}

// subtitleName checks a name field (printable, at most 64 characters, no
// double quote: it goes into the master's NAME), or makes one of the
// language ("Français"), else "Subtitles".
func subtitleName(s, lang string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if n := video.LanguageName(lang); n != "" {
			return n, nil
		}
		return "Subtitles", nil
	}
	if utf8.RuneCountInString(s) > 64 || !utf8.ValidString(s) || strings.ContainsAny(s, "\"") ||
		strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("The name must be at most 64 printable characters, without double quotes.")
	}
	return s, nil
}

func formBool(r *http.Request, field string) (bool, error) {
	s := r.FormValue(field)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false.", field)
	}
	return b, nil
}

func clipText(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// Subtitle files sent with an upload: multipart fields "subtitles" (the
// language from the file's name, "clip.fr.srt", if it says one) or
// "subtitles.LANG" ("subtitles.fr"), before or after the video's file.
const maxUploadSubtitles = 16

// uploadedSubtitle is one subtitle file of an upload, read and checked.
type uploadedSubtitle struct {
	language, filename string
	cues               []subtitles.Cue
}

// errSubtitlePart is a subtitle file of an upload refused, with the
// sentence for the client.
type errSubtitlePart struct{ reason string }

func (e errSubtitlePart) Error() string { return e.reason }

func isSubtitleField(name string) bool {
	return name == "subtitles" || strings.HasPrefix(name, "subtitles.")
}

// readSubtitlePart reads one subtitle part of an upload and appends it.
func readSubtitlePart(part *multipart.Part, subs []uploadedSubtitle) ([]uploadedSubtitle, error) {
	defer part.Close()
	name, filename := part.FormName(), part.FileName()
	if len(subs) == maxUploadSubtitles {
		return subs, errSubtitlePart{fmt.Sprintf("At most %d subtitle files may come with an upload.", maxUploadSubtitles)}
	}
	tag, explicit := strings.CutPrefix(name, "subtitles.")
	if !explicit {
		// "clip.fr.srt": the second extension, if it is a language.
		base := strings.TrimSuffix(filename, filepath.Ext(filename))
		if ext := filepath.Ext(base); len(ext) > 1 {
			if l, err := subtitleLanguage(ext[1:]); err == nil && len(ext) <= 12 {
				tag = l
			}
		}
	}
	lang, err := subtitleLanguage(tag)
	if err != nil {
		return subs, errSubtitlePart{"Subtitle field " + strconv.Quote(clipText(name)) + ": " + err.Error()}
	}
	body, err := io.ReadAll(io.LimitReader(part, subtitles.MaxFileSize+1))
	if err != nil {
		return subs, err
	}
	what := "The subtitle file " + strconv.Quote(clipText(filename))
	if len(body) > subtitles.MaxFileSize {
		return subs, errSubtitlePart{fmt.Sprintf("%s is too large; at most %d bytes are allowed.", what, subtitles.MaxFileSize)}
	}
	cues, err := subtitles.Parse(body)
	if err != nil {
		var se *subtitles.Error
		if errors.As(err, &se) {
			return subs, errSubtitlePart{strconv.Quote(clipText(filename)) + ": " + se.Reason}
		}
		return subs, errSubtitlePart{what + " could not be read."}
	}
	return append(subs, uploadedSubtitle{language: lang, filename: filename, cues: cues}), nil
}

// readSubtitleParts reads the rest of an upload's form (after its file),
// keeping the subtitle files.
func readSubtitleParts(mr *multipart.Reader, subs []uploadedSubtitle, maxUpload int64) ([]uploadedSubtitle, int, error) {
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return subs, 0, nil
		}
		if err != nil {
			status, e := readErrStatus(err, maxUpload)
			return nil, status, e
		}
		if !isSubtitleField(part.FormName()) {
			part.Close()
			continue
		}
		if subs, err = readSubtitlePart(part, subs); err != nil {
			status, e := subtitlePartStatus(err, maxUpload)
			return nil, status, e
		}
	}
}

// subtitlePartStatus is the answer to a subtitle part that failed.
func subtitlePartStatus(err error, maxUpload int64) (int, error) {
	var sp errSubtitlePart
	if errors.As(err, &sp) {
		return http.StatusBadRequest, sp
	}
	return readErrStatus(err, maxUpload)
}

// storePendingSubtitles keeps an upload's subtitle files as safe WebVTT
// under uploads/{id}/ and lists them in the new record: the encoder's
// subtitles job cuts them on the video's segments beside the source's own.
func (gw *Gateway) storePendingSubtitles(ctx context.Context, rec *video.Video, subs []uploadedSubtitle) error {
	used := map[string]bool{}
	for i, s := range subs {
		label, _ := subtitleName("", s.language)
		label = video.UniqueLabel(label, used)
		st := video.Subtitle{ID: video.SubtitleID(i + 1), Language: s.language, Label: label, Origin: video.SubtitlesUploaded, Cues: len(s.cues)}
		body := subtitles.WebVTT(s.cues)
		if err := gw.Store.Put(ctx, layout.PendingSubtitleKey(rec.ID, st.ID), bytes.NewReader(body), int64(len(body))); err != nil {
			gw.Log.Error("storing an upload's subtitles failed", "video", rec.ID, "err", err)
			return errors.New("The subtitles could not be stored; try again shortly.")
		}
		rec.PendingSubtitles = append(rec.PendingSubtitles, st)
	}
	rec.SubtitlesRevision = len(subs)
	return nil
}
