#!/usr/bin/env bash
# pvtap run --until-idle on simulator captures: intervals equal the truth, re-runs change
# nothing, a missing capture exits 1, and 20 kill -9s across a run lose and duplicate nothing.
source "$(dirname "$0")/lib.sh"
need_tool sqlite3 sqlite3
SIM=${PVTAP_SIM:?}/pvsim_capture
[ -x "$SIM" ] || { echo "no simulator at $SIM"; exit 1; }

# production = inverters: the truth sums the inverters (the simulated 'p' meter is live)
conf() { # conf FILE CAPTURE
    printf 'site = { timezone = "America/Los_Angeles"; production = "inverters"; };\nsources = ( { type = "sniff"; file = "%s"; } );\n' "$2" >"$1"
}
run_idle() { "$PVTAP" run -c "$1" --db "$2" --until-idle --no-drop --runtime-dir "$TMP/rt"; }
sniff_truth() { grep -v ',poll,' "$1"; }

# The bundled day: the sniff series equals the simulator's truth, twice.
conf "$TMP/day.conf" "$PVTAP_DATA/sample-day.pcap"
expect_rc 0 "run --until-idle on the sample day" -- run_idle "$TMP/day.conf" "$TMP/day.db"
"$PVTAP" intervals --db "$TMP/day.db" --format csv >"$TMP/day.csv"
if diff <(sniff_truth "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/day.csv" >"$TMP/diff"; then
    ok "sample day intervals equal the truth ($(($(wc -l <"$TMP/day.csv") - 1)) rows)"
else not_ok "sample day intervals differ"; head -20 "$TMP/diff"; fi
expect_rc 0 "second run over the same store" -- run_idle "$TMP/day.conf" "$TMP/day.db"
"$PVTAP" intervals --db "$TMP/day.db" --format csv >"$TMP/day2.csv"
cmp -s "$TMP/day.csv" "$TMP/day2.csv" && ok "re-run leaves the same intervals" || not_ok "re-run changed intervals"
revs=$(sqlite3 "$TMP/day.db" 'select max(revision) from intervals' 2>/dev/null || echo "?")
[ "$revs" = 1 ] && ok "no interval revised by the re-run" || not_ok "max revision after re-run is $revs"

# Golden scenarios through the daemon (batching, late records, backlog).
for case in outage-backlog meter-reset lost-reply keepalive missing; do
    conf "$TMP/$case.conf" "$PVTAP_DATA/golden/$case.pcap"
    run_idle "$TMP/$case.conf" "$TMP/$case.db" 2>/dev/null || { not_ok "$case: run failed"; continue; }
    "$PVTAP" intervals --db "$TMP/$case.db" --format csv >"$TMP/$case.csv"
    if diff <(sniff_truth "$PVTAP_DATA/golden/$case.intervals.csv") "$TMP/$case.csv" >"$TMP/diff"; then
        ok "$case: intervals equal the truth"
    else not_ok "$case: intervals differ"; head -10 "$TMP/diff"; fi
done

# A capture that does not exist: said, and exit 1.
conf "$TMP/missing.conf" "$TMP/no-such.pcap"
expect_rc 1 "missing capture file" -- run_idle "$TMP/missing.conf" "$TMP/missing.db"
expect_grep "$TMP/err" "no-such.pcap" "the missing file is named"

# kill -9 soak: 20 kills at random points, then a run to the end.
"$SIM" --seed 21 --days 20 --inverters 24 -o "$TMP/soak.pcap" --truth-intervals "$TMP/soak.truth.csv" -q
conf "$TMP/soak.conf" "$TMP/soak.pcap"
# A clean run first: how long a whole run takes here, so the kills land inside one.
# A run over a store that already holds the data is quicker than the first
# one, and after the first kills the soak's store mostly does: time both and
# aim inside the shorter.
t0=$(date +%s%N)
run_idle "$TMP/soak.conf" "$TMP/clean.db" 2>/dev/null
first_ms=$((($(date +%s%N) - t0) / 1000000))
t0=$(date +%s%N)
run_idle "$TMP/soak.conf" "$TMP/clean.db" 2>/dev/null
again_ms=$((($(date +%s%N) - t0) / 1000000))
run_ms=$((first_ms < again_ms ? first_ms : again_ms))
echo "# a run takes $first_ms ms on an empty store, $again_ms ms over a full one"
RANDOM=42
kills=0
for i in $(seq 1 20); do
    # The binary itself in the background (not a function: that would be a
    # subshell, and the kill would miss pvtap).
    "$PVTAP" run -c "$TMP/soak.conf" --db "$TMP/soak.db" --until-idle --no-drop \
        --runtime-dir "$TMP/rt" 2>/dev/null &
    pid=$!
    ms=$((run_ms * (RANDOM % 90 + 5) / 100))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
done
ok "killed $kills of 20 runs with SIGKILL"
[ "$kills" -ge 10 ] || not_ok "too few kills landed mid-run ($kills): the soak is not testing anything"
expect_rc 0 "final run after the kills" -- run_idle "$TMP/soak.conf" "$TMP/soak.db"
"$PVTAP" intervals --db "$TMP/soak.db" --format csv >"$TMP/soak.csv"
if diff <(sniff_truth "$TMP/soak.truth.csv") "$TMP/soak.csv" >"$TMP/diff"; then
    ok "after the kills the store equals the truth ($(($(wc -l <"$TMP/soak.csv") - 1)) rows)"
else not_ok "store after kills differs from the truth"; head -10 "$TMP/diff"; fi
dups=$(sqlite3 "$TMP/soak.db" 'select count(*) from (select series, interval_end, count(*) c from intervals group by 1,2 having c > 1)')
[ "$dups" = 0 ] && ok "no duplicate intervals" || not_ok "$dups duplicate intervals"
finish
