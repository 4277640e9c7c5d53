# The http sink's memory bound on a 31-day store: 64 slow clients asking for
# the largest answers at once. /api/intervals streams (16 at once, 503
# beyond, a stream's place freed once it is sent); /api/compare answers built whole wait for their readers in at
# most 32 MB together, 503 with Retry-After beyond; the daemon's memory
# stays within 120 MB of where it started.
. "$(dirname "$0")/lib.sh"
. "$PVTAP_SRC/tests/web/serve_day.sh"
trap 'web_stop; rm -rf "$TMP"' EXIT
grep -q 'PVTAP_HAVE_MICROHTTPD 1' "$PVTAP_BUILD/generated/pvtap_build.h" ||
    skip_test "built without libmicrohttpd"
SIM=${PVTAP_SIM:?}/pvsim_capture
PY=/usr/bin/python3
"$SIM" --seed 3 --date 2017-06-01 --days 31 --inverters 4 -o "$TMP/m.pcap" \
    --poll "$TMP/m.poll.jsonl" --poll-interval 60 >/dev/null
printf 'site = { timezone = "America/Los_Angeles"; };\n' >"$TMP/replay.conf"
"$PVTAP" replay "$TMP/m.pcap" "$TMP/m.poll.jsonl" -c "$TMP/replay.conf" --db "$TMP/web.db" \
    --format csv >/dev/null 2>"$TMP/replay.err" || { not_ok "replay"; cat "$TMP/replay.err"; finish; exit 1; }
rm -f "$TMP/m.pcap" "$TMP/m.poll.jsonl"
web_start || { not_ok "daemon serving"; finish; exit 1; }
hp=${WEB_URL#http://}
RANGE="from=2017-06-01&to=2017-07-02"

# probe PATH...: 64 clients (16 per address), 3 s without reading, then all read
probe() { $PY "$PVTAP_SRC/tests/bench/web_rss_probe.py" "$hp" "$WEB_PID" 64 3 "$@" >"$TMP/probe.out"; cat "$TMP/probe.out"; }
count() { $PY -c 'import ast, re, sys; t = open(sys.argv[1]).read(); d = ast.literal_eval(re.search(r"status (\{.*\})", t).group(1)); print(d.get(sys.argv[2], 0))' "$TMP/probe.out" "$1"; }
grown() { awk '/^RSS/ {print $6 - $3}' "$TMP/probe.out"; }
# Under AddressSanitizer RSS is not the program's: freed memory sits in ASan's
# quarantine and every allocation has redzones. There the bounds scale with it
# (measured: 304 and 48 MB where the normal build stays under 120 and 40).
asan_scale=1
# (no grep -q on a pipe: under pipefail nm's SIGPIPE would fail the test)
if [ "$(nm "$PVTAP" 2>/dev/null | grep -c __asan_init)" -gt 0 ]; then
    asan_scale=4
    echo "# ASan build: memory bounds x$asan_scale"
fi

probe "/api/compare?$RANGE" "/api/compare?$RANGE&format=csv"
ok200=$(count 200) busy=$(count 503) growth=$(grown)
[ "$busy" -ge 1 ] && [ "$ok200" -ge 16 ] && ok "64 month compares: $ok200 answered, $busy busy (503)" \
    || not_ok "64 month compares: $ok200 answered, $busy busy (wanted some 503 past 32 MB)"
[ "$growth" -lt $((120 * asan_scale)) ] && ok "64 month compares: memory grew $growth MB" || not_ok "64 month compares: memory grew $growth MB"

probe "/api/intervals" "/api/intervals?format=csv"
ok200=$(count 200) busy=$(count 503) growth=$(grown)
# (a stream the socket buffers took whole frees its place early: 16 or more)
[ "$busy" -ge 1 ] && [ "$ok200" -ge 16 ] && ok "64 whole-store intervals: $ok200 streamed, $busy busy (503)" \
    || not_ok "64 whole-store intervals: $ok200 answered, $busy busy (wanted some 503 past 16 streams)"
[ "$growth" -lt $((40 * asan_scale)) ] && ok "64 whole-store intervals: memory grew $growth MB" || not_ok "64 whole-store intervals: memory grew $growth MB"

code=$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$WEB_URL/api/compare?from=2017-06-01")
[ "$code" = 400 ] && ok "compare without to: 400" || not_ok "compare without to: $code"
code=$(curl -sS -o "$TMP/body" -w '%{http_code}' "$WEB_URL/api/intervals?from=2017-06-10&to=2017-06-11")
[ "$code" = 200 ] && $PY -c 'import json, sys; assert len(json.load(open(sys.argv[1]))) == 576' "$TMP/body" \
    && ok "one day of intervals after the flood: 576 rows" || not_ok "one day of intervals after the flood: $code"
finish
