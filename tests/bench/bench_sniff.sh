#!/bin/bash
# Offline sniff throughput and peak RSS against tcpdump, tshark and tcpflow (run by hand; not a test).
# usage: bench_sniff.sh BUILD_DIR [WORK_DIR] [DAYS]   (DAYS of 90 % background traffic; ~6 days >= 500 MB)
set -eu
build=${1:?usage: bench_sniff.sh BUILD_DIR [WORK_DIR] [DAYS]}
work=${2:-/tmp/pvtap-bench}
days=${3:-6}
pvtap=$build/pvtap
sim=$build/tests/sim/pvsim_capture
mkdir -p "$work"
full=$work/full-$days.pcap
half=$work/half-$days.pcap
[ -f "$full" ] || "$sim" --seed 42 --days "$days" --inverters 16 --background 0.9 -o "$full"
[ -f "$half" ] || "$sim" --seed 42 --days $(( (days + 1) / 2 )) --inverters 16 --background 0.9 -o "$half"

# run NAME CMD...: wall seconds and peak RSS (KiB) from GNU time.
run() {
    local name=$1
    shift
    /usr/bin/time -f "%e %M" -o "$work/time.$name" "$@" >/dev/null 2>"$work/err.$name" || true
    read -r secs rss <"$work/time.$name"
    echo "$name $secs $rss"
}

for f in "$half" "$full"; do
    size=$(stat -c %s "$f")
    echo "== $(basename "$f"): $((size / 1048576)) MiB"
    cat "$f" >/dev/null # warm the page cache: every tool reads from memory
    t_dump=$(run tcpdump tcpdump -r "$f" -w /dev/null)
    t_pv=$(run pvtap "$pvtap" sniff -r "$f" --format none)
    t_pvj=$(run pvtap-jsonl "$pvtap" sniff -r "$f" --format jsonl)
    t_tshark=$(run tshark tshark -r "$f" -o tcp.reassemble_out_of_order:TRUE -Y 'http.request.method == "POST"' -T fields -e http.file_data)
    t_flow=$(run tcpflow tcpflow -r "$f" -o "$work/flows" 'tcp port 80')
    rm -rf "$work/flows"
    base=$(echo "$t_dump" | awk '{print $2}')
    printf '%-12s %8s %10s %8s\n' tool seconds peak_KiB x_tcpdump
    for line in "$t_dump" "$t_pv" "$t_pvj" "$t_tshark" "$t_flow"; do
        echo "$line" | awk -v b="$base" '{printf "%-12s %8.2f %10d %8.2f\n", $1, $2, $3, (b > 0 ? $2 / b : 0)}'
    done
    "$pvtap" sniff -r "$f" --format none --stats 2>&1 | grep -E '^(packets|requests|records|holes) '
done
