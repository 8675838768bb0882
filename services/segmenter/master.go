package segmenter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/video"
)

// publishMaster writes the master playlist when the state allows: the
// final one once every rendition is complete, otherwise an early one as
// soon as every rendition lists its first chunk. Only the publisher (the
// holder of the video's lease) gets here, so the two never cross.
func (sg *Segmenter) publishMaster(ctx context.Context, log *slog.Logger, v video.Video) error {
	if v.AllRenditionsDone() {
		return sg.publishFinal(ctx, log, v)
	}
	if v.PlayableAt != nil {
		if v.MasterStale() {
			return sg.rewriteMaster(ctx, log, v, false)
		}
		return nil
	}
	if !firstChunksListed(&v) {
		return nil
	}
	rev, err := sg.writeMaster(ctx, v, false)
	if err != nil {
		return err
	}
	v, err = sg.Records.Update(ctx, v.ID, func(v *video.Video) error {
		if v.PlayableAt != nil || v.State.Final() {
			return video.ErrNoChange
		}
		now := time.Now().UTC()
		v.PlayableAt = &now
		v.MasterRevision = max(v.MasterRevision, rev)
		return nil
	})
	if err != nil {
		return err
	}
	if v.PlayableAt != nil {
		log.Info("video playable", "after", v.PlayableAt.Sub(v.CreatedAt).Round(time.Millisecond))
	}
	return nil
}

// publishFinal writes the storyboard track and the final master (VOD, with
// measured bit rates and I-frame playlists), then marks the video ready.
// A publisher that dies in between leaves it to the next (after a
// redelivery, say); writing the same files twice is harmless.
func (sg *Segmenter) publishFinal(ctx context.Context, log *slog.Logger, v video.Video) error {
	thumbnails := sg.writeStoryboard(ctx, log, v)
	rev, err := sg.writeMaster(ctx, v, true)
	if err != nil {
		return err
	}
	dash, err := sg.writeDASH(ctx, v)
	if err != nil {
		return err
	}
	readied := false
	ready, err := sg.Records.Update(ctx, v.ID, func(v *video.Video) error {
		readied = false
		if v.State == video.StateFailed {
			return video.ErrNoChange // failed meanwhile: the failure stands
		}
		if err := v.BecomeReady(time.Now().UTC()); err != nil {
			return err
		}
		v.MasterRevision = max(v.MasterRevision, rev)
		v.DASH = dash
		if thumbnails != nil {
			thumbnails.Poster = v.Thumbnails.HasPoster()
			v.Thumbnails = thumbnails
		}
		readied = true
		return nil
	})
	if err != nil {
		return err
	}
	if readied {
		sg.Announcer.AnnounceFinal(ready, log) // the video.ready webhook
		log.Info("video ready", "renditions", len(v.Renditions), "chunks", v.Chunks, "after", ready.ReadyAt.Sub(ready.CreatedAt).Round(time.Millisecond))
	}
	// Intermediate files are no longer needed; failing to delete them only costs space.
	if err := store.DeletePrefix(ctx, sg.Store, layout.WorkPrefix(v.ID)); err != nil {
		log.Warn("could not delete intermediate files", "err", err)
	}
	return nil
}

// rewriteMaster writes the master again after the video's subtitles
// changed: the final one of a ready video, else the early one. A player
// that loaded the old one keeps what it lists (a replaced rendition stays
// until the master no longer lists it; see the gateway's subtitles API).
func (sg *Segmenter) rewriteMaster(ctx context.Context, log *slog.Logger, v video.Video, final bool) error {
	rev, err := sg.writeMaster(ctx, v, final)
	if err != nil {
		return err
	}
	_, err = sg.Records.Update(ctx, v.ID, func(v *video.Video) error {
		if v.MasterRevision >= rev || v.State == video.StateFailed {
			return video.ErrNoChange
		}
		v.MasterRevision = rev
		if v.Publisher != nil {
			v.Publisher.Until = time.Now().Add(leaseTime)
		}
		return nil
	})
	if err == nil {
		log.Info("master playlist written again: the subtitles changed", "subtitles", len(v.Subtitles), "revision", rev)
	}
	return err
}

