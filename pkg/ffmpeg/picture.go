package ffmpeg

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"
)

// What every H.264 rendition is: progressive, SDR, BT.709 (primaries,
// transfer and matrix), limited range. Apple's authoring spec wants SDR
// video in BT.709 and no HDR in AVC; players that see BT.2020, PQ or HLG in
// an 8-bit stream show it washed out, and interlaced frames show combs.
//
// The filters that get there from any source come before the scalers, in
// this order: deinterlace (bwdif, at field rate where the frame-rate cap
// allows), the constant output frame rate (fps), then, for HDR sources, tone
// mapping to SDR (zscale and tonemap) at the largest output size, or for
// other wide-gamut sources a primaries conversion. The scalers then convert
// the YCbCr matrix to BT.709 and the range to limited.

// fieldOrders are the interlaced field orders ffprobe reports, and which
// field is displayed first.
var fieldOrders = map[string]string{"tt": "tff", "bt": "tff", "bb": "bff", "tb": "bff"}

// Interlaced reports whether the frames hold two fields to be deinterlaced:
// the stream says so, or the planner found combing in frames flagged
// progressive (Combed).
func (v *VideoStream) Interlaced() bool {
	_, flagged := fieldOrders[v.FieldOrder]
	return flagged || v.Combed != ""
}

// HDR names the source's high dynamic range transfer ("pq" or "hlg"), or
// "" for SDR.
func (v *VideoStream) HDR() string {
	switch v.ColorTransfer {
	case "smpte2084":
		return "pq"
	case "arib-std-b67":
		return "hlg"
	}
	return ""
}

// fieldRate reports whether an interlaced source is deinterlaced to one
// frame per field: when twice its frame rate is within the cap. Otherwise
// (say 1080i60 with a 30 fps cap) one frame per frame.
func fieldRate(v *VideoStream, maxRate float64) bool {
	return v.Interlaced() && 2*sourceRate(v) <= maxRate*1.001
}

func sourceRate(v *VideoStream) float64 {
	if v.FrameRate <= 0 {
		return 30
	}
	return v.FrameRate
}

// deinterlaceFilter is the bwdif filter for v, "" for progressive sources:
// one frame per field if perField, else one per frame. deint=all: frames
// found combed may be flagged progressive. The parity is the stream's own
// per frame, unless the planner measured it.
func deinterlaceFilter(v *VideoStream, perField bool) string {
	if !v.Interlaced() {
		return ""
	}
	mode := "send_frame"
	if perField {
		mode = "send_field"
	}
	parity := "auto"
	if v.Combed != "" {
		parity = v.Combed
	}
	return fmt.Sprintf("bwdif=mode=%s:parity=%s:deint=all", mode, parity)
}

// zscale's names for what ffprobe reports, where they differ.
var zscaleNames = map[string]string{
	"bt2020nc": "2020_ncl", "bt2020c": "2020_cl", "smpte170m": "170m", "bt470bg": "470bg", "smpte240m": "240m",
	"bt2020-10": "2020_10", "bt2020-12": "2020_12", "arib-std-b67": "arib-std-b67", "smpte2084": "smpte2084",
	"bt709": "709", "bt2020": "2020", "tv": "limited", "pc": "full",
}

func zname(ffprobeName, fallback string) string {
	if n, ok := zscaleNames[ffprobeName]; ok {
		return n
	}
	return fallback
}

// ToneMapWhite is the HDR luminance, in nits, that becomes SDR white: the
// reference (graphics) white of ITU-R BT.2408. Below about 80% of it the
// curve (Möbius) is the identity, so mid-grey and skin keep their levels;
// highlights above are rolled off instead of clipped.
const ToneMapWhite = 203

// toneMapFilter converts a PQ or HLG source to SDR BT.709 at w x h, and a
// wide-gamut (BT.2020) SDR source to BT.709 primaries; "" for others. The
// source's tags are given to zscale explicitly: a decoder need not put them
// on every frame.
func toneMapFilter(v *VideoStream, w, h int) string {
	size := ""
	if w > 0 && h > 0 { // even: zscale's 4:2:0 output needs it (a poster may be odd)
		size = fmt.Sprintf("w=%d:h=%d:", (w+1)&^1, (h+1)&^1)
	}
	in := fmt.Sprintf("pin=%s:min=%s:rin=%s", zname(v.ColorPrimaries, "2020"), zname(v.ColorSpace, "2020_ncl"), zname(v.ColorRange, "limited"))
	switch {
	case v.HDR() != "":
		return fmt.Sprintf("zscale=%s%s:tin=%s:t=linear:npl=%d,format=gbrpf32le,zscale=p=709,"+
			"tonemap=tonemap=mobius:param=0.8,zscale=t=709:m=709:r=limited,format=yuv420p",
			size, in, zname(v.ColorTransfer, "arib-std-b67"), ToneMapWhite)
	case v.ColorPrimaries == "bt2020":
		return fmt.Sprintf("zscale=%s%s:tin=%s:p=709:t=709:m=709:r=limited,format=yuv420p",
			size, in, zname(v.ColorTransfer, "709"))
	}
	return ""
}

