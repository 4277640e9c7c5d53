#!/usr/bin/env bash
# SIGTERM ends the daemon within 2 s even while a source thread is stuck in a device call
# (here an HTTP request to a supervisor that never answers), and the store is committed.
source "$(dirname "$0")/lib.sh"
# (a config is a regular file: /dev/stdin, a pipe here, is refused)
echo 'sources = ( { type = "pvs-api"; url = "http://127.0.0.1:1/"; } );' >"$TMP/probe.conf"
"$PVTAP" config check -q -c "$TMP/probe.conf" 2>/dev/null ||
    skip_test "this build has no pvs-api source (libcurl)"
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, read nothing, answer nothing
' >"$TMP/port" &
hang=$!
for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
port=$(cat "$TMP/port")
cat >"$TMP/stop.conf" <<CONF
store = { path = "$TMP/stop.db"; };
sources = ( { type = "sniff"; file = "$PVTAP_DATA/sample-day.pcap"; },
            { type = "pvs-api"; url = "http://127.0.0.1:$port/"; interval_s = 1; timeout_s = 60; } );
CONF
"$PVTAP" run -c "$TMP/stop.conf" --no-drop --runtime-dir "$TMP/rt" 2>"$TMP/err" &
pid=$!
sleep 3
start=$(date +%s%N)
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
kill "$hang" 2>/dev/null || true
[ "$rc" = 0 ] && ok "exit 0 with a device call in flight" || not_ok "exit $rc"
[ "$ms" -le 2000 ] && ok "stopped in $ms ms (limit 2000)" || not_ok "took $ms ms to stop"
expect_grep "$TMP/err" "still running at stop" "the unfinished call is said"
n=$("$PVTAP" intervals --db "$TMP/stop.db" --format csv | grep -c ',sniff,' || true)
[ "$n" = 287 ] && ok "the sniffed day was committed before the exit ($n intervals)" || not_ok "$n intervals committed"
finish
