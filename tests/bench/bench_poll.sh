#!/bin/bash
# Benchmark of one poll cycle over a pty: transactions and bytes on the wire
# against the minimum for the configured registers, and the cycle time.
#   tests/bench/bench_poll.sh [BUILD_DIR] [RUNS]
# The bytes are counted by pvtap (--stats: every request and reply frame,
# address + PDU + CRC); the minimum is computed here from the register map.
set -eu
BUILD=${1:-build}
RUNS=${2:-20}
PVTAP=$BUILD/pvtap
SIM=$BUILD/tests/sim/pvsim_rs485
TMP=$(mktemp -d /tmp/pvtap-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

# Minimum for a set of register runs read with FC 3: one transaction per run
# that cannot be merged, 8 request bytes + 5 + 2n reply bytes each.
min_bytes() { local t=0; for n in "$@"; do t=$((t + 8 + 5 + 2 * n)); done; echo $t; }

bench() { # NAME MIN_TX MIN_BYTES POLL-ARGS...
    local name=$1 min_tx=$2 min_b=$3; shift 3
    local line ms=() tx= b=
    for _ in $(seq "$RUNS"); do
        line=$("$PVTAP" poll --listen-s 0.1 --stats "$@" 2>&1 >/dev/null | grep 'poll cycle')
        tx=$(echo "$line" | sed -E 's/.*: ([0-9]+) transactions.*/\1/')
        b=$(echo "$line" | sed -E 's/.* ([0-9]+) bytes sent, ([0-9]+) bytes received.*/\1 + \2/')
        ms+=($(echo "$line" | sed -E 's/.* ([0-9]+) ms;.*/\1/'))
    done
    local sorted=($(printf '%s\n' "${ms[@]}" | sort -n))
    printf '%-34s %2s tx (min %s)  %5s bytes (min %s)  cycle ms: min %s median %s max %s\n' \
        "$name" "$tx" "$min_tx" "$(($b))" "$min_b" "${sorted[0]}" "${sorted[$((RUNS / 2))]}" \
        "${sorted[$((RUNS - 1))]}"
}

"$SIM" --device wattnode --link "$TMP/wn" --ready-file "$TMP/wn.ready" --duration 600 2>/dev/null &
"$SIM" --device wattnode --link "$TMP/wnf" --ready-file "$TMP/wnf.ready" --batch-ms 16 --duration 600 2>/dev/null &
"$SIM" --device sunspec --link "$TMP/ss" --ready-file "$TMP/ss.ready" --duration 600 2>/dev/null &
for f in wn wnf ss; do for _ in $(seq 100); do [ -s "$TMP/$f.ready" ] && break; sleep 0.05; done; done

echo "pvtap poll cycle over a pty at 9600 8N1, $RUNS runs each"
# WattNode: 1005..1034 (30 registers: net, import, power, phases, voltages,
# frequency) and 1115..1116 (export): two runs 80 registers apart.
bench "wattnode (5 ms reply delay)" 2 "$(min_bytes 30 2)" --device wattnode --port "$TMP/wn"
bench "wattnode, FTDI-like 16 ms batching" 2 "$(min_bytes 30 2)" --device wattnode --port "$TMP/wnf"
# SunSpec: the inverter model's 50 registers (W, WH, Hz, V, A, DC, temperature, St).
bench "sunspec model 101 (10 ms reply)" 1 "$(min_bytes 50)" --device sunspec --port "$TMP/ss" --address 126
