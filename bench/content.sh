#!/usr/bin/env bash
# Content service under wrk: hlsd's content service against nginx serving
# the same files from disk, and the same service with MinIO behind it.
#
# Publishes one video into an hlsd file store with bench/cmd/hlsfixture (a
# master, a media playlist of 100 six-second segments, and 1 MiB segments of
# real H.264/AAC MPEG-TS), copies the same objects into a fresh MinIO (with
# hlsd's own S3 store code), and starts, each on a free loopback port:
#   nginx        bench/nginx.conf: the store directory as root, sendfile on,
#                the HLS types, gzip level 6 for playlists, no access log
#   hlsd-disk    `hlsd content --store DIR` (with a nats-server, which the
#                content service needs only for /readyz)
#   hlsd-minio   `hlsd content --store s3://…` on the MinIO
# Every server is asked once for each URL first, and must answer 200 with the
# right Content-Type and the same bytes. Then ROUNDS times (default 2), for
# each URL (the media playlist; the same with Accept-Encoding: gzip, as
# browsers send it; one 1 MiB segment) and each server in turn:
#   wrk -t2 -c64 -d15s --latency URL
# printing requests/s, p50 and p99, and at the end the best round of each,
# the ratios hlsd-disk / nginx (target >= 0.8 in requests/s) and
# hlsd-minio / nginx.
#
# This machine has 2 cores: with PIN=1 (the default) every server process runs
# on CPU 0 (taskset -c 0: one nginx worker; Go sets GOMAXPROCS=1 for hlsd and
# MinIO from the affinity)
# and wrk on CPU 1, so the load generator never takes the server's core.
# PIN=0 lets everything share both cores (nginx: 2 workers).
#
# Exits 1 if hlsd-disk / nginx is below TARGET on any URL, 2 on any other
# failure.
#
#   bench/content.sh          # about 6 minutes
#   DURATION=5s ROUNDS=1 bench/content.sh   # a quick check
#
# Environment: ROUNDS (2), DURATION (15s), CONNECTIONS (64), THREADS (2),
# PIN (1), TARGET (0.8), NO_MINIO=1, MINIO_BIN, NATS_BIN, BENCH_TMP, KEEP_TMP=1.
NAME=content
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PIN=${PIN:-1}
TARGET=${TARGET:-0.8}
S3_USER=hlsdbench
S3_PASS=hlsdbench-secret
BUCKET=hlsd

for c in go curl ffmpeg wrk nginx; do
	command -v $c >/dev/null || die "$c is not on PATH (Debian: apt-get install -y wrk nginx-light ffmpeg)"
done
GOPATH_BIN=$(go env GOPATH)/bin
NATS_BIN=$(pick_bin "${NATS_BIN:-}" "$TOOLS_DIR/nats-server-$NATS_VERSION/nats-server" "$GOPATH_BIN/nats-server" nats-server)
if [[ ${NO_MINIO:-} != 1 ]]; then
	MINIO_BIN=$(pick_bin "${MINIO_BIN:-}" "$TOOLS_DIR/minio-$MINIO_VERSION/minio" "$GOPATH_BIN/minio" minio)
fi

if [[ $PIN == 1 ]]; then
	SERVER=(taskset -c 0) CLIENT=(taskset -c 1) WORKERS=1
	PINNING="servers on CPU 0 (taskset -c 0), wrk on CPU 1 (taskset -c 1)"
else
	SERVER=() CLIENT=() WORKERS=auto
	PINNING="no pinning: servers and wrk share both CPUs"
fi

machine
echo "machine wrk: $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'); nginx: $(nginx -v 2>&1 | sed 's/.*nginx\///')"
echo "pinning: $PINNING"
say "building hlsd, hlsfixture and s3put; temp dir $TMP"
mkdir -p "$TMP/bin"
build_hlsd "$TMP/bin"
(cd "$ROOT" && go build -o "$TMP/bin/hlsfixture" ./bench/cmd/hlsfixture && go build -o "$TMP/bin/s3put" ./bench/cmd/s3put) ||
	die "build failed"

# ---- the video ---------------------------------------------------------------------

ID=benchbenchbenchbenchbnch # 24 characters of a-z2-7, as jobs.NewVideoID makes
ffmpeg -hide_banner -nostdin -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=4" \
	-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4" -map 0:v -map 1:a \
	-c:v libx264 -preset veryfast -profile:v high -b:v 3000k -maxrate 3300k -bufsize 6000k -g 60 \
	-c:a aac -b:a 128k -ac 2 -f mpegts "$TMP/clip.ts" || die "could not make the segment bytes"
DATA=$TMP/store
"$TMP/bin/hlsfixture" -store "$DATA" -id "$ID" -ts "$TMP/clip.ts" -segments 100 -seg-bytes $((1 << 20)) ||
	die "could not publish into the file store"
PLAYLIST=/streams/$ID/720p/index.m3u8
SEGMENT=/streams/$ID/720p/seg_00000.ts
echo "input: video $ID: media playlist $(stat -c %s "$DATA$PLAYLIST") bytes (100 segments), segment $(stat -c %s "$DATA$SEGMENT") bytes"

