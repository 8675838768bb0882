// Command segbench measures hlsd's MPEG-TS segmenter (pkg/mpegts.SplitTS)
// against `ffmpeg -c copy -f hls` on the same transport stream, in one run:
// bench/segmenter.sh runs it on a 720p rendition encoded with hlsd's
// settings.
//
// Each round (-runs, default 5) runs, one after the other, on the file in the
// page cache (it is read once before the first round):
//
//	ffmpeg      ffmpeg -i IN -c copy -f hls -hls_time 6 -hls_playlist_type vod
//	            -hls_segment_filename DIR/seg_%05d.ts DIR/index.m3u8
//	            (a process: wall clock from start to exit)
//	go-files    SplitTS reading the file, writing each segment to DIR with
//	            os.WriteFile, then the media playlist (pkg/playlist.Media):
//	            what ffmpeg does, in Go. The writes run behind the splitter,
//	            two files at a time (mpegts.Behind, Options.Hold 2), so the
//	            splitting and the page-cache writes share this machine's
//	            two cores; ffmpeg's HLS muxer runs on one thread
//	            (ffmpeg 5.1).
//	go-discard  SplitTS reading the file, emit discarding the segments
//	go-store    SplitTS writing each segment through store.FileStore.Put
//	            (temporary file, fsync, rename), one write behind the
//	            splitter, as hlsd's segmenter does with a disk store, then
//	            the playlist the same way
//
// each into a fresh empty directory made (and afterwards removed) outside the
// timing. It prints every time, the best of each in MB/s (10^6 bytes of input
// per second), the ratios go / ffmpeg (target: go-files >= 5x), the segment
// counts of both tools, and the Go variants' heap allocations per MB of input
// (runtime.MemStats: Mallocs and TotalAlloc over one extra run; most of it is
// a fixed cost per run, the segment buffers growing to the largest segment,
// so the totals per run are printed too). It also prints the ratio against
// ffmpeg's time less its process floor (ffmpeg -version: loading its shared
// libraries), to show how much of the ratio is ffmpeg's start. The last line
// is RESULT key=value…; with -check=false the verdict is printed but the exit
// status does not depend on it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/mpegts"
	"github.com/hlsd/hlsd/pkg/playlist"
	"github.com/hlsd/hlsd/pkg/store"
)

var (
	in      = flag.String("in", "", "MPEG-TS file")
	runs    = flag.Int("runs", 5, "rounds; each variant's best is kept")
	target  = flag.Int("hls-time", 6, "target segment duration, seconds")
	ffmpegB = flag.String("ffmpeg", "ffmpeg", "ffmpeg binary")
	tmp     = flag.String("tmp", "", "where output directories go (default: next to -in)")
	goal    = flag.Float64("target", 5, "the go-files / ffmpeg ratio to reach")
	check   = flag.Bool("check", true, "exit 1 if the go-files / ffmpeg ratio is below -target")
)

type variant struct {
	name string
	run  func(dir string) (segments int, err error)
}

