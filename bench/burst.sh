#!/usr/bin/env bash
# A burst of uploads: how soon each video is playable and ready while others
# encode, with the scheduling of BASE (default: the FIFO before it, commit
# 83d8f53's parent) against this tree's, in the same run.
#
# Sources (1920x1080 30 fps H.264/AAC, made once): one LONG_SECONDS (600)
# video and SHORTS (9) of SHORT_SECONDS (60). For each scheduler (fifo:
# hlsd built from BASE; fair: this tree) and each N in ENCODERS (default
# "1"): a fresh `hlsd all` with its defaults (plus N-1 `hlsd encoder`
# processes on its embedded NATS and file store); the long video is
# uploaded first through `POST /api/videos`, then the short ones GAP (3) s
# apart; every video's state is polled until ready. Per video, from the
# API: stored → first playable (playable_at − created_at) and stored → ready
# (ready_at − created_at).
#
# Fair-share prediction: the run's busy time (first upload to last ready)
# spread over the videos by their length gives each second of media its
# cost; an ideal processor-sharing scheduler (every video in progress gets an
# equal share, from its upload) then predicts each video's time to ready.
# The report gives each video's ratio actual / predicted.
#
# Targets (fair, 1 encoder): p95 first playable of the short videos under
# 15 s; no video's time to ready above 1.5x its prediction. Exits 1 if one is
# missed, 2 on any other failure.
#
#   bench/burst.sh                                   # about 90 minutes on 2 cores
#   LONG_SECONDS=120 SHORTS=4 SHORT_SECONDS=20 bench/burst.sh   # a quick one
#
# Environment: BASE, ENCODERS, LONG_SECONDS, SHORTS, SHORT_SECONDS, GAP,
# HEIGHT (1080), SCHEDULERS ("fifo fair"), BENCH_TMP, KEEP_TMP=1.
NAME=burst
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_REV=${BASE:-83d8f53^}
ENCODERS=${ENCODERS:-1}
LONG_SECONDS=${LONG_SECONDS:-600}
SHORTS=${SHORTS:-9}
SHORT_SECONDS=${SHORT_SECONDS:-60}
GAP=${GAP:-3}
HEIGHT=${HEIGHT:-1080}
SCHEDULERS=${SCHEDULERS:-fifo fair}
for c in go git curl ffmpeg ffprobe; do command -v $c >/dev/null || die "$c is not on PATH"; done

machine
mkdir -p "$TMP/fair" "$TMP/fifo"
build_hlsd "$TMP/fair"
if [[ " $SCHEDULERS " == *" fifo "* ]]; then
	say "building hlsd at $BASE_REV (the FIFO scheduler)"
	git -C "$ROOT" worktree add -q --detach "$TMP/base-src" "$BASE_REV" || die "cannot check out $BASE_REV"
	(cd "$TMP/base-src" && go build -o "$TMP/fifo/hlsd" ./cmd/hlsd) || die "cannot build $BASE_REV"
	git -C "$ROOT" worktree remove --force "$TMP/base-src"
fi

# ---- sources -------------------------------------------------------------------------

WIDTH=$((HEIGHT * 16 / 9))
say "encoding the sources once (${SHORT_SECONDS} s at ${WIDTH}x${HEIGHT}, looped to ${LONG_SECONDS} s)"
ffmpeg -hide_banner -nostdin -v error -y \
	-f lavfi -i "testsrc2=size=${WIDTH}x${HEIGHT}:rate=30:duration=$SHORT_SECONDS" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$SHORT_SECONDS" \
	-map 0:v -map 1:a -c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p \
	-b:v 8M -maxrate 10M -bufsize 16M -g 60 -c:a aac -b:a 128k -movflags +faststart "$TMP/short.mp4" ||
	die "could not make the short source"
loops=$(((LONG_SECONDS + SHORT_SECONDS / 2) / SHORT_SECONDS - 1))
ffmpeg -hide_banner -nostdin -v error -y -stream_loop "$loops" -i "$TMP/short.mp4" -c copy -f mpegts "$TMP/long.ts" ||
	die "could not make the long source"

json_field() { # name, json: a top-level string or number field
	sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" <<<"$2" | head -1
}
epoch() { date -d "$1" +%s.%N; }


