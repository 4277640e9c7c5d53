#!/usr/bin/env bash
# The polled sources in the daemon: a virtual WattNode and a SunSpec inverter on two ptys feed
# the engine and the store like the sniffed source (records under series "poll", exact values).
source "$(dirname "$0")/lib.sh"
need_tool sqlite3 sqlite3
# (a config is a regular file: /dev/stdin, a pipe here, is refused)
echo 'sources = ( { type = "wattnode"; port = "/dev/null"; } );' >"$TMP/probe.conf"
"$PVTAP" config check -q -c "$TMP/probe.conf" 2>/dev/null ||
    skip_test "this build has no Modbus sources (libmodbus)"
SIM=${PVTAP_SIM:?}/pvsim_rs485
"$SIM" --device wattnode --link "$TMP/wn" --ready-file "$TMP/wn.ready" --serial 4711 \
    --energy-net-kwh 1234.5 --import-kwh 2000.25 --export-kwh 765.75 --power-w 900 --duration 30 >/dev/null 2>&1 &
"$SIM" --device sunspec --link "$TMP/ss" --ready-file "$TMP/ss.ready" --energy-kwh 5000 --power-w 2500 \
    --duration 30 >/dev/null 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/wn.ready" ] && [ -s "$TMP/ss.ready" ] && break; sleep 0.1; done
# max_poll_gap_s = 150: every poll is near a boundary, so each one is stored.
cat >"$TMP/poll.conf" <<CONF
store = { path = "$TMP/poll.db"; };
sources = ( { type = "wattnode"; port = "$TMP/wn"; interval_s = 1; listen_s = 0.2; max_poll_gap_s = 150; },
            { type = "sunspec"; port = "$TMP/ss"; address = 126; interval_s = 1; listen_s = 0.2; max_poll_gap_s = 150; } );
CONF
"$PVTAP" run -c "$TMP/poll.conf" --no-drop --runtime-dir "$TMP/rt" 2>"$TMP/err" &
pid=$!
sleep 6
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] && ok "daemon stopped cleanly" || not_ok "daemon exit $rc"
q() { sqlite3 "$TMP/poll.db" "$1"; }
n=$(q "select count(*) from records where series='poll' and device='4711' and quantity='energy_net_lifetime_kWh'")
[ "${n:-0}" -ge 3 ] && ok "WattNode net counter recorded $n times" || not_ok "WattNode net counter recorded ${n:-0} times"
v=$(q "select value from records where device='4711' and quantity='energy_import_lifetime_kWh' limit 1")
[ "$v" = 2000.25 ] && ok "import counter exact (2000.25)" || not_ok "import counter $v"
v=$(q "select value from records where device='4711' and quantity='energy_export_lifetime_kWh' limit 1")
[ "$v" = 765.75 ] && ok "export counter exact (765.75)" || not_ok "export counter $v"
n=$(q "select count(*) from records where series='poll' and kind='inverter' and quantity='energy_lifetime_kWh'")
[ "${n:-0}" -ge 3 ] && ok "inverter lifetime counter recorded $n times" || not_ok "inverter counter recorded ${n:-0} times"
n=$(q "select count(*) from records where quantity='power_W'")
[ "$n" = 0 ] && ok "live values (power) are not written to the store" || not_ok "$n power rows stored"
finish
