#!/usr/bin/env bash
# SIGHUP restarts only what changed. A broken config leaves the capture and the web page running
# (same source start time, counters not reset, the page answers throughout, the reason said
# once); a change to the mqtt section alone leaves the sniff source untouched; a changed sniff
# section restarts that source; the day's intervals still equal the truth at the end.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_test "needs root (network namespace)"
need_tool editcap wireshark-common
need_tool curl curl
capture_netns pvtaprl
mkdir "$TMP/var" "$TMP/rt"
editcap -r "$PVTAP_DATA/sample-day.pcap" "$TMP/first.pcap" 1-1800
editcap -r "$PVTAP_DATA/sample-day.pcap" "$TMP/second.pcap" 1801-999999
# The namespace is private: a fixed port cannot collide.
conf() {
    cat <<CONF
site = { timezone = "America/Los_Angeles"; production = "inverters"; }; # the truth sums the inverters
store = { path = "$TMP/var/pvtap.db"; };
sources = ( { type = "sniff"; name = "mirror"; interface = "veth1"; $1 } );
http = { listen = "127.0.0.1:8080"; };
$2
CONF
}
conf "" "" >"$TMP/rl.conf"
ip netns exec "$NS" "$PVTAP" run -c "$TMP/rl.conf" --no-drop --runtime-dir "$TMP/rt" 2>"$TMP/daemon.err" &
pid=$!
for _ in $(seq 50); do [ -s "$TMP/rt/status.json" ] && break; sleep 0.1; done
[ -s "$TMP/rt/status.json" ] && ok "daemon up" || { not_ok "no status.json"; finish; exit 1; }
for _ in $(seq 50); do in_ns curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/ && break; sleep 0.1; done
# The web page, asked every 0.1 s for the whole test: every answer must be a 200.
in_ns sh -c 'while :; do curl -s -o /dev/null -w "%{http_code}\n" --max-time 2 http://127.0.0.1:8080/; sleep 0.1; done' >"$TMP/web.log" 2>/dev/null &
web=$!

src() { /usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["sources"][0]; print(s.get(sys.argv[2]))' "$TMP/rt/status.json" "$1"; }
fresh_status() { local t; t=$(stat -c %Y.%N "$TMP/rt/status.json"); for _ in $(seq 80); do sleep 0.1; [ "$(stat -c %Y.%N "$TMP/rt/status.json")" != "$t" ] && return 0; done; }
in_ns tcpreplay -q -i veth0 --pps 3000 "$TMP/first.pcap" >"$TMP/replay.out" 2>&1 || not_ok "tcpreplay failed"
fresh_status
since0=$(src up_since)
packets0=$(src capture_packets)
[ "$since0" != None ] && [ "$packets0" -gt 0 ] && ok "capture up since $since0, $packets0 packets" ||
    not_ok "capture: up_since $since0, packets $packets0"
sleep 1.1 # a restart would show as a later up_since

# 1. A broken file: rejected, nothing touched.
conf "" 'mqtt = { port = 99999; };' >"$TMP/rl.conf"
kill -HUP "$pid"
fresh_status; fresh_status
kill -0 "$pid" 2>/dev/null && ok "alive after SIGHUP with a broken config" || not_ok "died on a broken config"
n=$(grep -cE "rl.conf:[0-9]+: mqtt.port" "$TMP/daemon.err" || true)
[ "$n" = 1 ] && ok "the reason is said once with file:line" || not_ok "the reason is said $n times"
expect_grep "$TMP/daemon.err" "keeping the old one" "the old config is kept"
[ "$(src up_since)" = "$since0" ] && ok "broken config: the capture was not restarted" ||
    not_ok "broken config: the capture restarted ($since0 -> $(src up_since))"
[ "$(src capture_packets)" -ge "$packets0" ] && ok "broken config: capture counters kept" ||
    not_ok "broken config: capture counters reset ($packets0 -> $(src capture_packets))"

# 2. Only the mqtt section changes: the sniff source runs on untouched.
conf "" 'mqtt = { host = "127.0.0.1"; port = 1; };' >"$TMP/rl.conf"
kill -HUP "$pid"
fresh_status; fresh_status
expect_grep "$TMP/daemon.err" "0 of 1 sources and 1 of 2 sinks new or changed" "mqtt added, nothing else restarted"
[ "$(src up_since)" = "$since0" ] && ok "mqtt change: the capture was not restarted" ||
    not_ok "mqtt change: the capture restarted ($since0 -> $(src up_since))"
[ "$(src capture_packets)" -ge "$packets0" ] && ok "mqtt change: capture counters kept" ||
    not_ok "mqtt change: capture counters reset"
grep -q '"name":[[:space:]]*"mqtt"' "$TMP/rt/status.json" && ok "the mqtt sink runs" || not_ok "no mqtt sink in the status"

# 3. The sniff section changes: that source restarts (and captures on).
conf 'buffer_MiB = 8;' 'mqtt = { host = "127.0.0.1"; port = 1; };' >"$TMP/rl.conf"
kill -HUP "$pid"
fresh_status; fresh_status
expect_grep "$TMP/daemon.err" "source mirror \(sniff\) stopped: changed" "the changed source is stopped"
since1=$(src up_since)
[ "$since1" != None ] && [ "$since1" != "$since0" ] && ok "the changed source restarted (up since $since1)" ||
    not_ok "the changed source did not restart (up since $since1)"
in_ns tcpreplay -q -i veth0 --pps 3000 "$TMP/second.pcap" >"$TMP/replay.out" 2>&1 || not_ok "tcpreplay failed"
sleep 4

kill "$web" 2>/dev/null; wait "$web" 2>/dev/null || true
total=$(wc -l <"$TMP/web.log")
bad=$(grep -vc '^200$' "$TMP/web.log" || true)
[ "$total" -gt 20 ] && [ "$bad" = 0 ] && ok "the web page answered all $total requests" ||
    not_ok "the web page failed $bad of $total requests"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc"
"$PVTAP" intervals --db "$TMP/var/pvtap.db" --format csv >"$TMP/after.csv"
if diff <(grep -v ',poll,' "$PVTAP_DATA/sample-day.intervals.csv") "$TMP/after.csv" >"$TMP/diff"; then
    ok "intervals across the reloads equal the truth"
else not_ok "intervals differ across the reloads"; head -10 "$TMP/diff"; fi
finish