VERDICT=PASS
RESULT=
run() { # scheduler, N
	local sched=$1 n=$2 ids=() names=() secs=() i id json state
	start_stack "$TMP/$sched/hlsd" "$n" "$TMP/stack-$sched-$n"
	for ((i = 0; i <= SHORTS; i++)); do
		local f=$TMP/short.mp4 name=short-$i s=$SHORT_SECONDS
		[[ $i == 0 ]] && f=$TMP/long.ts name=long s=$LONG_SECONDS
		((i == 0)) || sleep "$GAP"
		code=$(curl -sS -o "$TMP/created.json" -w '%{http_code}' -F "upload=@$f" "$API/api/videos") || die "curl failed"
		[[ $code == 202 ]] || die "POST /api/videos answered $code: $(cat "$TMP/created.json")"
		ids+=("$(json_field id "$(cat "$TMP/created.json")")") names+=("$name") secs+=("$s")
	done
	local out=$TMP/$sched-$n.txt
	: >"$out"
	for ((i = 0; i < ${#ids[@]}; i++)); do
		id=${ids[$i]}
		for ((;;)); do
			json=$(curl -fsS "$API/api/videos/$id") || die "GET $id failed"
			state=$(json_field state "$json")
			[[ $state != failed ]] || { tail -20 "$STACK_DIR/all.log" >&2; die "$sched: ${names[$i]} failed: $json"; }
			[[ $state == ready ]] && break
			sleep 1
		done
		echo "${names[$i]} ${secs[$i]} $(epoch "$(json_field created_at "$json")") $(epoch "$(json_field playable_at "$json")") $(epoch "$(json_field ready_at "$json")")" >>"$out"
	done
	stop_stack
	# name seconds created playable ready → the report, with the processor-
	# sharing prediction (0.05 s steps).
	awk -v sched="$sched" -v n="$n" -v load="$(loadavg)" '
		{ name[NR] = $1; len[NR] = $2; c[NR] = $3; p[NR] = $4 - $3; r[NR] = $5 - $3; if (NR == 1 || $3 < t0) t0 = $3; if ($5 > t1) t1 = $5; total += $2 }
		function pct(a, k, q,   m, i, j, t, s) { # q-th percentile of a[1..k]
			for (i = 1; i <= k; i++) s[i] = a[i]
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
			m = int(q * k + 0.999999); if (m < 1) m = 1; if (m > k) m = k; return s[m] }
		END {
			N = NR; cost = (t1 - t0) / total # busy seconds per second of media
			for (i = 1; i <= N; i++) { left[i] = len[i] * cost; at[i] = c[i] - t0; done[i] = 0 }
			for (t = 0; ; t += 0.05) {
				active = 0; for (i = 1; i <= N; i++) if (at[i] <= t && left[i] > 0) active++
				if (active == 0) { more = 0; for (i = 1; i <= N; i++) if (left[i] > 0) more = 1; if (!more) break; continue }
				for (i = 1; i <= N; i++) if (at[i] <= t && left[i] > 0) { left[i] -= 0.05 / active; if (left[i] <= 0) pred[i] = t + 0.05 - at[i] }
			}
			worst = 0; k = 0
			for (i = 1; i <= N; i++) {
				ratio = r[i] / pred[i]; if (ratio > worst) worst = ratio
				if (name[i] != "long") { k++; sp[k] = p[i]; sr[k] = r[i] }
				printf "%s encoders=%d %-8s %4d s: stored → playable %7.2f s, → ready %7.2f s (fair share predicts %7.2f s: %.2fx)\n", sched, n, name[i], len[i], p[i], r[i], pred[i], ratio
			}
			printf "%s encoders=%d: short videos first playable p50 %.2f s p95 %.2f s; ready p50 %.2f s p95 %.2f s; long video playable %.2f s ready %.2f s; worst ready / fair share %.2fx (load %s)\n",
				sched, n, pct(sp, k, 0.5), pct(sp, k, 0.95), pct(sr, k, 0.5), pct(sr, k, 0.95), p[1], r[1], worst, load
			printf "RESULT_PART %s_%d_short_playable_p50=%.2f %s_%d_short_playable_p95=%.2f %s_%d_short_ready_p50=%.2f %s_%d_short_ready_p95=%.2f %s_%d_long_playable=%.2f %s_%d_long_ready=%.2f %s_%d_worst_fair_ratio=%.2f\n",
				sched, n, pct(sp, k, 0.5), sched, n, pct(sp, k, 0.95), sched, n, pct(sr, k, 0.5), sched, n, pct(sr, k, 0.95), sched, n, p[1], sched, n, r[1], sched, n, worst
		}' "$out" | tee "$TMP/$sched-$n.report"
	RESULT+=" $(sed -n 's/^RESULT_PART //p' "$TMP/$sched-$n.report")"
	if [[ $sched == fair && $n == 1 ]]; then
		local p95 worst
		p95=$(sed -n 's/.*_short_playable_p95=\([0-9.]*\).*/\1/p' "$TMP/$sched-$n.report")
		worst=$(sed -n 's/.*_worst_fair_ratio=\([0-9.]*\).*/\1/p' "$TMP/$sched-$n.report")
		awk -v a="$p95" 'BEGIN { exit !(a < 15) }' || { echo "target missed: p95 first playable of the short videos $p95 s (want < 15 s)"; VERDICT=FAIL; }
		awk -v a="$worst" 'BEGIN { exit !(a <= 1.5) }' || { echo "target missed: a video's time to ready is ${worst}x its fair share (want <= 1.5x)"; VERDICT=FAIL; }
	fi
}

for n in $ENCODERS; do
	for sched in $SCHEDULERS; do
		run "$sched" "$n"
	done
done
echo "machine load at end (1, 5, 15 min): $(loadavg)"
echo "RESULT long=${LONG_SECONDS}s shorts=${SHORTS}x${SHORT_SECONDS}s gap=${GAP}s height=$HEIGHT base=$BASE_REV$RESULT verdict=$VERDICT"
[[ $VERDICT == PASS ]] || exit 1
