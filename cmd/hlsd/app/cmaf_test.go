package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/api"
	"github.com/hlsd/hlsd/pkg/testutil"
)

// uploadForMaster uploads src with POST /upload and returns the master
// URL it answers, failing the test on anything else.
func uploadForMaster(t *testing.T, base, src string) string {
	t.Helper()
	status, body, _ := upload(t, base+"/upload", src)
	master := strings.TrimSpace(body)
	if status != http.StatusOK || masterURLRe.FindStringSubmatch(master) == nil {
		t.Fatalf("POST /upload = %d %q", status, body)
	}
	return master
}

// cmafProfiles writes profiles.json with "container": "cmaf" (and the
// replacements given, old then new, as ultrafastProfiles does) and returns
// its path.
func cmafProfiles(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../../profiles.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	replace = append(replace, `"encryption": "none",`, `"encryption": "none", "container": "cmaf",`)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("profiles.json lacks %s", replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return testutil.WriteFile(t, t.TempDir(), "profiles.json", []byte(s))
}

// With "container": "cmaf" every rendition is fragmented MP4: an init
// segment named by EXT-X-MAP and .m4s segments holding the very samples
// the TS output would, on the same grid, across chunk joins (the 40 s
// source is two chunks), with an I-frame playlist of keyframe fragments.
// The stream passes every rule of hlsd check (fMP4's too: the init
// segment, tfdt following on, sync samples first) and ffmpeg decodes the
// whole master without a word.
func TestCMAFPlays(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.ProfilesPath = cmafProfiles(t, `"preset": "veryfast"`, `"preset": "superfast"`) })
	src := generate(t, "cmaf.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
		"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	master := uploadForMaster(t, base, src)
	p := checkPublishedHLS(t, master, hlsWant{duration: 40, video: true, audio: true})
	for _, r := range append(p.renditions, *p.audio) {
		pl, _ := get(t, r.url)
		for _, want := range []string{"#EXT-X-VERSION:7\n", "#EXT-X-MAP:URI=\"init.mp4\"\n"} {
			if !bytes.Contains(pl, []byte(want)) {
				t.Errorf("%s lacks %q:\n%s", r.url, strings.TrimSpace(want), pl)
			}
		}
		if r.init == "" || len(r.segments) < 7 {
			t.Fatalf("%s: init %q, %d segments", r.url, r.init, len(r.segments))
		}
		for _, u := range append([]string{r.init}, r.segments...) {
			if !strings.HasSuffix(u, ".m4s") && !strings.HasSuffix(u, "/init.mp4") {
				t.Errorf("%s is not a CMAF segment's name", u)
			}
			_, h := get(t, u)
			if ct := h.Get("Content-Type"); ct != "video/mp4" {
				t.Errorf("%s: Content-Type %q, want video/mp4", u, ct)
			}
		}
	}
	// Trick play: each I-frame entry is a keyframe's own fragment, read
	// with the init segment (hlsd check decoded them all above).
	iframes := regexp.MustCompile(`#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"`).FindAllSubmatch(p.body, -1)
	if len(iframes) != len(p.renditions) {
		t.Fatalf("%d I-frame playlists for %d video variants:\n%s", len(iframes), len(p.renditions), p.body)
	}
	ib, _ := get(t, master[:strings.LastIndex(master, "/")+1]+string(iframes[0][1]))
	if !bytes.Contains(ib, []byte("#EXT-X-MAP:URI=\"init.mp4\"\n")) || bytes.Count(ib, []byte("#EXT-X-BYTERANGE:")) != 20 {
		t.Errorf("the I-frame playlist should map init.mp4 and list 20 keyframes (every 2 s of 40):\n%s", ib)
	}
	checkDASH(t, base, masterURLRe.FindStringSubmatch(master)[1], p)
}

