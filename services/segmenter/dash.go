package segmenter

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/video"
)

// dashProfiles: SegmentTemplate with a SegmentTimeline (the live profile's
// addressing, used by static MPDs too) over CMAF segments.
const dashProfiles = "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019"

// writeDASH writes manifest.mpd beside the master of a CMAF video: the
// same init and media segments, addressed by a SegmentTemplate whose
// SegmentTimeline holds each segment's exact earliest presentation time and
// duration (its chunks' manifests keep them). It reports false, writing
// nothing, for a TS video. Subtitles are not in it: hlsd's WebVTT segments
// are HLS's kind (X-TIMESTAMP-MAP), which DASH does not define.
func (sg *Segmenter) writeDASH(ctx context.Context, v video.Video) (bool, error) {
	var tracks []dashTrack
	for _, r := range v.Renditions {
		tr := dashTrack{r: r}
		for c := range len(r.Segmented) {
			m, err := sg.manifest(ctx, v.ID, r.Name, c)
			if err != nil {
				return false, err
			}
			if len(m.Segments) > 0 && len(m.Timeline) != len(m.Segments) {
				return false, nil // MPEG-TS: no DASH
			}
			tr.timescale = max(tr.timescale, m.Timescale)
			tr.timeline = append(tr.timeline, m.Timeline...)
		}
		if len(tr.timeline) > 0 {
			tracks = append(tracks, tr)
		}
	}
	if len(tracks) == 0 {
		return false, nil
	}
	body, err := dashManifest(tracks)
	if err != nil {
		return false, queue.Permanent(video.CodeInternal, "The DASH manifest could not be written; the error was logged.", err)
	}
	return true, sg.Store.Put(ctx, layout.DASHManifestKey(v.ID), bytes.NewReader(body), int64(len(body)))
}

// dashTrack is a rendition with its segments' times.
type dashTrack struct {
	r         video.Rendition
	timescale uint32
	timeline  []timeEntry
}

