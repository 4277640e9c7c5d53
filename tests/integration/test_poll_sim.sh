#!/bin/bash
# `pvtap poll` against the simulator's virtual WattNode, SunSpec inverter and
# supervisor-polled bus (tests/sim/pvsim_rs485 on pty pairs): exact values,
# fault knobs (CRC errors, timeouts, garbage, slow replies), --scan, and the
# listen-before-talk refusal (and --force overriding it).
set -u
SIM="${PVTAP_SIM:-}/pvsim_rs485"
. "$(dirname "$0")/need.sh"
[ -x "${PVTAP:-}" ] || skip_test "PVTAP not set"
[ -x "$SIM" ] || skip_test "$SIM not built"
"$PVTAP" poll --help | grep -q wattnode || skip_test "built without libmodbus"

TMP=$(mktemp -d /tmp/pvtap-pollsim.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
FAILS=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }

# start NAME ARGS...: run the simulator on $TMP/NAME, wait for its ready file.
start() {
    local name=$1; shift
    "$SIM" --link "$TMP/$name" --ready-file "$TMP/$name.ready" --duration 120 "$@" \
        2>"$TMP/$name.log" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$TMP/$name.ready" ] && return 0; sleep 0.05; done
    bad "simulator $name did not get ready: $(cat "$TMP/$name.log")"
    return 1
}
poll() { "$PVTAP" poll --listen-s 0.2 "$@"; }

# json KEY: the value of KEY in the JSON object on stdin (python3 as the oracle).
json() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }

WN_VALUES=(--serial 77 --power-w -2100.5 --import-kwh 5000.25 --export-kwh 6000.75
           --voltage 119.75 --resettable-net-kwh 3.5)

# ---- a clean WattNode -------------------------------------------------------
start wn --device wattnode "${WN_VALUES[@]}" || exit 1
out=$(poll --device wattnode --port "$TMP/wn")
[ "$(echo "$out" | json serial)" = 77 ] && ok "serial" || bad "serial: $out"
[ "$(echo "$out" | json power_W)" = -2100.5 ] && ok "power_W" || bad "power_W: $out"
[ "$(echo "$out" | json energy_net_lifetime_kWh)" = -1000.5 ] && ok "net = 1005 (import - export)" \
    || bad "net: $out"
[ "$(echo "$out" | json energy_import_lifetime_kWh)" = 5000.25 ] && ok "import = 1007" || bad "import: $out"
[ "$(echo "$out" | json energy_export_lifetime_kWh)" = 6000.75 ] && ok "export = 1115" || bad "export: $out"
[ "$(echo "$out" | json voltage_V)" = 119.75 ] && ok "voltage" || bad "voltage: $out"
echo "$out" | grep -q '3\.5' && bad "resettable 1001 leaked: $out" || ok "resettable 1001 never used"
echo "$out" | grep -q '"power_C_W"' && bad "phase C printed: $out" || ok "unconnected phase C absent"

out=$(poll --device wattnode --port "$TMP/wn" --scan --scan-range 1-3)
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q '"address":1,"serial":"77"' \
    && ok "--scan finds address 1 only" || bad "--scan: $out"

# ---- faults: a value is exact or absent, never garbage --------------------------
check_faulty() { # NAME: poll 6 times; every success must carry the exact values
    local name=$1 good=0 n
    for n in 1 2 3 4 5 6; do
        if out=$(poll --device wattnode --port "$TMP/$name" --timeout-ms 200 2>>"$TMP/$name.err"); then
            if [ "$(echo "$out" | json power_W)" = -2100.5 ] &&
               [ "$(echo "$out" | json energy_import_lifetime_kWh)" = 5000.25 ]; then
                good=$((good + 1))
            else
                bad "$name: garbage reading: $out"
            fi
        fi
    done
    echo "$good"
}
start crc --device wattnode "${WN_VALUES[@]}" --crc-error 0.3 --seed 7 || exit 1
g=$(check_faulty crc); [ "${g##*$'\n'}" -ge 3 ] && ok "CRC errors: retried, $g/6 exact" || bad "CRC errors: $g/6"
start garb --device wattnode "${WN_VALUES[@]}" --garbage 0.5 --seed 3 || exit 1
g=$(check_faulty garb); [ "${g##*$'\n'}" -ge 3 ] && ok "garbage before replies: $g/6 exact" || bad "garbage: $g/6"

