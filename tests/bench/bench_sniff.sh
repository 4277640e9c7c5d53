#!/bin/bash
# Offline sniff throughput and peak RSS against tcpdump, tshark and tcpflow (run by hand; not a test).
# usage: bench_sniff.sh BUILD_DIR [WORK_DIR] [DAYS]
#   DAYS of 90 % background traffic with 2..HTTP_MB MB HTTP downloads on port 80
#   (~140 days ~ 1 GB); the half-size capture has DAYS/2.
# env: RUNS (paired runs, default 7), HTTP_MB (default 25; 0: no downloads),
#      OTHERS=0 skips tshark and tcpflow (each runs once: they are 10-50x slower).
set -eu
build=${1:?usage: bench_sniff.sh BUILD_DIR [WORK_DIR] [DAYS]}
work=${2:-/tmp/pvtap-bench}
days=${3:-6}
runs=${RUNS:-7}
mb=${HTTP_MB:-25}
others=${OTHERS:-1}
pvtap=$build/pvtap
sim=$build/tests/sim/pvsim_capture
mkdir -p "$work"
dl=()
[ "$mb" -gt 0 ] && dl=(--background-http-mb "$mb")
full=$work/full-$days-dl$mb.pcap
half=$work/half-$days-dl$mb.pcap
[ -f "$full" ] || "$sim" -q --seed 42 --days "$days" --inverters 16 --background 0.9 "${dl[@]}" -o "$full"
[ -f "$half" ] || "$sim" -q --seed 42 --days $(((days + 1) / 2)) --inverters 16 --background 0.9 "${dl[@]}" -o "$half"

# run NAME CMD...: appends "seconds peak_KiB" to $work/r.NAME (wall clock from
# bash's microsecond clock, peak RSS from GNU time).
run() {
    local name=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    /usr/bin/time -f "%M" -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" || true
    t1=$EPOCHREALTIME
    echo "$(echo "$t1 - $t0" | bc -l) $(tail -n 1 "$work/time.$name")" >>"$work/r.$name"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

for f in "$half" "$full"; do
    size=$(stat -c %s "$f")
    echo "== $(basename "$f"): $((size / 1048576)) MiB, median of $runs paired runs"
    cat "$f" >/dev/null # warm the page cache: every tool reads from memory
    rm -f "$work"/r.*
    for _ in $(seq "$runs"); do
        # paired: each run of pvtap is compared with the tcpdump run just before it
        run tcpdump tcpdump -r "$f" -w /dev/null
        run pvtap "$pvtap" sniff -r "$f" --format none
        run pvtap-jsonl "$pvtap" sniff -r "$f" --format jsonl
    done
    if [ "$others" = 1 ]; then
        run tshark tshark -r "$f" -o tcp.reassemble_out_of_order:TRUE -Y 'http.request.method == "POST"' -T fields -e http.file_data
        run tcpflow tcpflow -r "$f" -o "$work/flows" 'tcp port 80'
        rm -rf "$work/flows"
    fi
    base=$(awk '{print $1}' "$work/r.tcpdump" | median)
    printf '%-12s %8s %10s %10s\n' tool seconds peak_KiB x_tcpdump
    for name in tcpdump pvtap pvtap-jsonl tshark tcpflow; do
        [ -f "$work/r.$name" ] || continue
        secs=$(awk '{print $1}' "$work/r.$name" | median)
        rss=$(awk '{print $2}' "$work/r.$name" | sort -n | tail -n 1)
        if [ "$(wc -l <"$work/r.$name")" = "$(wc -l <"$work/r.tcpdump")" ]; then
            # the median of the per-run ratios (paired), not a ratio of medians
            ratio=$(paste "$work/r.$name" "$work/r.tcpdump" | awk '{print $1 / $3}' | median)
        else
            ratio=$(echo "$secs / $base" | bc -l)
        fi
        printf '%-12s %8.3f %10d %10.2f\n' "$name" "$secs" "$rss" "$ratio"
    done
    "$pvtap" sniff -r "$f" --format none --stats 2>&1 |
        grep -E '^(packets|connections|connections_skipped|requests|records|holes|limit_body) '
done
