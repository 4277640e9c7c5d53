#!/bin/bash
# `pvtap poll --device sma-net` and the sma-net source against the simulator's SMA Sunny Boy
# (tests/sim/pvsim_rs485 --device sma-net, written separately from pvtap's decoder): a whole
# session (discovery, addressing, channel list, spot values), an inverter another master already
# addressed, faults (FCS errors, silence, garbage, a partial answer), another master on the bus,
# and the daemon running the source into the store with the channel-list cache.
set -u
SIM="${PVTAP_SIM:-}/pvsim_rs485"
. "$(dirname "$0")/need.sh"
[ -x "${PVTAP:-}" ] || skip_test "PVTAP not set"
[ -x "$SIM" ] || skip_test "$SIM not built"
"$PVTAP" poll --help | grep -q sma-net || skip_test "sma-net not in this build"

TMP=$(mktemp -d /tmp/pvtap-smanet.XXXXXX)
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

start() { # NAME ARGS...: the simulator on $TMP/NAME
    local name=$1; shift
    "$SIM" --device sma-net --link "$TMP/$name" --ready-file "$TMP/$name.ready" --duration 300 \
        "$@" 2>"$TMP/$name.log" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$TMP/$name.ready" ] && return 0; sleep 0.05; done
    bad "simulator $name did not get ready: $(cat "$TMP/$name.log")"
    return 1
}
poll() { "$PVTAP" poll --device sma-net --listen-s 0.3 "$@"; }
# json KEY: the value of KEY in the JSON object on stdin (python3 as the oracle).
json() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("" if v is None else v)' "$1"; }
# near KEY WANT [TOL]: |value - WANT| <= TOL (default 1e-6)
near() { /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); sys.exit(0 if v is not None and abs(v-float(sys.argv[2]))<=float(sys.argv[3]) else 1)' "$1" "$2" "${3:-1e-6}"; }
# E-Total is a Wh counter: equal within its resolution, 1 Wh (the simulator
# derives its raw count through its float32 gain and may land 1 Wh low).
EWH=0.0011

# Values chosen to be exact at the channels' resolutions (Wh, 0.1 V, 0.01 Hz).
VALUES=(--serial 2001234567 --type SB5000US --power-w 3456 --energy-kwh 12345.5
        --voltage 241.3 --freq 60.01 --dc-voltage 402 --status 1)

# ---- a whole session ---------------------------------------------------------
start clean "${VALUES[@]}" || exit 1
out=$(poll --port "$TMP/clean" --stats 2>"$TMP/clean.err")
rc=$?
[ "$rc" = 0 ] && ok "poll exit 0" || bad "poll exit $rc: $(cat "$TMP/clean.err")"
echo "$out" > "$TMP/clean.json"
[ "$(echo "$out" | json device)" = sma-net ] && ok "device" || bad "device: $out"
[ "$(echo "$out" | json serial)" = 2001234567 ] && ok "serial from discovery" || bad "serial: $out"
[ "$(echo "$out" | json model)" = SB5000US ] && ok "model = device type" || bad "model: $out"
[ "$(echo "$out" | json address)" = 1 ] && ok "unaddressed inverter given address 1" || bad "address: $out"
echo "$out" | near power_W 3456 && ok "power_W = Pac" || bad "power_W: $out"
echo "$out" | near energy_lifetime_kWh 12345.5 $EWH && ok "energy = E-Total Wh x 0.001" || bad "energy: $out"
echo "$out" | near voltage_V 241.3 && ok "voltage_V = Uac" || bad "voltage: $out"
echo "$out" | near frequency_Hz 60.01 && ok "frequency_Hz = Fac" || bad "frequency: $out"
echo "$out" | near dc_voltage_V 402 && ok "dc_voltage_V = Upv-Ist" || bad "dc_voltage: $out"
[ "$(echo "$out" | json status)" = 1 ] && [ "$(echo "$out" | json status_text)" = Mpp ] \
    && ok "status 1 = Mpp" || bad "status: $out"
