#!/bin/bash
# Does pvtap's cost stay constant as history grows? Builds stores of 1, 3 and
# 10 years of the simulated site (pvsim_capture, seed 1, 20 microinverters,
# net and production meters, from 2017-01-01, replayed with `pvtap replay`)
# once, caches them, then for each prints: store size, daemon start (warm;
# also cold, after dropping the page cache, when run as root), the daemon's
# RSS after start, and the warm median latency of /api/status, /metrics,
# /api/totals?period=year, /api/devices and `pvtap status`, each also as a
# ratio to the first store's figure of the same run. /api/devices asks for the
# store's last day.
# Usage: tests/bench/bench_history.sh [--build DIR] [--cache DIR] [--years "1 3 10"] [--runs N]
#        [--only-build]
# --years "0 1 3 10" adds a fresh (empty) store as the reference column.
# A store of N years is a copy of the largest smaller one plus the years it
# lacks (a year's capture is ~290 MB in the temporary directory while it is
# replayed); a rerun reuses them all. The 10-year store takes a while.
set -euo pipefail
BUILD=build
CACHE=
YEARS="1 3 10"
RUNS=15
ONLY_BUILD=0
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    --years) YEARS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only-build) ONLY_BUILD=1; shift ;;
    *) echo "usage: $0 [--build DIR] [--cache DIR] [--years \"1 3 10\"] [--runs N] [--only-build]" >&2; exit 2 ;;
    esac
done
: "${CACHE:=$BUILD/bench-history}"
PVTAP=$BUILD/pvtap
SIM=$BUILD/tests/sim/pvsim_capture
for b in "$PVTAP" "$SIM"; do
    [ -x "$b" ] || { echo "$b missing: cmake --build $BUILD -j2 --target pvtap pvsim_capture" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 77; }
mkdir -p "$CACHE"
TMP=$(mktemp -d /tmp/pvtap-bench-history.XXXXXX)
DPID=
trap '[ -n "$DPID" ] && kill "$DPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

conf() { # conf DB PORT
    cat <<CONF
site = { timezone = "America/Los_Angeles"; name = "bench-history"; production = "inverters"; };
store = { path = "$1"; };
http = { listen = "127.0.0.1:$2"; };
CONF
}

