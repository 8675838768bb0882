#!/usr/bin/env bash
# Gateway upload into MinIO: peak RSS and throughput.
#
# Starts NATS, a fresh MinIO and `hlsd gateway`, writes one file of SIZE bytes
# (default 2GiB), then REPEAT times (default 3) uploads it into the same MinIO
# two ways, one after the other:
#   1. anchor:  straight into MinIO with bench/cmd/s3put (minio-go, known length,
#               the same 16 MiB parts and single upload stream as hlsd's S3 store);
#   2. gateway: POST /api/videos (multipart, field "upload") to the gateway, which
#               streams the part into MinIO and answers 202 once it is stored.
# Each upload's object is checked to have the file's size, then deleted.
# It prints wall time and MiB/s of every upload; the best of each kind and their
# ratio (gateway / anchor); the gateway's idle RSS before the first upload and
# its peak RSS (VmHWM read right after each answer, plus the largest VmRSS
# sampled every 100 ms during the uploads); and a RESULT line of key=value pairs.
#
# Exits 1 if the gateway's peak RSS is LIMIT_MIB (100) MiB or more, 2 on any
# other failure. Cleans up every process it started and its temporary directory.
#
#   bench/upload-rss.sh                          # 2 GiB, 3 rounds (about 3 minutes)
#   SIZE=256MiB REPEAT=1 bench/upload-rss.sh     # a quick check
#
# Environment:
#   SIZE         file size: bytes, KiB/MiB/GiB (or K/M/G: powers of 1024), KB/MB/GB (powers of 1000); default 2GiB
#   REPEAT       rounds of (anchor, gateway); default 3. Throughputs are the best of the rounds
#   LIMIT_MIB    the peak-RSS limit; default 100
#   MINIO_BIN    default: the pinned build of the Makefile, else $(go env GOPATH)/bin/minio
#   NATS_BIN     default: the pinned build of the Makefile, else $(go env GOPATH)/bin/nats-server
#   BENCH_TMP    where the temporary directory goes (needs about 3x SIZE free); default $TMPDIR or /tmp
#   SAMPLES_OUT  if set, the gateway's RSS samples ("milliseconds rss_kib", from 0 at each upload's start) go there
#   CONTRAST=1   at the end, also PUT the file with s3put as a stream of unknown length with
#                minio-go's default part size, to show the memory the limit guards against
#   KEEP_TMP=1   keep the temporary directory (logs, data) for inspection
NAME=upload-rss
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # die, ROOT, TMP and clean-up, ports, waiting, pick_bin

SIZE=${SIZE:-2GiB}
LIMIT_MIB=${LIMIT_MIB:-100}
S3_USER=hlsdbench
S3_PASS=hlsdbench-secret
BUCKET=hlsd

# ---- inputs ---------------------------------------------------------------

to_bytes() { # as hlsd's --max-upload-size: KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000; K/M/G as KiB/MiB/GiB
	local s=$1 n u
	[[ $s =~ ^([0-9]+)([KMGkmg]?)(i?[Bb]?)$ ]] || die "SIZE=$s: want e.g. 2GiB, 256MiB or a byte count"
	n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]^^}${BASH_REMATCH[3]}
	case $u in
	K | KiB) n=$((n << 10)) ;; M | MiB) n=$((n << 20)) ;; G | GiB) n=$((n << 30)) ;;
	KB) n=$((n * 1000)) ;; MB) n=$((n * 1000000)) ;; GB) n=$((n * 1000000000)) ;;
	"" | B) ;;
	*) die "SIZE=$s: unknown unit" ;;
	esac
	echo "$n"
}
BYTES=$(to_bytes "$SIZE")
((BYTES > 0)) || die "SIZE must be more than 0"

command -v go >/dev/null || die "go is not on PATH"
command -v curl >/dev/null || die "curl is not on PATH"
GOPATH_BIN=$(go env GOPATH)/bin
MINIO_BIN=$(pick_bin "${MINIO_BIN:-}" "$TOOLS_DIR/minio-$MINIO_VERSION/minio" "$GOPATH_BIN/minio" minio)
NATS_BIN=$(pick_bin "${NATS_BIN:-}" "$TOOLS_DIR/nats-server-$NATS_VERSION/nats-server" "$GOPATH_BIN/nats-server" nats-server)

SAMPLER_PID=

# ---- helpers -----------------------------------------------------------------