// pictureFilters is the chain from the decoded source to SDR BT.709-ready
// progressive frames (deinterlaced per field if perField) at a constant
// rate (rate, ffmpeg's notation, with fps options fpsOpts; "" for none)
// and, where it converts colours, at w x h. It also returns the YCbCr
// matrix of the frames it hands on, in the scale filter's names, for the
// scalers that follow.
func pictureFilters(v *VideoStream, perField bool, rate, fpsOpts string, w, h int) (chain []string, matrix string) {
	if d := deinterlaceFilter(v, perField); d != "" {
		chain = append(chain, d)
	}
	if rate != "" {
		chain = append(chain, "fps="+rate+fpsOpts)
	}
	matrix = SourceMatrix(v)
	if t := toneMapFilter(v, w, h); t != "" {
		chain = append(chain, t)
		matrix = "bt709"
	}
	return chain, matrix
}

// colourArgs tag an H.264 rendition as what pictureFilters and the scalers
// made of it. x264 writes the range only along with a colour description.
func colourArgs() []string {
	return []string{"-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"}
}

// idetRe reads the summary idet prints when it ends; yavgRe the mean
// difference of each pair of consecutive fields (see DetectCombing).
var (
	idetRe = regexp.MustCompile(`Multi frame detection: TFF:\s*(\d+)\s+BFF:\s*(\d+)\s+Progressive:\s*(\d+)\s+Undetermined:\s*(\d+)`)
	yavgRe = regexp.MustCompile(`lavfi\.signalstats\.YAVG=([0-9.]+)`)
)

// DetectFrames is how many frames DetectCombing looks at.
const DetectFrames = 60

// DetectCombing looks for interlaced frames in a source whose stream does
// not say it is interlaced (camcorder and broadcast files re-wrapped or
// re-encoded without the flags), in DetectFrames frames from a tenth of the
// way in (at most a minute). It returns the field displayed first ("tff"
// or "bff"), or "" for progressive. Two measures must agree, because fine
// detail in progressive pictures (test patterns, text) fools each alone:
//   - ffmpeg's idet finds most frames it can tell apart combed, with one
//     field order four times as often as the other, and at least a quarter
//     of all frames;
//   - the fields move evenly: in interlaced video each field is half a frame
//     after the one before, so the difference between the two fields of a
//     frame is about that between a frame's second field and the next
//     frame's first (less than 1.6 times it); in progressive video the two
//     fields of a frame are one instant, and differ much less.
func DetectCombing(ctx context.Context, input string, src Source, timeout time.Duration) (string, error) {
	v := src.Video
	if v == nil || v.Interlaced() {
		return "", nil
	}
	args := []string{"-hide_banner", "-nostdin", "-v", "info", "-nostats"}
	if at := min(src.Duration/10, 60); at >= 1 {
		// From the keyframe before: any 60 frames do, and decoding up to
		// the instant cost a third of the look (it delays every start).
		args = append(args, "-noaccurate_seek", "-ss", strconv.FormatFloat(at, 'f', 3, 64))
	}
	args = append(args, inputArgs(src)...)
	if src.Format != "" {
		args = append(args, "-f", src.Format)
	}
	args = append(args, "-i", "file:"+input, "-map", fmt.Sprintf("0:%d", v.Index), "-an", "-sn", "-dn",
		"-frames:v", strconv.Itoa(DetectFrames),
		// The difference pictures are averaged down (area scaling keeps
		// their mean) before signalstats, which at full size cost as much
		// as the decode: it delays every upload's start.
		"-vf", `idet,separatefields,tblend=all_mode=difference,scale=w=max(iw/4\,2):h=max(ih/4\,2):flags=area,signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG`,
		"-f", "null", "-")
	stderr, err := runStderr(ctx, orDefault(timeout), "ffmpeg", args)
	if err != nil {
		return "", err
	}
	parity := parseIdet(stderr)
	if parity == "" || !evenFields(stderr) {
		return "", nil
	}
	return parity, nil
}

// evenFields reads the field differences DetectCombing prints, alternately
// within a frame and across two: see there.
func evenFields(stderr string) bool {
	var within, across float64
	for i, m := range yavgRe.FindAllStringSubmatch(stderr, -1) {
		d, _ := strconv.ParseFloat(m[1], 64)
		if i%2 == 0 {
			within += d
		} else {
			across += d
		}
	}
	return within > 0 && across < 1.6*within
}

