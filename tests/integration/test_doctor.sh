#!/usr/bin/env bash
# pvtap doctor on simulated hardware: a bus another master polls (listen: ok; a polling source
# there: fail, pointing to listen), a quiet bus, a dead port, and the mirror port in a namespace.
source "$(dirname "$0")/lib.sh"
need_tool ip iproute2
need_tool tcpreplay tcpreplay
SIM=${PVTAP_SIM:?}/pvsim_rs485
start_sim() { # start_sim NAME ARGS...: a simulator on $TMP/NAME.tty
    local name=$1
    shift
    "$SIM" "$@" --link "$TMP/$name.tty" --ready-file "$TMP/$name.ready" --duration 60 >"$TMP/$name.log" 2>&1 &
    for _ in $(seq 50); do [ -s "$TMP/$name.ready" ] && return 0; sleep 0.1; done
    echo "simulator $name did not start"; cat "$TMP/$name.log"; exit 1
}
start_sim bus --device bus --period-ms 300
start_sim meter --device wattnode
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT

printf 'sources = ( { type = "listen"; port = "%s"; } );\n' "$TMP/bus.tty" >"$TMP/listen.conf"
expect_rc 0 "a listen source on a polled bus" -- "$PVTAP" doctor -c "$TMP/listen.conf" --seconds 2
expect_grep "$TMP/out" "^ok +RS-485 $TMP/bus.tty .*requests and [0-9]+ replies" "frames heard and counted"

printf 'sources = ( { type = "wattnode"; port = "%s"; } );\n' "$TMP/bus.tty" >"$TMP/poll.conf"
expect_rc 1 "a polling source on a bus another master polls" -- "$PVTAP" doctor -c "$TMP/poll.conf" --seconds 2
expect_grep "$TMP/out" 'FAIL +RS-485 .*type = "listen"' "points to the listen source"

printf 'sources = ( { type = "wattnode"; port = "%s"; } );\n' "$TMP/meter.tty" >"$TMP/quiet.conf"
expect_rc 0 "a quiet bus where pvtap polls" -- "$PVTAP" doctor -c "$TMP/quiet.conf" --seconds 1
expect_grep "$TMP/out" "pvtap may poll here" "quiet bus is fine for polling"

printf 'sources = ( { type = "listen"; port = "%s"; } );\n' "$TMP/meter.tty" >"$TMP/silent.conf"
expect_rc 0 "a listen source on a silent bus (a warning)" -- "$PVTAP" doctor -c "$TMP/silent.conf" --seconds 1
expect_grep "$TMP/out" "^warn +RS-485 .*A-/B\+/common" "silence points to the wiring"

printf 'sources = ( { type = "listen"; port = "%s"; } );\n' "$TMP/no-such-tty" >"$TMP/dead.conf"
expect_rc 1 "a port that does not exist" -- "$PVTAP" doctor -c "$TMP/dead.conf" --seconds 1
expect_grep "$TMP/out" "FAIL +RS-485 .*cannot open" "an unplugged adapter is said"

# The mirror port, in a network namespace fed by tcpreplay.
if [ "$(id -u)" = 0 ] && ip netns add "pvtdoc$$" 2>/dev/null; then
    NS=pvtdoc$$
    trap 'kill $(jobs -p) 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
    ip netns exec "$NS" ip link add veth0 type veth peer name veth1
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.veth0.disable_ipv6=1 net.ipv6.conf.veth1.disable_ipv6=1
    ip netns exec "$NS" ip link set veth0 up
    ip netns exec "$NS" ip link set veth1 up
    printf 'sources = ( { type = "sniff"; interface = "veth1"; } );\n' >"$TMP/mirror.conf"
    ip netns exec "$NS" "$PVTAP" doctor -c "$TMP/mirror.conf" --seconds 4 >"$TMP/mirror.out" 2>&1 &
    doc=$!
    sleep 1
    ip netns exec "$NS" tcpreplay -q -i veth0 --pps 2000 "$PVTAP_DATA/sample-day.pcap" >/dev/null 2>&1
    wait "$doc" || true
    expect_grep "$TMP/mirror.out" "^ok +mirror port veth1 +[0-9]+ supervisor uploads" "uploads seen on the mirror port"
    printf 'sources = ( { type = "sniff"; interface = "veth1"; } );\n' >"$TMP/mirror.conf"
    ip netns exec "$NS" "$PVTAP" doctor -c "$TMP/mirror.conf" --seconds 1 >"$TMP/empty.out" 2>&1 || true
    expect_grep "$TMP/empty.out" "FAIL +mirror port veth1 .*port 5" "no traffic points to the switch ports"
else
    skip_part "the mirror-port part: no network namespace here" || not_ok "mirror-port part"
fi
finish
