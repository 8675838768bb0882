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
# browsers send it; the 100 segments of 1 MiB in turn) and each server:
#   wrk -t2 -c64 -d15s --latency URL
# printing requests/s, p50 and p99, and the server's CPU time per request
# and MB served per CPU-second (from /proc/PID/stat; nginx: master and
# workers; with MinIO, MinIO's own CPU beside), and at the end the best
# round of each, the ratios to nginx, and the targets.
#
# This machine has 2 cores: with PIN=1 (the default) every server process runs
# on CPU 0 (taskset -c 0: one nginx worker; Go sets GOMAXPROCS=1 for hlsd and
# MinIO from the affinity)
# and wrk on CPU 1, so the load generator never takes the server's core.
# PIN=0 lets everything share both cores (nginx: 2 workers).
#
# Exits 1 if a target is missed (playlists from disk >= 0.5x nginx's
# requests/s; segments from disk >= 0.9x nginx's MB per CPU-second; with
# MinIO, segments >= 0.5x nginx's requests/s and p99 within 2x), 2 on any
# other failure.
#
#   bench/content.sh          # about 6 minutes
#   DURATION=5s ROUNDS=1 bench/content.sh   # a quick check
#
# Environment: ROUNDS (2), DURATION (15s), CONNECTIONS (64), THREADS (2),
# PIN (1), NO_MINIO=1, MINIO_BIN, NATS_BIN, BENCH_TMP, KEEP_TMP=1.
NAME=content
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PIN=${PIN:-1}
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

declare -A RPS P99 P50 MBS CPUREQ MBCPU MINIOREQ
URLS=(playlist playlist-gzip segment)
declare -A PATH_OF=([playlist]=$PLAYLIST [playlist-gzip]=$PLAYLIST [segment]=$SEGMENT)
# The segment URL rotates over all 100 segments (100 MiB: within the content
# service's default segment cache of 256 MiB, in the page cache for nginx):
# what many viewers of one video fetch, not one hot object.
cat >"$TMP/rotate.lua" <<LUA
local n = 0
request = function()
	local path = string.format("/streams/$ID/720p/seg_%05d.ts", n % 100)
	n = n + 1
	return wrk.format("GET", path)
