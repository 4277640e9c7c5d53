#!/bin/bash
# Real supervisor answers through pvtap's pvs-api checks, by hand:
#   tests/run-pvs-realdata.sh DIR [BUILD_DIR]
# DIR holds answers as supervisors gave them (devicelist*.json: a DeviceList;
# varserver*.json or vars*.json: a /vars answer). Runs the pure unit check
# (check_pvs_realdata) and the fake-supervisor poll of each file
# (test_pvs_sites.py, which then also runs the sample sites).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: $0 DIR [BUILD_DIR]" >&2; exit 2; }
data=$(cd "$1" && pwd)
build=$(cd "${2:-$src/build}" 2>/dev/null && pwd) || { echo "$0: no build directory" >&2; exit 2; }
fail=0
PVTAP_REALDATA=$data "$build/tests/check_pvs_realdata" || fail=1
out=$(PVTAP_REALDATA=$data PVTAP=$build/pvtap PVTAP_DATA=$src/tests/data \
    /usr/bin/python3 "$src/tests/integration/test_pvs_sites.py") || fail=1
printf '%s\n' "$out" | grep -v '^ok -'
exit $fail
