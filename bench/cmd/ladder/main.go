// Command ladder prints ffmpeg command lines built from hlsd's own code, for
// the benchmarks that compare hlsd with ffmpeg run by hand
// (bench/time-to-ready.sh, bench/segmenter.sh). It probes the source with
// pkg/ffmpeg.Probe, picks the rungs as the encoder does (profiles.Select on
// the display size, the output frame rate from ffmpeg.OutputFrameRate) and
// takes the arguments from ffmpeg.EncodeSpec.Args, so the settings cannot
// drift from what hlsd runs.
//
//	ladder -profiles profiles.json -in src.mp4 -mode rungs
//	    one line per rung: name width height
//	ladder -profiles profiles.json -in src.mp4 -mode hlsd -out DIR
//	    hlsd's encode: one ffmpeg, every rung as DIR/{rung}.ts (MPEG-TS)
//	ladder -profiles profiles.json -in src.mp4 -mode hlsd -rung 720p -out DIR
//	    the same for one rung only (the segmenter benchmark's input)
//	ladder -profiles profiles.json -in src.mp4 -mode anchor -out DIR
//	    the anchor: the same single ffmpeg run (same input options, same
//	    filter graph, the same per-rendition encoder and audio options) with
//	    one output, ffmpeg's HLS muxer, writing DIR/master.m3u8,
//	    DIR/{rung}/index.m3u8 and DIR/{rung}/seg_NNNNN.ts (for "container":
//	    "cmaf" profiles fragmented MP4: DIR/{rung}/init.mp4 and
//	    seg_NNNNN.m4s, every codec of the ladder)
//
// The command is printed one argument per line (without the program name),
// for bash's mapfile. "-progress pipe:1" (hlsd reads progress from it) is left
// out of the anchor.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/profiles"
)

func main() {
	profPath := flag.String("profiles", "profiles.json", "hlsd's profiles.json")
	in := flag.String("in", "", "source file")
	mode := flag.String("mode", "anchor", "rungs, hlsd or anchor")
	out := flag.String("out", "", "output directory")
	rung := flag.String("rung", "", "hlsd mode: only this rung")
	hlsTime := flag.Int("hls-time", 0, "anchor: -hls_time (default: the profiles' segment_duration)")
	flag.Parse()
	if *in == "" {
		fail(errors.New("-in is required"))
	}
	prof, err := profiles.Load(*profPath)
	if err != nil {
		fail(err)
	}
	src, err := ffmpeg.Probe(context.Background(), *in, ffmpeg.DefaultLimits())
	if err != nil {
		fail(err)
	}
	if src.Video == nil || src.Audio() == nil {
		fail(errors.New("the source needs a video and an audio stream"))
	}
	// As services/encoder's planLadder.
	plan := prof.Select(src.Video.DisplayWidth, src.Video.DisplayHeight)
	if *mode == "rungs" {
		for _, p := range plan {
			fmt.Println(p.Name, p.Width, p.Height)
		}
		return
	}
	if *out == "" {
		fail(errors.New("-out is required"))
	}
	var outputs []ffmpeg.Output
	for _, p := range plan {
		if *rung != "" && p.Name != *rung {
			continue
		}
		outputs = append(outputs, ffmpeg.Output{Name: p.Name, Codec: p.Codec, Width: p.Width, Height: p.Height,
			VideoKbps: p.VideoKbps, MaxrateKbps: p.MaxrateKbps, BufsizeKbps: p.BufsizeKbps,
			Path: filepath.Join(*out, p.Name+".ts")})
	}
	if len(outputs) == 0 {
		fail(fmt.Errorf("no rung %q for this source", *rung))
	}
	args := ffmpeg.EncodeSpec{Input: *in, Source: src, Outputs: outputs, Profiles: prof}.Args()
	switch *mode {
	case "hlsd":
	case "anchor":
		if *rung != "" {
			fail(errors.New("-rung is for -mode hlsd"))
		}
		t := *hlsTime
		if t <= 0 {
			t = int(prof.SegmentDuration)
		}
		if args, err = anchor(args, outputs, *out, t, prof.CMAF()); err != nil {
			fail(err)
		}
	default:
		fail(fmt.Errorf("unknown -mode %q", *mode))
	}
	for _, a := range args {
		if strings.ContainsAny(a, "\n") {
			fail(fmt.Errorf("argument %q has a newline", a))
		}
		fmt.Println(a)
	}
}

// anchor turns hlsd's command (one MPEG-TS output file per rendition) into
// one output with ffmpeg's HLS muxer: every per-output option becomes the
// same option for that rendition's streams (-b:v 730k of the first output
// becomes -b:v:0 730k), the maps stay, and the muxer gets one variant per
// rendition with its video and its audio, as hlsd's renditions have. With
// cmaf the muxer writes fragmented MP4 (init.mp4 and seg_NNNNN.m4s), as
// hlsd does for those profiles, and so carries HEVC and AV1 too.
func anchor(args []string, outputs []ffmpeg.Output, dir string, hlsTime int, cmaf bool) ([]string, error) {
	var out []string
	i := 0
	for ; i < len(args); i++ {
		if args[i] == "-progress" {
			i++ // and its value
			continue
		}
		out = append(out, args[i])
		if args[i] == "-filter_complex" {
			i++
			out = append(out, args[i])
			i++
			break
		}
	}
	n := 0 // output index
	kind := ""
	for ; i < len(args); i++ {
		a := args[i]
		if i+1 >= len(args) || !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("unexpected argument %q", a)
		}
		v := args[i+1]
		i++
		switch {
		case a == "-map":
			if strings.HasPrefix(v, "[v") {
				kind = "v"
			} else {
				kind = "a"
			}
			out = append(out, a, v)
		case a == "-f":
			// -f mpegts file:PATH ends an output.
			if v != "mpegts" || i+1 >= len(args) {
				return nil, fmt.Errorf("expected -f mpegts PATH, got -f %s", v)
			}
			i++
			n++
			kind = ""
		case a == "-map_metadata" || a == "-map_chapters" || a == "-metadata":
			// The output's own tags (pkg/ffmpeg's outputTags), the same on
			// every output: once, for the one output.
			if n == 0 {
				out = append(out, a, v)
			}
		case kind == "":
			return nil, fmt.Errorf("option %s before any -map", a)
		default:
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "-"), ":")
			if name == "af" {
				name = "filter"
			}
			out = append(out, "-"+name+":"+kind+":"+strconv.Itoa(n), v)
		}
	}
	if n != len(outputs) {
		return nil, fmt.Errorf("found %d outputs, want %d", n, len(outputs))
	}
	var vsm []string
	for k, o := range outputs {
		vsm = append(vsm, fmt.Sprintf("v:%d,a:%d,name:%s", k, k, o.Name))
	}
	segment := []string{"-hls_segment_type", "mpegts", "-hls_segment_filename", filepath.Join(dir, "%v", "seg_%05d.ts")}
	if cmaf {
		segment = []string{"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
			"-hls_segment_filename", filepath.Join(dir, "%v", "seg_%05d.m4s")}
	}
	out = append(out, "-f", "hls",
		"-hls_time", strconv.Itoa(hlsTime),
		"-hls_playlist_type", "vod",
		"-hls_flags", "independent_segments")
	out = append(out, segment...)
	out = append(out,
		"-master_pl_name", "master.m3u8",
		"-var_stream_map", strings.Join(vsm, " "),
		filepath.Join(dir, "%v", "index.m3u8"))
	return out, nil
}

func fail(err error) {
	if err == nil {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "ladder:", err)
	os.Exit(2)
}
