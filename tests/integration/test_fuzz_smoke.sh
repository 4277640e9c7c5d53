#!/bin/bash
# Runs every libFuzzer target briefly (CI sets PVTAP_FUZZ_DIR to the fuzz build's tests/ directory).
set -u
. "$(dirname "$0")/need.sh"
dir=${PVTAP_FUZZ_DIR:-}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    skip_test "PVTAP_FUZZ_DIR not set: build with -DPVTAP_FUZZ=ON -DCMAKE_C_COMPILER=clang and point it at build-fuzz/tests"
fi
shopt -s nullglob
bins=("$dir"/fuzz_*)
[ ${#bins[@]} -gt 0 ] || { echo "no fuzz_* binaries in $dir"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for b in "${bins[@]}"; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    name=$(basename "$b")
    mkdir -p "$tmp/$name"
    # The committed seeds, when a target has some, as a second (read) corpus.
    seeds=()
    [ -d "${PVTAP_SRC:-}/tests/fuzz/corpus/$name" ] && seeds=("$PVTAP_SRC/tests/fuzz/corpus/$name")
    if "$b" -runs=20000 -max_total_time=15 -max_len=8192 "$tmp/$name" "${seeds[@]}" >"$tmp/$name.log" 2>&1; then
        echo "ok   $name ($(grep -o 'Done [0-9]* runs' "$tmp/$name.log" | tail -1))"
    else
        echo "FAIL $name"
        tail -n 30 "$tmp/$name.log"
        fail=1
    fi
done
exit $fail