// checkDASH reads a CMAF video's DASH manifest (the API's dash_url) and
// holds it to the HLS playlists: a Representation per rendition, whose
// SegmentTemplate names the very init segment and segments the playlist
// names, and whose SegmentTimeline places each segment at its earliest
// presentation time as its boxes say (tfdt plus the first sample's
// composition offset), with its exact duration.
func checkDASH(t *testing.T, base, id string, p publishedHLS) {
	t.Helper()
	var v api.Video
	b, _ := get(t, base+"/api/videos/"+id)
	if err := json.Unmarshal(b, &v); err != nil || v.DASHURL == "" {
		t.Fatalf("the API's video has no dash_url (%v):\n%s", err, b)
	}
	body, h := get(t, v.DASHURL)
	if ct := h.Get("Content-Type"); ct != "application/dash+xml" {
		t.Errorf("%s: Content-Type %q", v.DASHURL, ct)
	}
	m, err := mpd.MPDFromBytes(body)
	if err != nil || len(m.Periods) != 1 || m.GetType() != "static" {
		t.Fatalf("the MPD does not parse as one static period: %v\n%s", err, body)
	}
	dir := v.DASHURL[:strings.LastIndex(v.DASHURL, "/")+1]
	reps := map[string]*mpd.RepresentationType{}
	for _, as := range m.Periods[0].AdaptationSets {
		for _, r := range as.Representations {
			reps[r.Id] = r
		}
	}
	renditions := append(append([]publishedRendition(nil), p.renditions...), *p.audio)
	if len(reps) != len(renditions) {
		t.Fatalf("%d representations for %d renditions:\n%s", len(reps), len(renditions), body)
	}
	for _, r := range renditions {
		name := strings.TrimSuffix(r.url[len(dir):], "/index.m3u8")
		rep := reps[name]
		if rep == nil || rep.SegmentTemplate == nil || rep.SegmentTemplate.SegmentTimeline == nil {
			t.Fatalf("no representation %s with a SegmentTimeline:\n%s", name, body)
		}
		st := rep.SegmentTemplate
		var times, durs []uint64
		for _, s := range st.SegmentTimeline.S {
			next := uint64(0)
			if len(times) > 0 {
				next = times[len(times)-1] + durs[len(durs)-1]
			}
			if s.T != nil {
				next = *s.T
			}
			for range s.R + 1 {
				times, durs = append(times, next), append(durs, s.D)
				next += s.D
			}
		}
		if len(times) != len(r.segments) {
			t.Fatalf("%s: the timeline has %d segments, the playlist %d", name, len(times), len(r.segments))
		}
		expand := func(tmpl string, n int) string {
			s := strings.ReplaceAll(tmpl, "$RepresentationID$", name)
			return strings.ReplaceAll(s, "$Number%05d$", fmt.Sprintf("%05d", n+int(*st.StartNumber)))
		}
		if got := dir + expand(st.Initialization, 0); got != r.init {
			t.Errorf("%s: initialization %s, the playlist maps %s", name, got, r.init)
		}
		init, _ := get(t, r.init)
		for i, seg := range r.segments {
			if got := dir + expand(st.Media, i); got != seg {
				t.Fatalf("%s: segment %d is %s, the playlist names %s", name, i, got, seg)
			}
			data, _ := get(t, seg)
			f, err := mp4.DecodeFile(bytes.NewReader(append(bytes.Clone(init), data...)))
			if err != nil || len(f.Segments) != 1 {
				t.Fatalf("%s: %v", seg, err)
			}
			frag := f.Segments[0].Fragments[0]
			samples, err := frag.GetFullSamples(f.Init.Moov.Mvex.Trex)
			if err != nil || len(samples) == 0 {
				t.Fatalf("%s: %v", seg, err)
			}
			if ept := uint64(samples[0].PresentationTime()); ept != times[i] {
				t.Errorf("%s segment %d: S@t %d, but its first sample is shown at %d", name, i, times[i], ept)
			}
			var d uint64
			for _, fr := range f.Segments[0].Fragments {
				for _, trun := range fr.Moof.Traf.Truns {
					d += trun.Duration(0)
				}
			}
			if d != durs[i] {
				t.Errorf("%s segment %d: S@d %d, its samples last %d", name, i, durs[i], d)
			}
		}
	}
}

// Signed playback covers DASH: the manifest opens with the video's token
// only, and every segment URL its templates make carries the token.
func TestSignedDASH(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) {
		c.ProfilesPath = cmafProfiles(t, `"preset": "veryfast"`, `"preset": "ultrafast"`)
		c.PlaybackSecrets = [][]byte{[]byte("0123456789abcdef0123456789abcdef-test")}
		c.PlaybackTTL = time.Hour
	})
	clip := generate(t, "signed.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	status, body, _ := upload(t, base+"/upload", clip)
	m := regexp.MustCompile(`^(http://[^/]+/streams/[a-z2-7]{24}/)master\.m3u8\?token=([A-Za-z0-9_-]+)$`).FindStringSubmatch(strings.TrimSpace(body))
	if status != http.StatusOK || m == nil {
		t.Fatalf("POST /upload = %d %q", status, body)
	}
	dir, token := m[1], m[2]
	if code, _, _ := fetch(t, http.MethodGet, dir+"manifest.mpd"); code != http.StatusForbidden {
		t.Errorf("the manifest without its token: %d, want 403", code)
	}
	code, mb, _ := fetch(t, http.MethodGet, dir+"manifest.mpd?token="+token)
	if code != http.StatusOK {
		t.Fatalf("the signed manifest: %d", code)
	}
	tmpl := regexp.MustCompile(`(initialization|media)="([^"]+)"`).FindAllSubmatch(mb, -1)
	if len(tmpl) == 0 {
		t.Fatalf("no segment templates in\n%s", mb)
	}
	for _, a := range tmpl {
		if !strings.HasSuffix(string(a[2]), "?token="+token) {
			t.Errorf("%s=%q does not carry the token", a[1], a[2])
		}
		u := dir + strings.NewReplacer("$RepresentationID$", "audio", "$Number%05d$", "00000").Replace(string(a[2]))
		if code, _, _ := fetch(t, http.MethodGet, u); code != http.StatusOK {
			t.Errorf("GET %s = %d", u, code)
		}
		if code, _, _ := fetch(t, http.MethodGet, strings.TrimSuffix(u, "?token="+token)); code != http.StatusForbidden {
			t.Errorf("GET %s without the token = %d, want 403", u, code)
		}
	}
}

