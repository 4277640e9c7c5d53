#!/usr/bin/env bash
# Tables are for people: site-local time with the zone's abbreviation; CSV and JSON stay UTC.
source "$(dirname "$0")/lib.sh"
day="$PVTAP_DATA/sample-day.pcap"
printf 'site = { timezone = "America/Los_Angeles"; };\n' >"$TMP/la.conf"
printf 'site = { timezone = "Europe/Berlin"; };\n' >"$TMP/berlin.conf"
"$PVTAP" replay -c "$TMP/la.conf" "$day" "$PVTAP_DATA/sample-day.poll.jsonl" --db "$TMP/s.db" \
    --format csv >/dev/null 2>&1 || true

"$PVTAP" intervals -c "$TMP/la.conf" --db "$TMP/s.db" --series sniff --format table >"$TMP/t"
[ "$(sed -n 2p "$TMP/t" | cut -c1-20)" = "2017-06-06 17:05 PDT" ] &&
    ok "intervals table: local time and PDT" || not_ok "intervals table row: $(sed -n 2p "$TMP/t")"
"$PVTAP" intervals -c "$TMP/berlin.conf" --db "$TMP/s.db" --series sniff --format table >"$TMP/t"
[ "$(sed -n 2p "$TMP/t" | cut -c1-20)" = "2017-06-07 02:05 CEST" ] ||
    [ "$(sed -n 2p "$TMP/t" | cut -c1-21)" = "2017-06-07 02:05 CEST" ] &&
    ok "another zone: its own abbreviation (CEST)" || not_ok "berlin row: $(sed -n 2p "$TMP/t")"
"$PVTAP" intervals -c "$TMP/la.conf" --db "$TMP/s.db" --series sniff --format csv >"$TMP/c"
[ "$(sed -n 2p "$TMP/c" | cut -d, -f1)" = "2017-06-07T00:05:00Z" ] &&
    ok "intervals CSV stays UTC ISO 8601" || not_ok "csv row: $(sed -n 2p "$TMP/c")"
"$PVTAP" intervals -c "$TMP/la.conf" --db "$TMP/s.db" --series sniff --format jsonl >"$TMP/j"
grep -q '"interval_end":"2017-06-07T00:05:00Z"' "$TMP/j" && ok "JSON lines stay UTC" ||
    not_ok "jsonl: $(head -1 "$TMP/j")"

"$PVTAP" replay -c "$TMP/la.conf" "$day" --no-db --format table 2>/dev/null >"$TMP/r"
[ "$(sed -n 2p "$TMP/r" | cut -c1-20)" = "2017-06-06 17:05 PDT" ] && ok "replay table: local" ||
    not_ok "replay row: $(sed -n 2p "$TMP/r")"

"$PVTAP" compare -c "$TMP/la.conf" --db "$TMP/s.db" --format table >"$TMP/cmp" 2>&1
grep -q '^2017-06-06 17:10 PDT' "$TMP/cmp" && ok "compare table: local" ||
    not_ok "compare: $(sed -n 4p "$TMP/cmp")"
grep -qE 'max [0-9.]+ Wh at 2017-06-0[67] [0-9:]+ PDT' "$TMP/cmp" && ok "compare summary: local" ||
    not_ok "compare summary: $(grep max "$TMP/cmp" | head -1)"
"$PVTAP" compare -c "$TMP/la.conf" --db "$TMP/s.db" --format csv 2>/dev/null >"$TMP/cmpc"
[ "$(sed -n 2p "$TMP/cmpc" | cut -d, -f1)" = "2017-06-07T00:05:00Z" ] && ok "compare CSV: UTC" ||
    not_ok "compare csv: $(sed -n 2p "$TMP/cmpc")"

"$PVTAP" status -c "$TMP/la.conf" --db "$TMP/s.db" --runtime-dir "$TMP/none" --format table \
    >"$TMP/st" 2>&1 || true
grep -q 'newest interval 2017-06-07 16:55 PDT' "$TMP/st" && ok "status table: local" ||
    not_ok "status: $(grep newest "$TMP/st" | head -1)"
"$PVTAP" status -c "$TMP/la.conf" --db "$TMP/s.db" --runtime-dir "$TMP/none" --format json \
    >"$TMP/sj" 2>&1 || true
grep -q '"newest_interval":.*"2017-06-07T23:55:00Z"' "$TMP/sj" && ok "status JSON: UTC" ||
    not_ok "status json: $(grep newest "$TMP/sj" | head -1)"
finish
