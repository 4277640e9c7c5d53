#!/bin/bash
# Every golden capture (tests/data/golden/MANIFEST) and the bundled sample day through
# `pvtap replay --no-db --format csv`: the output must equal the simulator's truth exactly.
set -u
. "$(dirname "$0")/need.sh"
: "${PVTAP:?}" "${PVTAP_DATA:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

# The site interpretation a case's truth assumes: `--consumption-meter K` and `--production P`
# anywhere on its MANIFEST line (the simulator ignores them; a trailing `opts` column). A case
# that names none was made by the simulator's first truth: net 'c' meter, production = the sum
# of the inverters (its 'p' meter is live but the truth never used it).
case_opts() { # MANIFEST arguments -> replay options, in $opts
    local words=($1) i cm=net prod=inverters
    for ((i = 0; i < ${#words[@]}; i++)); do
        case ${words[i]} in
        --consumption-meter) cm=${words[i + 1]:-} ;;
        --consumption-meter=*) cm=${words[i]#*=} ;;
        --production) prod=${words[i + 1]:-} ;;
        --production=*) prod=${words[i]#*=} ;;
        esac
    done
    opts=(--consumption-meter "$cm" --production "$prod")
}

check() { # name truth opts... -- files...
    local name=$1 truth=$2 o=()
    shift 2
    while [ "$1" != -- ]; do o+=("$1"); shift; done
    shift
    n=$((n + 1))
    if ! "$PVTAP" replay "${o[@]}" "$@" --no-db --format csv >"$tmp/out.csv" 2>"$tmp/err"; then
        echo "FAIL $name: replay exited non-zero"; cat "$tmp/err"; fail=1; return
    fi
    if ! diff -u "$truth" "$tmp/out.csv" >"$tmp/diff"; then
        echo "FAIL $name: intervals differ from $truth"; head -40 "$tmp/diff"; fail=1; return
    fi
    echo "ok   $name ($(($(wc -l <"$truth") - 1)) rows)"
}

golden=$PVTAP_DATA/golden
if [ -f "$golden/MANIFEST" ]; then
    while read -r case args; do
        case $case in ''|\#*) continue ;; esac
        files=("$golden/$case.pcap")
        [ -f "$golden/$case.poll.jsonl" ] && files+=("$golden/$case.poll.jsonl")
        case_opts "$args"
        check "$case" "$golden/$case.intervals.csv" "${opts[@]}" -- "${files[@]}"
    done <"$golden/MANIFEST"
fi
if [ -f "$PVTAP_DATA/sample-day.pcap" ]; then
    case_opts ""
    check sample-day "$PVTAP_DATA/sample-day.intervals.csv" "${opts[@]}" -- \
        "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.poll.jsonl"
    # order of the files does not matter, nor does replaying the same file twice
    check sample-day-reversed "$PVTAP_DATA/sample-day.intervals.csv" "${opts[@]}" -- \
        "$PVTAP_DATA/sample-day.poll.jsonl" "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.pcap"
fi
[ "$n" -gt 0 ] || skip_test "no golden data"
exit $fail
