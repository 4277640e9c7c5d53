#!/bin/bash
# kill -9 `pvtap replay --db` at random points, several times on the same store, then let
# it finish: the store must be intact and `pvtap intervals` equal a clean run's.
set -u
: "${PVTAP:?}" "${PVTAP_DATA:?}"
. "$(dirname "$0")/need.sh"
need_tool sqlite3 sqlite3
[ -f "$PVTAP_DATA/sample-day.pcap" ] || skip_test "no sample day"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
inputs=("$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.poll.jsonl")
[ -f "$PVTAP_DATA/golden/meter-reset.pcap" ] &&
    inputs+=("$PVTAP_DATA/golden/meter-reset.pcap" "$PVTAP_DATA/golden/meter-reset.poll.jsonl")

"$PVTAP" replay "${inputs[@]}" --db "$tmp/clean.db" --format csv >"$tmp/clean.replay.csv" 2>/dev/null ||
    { echo "clean replay failed"; exit 1; }
"$PVTAP" intervals --db "$tmp/clean.db" --format csv >"$tmp/clean.csv" || exit 1
cmp -s "$tmp/clean.replay.csv" "$tmp/clean.csv" || { echo "replay output != stored intervals"; exit 1; }
# how long a clean run takes, to spread the kills over it
start=$(date +%s%N)
"$PVTAP" replay "${inputs[@]}" --no-db --format csv >/dev/null 2>&1
span_us=$((($(date +%s%N) - start) / 1000 * 4 + 20000))

RANDOM=${PVTAP_SEED:-$$}
fail=0 killed=0
for trial in 1 2 3; do
    db=$tmp/crash$trial.db
    for k in 1 2 3 4; do
        "$PVTAP" replay "${inputs[@]}" --db "$db" --format csv >/dev/null 2>&1 &
        pid=$!
        delay_us=$(((RANDOM * 32768 + RANDOM) % span_us))
        sleep "$(printf '0.%06d' "$delay_us")"
        if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
        wait "$pid" 2>/dev/null
        if [ -f "$db" ]; then
            ok=$(sqlite3 "$db" 'PRAGMA integrity_check' 2>&1)
            [ "$ok" = ok ] || { echo "trial $trial kill $k: integrity_check: $ok"; fail=1; }
        fi
    done
    "$PVTAP" replay "${inputs[@]}" --db "$db" --format csv >/dev/null 2>"$tmp/err" ||
        { echo "trial $trial: final replay failed"; cat "$tmp/err"; fail=1; continue; }
    "$PVTAP" intervals --db "$db" --format csv >"$tmp/got.csv" || { fail=1; continue; }
    if ! diff -u "$tmp/clean.csv" "$tmp/got.csv" >"$tmp/diff"; then
        echo "trial $trial: intervals differ from a clean run"; head -20 "$tmp/diff"; fail=1
        continue
    fi
    # totals agree with the intervals they sum
    t=$(sqlite3 "$db" "SELECT (SELECT sum(production_dwh) FROM totals WHERE kind='year')
                         = (SELECT CAST(round(sum(production_wh) * 10) AS INTEGER) FROM intervals
                            WHERE production_wh IS NOT NULL)")
    [ "$t" = 1 ] || { echo "trial $trial: totals do not sum the intervals"; fail=1; }
    echo "ok   trial $trial"
done
echo "$killed replays killed mid-run"
exit $fail