# ---- servers -------------------------------------------------------------------------

free_port; NATS_PORT=$PORT
mkdir -p "$TMP/nats"
start_bg "$TMP/nats.log" "${SERVER[@]}" "$NATS_BIN" -js -sd "$TMP/nats" -a 127.0.0.1 -p "$NATS_PORT"
NATS_PID=$BG_PID
wait_tcp "$NATS_PORT" "$NATS_PID" nats-server "$TMP/nats.log"

free_port; NGINX_PORT=$PORT
mkdir -p "$TMP/nginx"
sed -e "s#@PREFIX@#$TMP/nginx#g" -e "s#@DATA@#$DATA#g" -e "s#@PORT@#$NGINX_PORT#g" \
	-e "s#@WORKERS@#$WORKERS#g" -e "s#@USER@#$(id -un)#g" "$ROOT/bench/nginx.conf" >"$TMP/nginx/nginx.conf"
nginx -q -t -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf" 2>"$TMP/nginx-test.log" ||
	{ cat "$TMP/nginx-test.log" >&2; die "nginx rejected bench/nginx.conf"; }
start_bg "$TMP/nginx.log" "${SERVER[@]}" nginx -p "$TMP/nginx" -e "$TMP/nginx/error.log" -c "$TMP/nginx/nginx.conf"
NGINX_PID=$BG_PID
wait_http_ok "http://127.0.0.1:$NGINX_PORT$PLAYLIST" "$NGINX_PID" nginx "$TMP/nginx/error.log" 30

start_content() { # name, store URL; sets BG_PID and PORT
	free_port
	start_bg "$TMP/$1.log" "${SERVER[@]}" "$TMP/bin/hlsd" content --listen "127.0.0.1:$PORT" \
		--nats-url "nats://127.0.0.1:$NATS_PORT" --store "$2" --data-dir "$TMP/$1-data" --log-level warn --shutdown-grace 2s
	wait_http_ok "http://127.0.0.1:$PORT/readyz" "$BG_PID" "hlsd content ($1)" "$TMP/$1.log" 60
}
start_content hlsd-disk "$DATA"
DISK_PORT=$PORT DISK_PID=$BG_PID

SERVERS=(nginx hlsd-disk)
declare -A BASE=([nginx]=http://127.0.0.1:$NGINX_PORT [hlsd-disk]=http://127.0.0.1:$DISK_PORT)
declare -A SPID=([nginx]=$NGINX_PID [hlsd-disk]=$DISK_PID) SLOG=([nginx]=$TMP/nginx/error.log [hlsd-disk]=$TMP/hlsd-disk.log)
if [[ ${NO_MINIO:-} != 1 ]]; then
	free_port; MINIO_PORT=$PORT
	start_bg "$TMP/minio.log" env MINIO_ROOT_USER=$S3_USER MINIO_ROOT_PASSWORD=$S3_PASS MINIO_BROWSER=off \
		MINIO_UPDATE=off MINIO_CI_CD=1 "${SERVER[@]}" "$MINIO_BIN" server --quiet \
		--address "127.0.0.1:$MINIO_PORT" --console-address 127.0.0.1:0 "$TMP/minio"
	MINIO_PID=$BG_PID
	wait_http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/ready" "$MINIO_PID" MinIO "$TMP/minio.log" 60
	# MinIO says ready before it accepts S3 calls: s3put retries.
	S3PUT_ACCESS_KEY=$S3_USER S3PUT_SECRET_KEY=$S3_PASS "$TMP/bin/s3put" -endpoint "127.0.0.1:$MINIO_PORT" \
		-bucket "$BUCKET" -mkbucket -wait 60s || die "MinIO did not accept the bucket (log: $TMP/minio.log)"
	S3_URL="s3://$S3_USER:$S3_PASS@127.0.0.1:$MINIO_PORT/$BUCKET?secure=false"
	"$TMP/bin/hlsfixture" -store "$S3_URL" -id "$ID" -ts "$TMP/clip.ts" -segments 100 -seg-bytes $((1 << 20)) >/dev/null ||
		die "could not publish into MinIO"
	start_content hlsd-minio "$S3_URL"
	MINIO_CONTENT_PID=$BG_PID
	SERVERS+=(hlsd-minio)
	BASE[hlsd-minio]=http://127.0.0.1:$PORT SPID[hlsd-minio]=$MINIO_CONTENT_PID SLOG[hlsd-minio]=$TMP/hlsd-minio.log
fi

# ---- every server answers the same ----------------------------------------------------

for s in "${SERVERS[@]}"; do
	for u in "$PLAYLIST" "$SEGMENT"; do
		got=$(curl -sS -o "$TMP/body" -w '%{http_code} %{content_type}' "${BASE[$s]}$u") || die "$s: GET $u failed"
		case $u in *.m3u8) want="200 application/vnd.apple.mpegurl" ;; *) want="200 video/mp2t" ;; esac
		[[ $got == "$want" ]] || die "$s: GET $u answered \"$got\", want \"$want\""
		cmp -s "$TMP/body" "$DATA$u" || die "$s: GET $u: not the stored bytes"
	done
	got=$(curl -sS -H 'Accept-Encoding: gzip' -D "$TMP/headers" "${BASE[$s]}$PLAYLIST" | gunzip | cmp - "$DATA$PLAYLIST" && echo ok) ||
		die "$s: the gzip playlist does not decompress to the stored one"
	grep -qi '^content-encoding: gzip' "$TMP/headers" || die "$s: no gzip for Accept-Encoding: gzip"
