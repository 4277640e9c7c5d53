#!/bin/bash
# Load test of the web page's busiest request: wrk against /api/intervals for
# one day (what the page's day graph asks), and, in the same run on the same
# machine, against the same bytes as a static file served by python3's
# http.server, as a reference. Prints requests/s, p99 and the ratio.
# Usage: PVTAP=build/pvtap PVTAP_DATA=tests/data tests/bench/bench_web.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
: "${PVTAP:?set PVTAP to the pvtap binary}"
: "${PVTAP_DATA:=$(dirname "$0")/../data}"
DUR=${1:-10}
CONN=${2:-8}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 77; }
TMP=$(mktemp -d /tmp/pvtap-bench-web.XXXXXX)
REF_PID=
. "$(dirname "$0")/../web/serve_day.sh"
trap 'web_stop; [ -n "$REF_PID" ] && kill "$REF_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
web_start
Q="/api/intervals?from=2017-06-07&to=2017-06-08&source=sniff"
mkdir -p "$TMP/static/api"
curl -fsS "$WEB_URL$Q" >"$TMP/static/api/intervals.json"
port=$(web_free_port)
(cd "$TMP/static" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
REF_PID=$!
for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/api/intervals.json" 2>/dev/null && break; sleep 0.1; done

# wrk --latency: Requests/sec and the 99% line (converted to ms)
run() {
    wrk -t2 -c"$CONN" -d"${DUR}s" --latency "$1" >"$TMP/wrk.out"
    local rps p99
    rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.out")
    p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; print v}' "$TMP/wrk.out")
    grep -q 'Non-2xx' "$TMP/wrk.out" && { echo "errors:"; cat "$TMP/wrk.out"; exit 1; }
    echo "$rps $p99"
}
bytes=$(wc -c <"$TMP/static/api/intervals.json")
read -r prps pp99 < <(run "$WEB_URL$Q")
read -r rrps rp99 < <(run "http://127.0.0.1:$port/api/intervals.json")
echo "day graph JSON: $bytes bytes, wrk -t2 -c$CONN -d${DUR}s, $(nproc) CPUs ($(uname -m))"
printf '%-34s %10s req/s   p99 %8s ms\n' "pvtap /api/intervals (one day)" "$prps" "$pp99"
printf '%-34s %10s req/s   p99 %8s ms\n' "python3 http.server, same bytes" "$rrps" "$rp99"
awk -v a="$prps" -v b="$rrps" 'BEGIN {printf "ratio pvtap / reference: %.2f\n", a / b}'