status_kib() { # pid, field (VmRSS, VmHWM): the value in KiB
	local k v _
	while read -r k v _; do
		if [[ $k == "$2:" ]]; then echo "$v"; return; fi
	done <"/proc/$1/status"
	die "no $2 for pid $1"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }              # KiB → MiB
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; } # bytes, s → MiB/s

s3put() { S3PUT_ACCESS_KEY=$S3_USER S3PUT_SECRET_KEY=$S3_PASS "$TMP/bin/s3put" -endpoint "127.0.0.1:$MINIO_PORT" -bucket "$BUCKET" "$@"; }

check_size() { # key, what
	local got
	got=$(s3put -key "$1" -stat) || die "$2: cannot stat $1 in MinIO"
	[[ $got == "$BYTES" ]] || die "$2: MinIO holds $got bytes under $1, the file has $BYTES"
}

# ---- build -------------------------------------------------------------------

echo "upload-rss: building hlsd and s3put; temp dir $TMP" >&2
mkdir -p "$TMP/bin"
(cd "$ROOT" && go build -o "$TMP/bin/hlsd" ./cmd/hlsd && go build -o "$TMP/bin/s3put" ./bench/cmd/s3put) ||
	die "build failed"

# ---- the test file ---------------------------------------------------------------

echo "upload-rss: writing a $BYTES-byte test file" >&2
FILE="$TMP/upload.bin"
BLOCK=$((64 << 20))
head -c "$((BYTES < BLOCK ? BYTES : BLOCK))" /dev/urandom >"$TMP/block"
{
	for ((i = 0; i < BYTES / BLOCK; i++)); do cat "$TMP/block"; done
	head -c "$((BYTES % BLOCK))" "$TMP/block"
} >"$FILE"
rm -f "$TMP/block"
[[ $(stat -c %s "$FILE") == "$BYTES" ]] || die "test file has the wrong size"

# ---- servers -------------------------------------------------------------------

free_port; NATS_PORT=$PORT
free_port; MINIO_PORT=$PORT
free_port; GW_PORT=$PORT
mkdir -p "$TMP/nats" "$TMP/minio" "$TMP/gateway"

"$NATS_BIN" -js -sd "$TMP/nats" -a 127.0.0.1 -p "$NATS_PORT" >"$TMP/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
MINIO_ROOT_USER=$S3_USER MINIO_ROOT_PASSWORD=$S3_PASS MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
	"$MINIO_BIN" server --quiet --address "127.0.0.1:$MINIO_PORT" --console-address 127.0.0.1:0 "$TMP/minio" >"$TMP/minio.log" 2>&1 &
MINIO_PID=$!
PIDS+=("$MINIO_PID")

wait_tcp "$NATS_PORT" "$NATS_PID" nats-server "$TMP/nats.log"
wait_http_ok "http://127.0.0.1:$MINIO_PORT/minio/health/ready" "$MINIO_PID" MinIO "$TMP/minio.log" 60
# MinIO says ready before it accepts S3 calls: s3put retries; then let it settle.
s3put -mkbucket -wait 60s || die "MinIO did not accept the bucket (log: $TMP/minio.log)"
sleep 3

"$TMP/bin/hlsd" gateway --listen "127.0.0.1:$GW_PORT" --nats-url "nats://127.0.0.1:$NATS_PORT" \
	--store "s3://$S3_USER:$S3_PASS@127.0.0.1:$MINIO_PORT/$BUCKET?secure=false" \
	--profiles "$ROOT/profiles.json" --max-upload-size "$((BYTES + (1 << 30)))" \
	--data-dir "$TMP/gateway" --shutdown-grace 2s >"$TMP/gateway.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_http_ok "http://127.0.0.1:$GW_PORT/readyz" "$GW_PID" "hlsd gateway" "$TMP/gateway.log" 60
alive "$NATS_PID" nats-server "$TMP/nats.log"
alive "$MINIO_PID" MinIO "$TMP/minio.log"

SIZE_MIB=$(awk -v b="$BYTES" 'BEGIN { printf "%.0f", b / 1048576 }')
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; } # key, "k=v k=v" line

# ---- one anchor upload: straight into MinIO ---------------------------------------------