done
echo "checked: every server answers 200, the right Content-Type and the stored bytes (gzip: the same after gunzip)"

# ---- wrk ------------------------------------------------------------------------------

ms() { # wrk's "1.23ms", "850.00us" or "1.02s" → milliseconds
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

declare -A RPS P99 P50 MBS
URLS=(playlist playlist-gzip segment)
declare -A PATH_OF=([playlist]=$PLAYLIST [playlist-gzip]=$PLAYLIST [segment]=$SEGMENT)
run_wrk() { # server, url name, round
	local out="$TMP/wrk-$1-$2-$3.txt" hdr=() rps p50 p99 xfer bad load
	[[ $2 == playlist-gzip ]] && hdr=(-H 'Accept-Encoding: gzip')
	# A second of warm-up: connections, page cache, the server's own caches.
	"${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "${hdr[@]}" "${BASE[$1]}${PATH_OF[$2]}" >/dev/null 2>&1 || true
	load=$(loadavg)
	"${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${hdr[@]}" "${BASE[$1]}${PATH_OF[$2]}" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed against $1"; }
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	xfer=$(awk '/^Transfer\/sec:/ { print $2 }' "$out")
	bad=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$out" | tr '\n' ' ')
	alive "${SPID[$1]}" "$1" "${SLOG[$1]}"
	[[ $1 != hlsd-minio ]] || alive "$MINIO_PID" MinIO "$TMP/minio.log"
	[[ -n $rps && -n $p99 ]] || { cat "$out" >&2; die "cannot read wrk's output"; }
	# Fast error answers would count as requests served: any is a failure.
	! grep -q 'Non-2xx or 3xx responses' "$out" || { cat "$out" >&2; die "$1 $2: answers other than 2xx/3xx (wrk's output above)"; }
	[[ -z $bad ]] || echo "  warning: $1 $2: $bad" >&2
	printf 'round %d  %-13s %-10s %10.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %9s/s  (load %s)\n' \
		"$3" "$2" "$1" "$rps" "$p50" "$p99" "$xfer" "$load"
	# Keep the best round (highest requests/s) with its latencies.
	if [[ -z ${RPS[$1/$2]:-} ]] || awk -v a="$rps" -v b="${RPS[$1/$2]}" 'BEGIN { exit !(a > b) }'; then
		RPS[$1/$2]=$rps P50[$1/$2]=$p50 P99[$1/$2]=$p99 MBS[$1/$2]=$xfer
	fi
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (after 1 s of warm-up), $ROUNDS rounds:"
for ((r = 1; r <= ROUNDS; r++)); do
	for u in "${URLS[@]}"; do
		for s in "${SERVERS[@]}"; do
			run_wrk "$s" "$u" "$r"
		done
	done
done

# ---- summary ----------------------------------------------------------------------------

RSS_DISK=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$DISK_PID/status")
echo "summary (best round of $ROUNDS by requests/s; $PINNING):"
VERDICT=PASS
RESULT=
for u in "${URLS[@]}"; do
	n=${RPS[nginx/$u]}
	line=$(printf '  %-13s nginx %8.0f req/s p99 %6.2f ms' "$u" "$n" "${P99[nginx/$u]}")
	for s in "${SERVERS[@]:1}"; do
		rr=$(ratio "${RPS[$s/$u]}" "$n")
		line+=$(printf ' | %s %8.0f req/s p99 %6.2f ms = %s× nginx' "$s" "${RPS[$s/$u]}" "${P99[$s/$u]}" "$rr")
		RESULT+=" ${s//-/_}_${u//-/_}_rps=${RPS[$s/$u]} ${s//-/_}_${u//-/_}_p99_ms=${P99[$s/$u]} ${s//-/_}_${u//-/_}_ratio=$rr"
		if [[ $s == hlsd-disk ]] && ! awk -v r="$rr" -v t="$TARGET" 'BEGIN { exit !(r >= t) }'; then VERDICT=FAIL; fi
	done
	RESULT+=" nginx_${u//-/_}_rps=$n nginx_${u//-/_}_p99_ms=${P99[nginx/$u]}"
	echo "$line"
done
echo "  target: hlsd-disk / nginx >= $TARGET in requests/s on every URL: $VERDICT"
echo "  hlsd-disk peak RSS (VmHWM) $RSS_DISK MiB"
echo "machine load at end (1, 5, 15 min): $(loadavg)"
echo "RESULT pin=$PIN rounds=$ROUNDS duration=$DURATION connections=$CONNECTIONS$RESULT target=$TARGET verdict=$VERDICT"
[[ $VERDICT == PASS ]] || exit 1