// parseIdet decides from idet's summary; see DetectCombing.
func parseIdet(stderr string) string {
	m := idetRe.FindStringSubmatch(stderr)
	if m == nil {
		return ""
	}
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	tff, bff, prog, undetermined := n[0], n[1], n[2], n[3]
	hi, lo := max(tff, bff), min(tff, bff)
	if hi <= prog || 4*hi < tff+bff+prog+undetermined || hi < 4*lo {
		return ""
	}
	if bff > tff {
		return "bff"
	}
	return "tff"
}

// HDR10 is an HDR source's static metadata (SMPTE ST 2086 mastering
// display, CTA-861.3 content light level), for the HDR renditions to carry
// on. Chromaticities are CIE 1931 x, y; luminances cd/m². Zero values: not
// given.
type HDR10 struct {
	Red, Green, Blue, White [2]float64
	MaxLuminance            float64
	MinLuminance            float64
	MaxCLL, MaxFALL         int
}

// HasDisplay reports whether the mastering display is known.
func (m *HDR10) HasDisplay() bool { return m != nil && m.MaxLuminance > 0 && m.White[0] > 0 }

// HasLight reports whether the content light level is known.
func (m *HDR10) HasLight() bool { return m != nil && m.MaxCLL > 0 }

// x265Display is the mastering display as x265's master-display wants it
// (chromaticities in 0.00002, luminance in 0.0001 cd/m²).
func (m *HDR10) x265Display() string {
	c := func(p [2]float64) string {
		return fmt.Sprintf("(%d,%d)", int(math.Round(p[0]*50000)), int(math.Round(p[1]*50000)))
	}
	return fmt.Sprintf("G%sB%sR%sWP%sL(%d,%d)", c(m.Green), c(m.Blue), c(m.Red), c(m.White),
		int(math.Round(m.MaxLuminance*10000)), int(math.Round(m.MinLuminance*10000)))
}

// svtDisplay is the mastering display as SVT-AV1's mastering-display wants
// it (plain numbers).
func (m *HDR10) svtDisplay() string {
	c := func(p [2]float64) string { return fmt.Sprintf("(%.4f,%.4f)", p[0], p[1]) }
	return fmt.Sprintf("G%sB%sR%sWP%sL(%.4f,%.4f)", c(m.Green), c(m.Blue), c(m.Red), c(m.White), m.MaxLuminance, m.MinLuminance)
}

// ReadHDR10 reads an HDR source's static metadata from the first frame's
// side data (HEVC SEI, AV1 metadata OBUs) or the stream's (MP4 mdcv and
// clli, Matroska colour elements). nil when there is none.
func ReadHDR10(ctx context.Context, input string, src Source, timeout time.Duration) (*HDR10, error) {
	if src.Video == nil || src.Video.HDR() == "" {
		return nil, nil
	}
	out, err := probeFrames(ctx, input, src, 1, "stream_side_data:frame_side_data", timeout)
	if err != nil {
		return nil, err
	}
	var pj struct {
		Streams []struct {
			SideData []map[string]any `json:"side_data_list"`
		} `json:"streams"`
		Frames []struct {
			SideData []map[string]any `json:"side_data_list"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out, &pj); err != nil {
		return nil, fmt.Errorf("ffprobe output: %w", err)
	}
	var all []map[string]any
	for _, s := range pj.Streams {
		all = append(all, s.SideData...)
	}
	for _, f := range pj.Frames {
		all = append(all, f.SideData...)
	}
	ratio := func(v any) float64 {
		s, _ := v.(string)
		if f := parseRate(s); f > 0 {
			return f
		}
		n, _ := v.(float64)
		return n
	}
	var m HDR10
	for _, sd := range all {
		switch sd["side_data_type"] {
		case "Mastering display metadata":
			m.Red = [2]float64{ratio(sd["red_x"]), ratio(sd["red_y"])}
			m.Green = [2]float64{ratio(sd["green_x"]), ratio(sd["green_y"])}
			m.Blue = [2]float64{ratio(sd["blue_x"]), ratio(sd["blue_y"])}
			m.White = [2]float64{ratio(sd["white_point_x"]), ratio(sd["white_point_y"])}
			m.MaxLuminance, m.MinLuminance = ratio(sd["max_luminance"]), ratio(sd["min_luminance"])
		case "Content light level metadata":
			m.MaxCLL, m.MaxFALL = int(ratio(sd["max_content"])), int(ratio(sd["max_average"]))
		}
	}
	if !m.HasDisplay() && !m.HasLight() {
		return nil, nil
	}
	return &m, nil
}