start dead --device wattnode "${WN_VALUES[@]}" --timeout 1 || exit 1
err=$(poll --device wattnode --port "$TMP/dead" --timeout-ms 150 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && echo "$err" | grep -q "no answer from address 1" && ok "no reply: exit 1, clear message" \
    || bad "no reply: rc $rc: $err"

start slow --device wattnode "${WN_VALUES[@]}" --slow-ms 400 || exit 1
poll --device wattnode --port "$TMP/slow" --timeout-ms 100 >/dev/null 2>&1; rc=$?
[ $rc = 1 ] && ok "slow replies past the timeout: exit 1" || bad "slow with 100 ms: rc $rc"
out=$(poll --device wattnode --port "$TMP/slow" --timeout-ms 1000)
[ "$(echo "$out" | json power_W)" = -2100.5 ] && ok "slow replies within the timeout: exact" \
    || bad "slow with 1000 ms: $out"

# ---- SunSpec inverter over RTU and TCP ----------------------------------------
start ss --device sunspec --model 103 --power-w 2345.6 --w-sf -1 --energy-kwh 4321.5 --sn SIMSN1 \
    --md SIM-INV --tcp-port 15021 --unimpl DCA || exit 1
out=$(poll --device sunspec --port "$TMP/ss" --address 126)
[ "$(echo "$out" | json power_W)" = 2345.6 ] && ok "sunspec RTU power_W" || bad "sunspec RTU: $out"
[ "$(echo "$out" | json energy_lifetime_kWh)" = 4321.5 ] && ok "sunspec energy" || bad "sunspec energy: $out"
[ "$(echo "$out" | json serial)" = SIMSN1 ] && [ "$(echo "$out" | json model)" = SIM-INV ] \
    && ok "sunspec model 1 strings" || bad "sunspec strings: $out"
echo "$out" | grep -q dc_current_A && bad "unimplemented DCA printed: $out" || ok "unimplemented DCA absent"
out=$(poll --device sunspec --host 127.0.0.1 --tcp-port 15021 --address 126)
[ "$(echo "$out" | json power_W)" = 2345.6 ] && ok "sunspec over TCP" || bad "sunspec TCP: $out"

start ss5 --device sunspec --base 50000 --power-w 100 || exit 1
out=$(poll --device sunspec --port "$TMP/ss5" --address 126)
[ "$(echo "$out" | json power_W)" = 100 ] && ok "SunS found at 50000" || bad "base 50000: $out"

# ---- another master on the bus ---------------------------------------------------
start bus --device bus --period-ms 200 || exit 1
err=$("$PVTAP" poll --device wattnode --port "$TMP/bus" --listen-s 1.5 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && echo "$err" | grep -q "another Modbus master" && echo "$err" | grep -q 'type = "listen"' \
    && echo "$err" | grep -q -- "--force" && ok "refuses to talk over the supervisor, points to listen" \
    || bad "bus refusal: rc $rc: $err"
err=$("$PVTAP" poll --device wattnode --port "$TMP/bus" --listen-s 1.5 --scan --scan-range 1-2 2>&1 >/dev/null); rc=$?
[ $rc = 1 ] && echo "$err" | grep -q "another Modbus master" && ok "--scan refuses too" \
    || bad "scan on a busy bus: rc $rc: $err"
err=$("$PVTAP" poll --device wattnode --port "$TMP/bus" --listen-s 1.5 --force --timeout-ms 100 2>&1 >/dev/null)
echo "$err" | grep -q "another Modbus master is using" && bad "--force did not override: $err" \
    || ok "--force transmits anyway (warned)"

[ $FAILS = 0 ] || { echo "$FAILS failures"; exit 1; }