# The store of N years: a copy of the largest cached smaller one, then the years it lacks,
# each captured by the simulator (and deleted after), in one replay (one re-feed of the store).
build_store() { # build_store N
    local n=$1 db=$CACHE/years-$1.db
    if [ "$n" = 0 ]; then # a fresh store: the daemon's first start creates it
        rm -f "$db" "$db-wal" "$db-shm"
        return 0
    fi
    [ -s "$db" ] && [ -e "$db.done" ] && return 0
    local have=0 c
    for c in "$CACHE"/years-*.db.done; do
        [ -e "$c" ] || continue
        c=${c##*/years-}; c=${c%.db.done}
        [ "$c" -lt "$n" ] && [ "$c" -gt "$have" ] && have=$c
    done
    rm -f "$db" "$db-wal" "$db-shm"
    [ "$have" -gt 0 ] && cp "$CACHE/years-$have.db" "$db"
    echo "building the $n-year store from the $have-year one..." >&2
    local i caps=()
    for ((i = have; i < n; i++)); do
        "$SIM" --seed 1 --inverters 20 --date "$((2017 + i))-01-01" --days 365 -o "$TMP/y$i.pcap" -q
        caps+=("$TMP/y$i.pcap")
    done
    conf "$db" 1 >"$TMP/replay.conf"
    "$PVTAP" replay "${caps[@]}" -c "$TMP/replay.conf" --db "$db" --format csv >/dev/null 2>"$TMP/replay.err" ||
        { cat "$TMP/replay.err" >&2; exit 1; }
    rm -f "${caps[@]}"
    touch "$db.done"
}

for n in $YEARS; do build_store "$n"; done
[ "$ONLY_BUILD" = 1 ] && exit 0

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now_ms() { date +%s%3N; }

# start_daemon DB: the daemon on the store, with only the web sink; sets DPID, URL and
# START_MS (from exec to the first answer of /api/site). Not in a $(...): DPID must reach
# the caller.
start_daemon() {
    local db=$1 port
    port=$(free_port)
    conf "$db" "$port" >"$TMP/run.conf"
    URL=http://127.0.0.1:$port
    local t0
    t0=$(now_ms)
    "$PVTAP" run -c "$TMP/run.conf" --no-drop --runtime-dir "$TMP/rt" >"$TMP/run.log" 2>&1 &
    DPID=$!
    for _ in $(seq 1 12000); do
        if curl -fsS -o /dev/null "$URL/api/site" 2>/dev/null; then
            START_MS=$(($(now_ms) - t0))
            return 0
        fi
        kill -0 "$DPID" 2>/dev/null || break
        sleep 0.01
    done
    echo "pvtap run did not start:" >&2
    cat "$TMP/run.log" >&2
    exit 1
}

stop_daemon() {
    kill -TERM "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
    DPID=
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# warm median latency (ms) of a URL path
lat_url() {
    local i
    curl -fsS -o /dev/null "$URL$1"
    for ((i = 0; i < RUNS; i++)); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "$URL$1"
    done | awk '{print $1 * 1000}' | median
}

lat_status() {
    local i t0
    "$PVTAP" status -c "$TMP/run.conf" --runtime-dir "$TMP/rt" --format json >/dev/null
    for ((i = 0; i < RUNS; i++)); do
        t0=$(date +%s%N)
        "$PVTAP" status -c "$TMP/run.conf" --runtime-dir "$TMP/rt" --format json >/dev/null
        echo $(( ($(date +%s%N) - t0) / 1000 ))
    done | awk '{print $1 / 1000}' | median
}

COLS="size_MiB start_warm_s start_cold_s rss_MiB hwm_MiB status_ms metrics_ms totals_year_ms devices_ms pvtap_status_ms"
declare -A V
for n in $YEARS; do
    db=$CACHE/years-$n.db
    # a first start migrates an older store's schema once: not measured
    start_daemon "$db"
    stop_daemon
    V[$n,size_MiB]=$(du -m --apparent-size "$db" | cut -f1)
    cold=-
    if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
        sync
        echo 3 >/proc/sys/vm/drop_caches
        start_daemon "$db"
        cold=$(awk -v v="$START_MS" 'BEGIN {printf "%.2f", v / 1000}')
        stop_daemon
    fi
    V[$n,start_cold_s]=$cold
    warm=()
    for _ in 1 2 3; do
        start_daemon "$db"
        warm+=("$START_MS")
        stop_daemon
    done
    V[$n,start_warm_s]=$(printf '%s\n' "${warm[@]}" | median | awk '{printf "%.2f", $1 / 1000}')
    start_daemon "$db"
    V[$n,rss_MiB]=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$DPID/status")
    V[$n,hwm_MiB]=$(awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$DPID/status")
    V[$n,status_ms]=$(lat_url /api/status)
    V[$n,metrics_ms]=$(lat_url /metrics)
    V[$n,totals_year_ms]=$(lat_url '/api/totals?period=year')
    # the store's last day: the per-inverter view of one day
    V[$n,devices_ms]=$(lat_url "/api/devices?from=$((2017 + n - 1))-12-31&to=$((2017 + n))-01-01")
    V[$n,pvtap_status_ms]=$(lat_status)
    stop_daemon
done

first=${YEARS%% *}
echo "pvtap history benchmark: $(nproc) CPUs ($(uname -m)), medians of $RUNS warm requests; (xR) = ratio to the $first-year store"
printf '%-16s' "measure"
for n in $YEARS; do printf '%22s' "$n years"; done
echo
for c in $COLS; do
    printf '%-16s' "$c"
    for n in $YEARS; do
        v=${V[$n,$c]}
        b=${V[$first,$c]}
        if [ "$v" = - ] || [ "$b" = - ]; then
            printf '%22s' "$v"
        else
            printf '%22s' "$(awk -v v="$v" -v b="$b" 'BEGIN {printf "%.2f (x%.2f)", v, (b > 0 ? v / b : 0)}')"
        fi
    done
    echo
done