/usr/bin/python3 - "$TMP/clean.json" <<'PY' && ok "dc_power_W = dc V x dc A; key order as the README's pvtap poll" || bad "dc_power/order: $out"
import json, sys
d = json.load(open(sys.argv[1]))
assert abs(d["dc_power_W"] - d["dc_voltage_V"] * d["dc_current_A"]) < 1e-6
order = ["device", "address", "time", "serial", "model", "power_W", "energy_lifetime_kWh",
         "voltage_V", "current_A", "frequency_Hz", "dc_power_W", "dc_voltage_V", "dc_current_A",
         "status", "status_text"]
keys = [k for k in d if k in order]
assert keys == order, keys
PY
grep -q "Zac-Test\|Vac-Min" "$TMP/clean.json" && bad "test/parameter channel leaked" || ok "test and parameter channels not read"
grep -q "poll cycle (sma-net): 2 requests" "$TMP/clean.err" && ok "--stats: SYN_ONLINE + one GET_DATA per cycle" \
    || bad "--stats: $(grep 'poll cycle' "$TMP/clean.err")"

out=$(poll --port "$TMP/clean" --scan)
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q '"address":1,"serial":"2001234567","model":"SB5000US"' \
    && ok "--scan lists the inverter at the address it now has" || bad "--scan: $out"

# ---- another master already addressed it: keep that address ----------------
start addr "${VALUES[@]}" --already-addressed 7 || exit 1
out=$(poll --port "$TMP/addr" 2>"$TMP/addr.err")
[ "$(echo "$out" | json address)" = 7 ] && echo "$out" | near power_W 3456 \
    && ok "already addressed (7): read at 7" || bad "already addressed: $out $(cat "$TMP/addr.err")"
grep -qi "moving\|moved\|re-address\|readdress" "$TMP/addr.log" \
    && bad "the simulator saw its address moved: $(cat "$TMP/addr.log")" || ok "never re-addressed (CFG_NETADR)"

# ---- faults: a value is exact or absent, never garbage ------------------------------
check_faulty() { # NAME TRIES: every success must carry the exact values
    local name=$1 tries=$2 good=0 n
    for n in $(seq "$tries"); do
        if out=$(poll --port "$TMP/$name" --timeout-ms 600 2>>"$TMP/$name.err"); then
            if echo "$out" | near power_W 3456 && echo "$out" | near energy_lifetime_kWh 12345.5 $EWH; then
                good=$((good + 1))
            else
                bad "$name: wrong reading: $out"
            fi
        fi
    done
    echo "$good"
}
start crc "${VALUES[@]}" --crc-error 0.2 --seed 7 || exit 1
g=$(check_faulty crc 2); [ "${g##*$'\n'}" -ge 1 ] && ok "FCS errors: retried, $g/2 exact" || bad "FCS errors: $g/2"
start garb "${VALUES[@]}" --garbage 0.5 --seed 3 || exit 1
g=$(check_faulty garb 2); [ "${g##*$'\n'}" -ge 1 ] && ok "garbage before answers: $g/2 exact" || bad "garbage: $g/2"

start dead "${VALUES[@]}" --timeout 1 || exit 1
t0=$(date +%s)
err=$(poll --port "$TMP/dead" --timeout-ms 300 2>&1 >/dev/null); rc=$?
[ "$rc" = 1 ] && echo "$err" | grep -q "no SMA-Net device answered" && ok "silence: exit 1, says so" \
    || bad "silence: rc $rc: $err"
[ $(($(date +%s) - t0)) -le 10 ] && ok "silence: gave up in time" || bad "silence took too long"

# A device that sends half an answer and stops (python3 plays it: its own framing).
cat >"$TMP/half.py" <<'PY'
import os, sys, time, tty
m, s = os.openpty()
tty.setraw(s)
os.symlink(os.ttyname(s), sys.argv[1])
open(sys.argv[1] + ".ready", "w").write("ok")
end = time.time() + 60
while time.time() < end:
    try:
        data = os.read(m, 512)
    except OSError:
        time.sleep(0.05); continue
    if b"\x7e" in data:
        # the start of a GET_NET_START answer, cut after the head
        os.write(m, bytes([0x7e, 0xff, 0x03, 0x40, 0x41, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00]))