anchor_once() { # sets A_S, A_RATE, A_RSS_KIB
	local out load
	load=$(loadavg)
	load=${load%% *} # the 1-minute figure
	out=$(s3put -key bench/anchor -file "$FILE") || { tail -20 "$TMP/minio.log" >&2; die "anchor PUT failed (MinIO's log above)"; }
	A_S=$(field seconds "$out")
	A_RSS_KIB=$(field maxrss_kib "$out")
	check_size bench/anchor anchor
	s3put -key bench/anchor -rm || die "cannot delete the anchor object"
	A_RATE=$(rate "$BYTES" "$A_S")
	printf 'anchor   #%d  s3put -> MinIO (known length)  %6s MiB in %7.2f s = %7s MiB/s   (s3put peak RSS %s MiB; load %s; size checked)\n' \
		"$1" "$SIZE_MIB" "$A_S" "$A_RATE" "$(mib "$A_RSS_KIB")" "$load"
}

# ---- one gateway upload: POST /api/videos ----------------------------------------------

gateway_once() { # sets G_S, G_RATE, G_HWM_KIB, G_SAMPLED_KIB
	local res curl_rc gw_rc code id n load samples="$TMP/rss-samples-$1.txt" # "milliseconds rss_kib", every 100 ms
	load=$(loadavg)
	load=${load%% *} # the 1-minute figure
	(
		t0=${EPOCHREALTIME/./}
		while [[ -r /proc/$GW_PID/status ]]; do
			while read -r k v _; do
				if [[ $k == VmRSS: ]]; then
					now=${EPOCHREALTIME/./}
					echo "$(((now - t0) / 1000)) $v"
					break
				fi
			done <"/proc/$GW_PID/status" 2>/dev/null || true
			sleep 0.1
		done
	) >"$samples" &
	SAMPLER_PID=$!
	PIDS+=("$SAMPLER_PID") # stopped by the clean-up if the script ends meanwhile

	set +e
	res=$(curl -sS -o "$TMP/response.json" -w '%{http_code} %{time_total}' -F "upload=@$FILE" \
		"http://127.0.0.1:$GW_PORT/api/videos")
	curl_rc=$?
	set -e
	if ! kill -0 "$GW_PID" 2>/dev/null; then
		gw_rc=0
		wait "$GW_PID" || gw_rc=$?
		tail -40 "$TMP/gateway.log" >&2 || true
		die "the gateway exited during the upload (exit status $gw_rc; its log above)"
	fi
	G_HWM_KIB=$(status_kib "$GW_PID" VmHWM) # right after the answer
	kill "$SAMPLER_PID" 2>/dev/null || true
	wait "$SAMPLER_PID" 2>/dev/null || true
	SAMPLER_PID=
	if ((curl_rc != 0)); then
		tail -20 "$TMP/gateway.log" >&2 || true
		die "curl failed (exit status $curl_rc; the gateway's log above)"
	fi
	read -r code G_S <<<"$res"
	[[ $code == 202 ]] || die "the gateway answered $code: $(cat "$TMP/response.json")"
	id=$(sed -n 's/^ *"id": *"\([^"]*\)".*/\1/p' "$TMP/response.json" | head -1)
	[[ -n $id ]] || die "no video id in the answer: $(cat "$TMP/response.json")"
	check_size "uploads/$id/source" gateway
	s3put -key "uploads/$id/source" -rm || die "cannot delete the uploaded object"
	G_RATE=$(rate "$BYTES" "$G_S")
	G_SAMPLED_KIB=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$samples")
	n=$(wc -l <"$samples")
	if [[ -n ${SAMPLES_OUT:-} ]]; then cat "$samples" >>"$SAMPLES_OUT"; fi
	printf 'gateway  #%d  POST /api/videos -> MinIO      %6s MiB in %7.2f s = %7s MiB/s   (HTTP %s; load %s; size checked)\n' \
		"$1" "$SIZE_MIB" "$G_S" "$G_RATE" "$code" "$load"
	printf 'rss      #%d  gateway VmHWM %s MiB after the upload, max sampled VmRSS %s MiB (%d samples)\n' \
		"$1" "$(mib "$G_HWM_KIB")" "$(mib "$G_SAMPLED_KIB")" "$n"
}

# ---- the runs: anchor and gateway alternate, REPEAT times ---------------------------------

REPEAT=${REPEAT:-3}
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "REPEAT=$REPEAT: want a positive number"
if [[ -n ${SAMPLES_OUT:-} ]]; then : >"$SAMPLES_OUT"; fi

