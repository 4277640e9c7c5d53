#!/bin/bash
# Live sniff: tcpreplay pushes a capture at 100 Mbit/s through a veth pair between two private
# network namespaces while `pvtap sniff -i` captures; reports kernel drops and pvtap's CPU (needs root).
# usage: bench_sniff_live.sh BUILD_DIR FILE.pcap [MBPS]
set -eu
pvtap=$(realpath "${1:?usage: bench_sniff_live.sh BUILD_DIR FILE.pcap [MBPS]}/pvtap")
file=$(realpath "${2:?capture file}")
mbps=${3:-100}
tx=pvtapbtx$$
rx=pvtapbrx$$
out=$(mktemp -d)
cleanup() {
    ip netns del "$tx" 2>/dev/null || true
    ip netns del "$rx" 2>/dev/null || true
    rm -rf "$out"
}
trap cleanup EXIT
ip netns add "$tx"
ip netns add "$rx"
# Both ends live in namespaces made here: nothing reaches any real network.
ip -n "$tx" link add pvtb0 type veth peer name pvtb1 netns "$rx"
ip -n "$tx" link set pvtb0 up
ip -n "$rx" link set pvtb1 up
ip netns exec "$rx" /usr/bin/time -f "%e %U %S %M" -o "$out/time" \
    sh -c 'echo $$ >"$1"; exec "$2" sniff -i pvtb1 --format none --stats -B 4' sh "$out/pid" "$pvtap" \
    2>"$out/stats" &
pid=$!
sleep 1
ip netns exec "$tx" tcpreplay -i pvtb0 --mbps="$mbps" "$file" >"$out/replay" 2>&1
sleep 1
# SIGINT to pvtap itself (its pid from the file), so it prints its stats.
kill -INT "$(cat "$out/pid")"
wait "$pid" || true
grep -E 'Actual|Rated' "$out/replay" || true
read -r wall user sys rss <"$out/time"
grep -E '^(packets|requests|records|kernel_drops|interface_drops) ' "$out/stats"
awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN {printf "wall %.1f s, cpu %.2f s (%.1f %% of one core), peak RSS %d KiB\n", w, u + s, (u + s) * 100 / w, r}'
