#!/bin/bash
# Regenerates the bundled sample day and every golden case of tests/data/golden/MANIFEST, deterministically.
# usage: make-golden.sh PVSIM_CAPTURE [OUT_DIR]   (OUT_DIR defaults to the source tree's tests/data)
set -euo pipefail
sim=${1:?usage: make-golden.sh PVSIM_CAPTURE [OUT_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
data=$here/../data
out=${2:-$data}
mkdir -p "$out/golden"

# The README's demo: one day of a string-inverter site, its poll readings, their truth.
"$sim" -q --seed 7 --date 2017-06-07 --string-inverter --background 0.3 \
    -o "$out/sample-day.pcap" --truth-records "$out/sample-day.records.jsonl" \
    --truth-intervals "$out/sample-day.intervals.csv" \
    --poll "$out/sample-day.poll.jsonl" --poll-interval 30

while read -r name line; do
    case $name in ''|'#'*) continue ;; esac
    args=${line%%|*} # after " | ": the replay options the truth assumes, not the simulator's
    extra=()
    if [[ " $args " == *" --poll-interval "* ]]; then
        extra=(--poll "$out/golden/$name.poll.jsonl")
    fi
    # shellcheck disable=SC2086  # the manifest's arguments are words
    "$sim" -q $args "${extra[@]}" -o "$out/golden/$name.pcap" \
        --truth-records "$out/golden/$name.records.jsonl" \
        --truth-intervals "$out/golden/$name.intervals.csv"
done < "$data/golden/MANIFEST"
