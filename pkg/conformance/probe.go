package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// probe measures one segment held in data with ffprobe (streams and packet
// timestamps) and ffmpeg (the raw H.264 of its first picture).
// With idet, it also counts interlaced frames with ffmpeg's idet filter.
func (c *checker) probe(ctx context.Context, data []byte, format string, idet bool) (segMeasure, error) {
	var m segMeasure
	out, err := c.run(ctx, c.o.FFprobe, data, "-v", "error", "-f", format, "-i", "pipe:0",
		"-show_entries", "stream=index,codec_type,codec_name,profile,width,height,r_frame_rate,color_primaries,color_transfer,color_space,field_order:packet=stream_index,pts_time,duration_time",
		"-of", "json")
	if err != nil {
		return m, err
	}
	var pr struct {
		Streams []struct {
			Index      int    `json:"index"`
			CodecType  string `json:"codec_type"`
			CodecName  string `json:"codec_name"`
			Profile    string `json:"profile"`
			Width      int    `json:"width"`
			Height     int    `json:"height"`
			RFrameRate string `json:"r_frame_rate"`
			Primaries  string `json:"color_primaries"`
			Transfer   string `json:"color_transfer"`
			Matrix     string `json:"color_space"`
			FieldOrder string `json:"field_order"`
		} `json:"streams"`
		Packets []struct {
			StreamIndex  int    `json:"stream_index"`
			PTSTime      string `json:"pts_time"`
			DurationTime string `json:"duration_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &pr); err != nil {
		return m, fmt.Errorf("ffprobe output: %w", err)
	}
	videoIdx, audioIdx := -1, -1
	for _, s := range pr.Streams {
		switch {
		case s.CodecType == "video" && videoIdx < 0:
			videoIdx, m.hasVideo = s.Index, true
			m.width, m.height = s.Width, s.Height
			m.frameRate = ratio(s.RFrameRate)
			m.colour = [3]string{s.Primaries, s.Transfer, s.Matrix}
			m.fieldOrder = s.FieldOrder
			m.videoName = s.CodecName
			if s.CodecName != "h264" && s.CodecName != "hevc" && s.CodecName != "av1" {
				m.videoCodec = s.CodecName // never equal to a claim
			}
		case s.CodecType == "audio" && audioIdx < 0:
			audioIdx, m.hasAudio = s.Index, true
			m.audioCodec = audioCodec(s.CodecName, s.Profile)
		}
	}
	main := videoIdx
	if main < 0 {
		main = audioIdx
	}
	if main < 0 {
		return m, fmt.Errorf("no audio or video stream")
	}
	m.start, m.end = math.Inf(1), math.Inf(-1)
	var all, undated []float64 // FFmpeg 5.1 gives AV1 packets read from MP4 no duration
	for _, p := range pr.Packets {
		if p.StreamIndex != main {
			continue
		}
		pts, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			continue
		}
		d, _ := strconv.ParseFloat(p.DurationTime, 64)
		if d <= 0 {
			undated = append(undated, pts)
		}
		all = append(all, pts)
		m.start = min(m.start, pts)
		m.end = max(m.end, pts+d)
		if d > 0 {
			m.frame = max(m.frame, d)
		}
	}
	if len(undated) > 0 {
		// Those last a frame: the shortest step between timestamps, else
		// the stream's frame rate.
		slices.Sort(all)
		step := math.Inf(1)
		for i := 1; i < len(all); i++ {
			if s := all[i] - all[i-1]; s > 0.0001 {
				step = min(step, s)
			}
		}
		if math.IsInf(step, 1) && m.frameRate > 0 && m.frameRate <= 240 {
			step = 1 / m.frameRate
		}
		if !math.IsInf(step, 1) {
			for _, pts := range undated {
				m.end = max(m.end, pts+step)
			}
			m.frame = max(m.frame, step)
		}
	}
	if math.IsInf(m.start, 0) {
		return m, fmt.Errorf("no timestamped packets")
	}
	if idet && m.hasVideo {
		if m.idet, err = c.interlacedFrames(ctx, data, format); err != nil {
			return m, err
		}
	}
	if m.hasVideo && m.videoCodec == "" && m.videoName != "h264" {
		// HEVC, AV1: the first picture's own parameters.
		m.videoCodec, m.firstIsIDR, m.idrErr = c.firstPicture(ctx, data, format, m.videoName)
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
	}
	if m.hasVideo && m.videoCodec == "" {
		raw, err := c.run(ctx, c.o.FFmpeg, data, "-v", "error", "-f", format, "-i", "pipe:0",
			"-map", "0:v:0", "-c", "copy", "-frames:v", "1", "-f", "h264", "pipe:1")
		if err != nil {
			if ctx.Err() != nil {
				return m, ctx.Err()
			}
			m.idrErr, m.videoCodec = err, "unreadable H.264"
			return m, nil
		}
		pics, sps, captions := scanH264(raw)
		m.firstIsIDR = len(pics) > 0 && pics[0]
		m.captions = captions
		if len(sps) >= 4 {
			m.videoProfile = fmt.Sprintf("%02x", sps[1])
			m.videoCodec = fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3])
		} else {
			m.videoCodec = "avc1 without SPS"
		}
	}
	return m, nil
}

// idetRe reads the summary ffmpeg's idet filter prints when it ends; yavgRe
// the mean difference of each pair of consecutive fields.
var (
	idetRe = regexp.MustCompile(`Multi frame detection: TFF:\s*(\d+)\s+BFF:\s*(\d+)\s+Progressive:\s*(\d+)\s+Undetermined:\s*(\d+)`)
	yavgRe = regexp.MustCompile(`lavfi\.signalstats\.YAVG=([0-9.]+)`)
)

// interlacedFrames decodes the video of the MPEG-TS data through idet and
// returns how many frames it found interlaced, and how many it looked at.
// Fine detail in progressive pictures (test patterns, text) fools idet, so
// its count stands only when the fields also move as interlaced fields do:
// one field order four times as often as the other, and the two fields of
// a frame differing about as much as a frame's second field and the next
// frame's first (less than 1.3 times); in progressive video the fields of
// a frame are one instant and differ much less. Measured: woven fields
// 1.01 (at 640x360 and at 416x234); a 416x234 rendition of deinterlaced
// 480i test pattern, progressive but with fine detail across lines, 1.6.
func (c *checker) interlacedFrames(ctx context.Context, data []byte, format string) ([2]int, error) {
	cmd := exec.CommandContext(ctx, c.o.FFmpeg, "-hide_banner", "-nostats", "-v", "info", "-f", format, "-i", "pipe:0",
		"-map", "0:v:0", "-vf", "idet,separatefields,tblend=all_mode=difference,signalstats,metadata=mode=print:key=lavfi.signalstats.YAVG",
		"-f", "null", "-")
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return [2]int{}, ctx.Err()
		}
		return [2]int{}, fmt.Errorf("ffmpeg idet: %w", err)
	}
	m := idetRe.FindStringSubmatch(stderr.String())
	if m == nil {
		return [2]int{}, fmt.Errorf("ffmpeg idet printed no summary")
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	var within, across float64
	for i, y := range yavgRe.FindAllStringSubmatch(stderr.String(), -1) {
		d, _ := strconv.ParseFloat(y[1], 64)
		if i%2 == 0 {
			within += d
		} else {
			across += d
		}
	}
	total := n[0] + n[1] + n[2] + n[3]
	if hi, lo := max(n[0], n[1]), min(n[0], n[1]); hi >= 4*lo && within > 0 && across < 1.3*within {
		return [2]int{hi, total}, nil
	}
	return [2]int{0, total}, nil
}

// continuity scans MPEG-TS packets for their continuity counters: the
// first and last of each PID whose packets carry a payload (only those
// advance it), and the first break inside the data ("" if none). A packet
// repeating the counter before it is a permitted duplicate.
func continuity(data []byte) (map[uint16][2]uint8, string) {
	ccs := map[uint16][2]uint8{}
	broken := ""
	for o := 0; o+188 <= len(data) && data[o] == 0x47; o += 188 {
		p := data[o : o+188]
		if p[3]&0x10 == 0 {
			continue // adaptation field only
		}
		pid, cc := uint16(p[1]&0x1f)<<8|uint16(p[2]), p[3]&0x0f
		if pid == 0x1fff {
			continue // null packets have no counter
		}
		prev, seen := ccs[pid]
		if !seen {
			ccs[pid] = [2]uint8{cc, cc}
			continue
		}
		if cc != (prev[1]+1)&0x0f && cc != prev[1] && broken == "" {
			broken = fmt.Sprintf("PID %#x: counter %d after %d at byte %d", pid, cc, prev[1], o)
		}
		ccs[pid] = [2]uint8{prev[0], cc}
	}
	return ccs, broken
}

// pictures returns, for each picture of the H.264 stream in the MPEG-TS
// data, whether it is an IDR.
func (c *checker) pictures(ctx context.Context, data []byte, format string) ([]bool, error) {
	out, err := c.run(ctx, c.o.FFprobe, data, "-v", "error", "-f", format, "-i", "pipe:0", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name:packet=flags", "-of", "json")
	if err != nil {
		return nil, err
	}
	var pr struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
		Packets []struct {
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &pr); err != nil || len(pr.Streams) == 0 {
		return nil, fmt.Errorf("ffprobe found no video: %v", err)
	}
	if pr.Streams[0].CodecName != "h264" {
		// HEVC, AV1: the container's keyframe flags (fMP4's sync samples).
		pics := make([]bool, len(pr.Packets))
		for i, p := range pr.Packets {
			pics[i] = strings.HasPrefix(p.Flags, "K")
		}
		return pics, nil
	}
	raw, err := c.run(ctx, c.o.FFmpeg, data, "-v", "error", "-f", format, "-i", "pipe:0",
		"-map", "0:v:0", "-c", "copy", "-f", "h264", "pipe:1")
	if err != nil {
		return nil, err
	}
	pics, _, _ := scanH264(raw)
	return pics, nil
}

// scanH264 walks an Annex B byte stream: for each picture (a slice with
// first_mb_in_slice 0) whether it is IDR, and the first SPS NAL unit.
func scanH264(b []byte) (pics []bool, sps []byte, captions bool) {
	for len(b) > 0 {
		i := bytes.Index(b, []byte{0, 0, 1})
		if i < 0 {
			return pics, sps, captions
		}
		b = b[i+3:]
		end := bytes.Index(b, []byte{0, 0, 1})
		nal := b
		if end >= 0 {
			nal = b[:end]
		}
		if len(nal) < 2 {
			continue
		}
		switch nal[0] & 0x1f {
		case 1, 5:
			// first_mb_in_slice is ue(v); it is 0 exactly when the first bit is 1.
			if nal[1]&0x80 != 0 {
				pics = append(pics, nal[0]&0x1f == 5)
			}
		case 6:
			captions = captions || seiHasCaptions(nal)
		case 7:
			if sps == nil {
				sps = nal
			}
		}
	}
	return pics, sps, captions
}

// seiHasCaptions reports whether an SEI NAL unit holds closed captions: a
// user_data_registered_itu_t_t35 message (payload type 4) of ATSC A/53
// (country 0xB5, provider 0x0031, "GA94", cc_data type 3) with the
// process_cc_data flag and at least one cc. H.264 7.3.2.3, ATSC A/72.
func seiHasCaptions(nal []byte) bool {
	b := unescapeNAL(nal[1:])
	for len(b) > 1 && b[0] != 0x80 { // 0x80: the RBSP trailing bits
		var typ, size int
		for _, v := range []*int{&typ, &size} {
			for len(b) > 0 && b[0] == 0xff {
				*v += 255
				b = b[1:]
			}
			if len(b) == 0 {
				return false
			}
			*v += int(b[0])
			b = b[1:]
		}
		if size > len(b) {
			return false
		}
		p := b[:size]
		b = b[size:]
		if typ == 4 && len(p) >= 9 && bytes.Equal(p[:8], []byte{0xb5, 0x00, 0x31, 'G', 'A', '9', '4', 0x03}) && p[8]&0x40 != 0 && p[8]&0x1f > 0 {
			return true
		}
	}
	return false
}

// unescapeNAL removes emulation prevention bytes (00 00 03 → 00 00). The
// checker's own, like all its parsing: it shares no code with the
// segmenter (pkg/mpegts) whose output it judges.
func unescapeNAL(b []byte) []byte {
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

func audioCodec(name, profile string) string {
	switch name {
	case "aac":
		switch profile {
		case "LC":
			return "mp4a.40.2"
		case "HE-AAC":
			return "mp4a.40.5"
		case "HE-AACv2":
			return "mp4a.40.29"
		}
		return "mp4a.40 (" + profile + ")"
	case "mp3":
		return "mp4a.40.34"
	case "ac3":
		return "ac-3"
	case "eac3":
		return "ec-3"
	}
	return name
}

func ratio(s string) float64 {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseFloat(n, 64)
	if !ok {
		return num
	}
	den, err2 := strconv.ParseFloat(d, 64)
	if err1 != nil || err2 != nil || den == 0 {
		return 0
	}
	return num / den
}

// run runs a tool with data on stdin and returns its stdout.
func (c *checker) run(ctx context.Context, bin string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