sleep 1
IDLE_KIB=$(status_kib "$GW_PID" VmRSS)
IDLE_HWM_KIB=$(status_kib "$GW_PID" VmHWM)
printf 'idle     gateway VmRSS %s MiB, VmHWM %s MiB before any upload\n' "$(mib "$IDLE_KIB")" "$(mib "$IDLE_HWM_KIB")"

BEST_A_S= BEST_G_S= PEAK_KIB=0 SAMPLED_KIB=0 RATIOS=
for ((r = 1; r <= REPEAT; r++)); do
	anchor_once "$r"
	gateway_once "$r"
	RATIOS+=" $(awk -v g="$G_RATE" -v a="$A_RATE" 'BEGIN { printf "%.2f", g / a }')"
	if [[ -z $BEST_A_S ]] || awk -v a="$A_S" -v b="$BEST_A_S" 'BEGIN { exit !(a < b) }'; then BEST_A_S=$A_S; fi
	if [[ -z $BEST_G_S ]] || awk -v a="$G_S" -v b="$BEST_G_S" 'BEGIN { exit !(a < b) }'; then BEST_G_S=$G_S; fi
	if ((G_HWM_KIB > PEAK_KIB)); then PEAK_KIB=$G_HWM_KIB; fi
	if ((G_SAMPLED_KIB > SAMPLED_KIB)); then SAMPLED_KIB=$G_SAMPLED_KIB; fi
done

# ---- summary -----------------------------------------------------------------------------

BEST_A_RATE=$(rate "$BYTES" "$BEST_A_S")
BEST_G_RATE=$(rate "$BYTES" "$BEST_G_S")
RATIO=$(awk -v g="$BEST_G_RATE" -v a="$BEST_A_RATE" 'BEGIN { printf "%.2f", g / a }')
PEAK_MIB=$(mib "$PEAK_KIB")
OF_LIMIT=$(awk -v k="$PEAK_KIB" -v l="$LIMIT_MIB" 'BEGIN { printf "%.2f", k / 1024 / l }')
if ((PEAK_KIB < LIMIT_MIB * 1024)); then VERDICT=PASS; else VERDICT=FAIL; fi

echo "summary (best of $REPEAT; the machine's other load only ever slows a run down):"
printf '  anchor   %6s MiB in %7.2f s = %7s MiB/s\n' "$SIZE_MIB" "$BEST_A_S" "$BEST_A_RATE"
printf '  gateway  %6s MiB in %7.2f s = %7s MiB/s\n' "$SIZE_MIB" "$BEST_G_S" "$BEST_G_RATE"
printf '  ratio    gateway / anchor throughput %s (pairwise:%s)\n' "$RATIO" "$RATIOS"
printf '  rss      gateway idle %s MiB; peak VmHWM %s MiB (max sampled VmRSS %s MiB) = %s of the %s MiB limit: %s\n' \
	"$(mib "$IDLE_KIB")" "$PEAK_MIB" "$(mib "$SAMPLED_KIB")" "$OF_LIMIT" "$LIMIT_MIB" "$VERDICT"

# ---- optional contrast: what an unknown length with minio-go's defaults costs ----------

if [[ ${CONTRAST:-} == 1 ]]; then
	out=$(s3put -key bench/contrast -file "$FILE" -unknown-size -part-size 0) || die "contrast PUT failed"
	C_S=$(field seconds "$out")
	C_RSS_KIB=$(field maxrss_kib "$out")
	check_size bench/contrast contrast
	s3put -key bench/contrast -rm || true
	printf 'contrast s3put, length -1, default part size  %6s MiB in %7.2f s = %7s MiB/s   (s3put peak RSS %s MiB)\n' \
		"$SIZE_MIB" "$C_S" "$(rate "$BYTES" "$C_S")" "$(mib "$C_RSS_KIB")"
fi

echo "RESULT size_bytes=$BYTES repeat=$REPEAT anchor_s=$BEST_A_S anchor_mib_s=$BEST_A_RATE gateway_s=$BEST_G_S" \
	"gateway_mib_s=$BEST_G_RATE ratio=$RATIO idle_rss_mib=$(mib "$IDLE_KIB") peak_rss_mib=$PEAK_MIB" \
	"sampled_max_rss_mib=$(mib "$SAMPLED_KIB") limit_mib=$LIMIT_MIB verdict=$VERDICT"

[[ $VERDICT == PASS ]] || exit 1