// writeMaster stores v's master: the final one, or an early one (marked in
// progress: players and caches know it will change). It returns the
// subtitles revision it lists (Video.MasterRevision once recorded).
func (sg *Segmenter) writeMaster(ctx context.Context, v video.Video, final bool) (int, error) {
	body, err := masterPlaylist(v, final)
	if err != nil {
		return 0, err
	}
	if !final {
		body = playlist.MarkInProgress(body)
	}
	return v.SubtitlesRevision, sg.Store.Put(ctx, layout.MasterKey(v.ID), bytes.NewReader(body), int64(len(body)))
}

// masterPlaylist lists the video renditions, each with the audio group
// (the largest audio rendition's bit rates and the codecs added in), or for
// an audio-only video its default audio rendition, with the others as its
// group. The final master adds the I-frame playlists.
func masterPlaylist(v video.Video, final bool) ([]byte, error) {
	var audios, videos []video.Rendition
	for _, r := range v.Renditions {
		if video.IsAudio(r.Name) {
			audios = append(audios, r)
		} else {
			videos = append(videos, r)
		}
	}
	audios = defaultFirst(audios)
	group := audioGroup(audios)
	var audio video.Rendition // the group's largest, for BANDWIDTH
	for _, a := range audios {
		audio.Bandwidth = max(audio.Bandwidth, a.Bandwidth)
		audio.AverageBandwidth = max(audio.AverageBandwidth, a.AverageBandwidth)
		if audio.Codecs == "" {
			audio.Codecs = a.Codecs
		}
	}
	if len(videos) == 0 && len(audios) > 0 {
		// The default track is the variant; its group entry carries no
		// URI, its audio being the variant's own.
		videos = []video.Rendition{audios[0]}
		if len(audios) == 1 {
			group = nil
		} else {
			group[0].URI = ""
		}
	}
	variants := make([]playlist.Variant, 0, len(videos))
	for _, r := range videos {
		pv := playlist.Variant{
			URI: r.Name + "/index.m3u8", Bandwidth: r.Bandwidth, AverageBandwidth: r.AverageBandwidth,
			Codecs: r.Codecs, Width: r.Width, Height: r.Height, FrameRate: r.FrameRate, VideoRange: r.VideoRange,
		}
		if group != nil {
			// RFC 8216 4.3.4.2: a variant's BANDWIDTH and CODECS cover the
			// renditions it plays with, the largest of its group included
			// (an audio-only variant's, too: a player fetches it beside
			// the track it plays).
			pv.Bandwidth += audio.Bandwidth
			pv.AverageBandwidth += audio.AverageBandwidth
			if !video.IsAudio(r.Name) {
				pv.Codecs = joinCodecs(r.Codecs, audio.Codecs)
			}
		}
		if final && r.IFrameBandwidth > 0 {
			video, _, _ := strings.Cut(r.Codecs, ",") // the video codec comes first
			pv.IFrames = &playlist.IFrameVariant{
				URI: r.Name + "/" + layout.IFramePlaylistName, Bandwidth: r.IFrameBandwidth,
				AverageBandwidth: r.IFrameAverageBandwidth, Codecs: video,
			}
		}
		variants = append(variants, pv)
	}
	var cc *playlist.Captions
	if v.HasCaptions() {
		// The source's, kept by x264 (libx264's a53cc writes each frame's
		// cc_data on). CEA-608 does not say its language: players show
		// the name.
		cc = &playlist.Captions{Name: "Closed captions", InstreamID: "CC1"}
	}
	var subs []playlist.SubtitleRendition
	if len(videos) > 0 && !video.IsAudio(videos[0].Name) {
		subs = subtitleGroup(v.Subtitles)
	}
	body, err := playlist.Master(variants, group, cc, subs...)
	if err != nil {
		return nil, queue.Permanent(video.CodeInternal, "The master playlist could not be written; the error was logged.", err)
	}
	return body, nil
}

// defaultFirst orders a video's audio renditions with the one the plan
// marked default first (players that ignore DEFAULT take the first), the
// others in file order.
func defaultFirst(audios []video.Rendition) []video.Rendition {
	ordered := slices.Clone(audios)
	slices.SortStableFunc(ordered, func(a, b video.Rendition) int {
		switch {
		case a.Default && !b.Default:
			return -1
		case b.Default && !a.Default:
			return 1
		}
		return 0
	})
	return ordered
}

