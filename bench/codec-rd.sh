#!/usr/bin/env bash
# Codec efficiency at equal quality: how many of H.264's bytes HEVC (x265)
# and AV1 (SVT-AV1) need to reach the SSIM H.264 reaches at a rung's rate,
# with hlsd's own encode commands (bench/cmd/ladder -mode hlsd, a one-rung
# profile with "codecs": ["h264", "hevc", "av1"], CMAF).
#
# For each source (bench/media.sh; the top rung of the shipped ladder that
# fits it: 1080p for the generated ones) the rung is encoded at SCALES times
# its rates (each codec at its share, profiles.CodecRateShare, so at 1.0
# every codec is at what hlsd ships). That gives each codec a curve of
# (bytes, SSIM) points; the bytes at which a codec reaches H.264's SSIM at
# scale 1.0 are interpolated on it (linear in SSIM against log bytes,
# between the two points around it) and reported as a share of H.264's
# bytes: the Bjøntegaard idea at one point, which is the issue's question
# ("HEVC reaches the H.264 rung's SSIM at <= 70 % of its bytes").
# A share above the curve's end is printed as ">" that end.
#
#   bench/codec-rd.sh                                    # about 30 minutes
#   SOURCES="head file:/path/to/clip.mp4" bench/codec-rd.sh
#
# Targets (issue 14): HEVC <= 0.70, AV1 <= 0.60 on every source. Exits 1 if
# one is missed, 2 on any other failure.
#
# Environment: SOURCES ("slide talk grain head pan"), SECONDS_SRC (6),
# SCALES ("0.5 0.7 1 1.4 2"), BENCH_TMP, KEEP_TMP=1.
NAME=codec-rd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/bench/media.sh"

SECS=${SECONDS_SRC:-6}
SCALES=(${SCALES:-0.5 0.7 1 1.4 2})
for c in go jq ffmpeg ffprobe; do command -v $c >/dev/null || die "$c is not on PATH (Debian: apt-get install -y $c)"; done
machine

(cd "$ROOT" && go build -o "$TMP/ladder" ./bench/cmd/ladder && go build -o "$TMP/tsvideo" ./bench/cmd/tsvideo) || die "could not build bench/cmd/ladder and tsvideo"

# share CURVE TARGET BASE: the bytes at which CURVE ("kbps ssim" lines)
# reaches TARGET SSIM, over BASE kbit/s.
share() {
	sort -n <<<"$1" | awk -v t="$2" -v b="$3" '
		NF == 2 { n++; k[n] = $1; s[n] = $2 }
		END {
			if (s[1] >= t) { printf "<%.2f", k[1] / b; exit }
			for (i = 2; i <= n; i++) if (s[i] >= t) {
				f = (t - s[i-1]) / (s[i] - s[i-1])
				printf "%.2f", exp(log(k[i-1]) + f * (log(k[i]) - log(k[i-1]))) / b; exit
			}
			printf ">%.2f", k[n] / b
		}'
}

verdict=PASS
summary=()
printf '\n%-22s %-5s %-5s %9s %8s %8s\n' source scale codec kbit/s SSIM PSNR
for src in ${SOURCES:-slide talk grain head pan}; do
	label=${src#file:}
	label=${label##*/}
	make_clip "$src" "$TMP/src.mp4"
	load=$(loadavg)
	read -r rung w h < <("$TMP/ladder" -profiles "$ROOT/profiles.json" -in "$TMP/src.mp4" -mode rungs | tail -1)
	declare -A curve=()
	base_k="" base_s=""
	for scale in "${SCALES[@]}"; do
		# The shipped ladder's top rung for this source, its rates scaled,
		# in every codec.
		jq --arg rung "$rung" --argjson f "$scale" '
			.container = "cmaf" | .renditions |= map(select(.name == $rung)
				| .video_kbps = (.video_kbps * $f | round) | .maxrate_kbps = (.maxrate_kbps * $f | round)
				| .bufsize_kbps = (.bufsize_kbps * $f | round) | .codecs = ["h264", "hevc", "av1"])' \
			"$ROOT/profiles.json" >"$TMP/p.json" || die "could not write the profiles"
		dir="$TMP/$scale"
		mkdir -p "$dir"
		mapfile -t args < <("$TMP/ladder" -profiles "$TMP/p.json" -in "$TMP/src.mp4" -mode hlsd -out "$dir")
		ffmpeg "${args[@]}" >/dev/null 2>"$dir/ffmpeg.log" || die "the encode of $label at $scale failed: $(tail -3 "$dir/ffmpeg.log")"
		for codec in h264 hevc av1; do
			file="$dir/$rung-$codec.ts"
			[[ $codec == h264 ]] && file="$dir/$rung.ts"
			read -r s p < <(quality "$TMP/src.mp4" "$file" "$w" "$h")
			k=$(video_kbps "$file")
			curve[$codec]+="$k $s"$'\n'
			[[ $codec == h264 && $scale == 1 ]] && base_k=$k base_s=$s
			printf '%-22s %-5s %-5s %9s %8s %8s\n' "$label" "$scale" $codec "$k" "$s" "$p"
		done
	done
	[[ -n $base_k ]] || die "SCALES must hold 1"
	hs=$(share "${curve[hevc]}" "$base_s" "$base_k")
	as=$(share "${curve[av1]}" "$base_s" "$base_k")
	line="$label ($rung): H.264 $base_k kbit/s, SSIM $base_s; HEVC reaches it at $hs of the bytes, AV1 at $as (load $load)"
	echo "$line"
	summary+=("$line")
	if awk -v h="${hs#[<>]}" -v a="${as#[<>]}" -v hx="${hs:0:1}" -v ax="${as:0:1}" \
		'BEGIN { exit !(h > 0.70 || hx == ">" || a > 0.60 || ax == ">") }'; then verdict=FAIL; fi
	unset curve
done
echo
printf '%s\n' "${summary[@]}"
echo "machine load at end (1, 5, 15 min): $(loadavg)"
echo "RESULT verdict=$verdict"
[[ $verdict == PASS ]] || exit 1
