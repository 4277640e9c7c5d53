#!/bin/bash
# pvtap sniff on every golden capture must print exactly the simulator's truth, record by record.
set -u
. "$(dirname "$0")/need.sh"
: "${PVTAP:?}" "${PVTAP_DATA:?}"
dir=$PVTAP_DATA/golden
[ -f "$dir/MANIFEST" ] || skip_test "no golden MANIFEST"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
n=0
check() { # name pcap truth
    local name=$1 pcap=$2 truth=$3
    n=$((n + 1))
    if ! "$PVTAP" sniff -r "$pcap" --format jsonl >"$tmp/$name.jsonl" 2>"$tmp/$name.err"; then
        echo "FAIL $name: exit status $? ($(head -c 300 "$tmp/$name.err"))"
        fail=1
        return
    fi
    if ! cmp -s "$tmp/$name.jsonl" "$truth"; then
        echo "FAIL $name: records differ from $truth (first differences):"
        diff "$truth" "$tmp/$name.jsonl" | head -n 10
        fail=1
        return
    fi
    # The tsv form carries the same records, one line each.
    "$PVTAP" sniff -r "$pcap" --format tsv >"$tmp/$name.tsv" 2>/dev/null
    if [ "$(wc -l <"$tmp/$name.tsv")" != "$(wc -l <"$truth")" ]; then
        echo "FAIL $name: tsv has $(wc -l <"$tmp/$name.tsv") lines, truth $(wc -l <"$truth")"
        fail=1
        return
    fi
    echo "ok   $name ($(wc -l <"$truth") records)"
}
while read -r name _; do
    case "$name" in '#'* | '') continue ;; esac
    check "$name" "$dir/$name.pcap" "$dir/$name.records.jsonl"
done <"$dir/MANIFEST"
if [ -f "$PVTAP_DATA/sample-day.pcap" ]; then
    check sample-day "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.records.jsonl"
fi
[ "$n" -gt 0 ] || { echo "MANIFEST lists no case"; exit 1; }
# --format none prints nothing and --stats counts what the truth holds.
"$PVTAP" sniff -r "$dir/basic.pcap" --format none --stats >"$tmp/none.out" 2>"$tmp/none.err"
[ -s "$tmp/none.out" ] && { echo "FAIL --format none printed records"; fail=1; }
want=$(wc -l <"$dir/basic.records.jsonl")
got=$(awk '$1 == "records" {print $2}' "$tmp/none.err")
[ "$got" = "$want" ] || { echo "FAIL --stats records=$got, truth has $want"; fail=1; }
exit $fail