// audioGroup makes the master's audio group of a video's audio renditions,
// the first (see defaultFirst) the default, with AUTOSELECT on each first
// of its language and characteristics (RFC 8216 4.3.4.1.1: a player
// choosing by the viewer's language must not find two alike).
func audioGroup(ordered []video.Rendition) []playlist.AudioRendition {
	if len(ordered) == 0 {
		return nil
	}
	seen := map[string]bool{}
	out := make([]playlist.AudioRendition, len(ordered))
	for i, a := range ordered {
		sel := a.Language + " " + a.Characteristics
		label := a.Label
		if label == "" {
			label = "Audio" // records from before audio tracks had names
			if len(ordered) > 1 {
				label = a.Name
			}
		}
		out[i] = playlist.AudioRendition{
			URI: a.Name + "/index.m3u8", Name: label, Language: a.Language, Channels: max(a.Channels, 1),
			Default: i == 0, Autoselect: !seen[sel], Characteristics: a.Characteristics,
		}
		seen[sel] = true
	}
	return out
}

// Apple's media characteristics of subtitles for the deaf and hard of
// hearing (SDH).
const sdhCharacteristics = "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound"

// subtitleGroup makes the master's subtitles group: DEFAULT on the first
// the record marks default (at most one), AUTOSELECT on each first of its
// language, kind and forced flag (as audioGroup).
func subtitleGroup(subs []video.Subtitle) []playlist.SubtitleRendition {
	seen := map[string]bool{}
	defaulted := false
	out := make([]playlist.SubtitleRendition, 0, len(subs))
	for _, s := range subs {
		r := playlist.SubtitleRendition{URI: s.ID + "/index.m3u8", Name: s.Label, Language: s.Language, Forced: s.Forced}
		if s.HearingImpaired {
			r.Characteristics = sdhCharacteristics
		}
		if s.Default && !defaulted {
			r.Default, defaulted = true, true
		}
		sel := fmt.Sprint(s.Language, " ", r.Characteristics, " ", s.Forced)
		r.Autoselect = !seen[sel]
		seen[sel] = true
		out = append(out, r)
	}
	return out
}

// writeStoryboard writes the storyboard's WebVTT track from the sheets the
// chunk encodes made, and says what the video's storyboard is (nil: none).
func (sg *Segmenter) writeStoryboard(ctx context.Context, log *slog.Logger, v video.Video) *video.Thumbnails {
	var sheets []playlist.Sheet
	var t video.Thumbnails
	for i := range v.Chunks {
		rc, err := sg.Store.Get(ctx, layout.StoryboardManifestKey(v.ID, i), 0, -1)
		if errors.Is(err, store.ErrNotFound) {
			continue // none for this chunk (audio only, or it failed: logged then)
		}
		if err != nil {
			log.Warn("no storyboard: its sheets could not be read", "err", err)
			return nil
		}
		var s video.StoryboardSheet
		err = json.NewDecoder(rc).Decode(&s)
		rc.Close()
		if err != nil {
			log.Warn("no storyboard: a sheet's record is damaged", "err", err)
			return nil
		}
		sheets = append(sheets, playlist.Sheet{Name: s.Name, First: s.First, Count: s.Count, Columns: s.Columns})
		t.Interval, t.Width, t.Height = s.Interval, s.Width, s.Height
		t.Count += s.Count
	}
	if len(sheets) == 0 {
		return nil
	}
	duration := 0.0
	for _, r := range v.Renditions {
		if !video.IsAudio(r.Name) {
			duration = r.Duration
			break
		}
	}
	body := playlist.StoryboardVTT(sheets, t.Interval, t.Width, t.Height, duration)
	if err := sg.Store.Put(ctx, layout.ThumbnailsKey(v.ID), bytes.NewReader(body), int64(len(body))); err != nil {
		log.Warn("no storyboard: its track could not be stored", "err", err)
		return nil
	}
	t.Sprites = len(sheets)
	t.Count = bytes.Count(body, []byte(" --> ")) // a thumbnail past the end has no cue
	return &t
}
