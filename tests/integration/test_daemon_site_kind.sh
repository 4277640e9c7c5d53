#!/usr/bin/env bash
# The daemon reads the 'c' meter as the site's kind says, and recomputes the stored intervals
# when that kind changes: learnt from the supervisor (kept in the store, so a sniff-only
# restart keeps it) or set in the configuration. Each state must equal `pvtap replay` told
# the same interpretation.
source "$(dirname "$0")/lib.sh"
day=$PVTAP_DATA/sample-day.pcap
conf() { # conf FILE SITE-KEYS
    printf 'site = { timezone = "America/Los_Angeles"; %s };\nsources = ( { type = "sniff"; file = "%s"; } );\n' "$2" "$day" >"$1"
}
run_idle() { "$PVTAP" run -c "$1" --db "$TMP/site.db" --until-idle --no-drop --runtime-dir "$TMP/rt"; }
same_as_replay() { # description replay-options...
    local what=$1
    shift
    "$PVTAP" intervals --db "$TMP/site.db" --format csv >"$TMP/stored.csv"
    "$PVTAP" replay "$@" --no-db --format csv "$day" >"$TMP/replay.csv"
    if diff "$TMP/replay.csv" "$TMP/stored.csv" >"$TMP/diff"; then
        ok "$what ($(($(wc -l <"$TMP/stored.csv") - 1)) rows)"
    else not_ok "$what"; head -10 "$TMP/diff"; fi
}

conf "$TMP/auto.conf" 'production = "inverters";'
expect_rc 0 "first run, nothing learnt: net" -- run_idle "$TMP/auto.conf"
same_as_replay "read as net by default" --consumption-meter net --production inverters
"$PVTAP" status -c "$TMP/auto.conf" --db "$TMP/site.db" --format json --runtime-dir "$TMP/none" >"$TMP/st.json" || true
expect_grep "$TMP/st.json" '"consumption_meter_from":[[:space:]]*"default"' "status: the kind comes from the default"

# What a pvs-api source stores when the supervisor reports GROSS_CONSUMPTION_LINESIDE.
sqlite3 "$TMP/site.db" "INSERT OR REPLACE INTO meta VALUES('consumption_meter','gross');
    INSERT OR REPLACE INTO meta VALUES('consumption_meter_since','2026-12-08');"
expect_rc 0 "restart after the supervisor said gross" -- run_idle "$TMP/auto.conf"
expect_grep "$TMP/err" 'recomputing as gross/inverters' "the restart recomputes the stored intervals"
same_as_replay "read as gross after a sniff-only restart" --consumption-meter gross --production inverters
"$PVTAP" status -c "$TMP/auto.conf" --db "$TMP/site.db" --format json --runtime-dir "$TMP/none" >"$TMP/st.json" || true
expect_grep "$TMP/st.json" '"consumption_meter_from":[[:space:]]*"supervisor \(pvs-api\) on 2026-12-08"' \
    "status: the kind comes from the supervisor, with its date"
"$PVTAP" status -c "$TMP/auto.conf" --db "$TMP/site.db" --format table --runtime-dir "$TMP/none" >"$TMP/st.txt" || true
expect_grep "$TMP/st.txt" 'consumption meter read as gross \(supervisor' "status table names the kind"
{ cat "$TMP/auto.conf"; printf 'store = { path = "%s"; };\n' "$TMP/site.db"; } >"$TMP/stored.conf"
"$PVTAP" config check -c "$TMP/stored.conf" >"$TMP/dump" 2>&1 || true
expect_grep "$TMP/dump" '^# in force: consumption meter read as gross \(supervisor \(pvs-api\) on 2026-12-08\)' \
    "config check names the kind in force and where it came from"
expect_rc 0 "a second run changes nothing" -- run_idle "$TMP/auto.conf"
expect_no_grep "$TMP/err" 'recomputing' "no recomputation when the kind is unchanged"

# The configuration wins, and a production meter can be the site's production.
conf "$TMP/net.conf" 'consumption_meter = "net"; production = "auto";'
expect_rc 0 "run with consumption_meter = net, production = auto" -- run_idle "$TMP/net.conf"
same_as_replay "read as net, production from the meter" --consumption-meter net --production auto
conf "$TMP/none.conf" 'consumption_meter = "none";'
expect_rc 0 "run with consumption_meter = none" -- run_idle "$TMP/none.conf"
same_as_replay "no consumption meter: net and consumption empty" --consumption-meter none --production auto
"$PVTAP" intervals --db "$TMP/site.db" --format csv | awk -F, 'NR > 1 && ($4 != "" || $5 != "")' >"$TMP/nonempty"
[ ! -s "$TMP/nonempty" ] && ok "no stored net or consumption left" || not_ok "net/consumption stayed: $(head -2 "$TMP/nonempty")"
"$PVTAP" config check -c "$TMP/none.conf" >"$TMP/dump" 2>&1 || true
expect_grep "$TMP/dump" 'consumption_meter = "none"; production = "auto";' "config check shows the keys"
finish