func main() {
	flag.Parse()
	if *in == "" {
		fail(errors.New("-in is required"))
	}
	data, err := os.ReadFile(*in) // warms the page cache
	if err != nil {
		fail(err)
	}
	size := int64(len(data))
	data = nil
	if *tmp == "" {
		*tmp = filepath.Dir(*in)
	}
	segDur := time.Duration(*target) * time.Second

	variants := []variant{
		{"ffmpeg", func(dir string) (int, error) { return runFFmpeg(dir) }},
		{"go-files", func(dir string) (int, error) { return splitFiles(dir, segDur) }},
		{"go-discard", func(dir string) (int, error) { return splitDiscard(segDur) }},
		{"go-store", func(dir string) (int, error) { return splitStore(dir, segDur) }},
	}
	times := map[string][]float64{}
	segs := map[string]int{}
	for r := 1; r <= *runs; r++ {
		for _, v := range variants {
			dir, err := os.MkdirTemp(*tmp, "segbench-"+v.name+"-")
			if err != nil {
				fail(err)
			}
			runtime.GC() // no collection owed by the previous variant
			start := time.Now()
			n, err := v.run(dir)
			took := time.Since(start).Seconds()
			os.RemoveAll(dir)
			if err != nil {
				fail(fmt.Errorf("%s: %w", v.name, err))
			}
			times[v.name] = append(times[v.name], took)
			segs[v.name] = n
			fmt.Printf("round %d  %-10s %8.1f ms  %8.1f MB/s  %d segments\n", r, v.name, took*1e3, mbps(size, took), n)
		}
	}

	// Allocations: one more run of each Go variant, counted.
	allocs := map[string][2]float64{} // per MB of input: allocations, bytes
	perRun := map[string][2]float64{} // per run: allocations, MB
	for _, v := range variants[1:] {
		dir, err := os.MkdirTemp(*tmp, "segbench-allocs-")
		if err != nil {
			fail(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = v.run(dir)
		runtime.ReadMemStats(&after)
		os.RemoveAll(dir)
		if err != nil {
			fail(err)
		}
		mb := float64(size) / 1e6
		n, b := float64(after.Mallocs-before.Mallocs), float64(after.TotalAlloc-before.TotalAlloc)
		allocs[v.name] = [2]float64{n / mb, b / mb}
		perRun[v.name] = [2]float64{n, b / 1e6}
	}

	best := map[string]float64{}
	for k, ts := range times {
		sort.Float64s(ts)
		best[k] = ts[0]
	}
	ff := best["ffmpeg"]
	floor := startFloor()
	fmt.Printf("input: %s, %d bytes (%.1f MB)\n", *in, size, float64(size)/1e6)
	fmt.Printf("ffmpeg process floor (ffmpeg -version, best of %d): %.1f ms\n", *runs, floor*1e3)
	fmt.Printf("summary (best of %d, page cache warm):\n", *runs)
	for _, v := range variants {
		line := fmt.Sprintf("  %-10s %8.1f ms  %8.1f MB/s  %2d segments", v.name, best[v.name]*1e3, mbps(size, best[v.name]), segs[v.name])
		if v.name != "ffmpeg" {
			a := allocs[v.name]
			p := perRun[v.name]
			line += fmt.Sprintf("  ×%.2f of ffmpeg  %.1f allocs/MB, %.0f KiB allocated/MB (per run: %.0f allocs, %.1f MB)",
				ff/best[v.name], a[0], a[1]/1024, p[0], p[1])
		}
		fmt.Println(line)
	}
	ratio := ff / best["go-files"]
	verdict := "PASS"
	if ratio < *goal {
		verdict = "FAIL"
	}
	// ffmpeg's time less its process floor, against go-files: the ratio if
	// ffmpeg's start cost nothing.
	ratioWork := (ff - floor) / best["go-files"]
	fmt.Printf("  go-files / (ffmpeg less its %.1f ms process floor) %.2f\n", floor*1e3, ratioWork)
	if segs["ffmpeg"] != segs["go-files"] {
		fmt.Printf("note: ffmpeg cut %d segments, SplitTS %d\n", segs["ffmpeg"], segs["go-files"])
	}
	checked := "yes"
	if !*check {
		checked = "no"
	}
	fmt.Printf("  ratio go-files / ffmpeg throughput %.2f (target >= %g: %s; checked: %s)\n", ratio, *goal, verdict, checked)
	fmt.Printf("RESULT bytes=%d runs=%d ffmpeg_mb_s=%.1f ffmpeg_floor_ms=%.1f go_files_mb_s=%.1f go_discard_mb_s=%.1f go_store_mb_s=%.1f"+
		" ratio_files=%.2f ratio_discard=%.2f ratio_store=%.2f ratio_files_less_floor=%.2f"+
		" allocs_per_mb_files=%.1f alloc_kib_per_mb_files=%.0f alloc_mb_per_run_files=%.1f"+
		" allocs_per_mb_discard=%.1f alloc_kib_per_mb_discard=%.0f alloc_mb_per_run_discard=%.1f"+
		" segments_ffmpeg=%d segments_go=%d target=%g verdict=%s checked=%s\n",
		size, *runs, mbps(size, ff), floor*1e3, mbps(size, best["go-files"]), mbps(size, best["go-discard"]), mbps(size, best["go-store"]),
		ratio, ff/best["go-discard"], ff/best["go-store"], ratioWork,
		allocs["go-files"][0], allocs["go-files"][1]/1024, perRun["go-files"][1],
		allocs["go-discard"][0], allocs["go-discard"][1]/1024, perRun["go-discard"][1],
		segs["ffmpeg"], segs["go-files"], *goal, verdict, checked)
	if verdict != "PASS" && *check {
		os.Exit(1)
	}
}

func mbps(size int64, s float64) float64 { return float64(size) / 1e6 / s }

func runFFmpeg(dir string) (int, error) {
	cmd := exec.Command(*ffmpegB, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", *in, "-c", "copy",
		"-f", "hls", "-hls_time", fmt.Sprint(*target), "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(dir, "seg_%05d.ts"), filepath.Join(dir, "index.m3u8"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte("#EXTINF")), nil
}

func open() (*os.File, *os.File, error) {
	f, err := os.Open(*in)
	if err != nil {
		return nil, nil, err
	}
	return f, f, nil // SplitTS reads in large blocks itself, as services/segmenter reads the store
}

func splitDiscard(d time.Duration) (int, error) {
	f, r, err := open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	info, err := mpegts.SplitTS(r, mpegts.Options{TargetDuration: d, Continuous: true}, func(mpegts.Segment, []byte) error { return nil })
	return info.Segments, err
}

func splitFiles(dir string, d time.Duration) (int, error) {
	f, r, err := open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var segs []playlist.Segment
	w := mpegts.Behind{Depth: 2} // two files written at once, beside the splitter
	info, err := mpegts.SplitTS(r, mpegts.Options{TargetDuration: d, Hold: 2, Continuous: true}, func(s mpegts.Segment, data []byte) error {
		name := fmt.Sprintf("seg_%05d.ts", s.Index)
		segs = append(segs, playlist.Segment{URI: name, Duration: s.Duration, Size: s.Size})
		return w.Go(func() error { return os.WriteFile(filepath.Join(dir, name), data, 0o644) })
	})
	if err := errors.Join(err, w.Wait()); err != nil {
		return 0, err
	}
	pl, err := playlist.Media(segs, int(d/time.Second), playlist.Header{})
	if err != nil {
		return 0, err
	}
	return info.Segments, os.WriteFile(filepath.Join(dir, "index.m3u8"), pl, 0o644)
}

func splitStore(dir string, d time.Duration) (int, error) {
	st, err := store.NewFileStore(dir)
	if err != nil {
		return 0, err
	}
	f, r, err := open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ctx := context.Background()
	var segs []playlist.Segment
	var w mpegts.Behind
	info, err := mpegts.SplitTS(r, mpegts.Options{TargetDuration: d, Continuous: true}, func(s mpegts.Segment, data []byte) error {
		name := fmt.Sprintf("seg_%05d.ts", s.Index)
		segs = append(segs, playlist.Segment{URI: name, Duration: s.Duration, Size: s.Size})
		return w.Go(func() error { return st.Put(ctx, "streams/v/720p/"+name, bytes.NewReader(data), int64(len(data))) })
	})
	if err := errors.Join(err, w.Wait()); err != nil {
		return 0, err
	}
	pl, err := playlist.Media(segs, int(d/time.Second), playlist.Header{})
	if err != nil {
		return 0, err
	}
	return info.Segments, st.Put(ctx, "streams/v/720p/index.m3u8", bytes.NewReader(pl), int64(len(pl)))
}

// startFloor is how long starting and ending an ffmpeg process takes (its
// shared libraries), the part of ffmpeg's time that does not depend on the
// input.
func startFloor() float64 {
	best := 0.0
	for i := 0; i < *runs; i++ {
		start := time.Now()
		if err := exec.Command(*ffmpegB, "-hide_banner", "-version").Run(); err != nil {
			return 0
		}
		if t := time.Since(start).Seconds(); best == 0 || t < best {
			best = t
		}
	}
	return best
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "segbench:", err)
	os.Exit(2)
}
