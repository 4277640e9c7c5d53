#!/bin/bash
# The virtual WattNode (pvsim_rs485) checked with a Modbus master nobody here
# wrote: mbpoll (Debian package) over the pty, CDAB floats, FC3 and FC4,
# int32 registers, exceptions, silence for another address, values reload.
set -u
. "$(dirname "$0")/need.sh"
need_tool mbpoll mbpoll
SIM=${PVTAP_SIM:?PVTAP_SIM not set}/pvsim_rs485
[ -x "$SIM" ] || { echo "no $SIM"; exit 1; }
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$T"; }
trap cleanup EXIT
fail=0
check() { # name expected actual
    if [ "$2" == "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2] got [$3]"; fail=1; fi
}
start_sim() { # ready-file args...
    local ready=$1; shift
    "$SIM" "$@" --ready-file "$ready" --duration 60 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$ready" ] && return 0; sleep 0.05; done
    echo "simulator did not start"; exit 1
}
# mbpoll prints "[REF]: <TAB>VALUE" lines; keep "REF=VALUE".
mb() { timeout 10 mbpoll -m rtu -b 9600 -P none -d 8 -s 1 -1 -o 0.5 "$@" 2>&1 |
       sed -n 's/^\[\([0-9]*\)\]:[[:space:]]*\(.*\)$/\1=\2/p' | tr '\n' ' ' | sed 's/ $//'; }

cat > "$T/values" <<'V'
# exact values a test can rely on
power-w = -1234.5
import-kwh = 1.005
export-kwh = 2.5
energy-net-kwh = -1.495
resettable-net-kwh = 0.25
voltage = 120.5
freq = 59.98
serial = 70123456
V
start_sim "$T/ready" --device wattnode --address 7 --link "$T/tty" --values-file "$T/values"
TTY=$T/tty

# CDAB on the wire: 1.005 is A3D7 3F80 (low word first), at 1007 (EnergyPosSumNR).
check "1.005 as registers (CDAB)" "1007=0xA3D7 1008=0x3F80" "$(mb -a 7 -r 1007 -c 2 -t 4:hex "$TTY")"
# mbpoll's default word order for 32-bit types is little-endian words = CDAB.
check "FC3 floats 1001..1010" "1001=0.25 1003=0 1005=-1.495 1007=1.005 1009=-1234.5" \
      "$(mb -a 7 -r 1001 -c 5 -t 4:float "$TTY")"
check "FC4 (-t 3) same data" "1009=-1234.5 1011=-617.25 1013=-617.25 1015=0 1017=120.5" \
      "$(mb -a 7 -r 1009 -c 5 -t 3:float "$TTY")"
check "frequency 1033" "1033=59.98" "$(mb -a 7 -r 1033 -c 1 -t 3:float "$TTY")"
# Reading them as big-endian words (-B) must NOT give the values: the order matters.
be=$(mb -a 7 -r 1007 -c 1 -t 4:float -B "$TTY")
[ "$be" != "1007=1.005" ] && echo "ok   -B gives another value ($be)" || { echo "FAIL -B read 1.005"; fail=1; }
check "export 1113/1115" "1113=0 1115=2.5" "$(mb -a 7 -r 1113 -c 2 -t 4:float "$TTY")"
check "int32 0.1 kWh 1201..1208" "1201=3 1203=0 1205=-15 1207=10" "$(mb -a 7 -r 1201 -c 4 -t 4:int "$TTY")"
check "serial 1701 (int32 CDAB)" "1701=70123456" "$(mb -a 7 -r 1701 -c 1 -t 3:int "$TTY")"
check "the whole 1001 block is one read of 34" "34" \
      "$(mb -a 7 -r 1001 -c 34 -t 4 "$TTY" | grep -o '[0-9]*=' | wc -l)"

# Exceptions and silence.
out=$(timeout 10 mbpoll -m rtu -b 9600 -P none -1 -o 0.5 -a 7 -r 1050 -c 1 "$TTY" 2>&1)
echo "$out" | grep -q "Illegal data address" && echo "ok   unmapped 1050 -> exception 02" ||
    { echo "FAIL unmapped address: $out"; fail=1; }
out=$(timeout 10 mbpoll -m rtu -b 9600 -P none -1 -o 0.5 -a 7 -r 1030 -c 8 "$TTY" 2>&1)
echo "$out" | grep -q "Illegal data address" && echo "ok   read past 1034 -> exception 02" ||
    { echo "FAIL read past the block: $out"; fail=1; }
out=$(timeout 10 mbpoll -m rtu -b 9600 -P none -1 -o 0.3 -a 8 -r 1001 -c 2 "$TTY" 2>&1)
echo "$out" | grep -q "timed out" && echo "ok   another address -> silence" ||
    { echo "FAIL another address answered: $out"; fail=1; }

# Values file edits show while it runs.
sleep 0.05
sed -i 's/^power-w = .*/power-w = 4321.25/' "$T/values"
touch "$T/values"
sleep 0.3
check "values file reloaded" "1009=4321.25" "$(mb -a 7 -r 1009 -c 1 -t 4:float "$TTY")"

# Fault knob: --timeout 1 never answers.
start_sim "$T/ready2" --device wattnode --link "$T/tty2" --timeout 1
out=$(timeout 10 mbpoll -m rtu -b 9600 -P none -1 -o 0.3 -a 1 -r 1001 -c 2 "$T/tty2" 2>&1)
echo "$out" | grep -q "timed out" && echo "ok   --timeout 1 -> no answer" ||
    { echo "FAIL --timeout 1 answered: $out"; fail=1; }
# Fault knob: --crc-error 1 answers with a bad CRC (libmodbus reports it).
start_sim "$T/ready3" --device wattnode --link "$T/tty3" --crc-error 1 --seed 3
out=$(timeout 10 mbpoll -m rtu -b 9600 -P none -1 -o 0.3 -a 1 -r 1001 -c 2 "$T/tty3" 2>&1)
echo "$out" | grep -qi "CRC" && echo "ok   --crc-error 1 -> CRC error" ||
    { echo "FAIL --crc-error 1: $out"; fail=1; }
exit $fail
