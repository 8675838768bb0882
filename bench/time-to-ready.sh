#!/usr/bin/env bash
# Time to ready: an upload through `hlsd all` against the best single ffmpeg
# command producing the same ladder with ffmpeg's own HLS muxer.
#
# Makes a 60 s 1280x720 30 fps H.264/AAC MP4 (testsrc2 and a tone, about
# 5 Mbit/s), starts `hlsd all` (built with `make build`) on a free loopback
# port with a fresh data directory, and then REPEAT times (default 3), one
# after the other:
#   1. anchor: one ffmpeg: the same input options, the same filter graph (one
#      decode, fps, split, scale per rung) and the same per-rendition x264 and
#      AAC options as hlsd's encoder, taken from pkg/ffmpeg's EncodeSpec.Args
#      by bench/cmd/ladder, but one output: `-f hls -hls_time 6
#      -hls_playlist_type vod -var_stream_map ... -master_pl_name master.m3u8`
#      (for PROFILES with "container": "cmaf", `-hls_segment_type fmp4`, which
#      carries HEVC and AV1 too, so a codec ladder has its anchor).
#      Timed wall clock, process start to exit.
#   2. hlsd: `curl -F upload=@clip http://.../upload`, which answers the master
#      URL once the video is ready. Timed by curl (request start to answer);
#      the video's created_at → ready_at (from GET /api/videos/{id}) is the
#      time from the stored upload to ready. The master URL is then fetched.
# The ratio hlsd / anchor of each pair, their median (target <= 1.10) and the
# ratio of the median times are printed, then `hlsd check` runs on hlsd's
# last video and on the anchor's last output (served by bench/cmd/hlsserve:
# HLS MIME types, gzip for playlists), with the finding counts of both.
#
# Exits 1 if the median ratio is above TARGET (1.10), 2 on any other failure.
#
#   bench/time-to-ready.sh                   # about 8 minutes on 2 cores
#   REPEAT=1 SOURCE_SECONDS=10 bench/time-to-ready.sh   # a quick check
#
# Environment: REPEAT (3), TARGET (1.10), SOURCE (use this file as the
# source), SOURCE_SECONDS (60), PROFILES (the repository's profiles.json; e.g.
# one with "rate_control": "capped-crf", or a CMAF one with "codecs"), NO_CHECK=1 (skip the conformance checks),
# BENCH_TMP, KEEP_TMP=1.
NAME=time-to-ready
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPEAT=${REPEAT:-3}
PROFILES=${PROFILES:-$ROOT/profiles.json} # both sides encode with it
[[ -r $PROFILES ]] || die "PROFILES=$PROFILES is not readable"
TARGET=${TARGET:-1.10}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT=$REPEAT: want a positive number"
for c in go curl ffmpeg ffprobe; do command -v $c >/dev/null || die "$c is not on PATH"; done

machine
say "building hlsd, ladder and hlsserve; temp dir $TMP"
mkdir -p "$TMP/bin"
build_hlsd "$TMP/bin"
(cd "$ROOT" && go build -o "$TMP/bin/ladder" ./bench/cmd/ladder && go build -o "$TMP/bin/hlsserve" ./bench/cmd/hlsserve) ||
	die "build failed"

SRC=$TMP/source.mp4
make_source "$SRC"
echo "input: $(ffprobe -v error -show_entries format=duration,bit_rate,size -of default=nw=1:nk=0 "$SRC" | tr '\n' ' ')" \
	"$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name,profile,width,height,r_frame_rate -of csv=p=0 "$SRC")" \
	"audio $(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name,sample_rate,channels,bit_rate -of csv=p=0 "$SRC")"
echo "ladder (profiles.Select for this source; the same rungs in both):" $("$TMP/bin/ladder" -profiles "$PROFILES" -in "$SRC" -mode rungs | awk '{ printf "%s=%dx%d ", $1, $2, $3 }')

# ---- hlsd all ------------------------------------------------------------------

