#!/usr/bin/env bash
# The daemon's engine holds a 7-day window: over four weeks with a 9-day outage whose backlog
# arrives older than the window, the intervals equal the simulator's truth and a full replay,
# the engine stays bounded (status.json "engine"), a restart changes nothing, and a late
# rebuild noted in the store but not done (a kill between the two commits) is done at start, and
# a changed site kind recomputes everything and leaves the engine bounded again.
source "$(dirname "$0")/lib.sh"
SIM=${PVTAP_SIM:?}/pvsim_capture
[ -x "$SIM" ] || { echo "no simulator at $SIM"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed"; exit 77; }

# 2017-03-01 for 28 days, 8 inverters; no uploads from day 1 06:00 to day 10 06:00 UTC: the
# backlog drains after it, newest first, while live uploads go on
"$SIM" --seed 3 --inverters 8 --date 2017-03-01 --days 28 --outage 30:00-246:00 \
    -o "$TMP/late.pcap" --truth-intervals "$TMP/truth.csv" -q
printf 'site = { timezone = "America/Los_Angeles"; production = "inverters"; };\nsources = ( { type = "sniff"; file = "%s"; } );\n' \
    "$TMP/late.pcap" >"$TMP/late.conf"
run_idle() { "$PVTAP" run -c "$TMP/late.conf" --db "$TMP/late.db" --until-idle --no-drop --runtime-dir "$TMP/rt"; }
engine() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["engine"][sys.argv[2]])' "$TMP/rt/status.json" "$1"; }

expect_rc 0 "run --until-idle over four weeks with a 9-day outage" -- run_idle
late=$(engine late_readings)
rebuilds=$(engine late_rebuilds)
[ "$late" -gt 0 ] && [ "$rebuilds" -ge 1 ] && ok "the backlog was older than the window: $late late readings, $rebuilds rebuilds" ||
    not_ok "no late readings ($late) or rebuilds ($rebuilds): the scenario tests nothing"
"$PVTAP" intervals --db "$TMP/late.db" --format csv >"$TMP/late.csv"
if diff <(grep -v ',poll,' "$TMP/truth.csv") "$TMP/late.csv" >"$TMP/diff"; then
    ok "intervals equal the truth ($(($(wc -l <"$TMP/late.csv") - 1)) rows)"
else not_ok "intervals differ from the truth"; head -10 "$TMP/diff"; fi
"$PVTAP" replay "$TMP/late.pcap" --no-db -c "$TMP/late.conf" --format csv >"$TMP/replay.csv"
cmp -s "$TMP/replay.csv" "$TMP/late.csv" && ok "intervals equal a full replay (no window)" ||
    not_ok "intervals differ from a full replay"

# Bounded: at most the window (7 days) and the reach of a late point (13 intervals) of rows,
# and of points per counter; four weeks unbounded would be 8064 rows.
rows=$(engine rows)
points=$(engine points)
keys=$(engine keys)
max_rows=$((7 * 288 + 13 + 1))
[ "$rows" -le "$max_rows" ] && ok "engine rows $rows <= $max_rows" || not_ok "engine holds $rows rows (> $max_rows)"
[ "$points" -le $((keys * max_rows)) ] && ok "engine points $points <= $keys keys x $max_rows" ||
    not_ok "engine holds $points points for $keys keys"

# A restart from the store (the window only) with the same capture changes nothing.
max_rev=$(sqlite3 "$TMP/late.db" 'select sum(revision) from intervals')
expect_rc 0 "second run over the same store" -- run_idle
"$PVTAP" intervals --db "$TMP/late.db" --format csv >"$TMP/late2.csv"
cmp -s "$TMP/late.csv" "$TMP/late2.csv" && ok "the second run leaves the same intervals" || not_ok "the second run changed intervals"
[ "$(sqlite3 "$TMP/late.db" 'select sum(revision) from intervals')" = "$max_rev" ] &&
    ok "no interval revised by the second run" || not_ok "the second run revised intervals"
rows=$(engine rows)
[ "$rows" -le "$max_rows" ] && ok "bounded again after the second run's rebuild ($rows rows)" || not_ok "engine holds $rows rows after the second run"

# A late rebuild noted with its records but not done (a kill between the two commits): the
# next start does it. Damage an interval of the outage's span, note the span, start.
victim=$(sqlite3 "$TMP/late.db" "select interval_end from intervals where series = 'sniff' and production_wh > 100 and interval_end > 1488520000 order by interval_end limit 1")
sqlite3 "$TMP/late.db" "update intervals set production_wh = production_wh + 1000 where series = 'sniff' and interval_end = $victim;
    insert or replace into meta(key, value) values('late_rebuild_from', '$((victim - 600))')"
printf 'site = { timezone = "America/Los_Angeles"; production = "inverters"; };\n' >"$TMP/empty.conf"
expect_rc 0 "a start with a rebuild noted" -- "$PVTAP" run -c "$TMP/empty.conf" --db "$TMP/late.db" --until-idle --no-drop --runtime-dir "$TMP/rt"
"$PVTAP" intervals --db "$TMP/late.db" --format csv >"$TMP/late3.csv"
cmp -s "$TMP/late.csv" "$TMP/late3.csv" && ok "the noted span was recomputed at start" || not_ok "the damaged interval stayed"
[ -z "$(sqlite3 "$TMP/late.db" "select value from meta where key = 'late_rebuild_from'")" ] &&
    ok "the note is cleared with the recomputed rows" || not_ok "the note stayed"

# Another site kind recomputes every interval from all the records; then the engine holds
# the window again.
printf 'site = { timezone = "America/Los_Angeles"; production = "meter"; };\n' >"$TMP/meter.conf"
expect_rc 0 "a start with production = meter" -- "$PVTAP" run -c "$TMP/meter.conf" --db "$TMP/late.db" --until-idle --no-drop --runtime-dir "$TMP/rt"
expect_grep "$TMP/err" "recomputing as net/meter" "every interval recomputed as net/meter"
"$PVTAP" intervals --db "$TMP/late.db" --format csv >"$TMP/meter.csv"
cmp -s "$TMP/late.csv" "$TMP/meter.csv" && not_ok "the intervals did not change" || ok "the intervals changed"
rows=$(engine rows)
[ "$rows" -le "$max_rows" ] && ok "bounded again after recomputing everything ($rows rows)" || not_ok "engine holds $rows rows after the kind change"
finish
