#!/usr/bin/env bash
# Segmenter throughput: hlsd's Go MPEG-TS splitter (pkg/mpegts.SplitTS)
# against `ffmpeg -c copy -f hls` on the same transport stream.
#
# Makes the 60 s 1280x720 30 fps H.264/AAC source of time-to-ready.sh,
# encodes its 720p rendition exactly as hlsd's encoder would (the command
# comes from pkg/ffmpeg's EncodeSpec.Args, via bench/cmd/ladder: x264
# veryfast High 3 Mbit/s, keyframes every 2 s, AAC-LC 128k, MPEG-TS), and
# runs bench/cmd/segbench on it: RUNS rounds (default 5) of ffmpeg, SplitTS
# writing files, SplitTS discarding, and SplitTS writing through hlsd's
# FileStore (fsync + rename, as the segmenter does), best of each, in MB/s,
# the ratios and the Go allocations per MB.
#
# Then the same on a 10-minute stream (LOOPS=10 copies of the rendition joined
# by `ffmpeg -stream_loop -c copy`, timestamps continuous), where ffmpeg's
# process start (about 0.1 s here) weighs less. LOOPS=0 skips it. Its ratio
# is printed with its verdict but is not checked against the target.
#
# Exits 1 if go-files / ffmpeg on the rendition of the 60 s source is below
# TARGET (5), 2 on any other failure.
#
#   bench/segmenter.sh            # about 2 minutes
#
# Environment: RUNS (5), LOOPS (10), TARGET (5), SOURCE, SOURCE_SECONDS (60),
# BENCH_TMP, KEEP_TMP=1.
NAME=segmenter
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${RUNS:-5}
LOOPS=${LOOPS:-10}
TARGET=${TARGET:-5}
[[ $RUNS =~ ^[1-9][0-9]*$ && $LOOPS =~ ^[0-9]+$ ]] || die "RUNS=$RUNS LOOPS=$LOOPS: want whole numbers (RUNS >= 1)"
for c in go ffmpeg ffprobe; do command -v $c >/dev/null || die "$c is not on PATH"; done

machine
say "building ladder and segbench; temp dir $TMP"
mkdir -p "$TMP/bin"
(cd "$ROOT" && go build -o "$TMP/bin/ladder" ./bench/cmd/ladder && go build -o "$TMP/bin/segbench" ./bench/cmd/segbench) ||
	die "build failed"

SRC=$TMP/source.mp4
make_source "$SRC"
say "encoding the 720p rendition with hlsd's settings"
mapfile -t ARGS < <("$TMP/bin/ladder" -profiles "$ROOT/profiles.json" -in "$SRC" -mode hlsd -rung 720p -out "$TMP")
((${#ARGS[@]} > 10)) || die "ladder printed no command"
ffmpeg "${ARGS[@]}" >/dev/null 2>"$TMP/encode.log" || { tail -20 "$TMP/encode.log" >&2; die "the encode failed"; }
TS=$TMP/720p.ts
echo "input: $TS: $(stat -c %s "$TS") bytes, $(ffprobe -v error -show_entries format=duration,bit_rate -of default=nw=1 "$TS" | tr '\n' ' ')"
echo "encoded with: ffmpeg $(printf '%q ' "${ARGS[@]}")"

SECS=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$TS" | awk '{ printf "%.0f", $1 }')
RC=0
echo "== the ${SECS} s rendition"
"$TMP/bin/segbench" -in "$TS" -runs "$RUNS" -target "$TARGET" | sed "s/^RESULT /RESULT input=${SECS}s /" || RC=$?
((RC <= 1)) || die "segbench failed"
echo "machine load after the ${SECS} s rendition (1, 5, 15 min): $(loadavg)"

if ((LOOPS > 1)); then
	LONG=$TMP/long.ts
	ffmpeg -hide_banner -nostdin -v error -y -stream_loop "$((LOOPS - 1))" -i "$TS" -c copy -f mpegts "$LONG" ||
		die "could not join the rendition $LOOPS times"
	echo "== $LOOPS × the rendition ($(ffprobe -v error -show_entries format=duration -of csv=p=0 "$LONG") s, $(stat -c %s "$LONG") bytes)"
	rc=0
	"$TMP/bin/segbench" -in "$LONG" -runs "$RUNS" -target "$TARGET" -check=false | sed "s/^RESULT /RESULT input=${LOOPS}x /" || rc=$?
	((rc <= 1)) || die "segbench failed on the long stream"
	rm -f "$LONG"
fi
echo "machine load at end (1, 5, 15 min): $(loadavg)"
exit "$RC"