free_port; HLSD_PORT=$PORT
start_bg "$TMP/hlsd.log" "$TMP/bin/hlsd" all --listen "127.0.0.1:$HLSD_PORT" --data-dir "$TMP/hlsd-data" \
	--profiles "$PROFILES" --shutdown-grace 2s
HLSD_PID=$BG_PID
wait_http_ok "http://127.0.0.1:$HLSD_PORT/readyz" "$HLSD_PID" "hlsd all" "$TMP/hlsd.log" 60
BASE=http://127.0.0.1:$HLSD_PORT

# ---- one anchor run ---------------------------------------------------------------

ANCHOR_CMD=
anchor_once() { # sets A_S
	local dir="$TMP/anchor-$1" args t0 t1 load n
	rm -rf "$TMP"/anchor-* # keep only the run being measured (for the check)
	mkdir -p "$dir"
	mapfile -t args < <("$TMP/bin/ladder" -profiles "$PROFILES" -in "$SRC" -mode anchor -out "$dir")
	((${#args[@]} > 10)) || die "ladder printed no command"
	if [[ -z $ANCHOR_CMD ]]; then ANCHOR_CMD="ffmpeg $(printf '%q ' "${args[@]}")"; fi
	load=$(loadavg)
	t0=$(now_s)
	ffmpeg "${args[@]}" >"$TMP/anchor.log" 2>&1 || { tail -20 "$TMP/anchor.log" >&2; die "the anchor ffmpeg failed (its log above)"; }
	t1=$(now_s)
	A_S=$(elapsed "$t0" "$t1")
	[[ -s $dir/master.m3u8 ]] || die "the anchor wrote no master playlist"
	n=$(cat "$dir"/*/index.m3u8 | grep -c '^seg_')
	printf 'anchor  #%d  ffmpeg -f hls (one run, %d renditions)        %7.2f s   (%d segments; load %s → %s)\n' \
		"$1" "$(ls "$dir"/*/index.m3u8 | wc -l)" "$A_S" "$n" "$load" "$(loadavg)"
}

# ---- one hlsd run -------------------------------------------------------------------

LAST_MASTER=
hlsd_once() { # sets H_S, H_PROC_S, H_UPLOAD_S
	local res code t load url id json created ready
	load=$(loadavg)
	res=$(curl -sS -o "$TMP/answer.txt" -w '%{http_code} %{time_total}' -F "upload=@$SRC" "$BASE/upload") ||
		{ tail -20 "$TMP/hlsd.log" >&2; die "curl failed (hlsd's log above)"; }
	read -r code t <<<"$res"
	H_S=$(printf '%.2f' "$t")
	[[ $code == 200 ]] || die "POST /upload answered $code: $(cat "$TMP/answer.txt")"
	url=$(head -1 "$TMP/answer.txt" | tr -d '\r')
	id=$(sed -n 's#.*/streams/\([a-z2-7]*\)/master.m3u8.*#\1#p' <<<"$url")
	[[ -n $id ]] || die "no master URL in the answer: $url"
	curl -fsS -o /dev/null "$url" || die "the master URL $url does not answer"
	json=$(curl -fsS "$BASE/api/videos/$id") || die "GET /api/videos/$id failed"
	created=$(sed -n 's/^  "created_at": "\(.*\)",*$/\1/p' <<<"$json")
	ready=$(sed -n 's/^  "ready_at": "\(.*\)",*$/\1/p' <<<"$json")
	[[ -n $created && -n $ready ]] || die "no created_at/ready_at in $json"
	H_PROC_S=$(elapsed "$(date -d "$created" +%s.%N)" "$(date -d "$ready" +%s.%N)")
	H_UPLOAD_S=$(awk -v t="$H_S" -v p="$H_PROC_S" 'BEGIN { printf "%.2f", t - p }')
	LAST_MASTER=$url
	printf 'hlsd    #%d  POST /upload → master URL answered        %7.2f s   (stored upload → ready %.2f s; the rest %.2f s; load %s → %s)\n' \
		"$1" "$H_S" "$H_PROC_S" "$H_UPLOAD_S" "$load" "$(loadavg)"
}

# ---- the runs -------------------------------------------------------------------------

AS=() HS=() PS=() RS=() RPS=()
for ((r = 1; r <= REPEAT; r++)); do
	anchor_once "$r"
	hlsd_once "$r"
	AS+=("$A_S") HS+=("$H_S") PS+=("$H_PROC_S")
	RS+=("$(ratio "$H_S" "$A_S")") RPS+=("$(ratio "$H_PROC_S" "$A_S")")
done
echo "anchor command: $ANCHOR_CMD"

MED_R=$(median "${RS[@]}")
MED_RP=$(median "${RPS[@]}")
MED_A=$(median "${AS[@]}")
MED_H=$(median "${HS[@]}")
if awk -v r="$MED_R" -v t="$TARGET" 'BEGIN { exit !(r <= t) }'; then VERDICT=PASS; else VERDICT=FAIL; fi
echo "summary ($REPEAT rounds, anchor and hlsd alternating):"
echo "  anchor s:            ${AS[*]}   (median $MED_A)"
echo "  hlsd s:              ${HS[*]}   (median $MED_H)"
echo "  hlsd stored→ready s: ${PS[*]}"
echo "  ratio hlsd/anchor per round: ${RS[*]}; median $MED_R (target <= $TARGET: $VERDICT); ratio of the medians $(ratio "$MED_H" "$MED_A")"
echo "  ratio stored→ready/anchor per round: ${RPS[*]}; median $MED_RP"

# ---- conformance -----------------------------------------------------------------------

check_counts() { # name, master URL: prints the summary line and the findings per rule
	local out="$TMP/check-$1.txt" rc=0
	"$TMP/bin/hlsd" check "$2" >"$out" 2>&1 || rc=$?
	((rc <= 1)) || { cat "$out" >&2; die "hlsd check could not run on $1"; }
	echo "check $1: $(tail -1 "$out")"
	grep -E '^(MUST|SHOULD) ' "$out" | awk '{ print $1, $2 }' | sort | uniq -c | sort -rn | sed 's/^/    /' || true
	CHECK_FINDINGS=$(sed -n 's/.*: \([0-9]*\) findings (\([0-9]*\) MUST)$/\1 \2/p' "$out" | tail -1)
}
if [[ ${NO_CHECK:-} != 1 ]]; then
	check_counts hlsd "$LAST_MASTER"
	HC=$CHECK_FINDINGS
	free_port; STATIC_PORT=$PORT
	ADIR=$(ls -d "$TMP"/anchor-* | tail -1)
	start_bg "$TMP/hlsserve.log" "$TMP/bin/hlsserve" -dir "$ADIR" -listen "127.0.0.1:$STATIC_PORT"
	wait_http_ok "http://127.0.0.1:$STATIC_PORT/master.m3u8" "$BG_PID" hlsserve "$TMP/hlsserve.log" 30
	check_counts anchor "http://127.0.0.1:$STATIC_PORT/master.m3u8"
	AC=$CHECK_FINDINGS
	echo "  (full reports: KEEP_TMP=1, then $TMP/check-*.txt)"
else
	HC="- -" AC="- -"
fi

echo "machine load at end (1, 5, 15 min): $(loadavg)"
read -r HCF HCM <<<"$HC"
read -r ACF ACM <<<"$AC"
echo "RESULT repeat=$REPEAT anchor_s=$(IFS=,; echo "${AS[*]}") hlsd_s=$(IFS=,; echo "${HS[*]}")" \
	"hlsd_stored_to_ready_s=$(IFS=,; echo "${PS[*]}") ratios=$(IFS=,; echo "${RS[*]}") median_ratio=$MED_R" \
	"target=$TARGET verdict=$VERDICT hlsd_findings=$HCF hlsd_must=$HCM anchor_findings=$ACF anchor_must=$ACM"
[[ $VERDICT == PASS ]] || exit 1
