// Package conformance checks a published HLS video over HTTP against
// RFC 8216 and the Apple HLS authoring specification, rule by rule.
//
// It is deliberately independent of the code that writes our output: it
// reads playlists with grafov/m3u8 plus its own line checks, and measures
// segments with ffprobe and ffmpeg (never with pkg/mpegts, pkg/cmaf or
// pkg/playlist), so a bug in our writer cannot hide itself from the
// checker. Fragmented MP4 boxes (tfdt, sample durations and flags) are
// read with mp4ff's decoder, whose encoder pkg/cmaf uses: their values are
// checked against ffprobe's timestamps too (timestamps-continuous).
package conformance

import "fmt"

// Level says how binding a rule is, in RFC 2119 terms.
type Level string

const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Rule is one requirement the checker enforces.
type Rule struct {
	ID     string // stable short name, e.g. "extinf-within-target"
	Level  Level
	Source string // where the requirement comes from
	Text   string // the requirement in one sentence
}

// The rules, each named in every finding it produces. Sources: RFC 8216
// sections, and the Apple HLS Authoring Specification for Apple Devices by
// the name of its part (its numbering changes between editions).
var (
	RuleHTTP = Rule{"http-ok", Must, "RFC 8216 §6.2.1",
		"Every playlist and segment URI answers 200 (206 for a byte range)."}
	RuleMIME = Rule{"mime-type", Must, "RFC 8216 §4; Apple authoring spec: Serving",
		"Playlists are served as application/vnd.apple.mpegurl (or audio/mpegurl), MPEG-TS segments as video/mp2t, fragmented MP4 as video/mp4 (or audio/mp4, video/iso.segment)."}
	RuleEXTM3U = Rule{"extm3u", Must, "RFC 8216 §4.3.1.1",
		"A playlist starts with #EXTM3U."}
	RuleSyntax = Rule{"syntax", Must, "RFC 8216 §4",
		"A playlist parses strictly, with known tags and well-formed attributes."}
	RuleVersion = Rule{"version", Must, "RFC 8216 §7",
		"EXT-X-VERSION is at least what the playlist's features need (2 for the IV attribute of EXT-X-KEY, 3 for decimal EXTINF, 4 for byte ranges and I-frames, 5 for EXT-X-MAP in I-frame playlists, 6 for EXT-X-MAP in others)."}
	RuleBandwidth = Rule{"stream-inf-bandwidth", Must, "RFC 8216 §4.3.4.2",
		"Every EXT-X-STREAM-INF and EXT-X-I-FRAME-STREAM-INF has BANDWIDTH."}
	RuleCodecsPresent = Rule{"codecs-present", Must, "Apple authoring spec: Playlists (CODECS); RFC 8216 §4.3.4.2",
		"Every variant has a CODECS attribute."}
	RuleCodecsMatch = Rule{"codecs-match", Must, "RFC 8216 §4.3.4.2",
		"CODECS names exactly the codecs in the variant's segments and in those of the renditions of its AUDIO group, with the profile and level of the real bitstream."}
	RuleResolutionMatch = Rule{"resolution-match", Must, "RFC 8216 §4.3.4.2",
		"RESOLUTION equals the picture size of the variant's video."}
	RuleVOD = Rule{"playlist-type-vod", Must, "RFC 8216 §4.3.3.5; Apple authoring spec: Playlists",
		"A finished video's media playlists say EXT-X-PLAYLIST-TYPE:VOD."}
	RuleEndlist = Rule{"endlist", Must, "RFC 8216 §4.3.3.4",
		"A finished video's media playlists end with EXT-X-ENDLIST."}
	RuleTargetDuration = Rule{"extinf-within-target", Must, "RFC 8216 §4.3.3.1",
		"Every EXTINF rounded to the nearest integer is at most EXT-X-TARGETDURATION."}
	RuleIDR = Rule{"idr-at-segment-start", Must, "Apple authoring spec: Video (IDR at segment start); RFC 8216 §4.3.5.1",
		"Every video segment starts with an IDR picture (and EXT-X-INDEPENDENT-SEGMENTS promises it)."}
	RuleIFrameIDR = Rule{"i-frame-is-idr", Must, "RFC 8216 §4.3.3.6",
		"Every entry of an I-frame playlist is a byte range holding exactly one IDR picture."}
	RuleByteRange = Rule{"byte-range", Must, "RFC 8216 §4.3.2.2",
		"Byte ranges lie inside their resources and are served as 206 with the same bytes."}
	RuleKey = Rule{"aes-128-key", Must, "RFC 8216 §4.3.2.4, §5.2",
		"An EXT-X-KEY with METHOD=AES-128 has a URI that answers a 16-byte key, and an IV, if any, of 0x and 32 hexadecimal digits."}
	RuleDecrypt = Rule{"aes-128-decrypt", Must, "RFC 8216 §4.3.2.4, §5.2",
		"Every AES-128 segment is a whole number of 16-byte blocks that decrypts (AES-128-CBC, the key, the IV attribute or else the media sequence number) to PKCS#7-padded MPEG-TS."}
	RuleRenditions = Rule{"rendition-groups", Must, "RFC 8216 §4.3.4.1, §4.3.4.1.1, §4.3.4.2",
		"Every EXT-X-MEDIA has a known TYPE that says what its segments hold (an AUDIO rendition: audio and no video), a GROUP-ID and a NAME, a URI if SUBTITLES and none if CLOSED-CAPTIONS, INSTREAM-ID exactly for CLOSED-CAPTIONS, FORCED only for SUBTITLES, YES or NO for DEFAULT, AUTOSELECT and FORCED, and AUTOSELECT=YES if present beside DEFAULT=YES; the NAMEs of a group differ and at most one member says DEFAULT=YES; every AUDIO, VIDEO, SUBTITLES and CLOSED-CAPTIONS attribute of EXT-X-STREAM-INF names a group of that TYPE."}
	RuleContinuity = Rule{"continuity-counters", Must, "RFC 8216 §3; ISO/IEC 13818-1 §2.4.3.3",
		"The MPEG-TS continuity counter of every PID runs on from each segment into the next of its media playlist (unless EXT-X-DISCONTINUITY says otherwise), as one muxer would have written it: each segment carries on the bitstream of the one before."}
	RuleFMP4Init = Rule{"fmp4-init", Must, "RFC 8216 §3.3, §4.3.2.5; ISO/IEC 23000-19 (CMAF)",
		"A media playlist of fragmented MP4 segments names its initialization segment with EXT-X-MAP: served as MP4, an ftyp and a moov with fragmented tracks (mvex, a trex each), the main one (the video) of one sample entry, and no samples."}
	RuleTFDT = Rule{"fmp4-tfdt", Must, "ISO/IEC 23000-19 (CMAF: track fragments follow on); RFC 8216 §3",
		"Each fragmented MP4 segment's first decode time (tfdt) is exactly the previous segment's tfdt plus its sample durations, within a segment and across segments (unless EXT-X-DISCONTINUITY says otherwise), and its video starts with a sample flagged sync."}
	RuleVideoRange = Rule{"video-range", Must, "RFC 8216bis §4.4.6.2 (VIDEO-RANGE); Apple authoring spec: Video (HDR)",
		"A video variant's VIDEO-RANGE (SDR when absent) says its bitstream's transfer: PQ for SMPTE ST 2084, HLG for ARIB STD-B67, else SDR."}
	RuleColour = Rule{"sdr-bt709", Must, "Apple authoring spec: Video (SDR in BT.709; no HDR in H.264)",
		"H.264 video is described as BT.709 or not at all: colour primaries, transfer characteristics and matrix are each bt709 or unspecified (never BT.2020, PQ or HLG in AVC), and its variant's VIDEO-RANGE, if any, is SDR."}

	RuleTarget6 = Rule{"target-duration", Should, "Apple authoring spec: Media segmentation",
		"EXT-X-TARGETDURATION is the configured target (6 s)."}
	RuleSegmentLength = Rule{"segment-duration", Should, "Apple authoring spec: Media segmentation",
		"No segment is longer than the target duration plus 0.5 s."}
	RuleEXTINFAccurate = Rule{"extinf-accurate", Should, "RFC 8216 §4.3.2.1; Apple authoring spec: Playlists (EXTINF accuracy)",
		"EXTINF equals the segment's real duration from its timestamps, within one frame."}
	RuleContinuous = Rule{"timestamps-continuous", Should, "RFC 8216 §3",
		"Each segment's first timestamp follows the previous segment's end, within one frame."}
	RuleAligned = Rule{"aligned-boundaries", Should, "Apple authoring spec: Video (aligned key frames)",
		"Segment boundaries fall at the same times in every video variant."}
	RuleAverageBandwidth = Rule{"average-bandwidth", Should, "Apple authoring spec: Playlists (AVERAGE-BANDWIDTH); RFC 8216 §4.3.4.2",
		"AVERAGE-BANDWIDTH is present and within 10% of the measured average bit rate of the variant together with its AUDIO group's rendition (the largest, if the group has several)."}
	RulePeakBandwidth = Rule{"peak-bandwidth", Should, "Apple authoring spec: Playlists (BANDWIDTH); RFC 8216 §4.3.4.2",
		"BANDWIDTH is at least the measured peak segment bit rate of the variant together with its AUDIO group's rendition (the largest, if the group has several): segment by segment when both have as many segments, else the sum of the two peaks."}
	RuleFrameRate = Rule{"frame-rate", Should, "Apple authoring spec: Playlists (FRAME-RATE)",
		"Video variants have FRAME-RATE, equal to the real frame rate."}
	RuleResolution = Rule{"resolution", Should, "Apple authoring spec: Playlists (RESOLUTION)",
		"Video variants have RESOLUTION."}
	RuleVideoRangePresent = Rule{"video-range-present", Should, "Apple authoring spec: Playlists (VIDEO-RANGE)",
		"Every video variant says its VIDEO-RANGE, SDR ones too, so players need not guess."}
	RuleIndependent = Rule{"independent-segments", Should, "Apple authoring spec: Playlists; RFC 8216 §4.3.5.1",
		"The master playlist (and media playlists) carry EXT-X-INDEPENDENT-SEGMENTS."}
	RuleIFrames = Rule{"i-frame-playlists", Should, "Apple authoring spec: Trick play; RFC 8216 §4.3.4.3",
		"Every video variant in the clear has an I-frame playlist listed with EXT-X-I-FRAME-STREAM-INF (BANDWIDTH, CODECS, RESOLUTION, URI). Encrypted variants are exempt: a byte range of a segment encrypted whole cannot be decrypted on its own."}
	RuleGzip = Rule{"gzip-playlists", Should, "Apple authoring spec: Serving (gzip)",
		"Playlists are served gzip-compressed to clients that accept it."}
	RuleH264Profile = Rule{"h264-profile", Should, "Apple authoring spec: Video",
		"H.264 video uses the High or Main profile."}
	RuleAACLC = Rule{"aac-lc", Should, "Apple authoring spec: Audio",
		"Audio is AAC-LC (mp4a.40.2)."}
	RuleRenditionDefault = Rule{"rendition-default", Should, "RFC 8216 §4.3.4.1 (DEFAULT, AUTOSELECT), §4.3.4.1.1",
		"Every rendition group has exactly one member with DEFAULT=YES (more than one is a rendition-groups MUST), and its AUTOSELECT=YES members differ in LANGUAGE, ASSOC-LANGUAGE, FORCED or CHARACTERISTICS."}
	RuleAudioChannels = Rule{"audio-channels", Should, "RFC 8216 §4.3.4.1 (CHANNELS); Apple authoring spec: Audio",
		"Every AUDIO rendition says its channel count with CHANNELS, so a player can choose stereo or surround before loading it."}
	RuleCaptions = Rule{"closed-captions", Should, "RFC 8216 §4.3.4.2 (CLOSED-CAPTIONS); Apple authoring spec: Accessibility",
		"A video variant whose video carries CEA-608/708 captions names a CLOSED-CAPTIONS group, and one that names a group carries them: an SEI of ATSC A/53 cc_data in the first access unit of its first segment (ffprobe 5.1 does not report captions)."}
	RuleProgressive = Rule{"progressive", Should, "Apple authoring spec: Video (de-interlace interlaced sources)",
		"Video is progressive: the stream is not flagged interlaced, and ffmpeg's idet finds at most 5% of the frames of a video variant's first and middle segments interlaced (with one field order four times as often as the other, and fields moving as interlaced fields do)."}
	RuleAlternates = Rule{"stream-alternates", Should, "Apple authoring spec: Video (stream alternates, the bit-rate ladder)",
		"A video of 240 lines or more (shorter side of its largest variant) has at least two video variants to switch between."}
	RuleAVAligned = Rule{"av-aligned", Should, "RFC 8216 §6.2.4 (the same content, matching timestamps); Apple authoring spec: Media segmentation",
		"Each video variant and every audio rendition of its AUDIO group start together (first timestamps within 0.1 s) and end together (EXTINF totals within 0.5 s)."}
)