PY
/usr/bin/python3 "$TMP/half.py" "$TMP/half" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/half.ready" ] && break; sleep 0.05; done
err=$(poll --port "$TMP/half" --timeout-ms 300 2>&1 >/dev/null); rc=$?
[ "$rc" = 1 ] && echo "$err" | grep -q "partial answer\|no SMA-Net device" && ok "partial answer: exit 1, no reading" \
    || bad "partial answer: rc $rc: $err"

# ---- another master on the bus: refuse to talk ---------------------------------------
cat >"$TMP/master.py" <<'PY'
import os, sys, time, tty
def fcs(data):
    f = 0xFFFF
    for b in data:
        f ^= b
        for _ in range(8):
            f = (f >> 1) ^ 0x8408 if f & 1 else f >> 1
    return f ^ 0xFFFF
def frame(body):
    body = bytes([0xFF, 0x03, 0x40, 0x41]) + body
    f = fcs(body)
    body += bytes([f & 0xFF, f >> 8])
    out = bytearray([0x7E])
    for b in body:
        if b in (0x7E, 0x7D, 0x11, 0x12, 0x13):
            out += bytes([0x7D, b ^ 0x20])
        else:
            out.append(b)
    out.append(0x7E)
    return bytes(out)
m, s = os.openpty()
tty.setraw(s)
os.symlink(os.ttyname(s), sys.argv[1])
open(sys.argv[1] + ".ready", "w").write("ok")
end = time.time() + 60
while time.time() < end:
    # a Sunny Boy Control asking address 3 for its spot values
    os.write(m, frame(bytes([0, 0, 3, 0, 0, 0, 11, 0x0F, 0x09, 0])))
    time.sleep(0.3)
PY
/usr/bin/python3 "$TMP/master.py" "$TMP/busy" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/busy.ready" ] && break; sleep 0.05; done
err=$("$PVTAP" poll --device sma-net --port "$TMP/busy" --listen-s 1.5 2>&1 >/dev/null); rc=$?
[ "$rc" = 1 ] && echo "$err" | grep -q "another SMA-Net master" && echo "$err" | grep -q "force" \
    && ok "another master heard: refused, names force" || bad "another master: rc $rc: $err"

# ---- the daemon runs the source; the channel list is cached beside the store --------------
start live "${VALUES[@]}" --live || exit 1
mkdir -p "$TMP/var" "$TMP/rt"
cat >"$TMP/d.conf" <<CONF
store = { path = "$TMP/var/pvtap.db"; };
# max_poll_gap_s 150: every poll is near some boundary, so each is stored
sources = ( { type = "sma-net"; port = "$TMP/live"; listen_s = 0.3; interval_s = 2;
              max_poll_gap_s = 150; } );
CONF
run_daemon() { # SECONDS LOG
    "$PVTAP" run --no-drop --runtime-dir "$TMP/rt" -c "$TMP/d.conf" 2>"$2" &
    local pid=$!
    sleep "$1"
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    echo "$rc"
}
rc=$(run_daemon 16 "$TMP/d1.err")
[ "$rc" = 0 ] && ok "daemon: SIGTERM, exit 0" || bad "daemon exit $rc: $(tail -5 "$TMP/d1.err")"
n=$(/usr/bin/python3 -c '
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
rows = c.execute("select device, kind, value from records where series = ? and quantity = ?",
                 ("poll", "energy_lifetime_kWh")).fetchall()
print(sum(1 for d, k, v in rows if d == "2001234567" and k == "inverter" and 12345.49 <= v < 12400))' \
    "$TMP/var/pvtap.db" 2>&1)
[ "${n:-0}" -ge 1 ] 2>/dev/null && ok "daemon: $n E-Total readings of 2001234567 in the records table" \
    || bad "daemon: records: $n; $(tail -5 "$TMP/d1.err")"
[ -s "$TMP/var/smanet-SB5000US.cinfo" ] && ok "channel list cached beside the store" || bad "no cache file: $(ls "$TMP/var")"
rc=$(run_daemon 6 "$TMP/d2.err")
grep -q "channel list from the cache" "$TMP/d2.err" && ! grep -q "reading the channel list" "$TMP/d2.err" \
    && ok "second run: channel list from the cache, not the bus" || bad "cache not used: $(cat "$TMP/d2.err")"

[ "$FAILS" = 0 ] && echo "all passed" || echo "$FAILS failed"
[ "$FAILS" = 0 ]
