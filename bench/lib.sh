# Shared helpers of the benchmark scripts in bench/ (sourced, not run).
#
# The sourcing script sets NAME (its prefix in messages) before sourcing, and
# gets: die, ROOT, TMP (a fresh temporary directory, removed on exit unless
# KEEP_TMP=1), start_bg (starts a process and remembers it; every remembered
# process is stopped on exit), free_port, wait_tcp, wait_http_ok, alive,
# loadavg, machine (prints the machine lines every report starts with),
# median, best, ratio and pick_bin.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/hlsd/tools}
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c # keep in step with the Makefile
NATS_VERSION=v2.12.15

die() { echo "$NAME: $*" >&2; exit 2; }
say() { echo "$NAME: $*" >&2; }

TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/hlsd-$NAME.XXXXXX")
PIDS=()
cleanup() {
	local rc=$? pid i
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ ${KEEP_TMP:-} == 1 ]]; then
		echo "$NAME: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg LOG CMD ARGS...: runs CMD in the background with its output in LOG;
# sets BG_PID. Stopped (TERM, then KILL after 5 s) when the script exits.
start_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

# stop_bg PID: stops one process started with start_bg, now.
stop_bg() {
	local i
	kill -TERM "$1" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

USED_PORTS=" "
PORT=
# Ports come from below the kernel's ephemeral range, so servers that other
# programs start on port 0 (tests running alongside) cannot take them meanwhile.
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPHEMERAL_LOW=32768
free_port() { # sets PORT to one nothing listens on and not handed out before in this run
	local p i lo=10000 hi=$((EPHEMERAL_LOW > 11000 ? EPHEMERAL_LOW : 65536))
	for ((i = 0; i < 200; i++)); do
		p=$((lo + RANDOM % (hi - lo)))
		[[ $USED_PORTS == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			USED_PORTS+="$p "
			PORT=$p
			return
		fi
	done
	die "found no free port"
}

alive() { # pid, name, log: fail if the process we started has exited (e.g. its port was taken)
	if ! kill -0 "$1" 2>/dev/null; then
		tail -20 "$3" >&2 || true
		die "$2 exited (its log above)"
	fi
}

wait_tcp() { # port, pid, name, log
	local i
	for ((i = 0; i < 300; i++)); do
		alive "$2" "$3" "$4"
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return; fi
		sleep 0.1
	done
	tail -20 "$4" >&2 || true
	die "$3 did not listen on 127.0.0.1:$1 within 30 s (log above)"
}

wait_http_ok() { # url, pid, name, log, seconds
	local i
	for ((i = 0; i < $5 * 10; i++)); do
		alive "$2" "$3" "$4"
		if curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; then
			sleep 0.2
			alive "$2" "$3" "$4" # the answer came from our process, not one that held the port before
			return
		fi
		sleep 0.1
	done
	tail -20 "$4" >&2 || true
	die "$3 was not ready at $1 within $5 s (log above)"
}

pick_bin() { # env value, pinned path, fallback, name
	local p
	for p in "$1" "$2" "$3"; do
		if [[ -n $p && -x $p ]]; then echo "$p"; return; fi
	done
	die "no $4 binary: run \`make minio nats-server\` (it builds the pinned ones) or set the path in the environment"
}

loadavg() { local a b c _; read -r a b c _ </proc/loadavg; echo "$a $b $c"; } # 1, 5 and 15 minutes

# machine: the facts every report starts with, one "machine key: value" line each.
machine() {
	local cpu mhz mem
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mhz=$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "machine nproc: $(nproc)"
	echo "machine cpu: $cpu (${mhz%.*} MHz)"
	echo "machine ram: $mem"
	echo "machine kernel: $(uname -sr)"
	echo "machine ffmpeg: $(ffmpeg -version 2>/dev/null | head -1 | awk '{ print $3 }')"
	echo "machine go: $(go version | awk '{ print $3, $4 }')"
	echo "machine hlsd: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench' ':!BENCHMARKS.md' 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "machine load at start (1, 5, 15 min): $(loadavg)"
}

# Numbers, with awk.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }   # smallest
most() { printf '%s\n' "$@" | sort -g | tail -1; }   # largest
# cpu_ticks PID...: user+system CPU clock ticks used so far by the processes
# and their direct children (nginx's workers), threads included.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
	local total=0 p c t
	for p in "$@"; do
		for c in $p $(pgrep -P "$p" 2>/dev/null); do
			t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$c/stat" 2>/dev/null) || continue
			total=$((total + ${t:-0}))
		done
	done
	echo "$total"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
now_s() { echo "${EPOCHREALTIME}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; } # start, end → seconds

# build_hlsd DIR: builds bin/hlsd with `make build` and copies it to DIR
# (so a rebuild during the run cannot change the binary under test).
build_hlsd() {
	(cd "$ROOT" && make -s build >/dev/null) || die "make build failed"
	cp "$ROOT/bin/hlsd" "$1/hlsd"
}

# make_source FILE: the 60 s 1280x720 30 fps H.264/AAC source of
# time-to-ready.sh and segmenter.sh (testsrc2 and a 440 Hz tone, about 5 Mbit/s,
# x264 medium, keyframes every 2 s, AAC-LC 128k 48 kHz stereo, MP4 with the
# index at the front): what a camera or an editor would hand over. SOURCE=path
# uses that file instead; SOURCE_SECONDS changes the length.
make_source() {
	if [[ -n ${SOURCE:-} ]]; then
		[[ -r $SOURCE ]] || die "SOURCE=$SOURCE is not readable"
		cp "$SOURCE" "$1"
		return
	fi
	local secs=${SOURCE_SECONDS:-60}
	say "encoding the ${secs} s 720p source once (about half a minute)"
	ffmpeg -hide_banner -nostdin -v error -y \
		-f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$secs" \
		-f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$secs" \
		-map 0:v -map 1:a -c:v libx264 -preset medium -profile:v high -pix_fmt yuv420p \
		-b:v 5M -maxrate 6M -bufsize 10M -g 60 \
		-c:a aac -b:a 128k -ac 2 -movflags +faststart "$1" || die "could not make the source"
}

# start_stack BIN N DIR [FLAG...]: `BIN all` with an embedded NATS others can
# reach, plus N-1 `BIN encoder` processes on its NATS and file store, on a
# fresh DIR; FLAGs go to every process. Sets API (the base URL), STACK (the
# pids) and STACK_DIR; stop_stack stops them.
start_stack() {
	local bin=$1 n=$2 dir=$3 i
	shift 3
	rm -rf "$dir"
	mkdir -p "$dir"
	free_port; local http=$PORT
	free_port; local nats=$PORT
	start_bg "$dir/all.log" "$bin" all --listen "127.0.0.1:$http" --data-dir "$dir/all" \
		--nats-listen "127.0.0.1:$nats" --profiles "$ROOT/profiles.json" --shutdown-grace 2s "$@"
	STACK=("$BG_PID")
	wait_http_ok "http://127.0.0.1:$http/readyz" "$BG_PID" "hlsd all" "$dir/all.log" 60
	for ((i = 2; i <= n; i++)); do
		free_port
		start_bg "$dir/encoder-$i.log" "$bin" encoder --listen "127.0.0.1:$PORT" --data-dir "$dir/encoder-$i" \
			--nats-url "nats://127.0.0.1:$nats" --store "$dir/all/store" --shutdown-grace 2s "$@"
		STACK+=("$BG_PID")
		wait_http_ok "http://127.0.0.1:$PORT/readyz" "$BG_PID" "encoder $i" "$dir/encoder-$i.log" 60
	done
	API=http://127.0.0.1:$http
	STACK_DIR=$dir
}
stop_stack() { local p; for p in "${STACK[@]}"; do stop_bg "$p"; done; }
