#!/usr/bin/env bash
# The CPU an encode costs at each codec and preset, against x264 at
# veryfast (the cost pkg/ffmpeg's CPU budgets were measured with): the
# source of pkg/ffmpeg's encoderCost, which scales a chunk's CPU budget so
# that a slower preset or another codec is not stopped as a runaway.
#
# For each codec (h264, hevc, av1) and each preset name of profiles.json
# (x265 takes the same names; SVT-AV1 the speed hlsd maps them to), hlsd's
# own encode command for one 720p rung (bench/cmd/ladder -mode hlsd) runs on
# a SECONDS_SRC long 1280x720 30 fps source; the user+system CPU seconds of
# ffmpeg (bash's time) are printed with their ratio to H.264 veryfast's.
# Audio and decoding are in every run and in the anchor alike.
#
#   bench/preset-cost.sh             # about 10 minutes on 2 cores
#
# Environment: SECONDS_SRC (4), BENCH_TMP, KEEP_TMP=1.
NAME=preset-cost
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECS=${SECONDS_SRC:-4}
for c in go jq ffmpeg ffprobe; do command -v $c >/dev/null || die "$c is not on PATH (Debian: apt-get install -y $c)"; done
machine
(cd "$ROOT" && go build -o "$TMP/ladder" ./bench/cmd/ladder) || die "could not build bench/cmd/ladder"
ffmpeg -hide_banner -nostdin -v error -y -f lavfi -i "testsrc2=s=1280x720:r=30" -f lavfi -i "sine=sample_rate=48000" \
	-t "$SECS" -map 0:v -map 1:a -c:v libx264 -preset ultrafast -crf 10 -pix_fmt yuv420p -c:a aac "$TMP/src.mp4" ||
	die "could not make the source"

presets=(ultrafast superfast veryfast faster fast medium slow slower veryslow)
TIMEFORMAT='%U %S'
declare -A cpu
anchor=""
printf '\n%-5s %-10s %8s %8s\n' codec preset cpu-s ratio
for codec in h264 hevc av1; do
	for preset in "${presets[@]}"; do
		jq --arg p "$preset" --arg c "$codec" '
			.video.preset = $p | (if $c == "h264" then . else .container = "cmaf" end)
			| .renditions |= map(select(.name == "720p") | .codecs = [$c])' \
			"$ROOT/profiles.json" >"$TMP/p.json" || die "could not write the profiles"
		rm -rf "$TMP/out" && mkdir -p "$TMP/out"
		mapfile -t args < <("$TMP/ladder" -profiles "$TMP/p.json" -in "$TMP/src.mp4" -mode hlsd -out "$TMP/out")
		t=$({ time ffmpeg "${args[@]}" >/dev/null 2>"$TMP/ffmpeg.log"; } 2>&1) || die "$codec $preset failed: $(tail -3 "$TMP/ffmpeg.log")"
		s=$(awk '{ printf "%.2f", $1 + $2 }' <<<"$t")
		[[ -z $anchor && $codec == h264 && $preset == veryfast ]] && anchor=$s
		cpu[$codec.$preset]=$s
		printf '%-5s %-10s %8s %8s\n' $codec $preset "$s" "$([[ -n $anchor ]] && awk -v a="$anchor" -v s="$s" 'BEGIN { printf "%.1f", s / a }')"
	done
done
echo "ratios to h264 veryfast ($anchor CPU-s), for encoderCost:"
for codec in h264 hevc av1; do
	printf '%s:' $codec
	for preset in "${presets[@]}"; do printf ' %s=%s' "$preset" "$(awk -v a="$anchor" -v s="${cpu[$codec.$preset]}" 'BEGIN { printf "%.1f", s / a }')"; done
	echo
done
echo "machine load at end (1, 5, 15 min): $(loadavg)"
