#!/bin/bash
# Multi-MB HTTP downloads on port 80 interleaved with the supervisor's uploads:
# every upload decodes to the truth, and the downloads are skipped after their
# request line (their replies are never reassembled nor parsed).
set -u
: "${PVTAP:?}" "${PVTAP_SIM:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() {
    echo "FAIL $*"
    fail=1
}
stat_of() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# One day, 8 inverters, two uploads per connection, 97 % background with
# 2..3 MB downloads (5 of them in this seed): ~18 MB.
"$PVTAP_SIM/pvsim_capture" -q --seed 23 --days 1 --inverters 8 --keepalive 2 --background 0.97 \
    --background-http-mb 3 -o "$tmp/dl.pcap" --truth-records "$tmp/truth.jsonl" ||
    { echo "pvsim_capture failed"; exit 1; }
downloads=$(tcpdump -r "$tmp/dl.pcap" -nn -A 'tcp dst port 80' 2>/dev/null | grep -c 'HTTP: GET /downloads/')
[ "$downloads" -ge 3 ] && ok "the capture holds $downloads downloads" || bad "only $downloads downloads"

check() { # name, then pvtap sniff options
    local name=$1
    shift
    if ! "$PVTAP" sniff -r "$tmp/dl.pcap" --format jsonl --stats "$@" >"$tmp/$name.jsonl" 2>"$tmp/$name.err"; then
        bad "$name: exit status ($(head -c 300 "$tmp/$name.err"))"
        return
    fi
    if cmp -s "$tmp/$name.jsonl" "$tmp/truth.jsonl"; then
        ok "$name: $(wc -l <"$tmp/truth.jsonl") records, the truth byte for byte"
    else
        bad "$name: records differ from the truth:"
        diff "$tmp/truth.jsonl" "$tmp/$name.jsonl" | head -n 5
    fi
    local req acked replies
    req=$(stat_of requests "$tmp/$name.err")
    acked=$(stat_of requests_acked "$tmp/$name.err")
    replies=$(stat_of replies "$tmp/$name.err")
    [ -n "$req" ] && [ "$req" = "$acked" ] && ok "$name: all $req uploads matched to their 1002 replies" ||
        bad "$name: $req uploads, $acked acknowledged"
    # Only the uploads' replies are parsed: a download's 200 is never reached.
    [ "$replies" = "$req" ] && ok "$name: no reply parsed but the uploads'" ||
        bad "$name: $replies replies parsed for $req uploads (downloads were reassembled)"
}

check any-address
skipped=$(stat_of connections_skipped "$tmp/any-address.err")
[ "${skipped:-0}" -ge "$downloads" ] && ok "$skipped connections skipped (downloads and other APIs)" ||
    bad "connections_skipped ${skipped:-none}, want >= $downloads"
# With the supervisor's address the downloads never reach reassembly at all.
check supervisor --supervisor 192.168.1.50

# A capture that starts in the middle of a download (a live start): no request
# line to decide on, so the connection is skipped after 256 KiB of reply
# bytes; every upload that starts after the cut still decodes.
/usr/bin/python3 - "$tmp/dl.pcap" "$tmp/mid.pcap" <<'PY' || { echo "cutting the capture failed"; exit 1; }
import struct, sys
data = open(sys.argv[1], "rb").read()
frames, off = [], 24
while off < len(data):
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frames.append((off, 16 + incl))
    off += 16 + incl
def tcp(fr):  # (sport, dport, payload) of an untagged IPv4 TCP frame, else None
    o, n = fr
    f = data[o + 16:o + n]
    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
        return None
    ihl = (f[14] & 15) * 4
    t = 14 + ihl
    sport, dport = struct.unpack_from(">HH", f, t)
    return sport, dport, f[t + (f[t + 12] >> 4) * 4:]
port, seen = None, 0
for i, fr in enumerate(frames):
    t = tcp(fr)
    if not t:
        continue
    if port is None and t[1] == 80 and t[2].startswith(b"GET /downloads/"):
        port = t[0]
    elif port is not None and t[0] == 80 and t[1] == port and len(t[2]) > 1000:
        seen += 1
        if seen == 100:  # ~145 kB into the reply
            with open(sys.argv[2], "wb") as out:
                out.write(data[:24])
                out.write(data[fr[0]:])
            sys.exit(0)
sys.exit(1)
PY
"$PVTAP" sniff -r "$tmp/mid.pcap" --format none --stats 2>"$tmp/mid.err"
mid_dl=$(tcpdump -r "$tmp/mid.pcap" -nn -A 'tcp dst port 80' 2>/dev/null | grep -c 'HTTP: GET /downloads/')
mid_skipped=$(stat_of connections_skipped "$tmp/mid.err")
mid_other=$(stat_of requests_other "$tmp/mid.err")
# every request-line skip counts a request_other; the one more is the cut download
[ "$mid_skipped" = $((mid_other + 1)) ] && [ "$mid_other" -ge "$mid_dl" ] &&
    ok "cut mid-download: skipped without a request line ($mid_skipped skipped, $mid_other by request)" ||
    bad "cut mid-download: $mid_skipped skipped, $mid_other by request line ($mid_dl downloads)"
# an upload under way at the cut is lost (its start was not captured); no other
posts=$(tcpdump -r "$tmp/mid.pcap" -nn -A 'tcp dst port 80' 2>/dev/null | grep -c 'HTTP: POST /[A-Za-z]*/SMS2DataCollector')
mid_req=$(stat_of requests "$tmp/mid.err")
[ "$mid_req" -ge $((posts - 1)) ] && [ "$mid_req" -le "$posts" ] && [ "$posts" -gt 100 ] &&
    ok "cut mid-download: $mid_req uploads decoded of $posts request lines" ||
    bad "cut mid-download: $mid_req uploads decoded of $posts request lines"
exit $fail