end
LUA
# Bytes of one answer, for CPU per GB.
declare -A BODY=([playlist]=$(stat -c %s "$DATA$PLAYLIST") [segment]=$(stat -c %s "$DATA$SEGMENT"))
BODY[playlist-gzip]=$(curl -sS -H 'Accept-Encoding: gzip' "${BASE[nginx]}$PLAYLIST" | wc -c)
run_wrk() { # server, url name, round
	local out="$TMP/wrk-$1-$2-$3.txt" hdr=() script=() rps p50 p99 xfer bad load t0 t1 m0 m1 reqs cpu_us mb_cpu minio_us=""
	[[ $2 == playlist-gzip ]] && hdr=(-H 'Accept-Encoding: gzip')
	[[ $2 == segment ]] && script=(-s "$TMP/rotate.lua")
	# A second of warm-up: connections, page cache, the server's own caches.
	"${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d1s "${hdr[@]}" "${script[@]}" "${BASE[$1]}${PATH_OF[$2]}" >/dev/null 2>&1 || true
	load=$(loadavg)
	t0=$(cpu_ticks "${SPID[$1]}")
	[[ $1 != hlsd-minio ]] || m0=$(cpu_ticks "$MINIO_PID")
	"${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "${hdr[@]}" "${script[@]}" "${BASE[$1]}${PATH_OF[$2]}" >"$out" 2>&1 ||
		{ cat "$out" >&2; die "wrk failed against $1"; }
	t1=$(cpu_ticks "${SPID[$1]}")
	[[ $1 != hlsd-minio ]] || m1=$(cpu_ticks "$MINIO_PID")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	reqs=$(awk '/requests in/ { print $1 }' "$out")
	p50=$(ms "$(awk '$1 == "50%" { print $2 }' "$out")")
	p99=$(ms "$(awk '$1 == "99%" { print $2 }' "$out")")
	xfer=$(awk '/^Transfer\/sec:/ { print $2 }' "$out")
	bad=$(awk '/Socket errors:/ { sub(/.*Socket errors: /, ""); print }' "$out" | tr '\n' ' ')
	alive "${SPID[$1]}" "$1" "${SLOG[$1]}"
	[[ $1 != hlsd-minio ]] || alive "$MINIO_PID" MinIO "$TMP/minio.log"
	[[ -n $rps && -n $p99 && -n $reqs ]] || { cat "$out" >&2; die "cannot read wrk's output"; }
	# Fast error answers would count as requests served: any is a failure.
	! grep -q 'Non-2xx or 3xx responses' "$out" || { cat "$out" >&2; die "$1 $2: answers other than 2xx/3xx (wrk's output above)"; }
	[[ -z $bad ]] || echo "  warning: $1 $2: $bad" >&2
	# CPU of the server process (nginx: master and workers) per request,
	# and MB of answers per CPU-second: steadier than requests/s on a
	# shared machine, since another process's load slows the server but
	# does not add to its CPU time.
	cpu_us=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
	mb_cpu=$(awk -v t="$((t1 - t0))" -v hz="$CLK_TCK" -v n="$reqs" -v b="${BODY[$2]}" 'BEGIN { c = t / hz; printf "%.0f", (c > 0 ? n * b / 1e6 / c : 0) }')
	[[ $1 != hlsd-minio ]] || minio_us=$(awk -v t="$((m1 - m0))" -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
	printf 'round %d  %-13s %-10s %10.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %9s/s  cpu %7.1f us/req  %6s MB/cpu-s%s  (load %s)\n' \
		"$3" "$2" "$1" "$rps" "$p50" "$p99" "$xfer" "$cpu_us" "$mb_cpu" "${minio_us:+  MinIO $minio_us us/req}" "$load"
	# Keep the best round (highest requests/s) with its latencies, and the
	# lowest CPU per request.
	if [[ -z ${RPS[$1/$2]:-} ]] || awk -v a="$rps" -v b="${RPS[$1/$2]}" 'BEGIN { exit !(a > b) }'; then
		RPS[$1/$2]=$rps P50[$1/$2]=$p50 P99[$1/$2]=$p99 MBS[$1/$2]=$xfer
	fi
	if [[ -z ${CPUREQ[$1/$2]:-} ]] || awk -v a="$cpu_us" -v b="${CPUREQ[$1/$2]}" 'BEGIN { exit !(a < b) }'; then
		CPUREQ[$1/$2]=$cpu_us MBCPU[$1/$2]=$mb_cpu MINIOREQ[$1/$2]=$minio_us
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
echo "summary (best round of $ROUNDS by requests/s, lowest CPU per request; $PINNING):"
VERDICT=PASS
RESULT=
check() { # description, condition (awk expression on a and b), a, b
	if awk -v a="$3" -v b="$4" "BEGIN { exit !($2) }"; then echo "  target: $1: ok"; else echo "  target: $1: MISSED"; VERDICT=FAIL; fi
}
for u in "${URLS[@]}"; do
	n=${RPS[nginx/$u]}
	printf '  %-13s nginx      %8.0f req/s p99 %7.2f ms  cpu %7.1f us/req %6s MB/cpu-s\n' "$u" "$n" "${P99[nginx/$u]}" "${CPUREQ[nginx/$u]}" "${MBCPU[nginx/$u]}"
	for s in "${SERVERS[@]:1}"; do
		rr=$(ratio "${RPS[$s/$u]}" "$n")
		cr=$(ratio "${MBCPU[$s/$u]}" "${MBCPU[nginx/$u]}")
		printf '  %-13s %-10s %8.0f req/s p99 %7.2f ms  cpu %7.1f us/req %6s MB/cpu-s  = %s× nginx in req/s, %s× in MB per CPU-second%s\n' \
			"$u" "$s" "${RPS[$s/$u]}" "${P99[$s/$u]}" "${CPUREQ[$s/$u]}" "${MBCPU[$s/$u]}" "$rr" "$cr" "${MINIOREQ[$s/$u]:+ (MinIO ${MINIOREQ[$s/$u]} us/req)}"
		RESULT+=" ${s//-/_}_${u//-/_}_rps=${RPS[$s/$u]} ${s//-/_}_${u//-/_}_p99_ms=${P99[$s/$u]} ${s//-/_}_${u//-/_}_ratio=$rr"
		RESULT+=" ${s//-/_}_${u//-/_}_cpu_us=${CPUREQ[$s/$u]} ${s//-/_}_${u//-/_}_mb_per_cpu_s=${MBCPU[$s/$u]} ${s//-/_}_${u//-/_}_cpu_ratio=$cr"
	done
	RESULT+=" nginx_${u//-/_}_rps=$n nginx_${u//-/_}_p99_ms=${P99[nginx/$u]} nginx_${u//-/_}_cpu_us=${CPUREQ[nginx/$u]} nginx_${u//-/_}_mb_per_cpu_s=${MBCPU[nginx/$u]}"
done
# The issue's targets (see BENCHMARKS.md).
check "playlists from the disk store >= 0.5x nginx's requests/s" "a >= 0.5 * b" "${RPS[hlsd-disk/playlist]}" "${RPS[nginx/playlist]}"
check "1 MB segments from the disk store >= 0.9x nginx's MB per CPU-second" "a >= 0.9 * b" "${MBCPU[hlsd-disk/segment]}" "${MBCPU[nginx/segment]}"
if [[ ${NO_MINIO:-} != 1 ]]; then
	check "segments with MinIO behind >= 0.5x nginx's requests/s" "a >= 0.5 * b" "${RPS[hlsd-minio/segment]}" "${RPS[nginx/segment]}"
	check "segments with MinIO behind: p99 within 2x nginx's" "a <= 2 * b" "${P99[hlsd-minio/segment]}" "${P99[nginx/segment]}"
fi
echo "  hlsd-disk peak RSS (VmHWM) $RSS_DISK MiB"
[[ ${NO_MINIO:-} == 1 ]] || echo "  hlsd-minio peak RSS (VmHWM) $(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$MINIO_CONTENT_PID/status") MiB"
echo "machine load at end (1, 5, 15 min): $(loadavg)"
echo "RESULT pin=$PIN rounds=$ROUNDS duration=$DURATION connections=$CONNECTIONS$RESULT verdict=$VERDICT"
[[ $VERDICT == PASS ]] || exit 1