// dashManifest builds a static MPD of one period: an AdaptationSet of
// every video rendition (one per codec, once there are several), one per
// audio rendition (its language, the default as the main Role). The period
// starts at the video's first picture: each Representation's
// presentationTimeOffset is that instant on its own clock, so audio and
// video stay together as in the HLS master.
func dashManifest(tracks []dashTrack) ([]byte, error) {
	// The period's start: the first video rendition's first picture (the
	// first audio sample if there is no video), in seconds.
	start, duration := -1.0, 0.0
	for _, audio := range []bool{false, true} {
		for _, t := range tracks {
			r, ts, tl := t.r, t.timescale, t.timeline
			if video.IsAudio(r.Name) != audio {
				continue
			}
			if start < 0 {
				start = float64(tl[0].Start) / float64(ts)
			}
			d := uint64(0)
			for _, e := range tl {
				d += e.Duration
			}
			duration = max(duration, float64(d)/float64(ts))
		}
		if start >= 0 {
			break // the video's, if there is video
		}
	}
	m := mpd.NewMPD(mpd.STATIC_TYPE)
	m.Profiles = dashProfiles
	m.MinBufferTime = mpd.Ptr(mpd.Duration(2 * time.Second))
	m.MediaPresentationDuration = mpd.Ptr(mpd.Duration(time.Duration(duration * float64(time.Second)).Round(time.Millisecond)))
	period := mpd.NewPeriod()
	period.Id = "0"
	period.Start = mpd.Ptr(mpd.Duration(0))
	m.AppendPeriod(period)
	videoSets := map[string]*mpd.AdaptationSetType{} // by codec: one set switches seamlessly
	for _, t := range tracks {
		r, ts, tl := t.r, t.timescale, t.timeline
		tmpl := mpd.NewSegmentTemplate()
		tmpl.Timescale = mpd.Ptr(ts)
		tmpl.PresentationTimeOffset = mpd.Ptr(uint64(math.Round(start * float64(ts))))
		tmpl.Initialization = "$RepresentationID$/" + layout.InitSegmentName
		tmpl.Media = "$RepresentationID$/seg_$Number%05d$.m4s"
		tmpl.StartNumber = mpd.Ptr(uint32(0))
		tmpl.SegmentTimeline = segmentTimeline(tl)
		codecs := r.Codecs
		if video.IsAudio(r.Name) {
			// An AAC track's timescale is its sample rate.
			rep := mpd.NewAudioRepresentation(r.Name, codecs, "audio/mp4", r.Bandwidth, int(ts))
			if r.Channels > 0 {
				rep.AudioChannelConfigurations = []*mpd.DescriptorType{
					mpd.NewDescriptor("urn:mpeg:dash:23003:3:audio_channel_configuration:2011", strconv.Itoa(r.Channels), ""),
				}
			}
			rep.SegmentTemplate = tmpl
			set := mpd.NewAdaptationSetWithParams("audio", "audio/mp4", true, 1)
			set.Lang = r.Language
			if r.Label != "" {
				set.Labels = append(set.Labels, &mpd.LabelType{Value: r.Label})
			}
			if r.Default {
				set.Roles = append(set.Roles, mpd.NewRole("main"))
			} else {
				set.Roles = append(set.Roles, mpd.NewRole("alternate"))
			}
			set.AppendRepresentation(rep)
			period.AppendAdaptationSet(set)
			continue
		}
		family, _, _ := strings.Cut(codecs, ".")
		videoSet := videoSets[family]
		if videoSet == nil {
			videoSet = mpd.NewAdaptationSetWithParams("video", "video/mp4", true, 1)
			videoSets[family] = videoSet
			period.AppendAdaptationSet(videoSet)
			if tc := map[string]string{"PQ": "16", "HLG": "18"}[r.VideoRange]; tc != "" {
				// HDR (DASH-IF IOP): BT.2020 and the transfer, the latter
				// essential, so a player that cannot show it skips the set.
				videoSet.EssentialProperties = append(videoSet.EssentialProperties,
					mpd.NewDescriptor("urn:mpeg:mpegB:cicp:TransferCharacteristics", tc, ""))
				videoSet.SupplementalProperties = append(videoSet.SupplementalProperties,
					mpd.NewDescriptor("urn:mpeg:mpegB:cicp:ColourPrimaries", "9", ""),
					mpd.NewDescriptor("urn:mpeg:mpegB:cicp:MatrixCoefficients", "9", ""))
			}
		}
		rep := mpd.NewVideoRepresentation(r.Name, codecs, "video/mp4", frameRate(r.FrameRate), r.Bandwidth, r.Width, r.Height)
		rep.SegmentTemplate = tmpl
		videoSet.AppendRepresentation(rep)
	}
	var buf bytes.Buffer
	if _, err := m.Write(&buf, "  ", true); err != nil {
		return nil, fmt.Errorf("dash: %w", err)
	}
	return buf.Bytes(), nil
}

// segmentTimeline writes the segments' times, a run of equal durations
// as one S with a repeat count; an explicit t wherever a segment does not
// start where the one before ended.
func segmentTimeline(tl []timeEntry) *mpd.SegmentTimelineType {
	st := mpd.NewSegmentTimeline()
	var last *mpd.S
	next := uint64(0)
	for i, e := range tl {
		if i > 0 && e.Start == next && e.Duration == last.D {
			last.R++
			next += e.Duration
			continue
		}
		s := &mpd.S{D: e.Duration}
		if i == 0 || e.Start != next {
			s.T = mpd.Ptr(e.Start)
		}
		st.S = append(st.S, s)
		last, next = s, e.Start+e.Duration
	}
	return st
}

// frameRate says a frame rate as DASH wants it: an integer, or a fraction
// (the NTSC rates as n*1000/1001).
func frameRate(fps float64) string {
	switch {
	case fps <= 0:
		return ""
	case math.Abs(fps-math.Round(fps)) < 0.001:
		return strconv.Itoa(int(math.Round(fps)))
	case math.Abs(fps*1.001-math.Round(fps*1.001)) < 0.001:
		return fmt.Sprintf("%d/1001", int(math.Round(fps*1.001))*1000)
	}
	return fmt.Sprintf("%d/1000", int(math.Round(fps*1000)))
}