// codecProfiles are the CMAF profiles with H.264, HEVC and AV1 for the
// 234p and 360p rungs.
func codecProfiles(t *testing.T, replace ...string) string {
	t.Helper()
	all := `"codecs": ["h264", "hevc", "av1"], "enabled": true }`
	return cmafProfiles(t, append(replace,
		`"bufsize_kbps": 290,   "enabled": true }`, `"bufsize_kbps": 290, `+all,
		`"bufsize_kbps": 730,   "enabled": true }`, `"bufsize_kbps": 730, `+all)...)
}

// A rung may name codecs: each becomes its own variant, HEVC (hvc1) and
// AV1 (av01) beside H.264, with CODECS from the real bitstream (hlsd check
// reads each one's SPS or sequence header), on the same segment grid and
// with the same audio group, every one decoded by ffmpeg without a word;
// HEVC and AV1 at their share of the rung's rate.
func TestCodecLadders(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) { c.ProfilesPath = codecProfiles(t) })
	src := generate(t, "codecs.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine",
		"-t", "10", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	master := uploadForMaster(t, base, src)
	mb, _ := get(t, master)
	want := map[string]*regexp.Regexp{
		"234p": regexp.MustCompile(`^avc1\.64[0-9a-f]{4},mp4a\.40\.2$`), "360p": regexp.MustCompile(`^avc1\.64[0-9a-f]{4},mp4a\.40\.2$`),
		// Main profile, main tier, the level, x265's constraint flags.
		"234p-hevc": regexp.MustCompile(`^hvc1\.1\.6\.L\d+\.[0-9A-F]{2},mp4a\.40\.2$`), "360p-hevc": regexp.MustCompile(`^hvc1\.1\.6\.L\d+\.[0-9A-F]{2},mp4a\.40\.2$`),
		// Main profile, the level, main tier, 8 bits; SVT-AV1 says its
		// chroma sample position, which takes the long form.
		"234p-av1": regexp.MustCompile(`^av01\.0\.\d\dM\.08(\.0\.11[0-3]\.01\.01\.01\.0)?,mp4a\.40\.2$`), "360p-av1": regexp.MustCompile(`^av01\.0\.\d\dM\.08(\.0\.11[0-3]\.01\.01\.01\.0)?,mp4a\.40\.2$`),
	}
	variants := regexp.MustCompile(`(?m)^#EXT-X-STREAM-INF:.*BANDWIDTH=(\d+),.*CODECS="([^"]+)".*\n([^/\n]+)/index\.m3u8$`).FindAllStringSubmatch(string(mb), -1)
	if len(variants) != len(want) {
		t.Fatalf("%d variants, want %d:\n%s", len(variants), len(want), mb)
	}
	bw := map[string]int{}
	for _, v := range variants {
		if re := want[v[3]]; re == nil || !re.MatchString(v[2]) {
			t.Errorf("%s: CODECS %q", v[3], v[2])
		}
		bw[v[3]], _ = strconv.Atoi(v[1])
	}
	// HEVC and AV1 get 65 % and 55 % of the rung's rate.
	for _, rung := range []string{"234p", "360p"} {
		if bw[rung+"-hevc"] >= bw[rung] || bw[rung+"-av1"] >= bw[rung] {
			t.Errorf("%s: BANDWIDTH H.264 %d, HEVC %d, AV1 %d: want the newer codecs below", rung, bw[rung], bw[rung+"-hevc"], bw[rung+"-av1"])
		}
	}
	if out, err := decodeMaster(master, mb); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("ffmpeg decoding the master: %v\n%s", err, out)
	}
	assertConformant(t, master)

	// At 59.94 fps a frame is no whole number of 90 kHz ticks: each chunk's
	// last segment still ends exactly where the next chunk's first begins
	// (fmp4-tfdt), and AV1's keyframes, which SVT-AV1 can only count, fall
	// on the same frames as H.264's and HEVC's (aligned-boundaries).
	ntsc := generate(t, "ntsc.mp4", "-f", "lavfi", "-i", "testsrc2=size=416x234:rate=60000/1001", "-f", "lavfi", "-i", "sine",
		"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")
	assertConformant(t, uploadForMaster(t, base, ntsc))
}