// Subtitle renditions.
var (
	RuleWebVTT = Rule{"webvtt-segments", Must, "RFC 8216 §3.5",
		"Every segment of a SUBTITLES rendition is WebVTT with an X-TIMESTAMP-MAP header (MPEGTS and LOCAL), and every cue in it is shown during that segment's time."}
	RuleSubtitleDuration = Rule{"subtitle-duration", Should, "RFC 8216 §6.2.4; Apple authoring spec: Subtitles",
		"A subtitle rendition lasts as long as the video (EXTINF totals within one target duration)."}
)

// Rules lists every rule, MUST first.
var Rules = []Rule{
	RuleHTTP, RuleMIME, RuleEXTM3U, RuleSyntax, RuleVersion, RuleBandwidth, RuleCodecsPresent,
	RuleCodecsMatch, RuleResolutionMatch, RuleVOD, RuleEndlist, RuleTargetDuration, RuleIDR,
	RuleIFrameIDR, RuleByteRange, RuleKey, RuleDecrypt, RuleRenditions, RuleContinuity, RuleColour, RuleWebVTT,
	RuleTarget6, RuleSegmentLength, RuleEXTINFAccurate, RuleContinuous, RuleAligned,
	RuleAverageBandwidth, RulePeakBandwidth, RuleFrameRate, RuleResolution, RuleIndependent,
	RuleIFrames, RuleGzip, RuleH264Profile, RuleAACLC, RuleRenditionDefault, RuleAudioChannels, RuleCaptions, RuleAVAligned,
	RuleProgressive, RuleAlternates, RuleSubtitleDuration,
}

// Finding is one broken rule at one URI.
type Finding struct {
	Rule    Rule
	URI     string
	Message string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s %s (%s): %s: %s", f.Rule.Level, f.Rule.ID, f.Rule.Source, f.URI, f.Message)
}
