#!/bin/bash
# The bundled sample day and golden captures must be exactly what tests/sim/make-golden.sh makes today.
set -euo pipefail
sim=${PVTAP_SIM:?}/pvsim_capture
src=${PVTAP_SRC:?}
data=${PVTAP_DATA:-$src/tests/data}
[ -x "$sim" ] || { echo "pvsim_capture not built: $sim"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$src/tests/sim/make-golden.sh" "$sim" "$tmp"
fail=0
n=0
for f in "$tmp"/* "$tmp"/golden/*; do
    [ -f "$f" ] || continue
    rel=${f#"$tmp"/}
    n=$((n + 1))
    if ! cmp -s "$f" "$data/$rel"; then
        echo "differs from the generator: tests/data/$rel (run tests/sim/make-golden.sh)"
        fail=1
    fi
done
# and nothing bundled that the generator no longer makes
for f in "$data"/sample-day.* "$data"/golden/*; do
    rel=${f#"$data"/}
    [ "$rel" = golden/MANIFEST ] && continue
    [ -f "$tmp/$rel" ] || { echo "stale: tests/data/$rel (not made by make-golden.sh)"; fail=1; }
done
[ "$n" -ge 40 ] || { echo "only $n files generated"; fail=1; }
[ $fail = 0 ] && echo "ok: $n files identical"
exit $fail