// An HDR source (PQ or HLG) with HEVC and AV1 in the ladder: those
// renditions are 10-bit BT.2020 with the source's transfer, and say
// VIDEO-RANGE=PQ or HLG; the H.264 ones stay tone-mapped SDR (BT.709) and
// say SDR. hlsd check holds every VIDEO-RANGE to its bitstream. The PQ
// source's HDR10 static metadata (mastering display, content light level)
// is carried on into the HDR renditions (HEVC SEI, AV1 metadata OBUs).
func TestHDRRenditions(t *testing.T) {
	t.Parallel()
	base := startAll(t, func(c *app.Config) {
		c.ProfilesPath = codecProfiles(t, `"preset": "veryfast"`, `"preset": "superfast"`)
	})
	for _, tc := range []struct {
		transfer, rng string
		hdr10         []string
	}{
		{"smpte2084", "PQ", []string{"master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)", "max-cll=1000,400"}},
		{"arib-std-b67", "HLG", nil},
	} {
		t.Run(tc.rng, func(t *testing.T) {
			t.Parallel()
			src := hdrSource(t, "hdr-"+tc.rng+".mov", tc.transfer, tc.hdr10...)
			master := uploadForMaster(t, base, src)
			mb, _ := get(t, master)
			dir := master[:strings.LastIndex(master, "/")+1]
			variants := regexp.MustCompile(`(?m)^#EXT-X-STREAM-INF:.*CODECS="([^"]+)".*VIDEO-RANGE=(\w+).*\n([^/\n]+)/index\.m3u8$`).FindAllStringSubmatch(string(mb), -1)
			if len(variants) != 9 { // 5 H.264 rungs up to 720p; HEVC and AV1 for 234p and 360p
				t.Fatalf("%d variants, want 9:\n%s", len(variants), mb)
			}
			for _, v := range variants {
				codecs, rng, name := v[1], v[2], v[3]
				hdr := strings.HasSuffix(name, "-hevc") || strings.HasSuffix(name, "-av1")
				want, pix, transfer := "SDR", "yuv420p", "bt709"
				if hdr {
					want, pix, transfer = tc.rng, "yuv420p10le", tc.transfer
				}
				if rng != want {
					t.Errorf("%s: VIDEO-RANGE=%s, want %s", name, rng, want)
				}
				switch {
				case strings.HasSuffix(name, "-hevc") && !strings.HasPrefix(codecs, "hvc1.2.4."): // Main 10
					t.Errorf("%s: CODECS %s, want HEVC Main 10", name, codecs)
				case strings.HasSuffix(name, "-av1") && !regexp.MustCompile(`^av01\.0\.\d\dM\.10`).MatchString(codecs):
					t.Errorf("%s: CODECS %s, want 10-bit AV1 Main", name, codecs)
				}
				pl, _ := get(t, dir+name+"/index.m3u8")
				init, _ := get(t, dir+name+"/init.mp4")
				seg, _ := get(t, dir+name+"/"+regexp.MustCompile(`seg_\d+\.m4s`).FindString(string(pl)))
				file := testutil.WriteFile(t, t.TempDir(), "seg.mp4", append(bytes.Clone(init), seg...))
				streams := probeStreams(t, file)
				if s := streams[0]; s.PixFmt != pix || s.ColorTransfer != transfer {
					t.Errorf("%s: %s with transfer %s, want %s %s", name, s.PixFmt, s.ColorTransfer, pix, transfer)
				}
				if hdr && tc.hdr10 != nil {
					side, err := exec.Command("ffprobe", "-v", "error", "-read_intervals", "%+#1", "-show_entries", "frame_side_data", "-of", "json", file).Output()
					if err != nil || !bytes.Contains(side, []byte(`"max_luminance": "10000000/10000"`)) && !bytes.Contains(side, []byte(`"max_luminance": "256000/256"`)) ||
						!bytes.Contains(side, []byte(`"max_content": 1000`)) {
						t.Errorf("%s: the first frame lacks the source's HDR10 metadata (%v):\n%s", name, err, side)
					}
				}
			}
			if out, err := decodeMaster(master, mb); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("ffmpeg decoding the master: %v\n%s", err, out)
			}
			assertConformant(t, master)
		})
	}
}
