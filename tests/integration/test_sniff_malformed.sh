#!/bin/bash
# Broken captures (tests/data/malformed/, named after their defect): a clean exit, a clear message, what could be decoded.
set -u
. "$(dirname "$0")/need.sh"
: "${PVTAP:?}" "${PVTAP_DATA:?}"
dir=$PVTAP_DATA/malformed
truth=$PVTAP_DATA/golden/basic.records.jsonl
[ -d "$dir" ] || skip_test "no $dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The committed captures must be what the committed script makes.
python3 "$dir/make-malformed.py" "$PVTAP_DATA/golden" "$tmp" || { echo "make-malformed.py failed"; exit 1; }
fail=0
# case  exit-status  message-regex  min-records  stats-counter-that-must-be-nonzero
cases=(
  "truncated-pcap-mid-packet 1 truncated 100 requests"
  "truncated-pcap-header 1 truncated 0 -"
  "not-a-pcap 1 format 0 -"
  "empty-file 1 truncated 0 -"
  "unsupported-link-type 1 link.type 0 -"
  "bad-ip-total-length 0 impossible.IP/TCP.lengths 500 corrupt_frames"
  "bad-tcp-data-offset 0 impossible.IP/TCP.lengths 500 corrupt_frames"
  "snaplen-too-small 0 snaplen 0 truncated_frames"
  "giant-content-length 0 body.size.limit 500 limit_body"
  "garbage-chunk-size 0 malformed.chunk 400 http_problems"
)
for c in "${cases[@]}"; do
    read -r name want_rc msg min counter <<<"$c"
    f=$dir/$name.pcap
    if ! cmp -s "$f" "$tmp/$name.pcap"; then
        echo "FAIL $name: committed file differs from make-malformed.py's output"
        fail=1
    fi
    "$PVTAP" sniff -r "$f" --stats >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
    lines=$(wc -l <"$tmp/$name.out")
    problem=""
    [ "$rc" = "$want_rc" ] || problem="exit status $rc, want $want_rc"
    grep -Eqi -- "$msg" "$tmp/$name.err" || problem="$problem; no message matching /$msg/"
    [ "$lines" -ge "$min" ] || problem="$problem; $lines records, want >= $min"
    if [ "$counter" != "-" ]; then
        v=$(awk -v k="$counter" '$1 == k {print $2}' "$tmp/$name.err")
        [ "${v:-0}" -gt 0 ] || problem="$problem; --stats $counter is ${v:-absent}"
    fi
    # What it printed is real: every record is one of the truth's (chunked case: its own truth).
    t=$truth
    [ "$name" = garbage-chunk-size ] && t=$PVTAP_DATA/golden/chunked.records.jsonl
    if [ "$lines" -gt 0 ] && [ -n "$(grep -vxFf "$t" "$tmp/$name.out" | head -1)" ]; then
        problem="$problem; printed a record that is not in the truth"
    fi
    if [ -n "$problem" ]; then
        echo "FAIL $name: ${problem#; }"
        head -n 3 "$tmp/$name.err"
        fail=1
    else
        echo "ok   $name (exit $rc, $lines records)"
    fi
done
exit $fail
