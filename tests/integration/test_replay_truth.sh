#!/bin/bash
# Every golden capture (tests/data/golden/MANIFEST) and the bundled sample day through
# `pvtap replay --no-db --format csv`: the output must equal the simulator's truth exactly.
set -u
: "${PVTAP:?}" "${PVTAP_DATA:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

check() { # name truth files...
    local name=$1 truth=$2
    shift 2
    n=$((n + 1))
    if ! "$PVTAP" replay "$@" --no-db --format csv >"$tmp/out.csv" 2>"$tmp/err"; then
        echo "FAIL $name: replay exited non-zero"; cat "$tmp/err"; fail=1; return
    fi
    if ! diff -u "$truth" "$tmp/out.csv" >"$tmp/diff"; then
        echo "FAIL $name: intervals differ from $truth"; head -40 "$tmp/diff"; fail=1; return
    fi
    echo "ok   $name ($(($(wc -l <"$truth") - 1)) rows)"
}

# Each case's truth assumes the replay options after " | " in its MANIFEST line. A replay
# without them reads every site as net CTs + inverters (what the sample day, with its live
# production meter, assumes too): it checks only such cases and says which it skipped.
legacy=(--consumption-meter net --production inverters)
topology=("${legacy[@]}")
"$PVTAP" replay --help 2>&1 | grep -q -- --consumption-meter || topology=()

golden=$PVTAP_DATA/golden
if [ -f "$golden/MANIFEST" ]; then
    while read -r case line; do
        case $case in ''|\#*) continue ;; esac
        opts=()
        [[ $line == *"|"* ]] && read -ra opts <<<"${line#*|}"
        if [ ${#topology[@]} = 0 ]; then
            if [ ${#opts[@]} -gt 0 ] && [ "${opts[*]}" != "${legacy[*]}" ]; then
                echo "skip $case: this replay has no ${opts[*]}"
                continue
            fi
            opts=()
        fi
        files=("$golden/$case.pcap")
        [ -f "$golden/$case.poll.jsonl" ] && files+=("$golden/$case.poll.jsonl")
        check "$case" "$golden/$case.intervals.csv" "${files[@]}" "${opts[@]}"
    done <"$golden/MANIFEST"
fi
if [ -f "$PVTAP_DATA/sample-day.pcap" ]; then
    check sample-day "$PVTAP_DATA/sample-day.intervals.csv" \
        "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.poll.jsonl" "${topology[@]}"
    # order of the files does not matter, nor does replaying the same file twice
    check sample-day-reversed "$PVTAP_DATA/sample-day.intervals.csv" "${topology[@]}" \
        "$PVTAP_DATA/sample-day.poll.jsonl" "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.pcap"
fi
[ "$n" -gt 0 ] || { echo "no golden data"; exit 77; }
exit $fail
