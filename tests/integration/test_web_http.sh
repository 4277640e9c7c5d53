# The http sink for real: `pvtap run` on a replayed day serves every endpoint
# with the CLI's schemas, the right content types and headers, refuses every
# method but GET/HEAD, binds exactly http.listen and stops within 2 s.
. "$(dirname "$0")/lib.sh"
. "$PVTAP_SRC/tests/web/serve_day.sh"
trap 'web_stop; rm -rf "$TMP"' EXIT
grep -q 'PVTAP_HAVE_MICROHTTPD 1' "$PVTAP_BUILD/generated/pvtap_build.h" || {
    skip_test "built without libmicrohttpd"; }
need_tool curl curl
need_tool sqlite3 sqlite3

web_start || { not_ok "daemon serving"; finish; exit 1; }
ok "pvtap run serves $WEB_URL"
export WEB_CONF
DAY="from=2017-06-07&to=2017-06-08"

# fetch PATH: body into $TMP/body, headers into $TMP/hdr, status printed
fetch() { curl -sS -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "${@:2}" "$WEB_URL$1"; }
header() { tr -d '\r' <"$TMP/hdr" | awk -v k="$1" 'BEGIN{IGNORECASE=1} index(tolower($0), tolower(k) ":") == 1 {sub(/^[^:]*: */, ""); print}'; }

check() { # PATH WANT_STATUS WANT_CONTENT_TYPE
    local code ct
    code=$(fetch "$1")
    ct=$(header Content-Type)
    if [ "$code" = "$2" ] && [ "$ct" = "$3" ]; then ok "GET $1: $code $ct"; else
        not_ok "GET $1: $code '$ct', wanted $2 '$3'"; head -c 300 "$TMP/body"; echo; fi
    [ -n "$(header Cache-Control)" ] && ok "GET $1 has Cache-Control" || not_ok "GET $1: no Cache-Control"
    header Set-Cookie | grep -q . && not_ok "GET $1 sets a cookie" || true
    header Access-Control-Allow-Origin | grep -q . && not_ok "GET $1 allows cross-origin reads" || true
}
check "/" 200 "text/html; charset=utf-8"
grep -q '<script src="/app.js"' "$TMP/body" && ok "page loads its own script" || not_ok "page script"
grep -Eq 'https?://' "$TMP/body" && not_ok "page refers to another site" || ok "page needs no other site"
check "/app.js" 200 "text/javascript; charset=utf-8"
grep -Eq "(src|href)=[\"']https?://|import\\(['\"]https?://" "$TMP/body" && not_ok "script loads from a CDN" || ok "script needs no CDN"
check "/style.css" 200 "text/css; charset=utf-8"
check "/api/intervals?$DAY" 200 "application/json"
check "/api/intervals?$DAY&format=csv" 200 "text/csv; charset=utf-8"
check "/api/totals?period=day" 200 "application/json"
check "/api/compare?$DAY" 200 "application/json"
check "/api/status" 200 "application/json"
check "/api/site" 200 "application/json"
check "/api/live" 200 "application/json"
check "/api/devices?$DAY" 200 "application/json"
check "/metrics" 200 "text/plain; version=0.0.4; charset=utf-8"
check "/nothing-here" 404 "text/plain; charset=utf-8"
check "/api/intervals?from=someday" 400 "application/json"

# The JSON schemas are the CLI's: same rows, same keys, same values.
same_json() { # WHAT URL_PATH CLI... : the endpoint's array equals the CLI's jsonl lines
    local what=$1 path=$2
    shift 2
    fetch "$path" >/dev/null
    "$@" >"$TMP/cli.jsonl" 2>"$TMP/cli.err"
    if python3 - "$TMP/body" "$TMP/cli.jsonl" <<'PY'; then ok "$what equals the CLI's"; else not_ok "$what differs from the CLI's"; fi
import json, sys
web = json.load(open(sys.argv[1]))
cli = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
if web != cli or not cli:
    print("web", len(web), "cli", len(cli), web[:1], cli[:1])
    sys.exit(1)
PY
}
same_json "/api/intervals (a day)" "/api/intervals?$DAY" \
    "$PVTAP" intervals -c "$WEB_CONF" --from 2017-06-07 --to 2017-06-08 --format jsonl
same_json "/api/intervals (one series, UTC bounds)" \
    "/api/intervals?from=2017-06-07T16:00:00Z&to=2017-06-07T20:00:00Z&source=poll" \
    "$PVTAP" intervals -c "$WEB_CONF" --from 2017-06-07T16:00:00Z --to 2017-06-07T20:00:00Z --series poll --format jsonl
same_json "/api/intervals (everything)" "/api/intervals" \
    "$PVTAP" intervals -c "$WEB_CONF" --format jsonl
same_json "/api/compare" "/api/compare?$DAY" \
    "$PVTAP" compare -c "$WEB_CONF" --from 2017-06-07 --to 2017-06-08 --format jsonl
fetch "/api/intervals?$DAY&format=csv" >/dev/null
"$PVTAP" intervals -c "$WEB_CONF" --from 2017-06-07 --to 2017-06-08 --format csv >"$TMP/cli.csv"
cmp -s "$TMP/body" "$TMP/cli.csv" && ok "CSV is byte-identical to the CLI's" || not_ok "CSV differs"
fetch "/api/compare?$DAY&format=csv" >/dev/null
"$PVTAP" compare -c "$WEB_CONF" --from 2017-06-07 --to 2017-06-08 --format csv >"$TMP/cli.csv" 2>/dev/null
cmp -s "$TMP/body" "$TMP/cli.csv" && ok "compare CSV is byte-identical to the CLI's" || not_ok "compare CSV differs"

fetch "/api/status" >/dev/null
"$PVTAP" status -c "$WEB_CONF" --runtime-dir "$TMP/rt" --format json >"$TMP/cli.json" || true
python3 - "$TMP/body" "$TMP/cli.json" <<'PY' && ok "/api/status has the CLI's shape" || not_ok "/api/status shape"
import json, sys
web, cli = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def shape(o):
    if isinstance(o, dict):
        return {k: shape(v) for k, v in o.items() if k not in ("updated", "size_bytes")}
    if isinstance(o, list):
        return [shape(v) for v in o]
    return type(o).__name__
assert web["daemon"]["state"] == "running", web["daemon"]
assert shape(web) == shape(cli), (shape(web), shape(cli))
PY

# Totals: day sums of the intervals, in site time, import - export = net.
fetch "/api/totals?period=day&from=2017-06-07&to=2017-06-08&source=sniff" >/dev/null
python3 - "$TMP/body" "$TMP/cli.jsonl" <<'PY' && ok "day totals sum the day's intervals" || not_ok "day totals"
import json, subprocess, os, sys
t = json.load(open(sys.argv[1]))
assert len(t) == 1 and t[0]["period"] == "2017-06-07", t
rows = [json.loads(l) for l in subprocess.run([os.environ["PVTAP"], "intervals", "-c", os.environ["WEB_CONF"],
        "--from", "2017-06-07", "--to", "2017-06-08", "--series", "sniff", "--format", "jsonl"],
        capture_output=True, text=True, check=True).stdout.splitlines()]
for k in ("production_wh", "net_wh", "consumption_wh"):
    s = sum(r[k] for r in rows if r[k] is not None)
    assert abs(s - t[0][k]) < 0.05 * len(rows), (k, s, t[0][k])
imp = sum(r["net_wh"] for r in rows if r["net_wh"] and r["net_wh"] > 0)
exp = -sum(r["net_wh"] for r in rows if r["net_wh"] and r["net_wh"] < 0)
assert abs(imp - t[0]["import_wh"]) < 0.5 and abs(exp - t[0]["export_wh"]) < 0.5, (imp, exp, t[0])
PY

# Per-inverter energy adds up to the series' production (one rule, one store).
fetch "/api/devices?$DAY&source=sniff" >/dev/null
python3 - "$TMP/body" "$TMP/cli.jsonl" <<'PY' && ok "per-inverter energy sums to the day's production" || not_ok "per-inverter energy"
import json, subprocess, os, sys
d = json.load(open(sys.argv[1]))
assert d["devices"], d
rows = [json.loads(l) for l in subprocess.run([os.environ["PVTAP"], "intervals", "-c", os.environ["WEB_CONF"],
        "--from", "2017-06-07", "--to", "2017-06-08", "--series", "sniff", "--format", "jsonl"],
        capture_output=True, text=True, check=True).stdout.splitlines()]
prod = sum(r["production_wh"] for r in rows if r["production_wh"] is not None)
tot = sum(x["energy_wh"] for x in d["devices"])
assert abs(prod - tot) < 1.0, (prod, tot)
PY

fetch "/metrics" >/dev/null
for m in pvtap_energy_joules_total pvtap_power_watts pvtap_records_total pvtap_source_up \
    pvtap_last_record_timestamp_seconds pvtap_capture_packets_total pvtap_capture_kernel_drops_total \
    pvtap_tcp_holes_total pvtap_outbox_pending pvtap_alerts_active; do
    grep -q "^# TYPE $m " "$TMP/body" && ok "/metrics declares $m" || not_ok "/metrics lacks $m"
done
grep -Eq '^pvtap_energy_joules_total\{series="sniff",quantity="production"\} [0-9]+$' "$TMP/body" \
    && ok "/metrics: production energy of sniff" || not_ok "/metrics production energy"

# Read-only: every other method is 405 with Allow, and changes nothing.
before=$(sqlite3 "$WEB_DB" 'SELECT count(*), total(production_wh) FROM intervals')
for m in POST PUT DELETE PATCH OPTIONS; do
    for p in / /api/intervals /metrics; do
        code=$(fetch "$p" -X "$m" -d 'x=1')
        allow=$(header Allow)
        [ "$code" = 405 ] && [ "$allow" = "GET, HEAD" ] && ok "$m $p: 405, Allow: $allow" || not_ok "$m $p: $code ($allow)"
    done
done
after=$(sqlite3 "$WEB_DB" 'SELECT count(*), total(production_wh) FROM intervals')
[ "$before" = "$after" ] && ok "the store is unchanged" || not_ok "the store changed"
code=$(curl -sS -I -o "$TMP/hdr" -w '%{http_code}' "$WEB_URL/api/totals?period=year")
[ "$code" = 200 ] && header Content-Type | grep -q application/json && ok "HEAD answers with the headers" || not_ok "HEAD: $code"

# No secret served: a config secret never shows on any endpoint.
for p in / /api/status /api/site /metrics "/api/intervals?$DAY"; do
    fetch "$p" >/dev/null
    grep -Eiq 'api_key|password' "$TMP/body" && not_ok "$p mentions a secret" || ok "$p holds no secret"
done

# Binds exactly http.listen: 127.0.0.1 only, not 127.0.0.2 nor any other address.
port=${WEB_URL##*:}
ss -ltnH "sport = :$port" >"$TMP/ss" 2>/dev/null || true
if [ -s "$TMP/ss" ]; then
    [ "$(awk '{print $4}' "$TMP/ss" | sort -u)" = "127.0.0.1:$port" ] && ok "listens on 127.0.0.1:$port only" \
        || { not_ok "listening sockets:"; cat "$TMP/ss"; }
fi
curl -s -o /dev/null --max-time 2 "http://127.0.0.2:$port/" && not_ok "answers on 127.0.0.2" || ok "nothing on 127.0.0.2:$port"

# SIGTERM: exit 0 within 2 s, even with a client connected.
exec 3<>"/dev/tcp/127.0.0.1/$port"
start=$(date +%s%N)
kill -TERM "$WEB_PID"
rc=0
wait "$WEB_PID" || rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
WEB_PID=
exec 3>&-
[ "$rc" = 0 ] && [ "$ms" -lt 2000 ] && ok "SIGTERM: exit 0 after $ms ms" || not_ok "SIGTERM: exit $rc after $ms ms"

# IPv6: [::1]:PORT when the host has it.
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    port6=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
    if web_start "[::1]:$port6"; then
        code=$(fetch "/api/site")
        [ "$code" = 200 ] && ok "serves on [::1]:$port6" || not_ok "[::1]: $code"
        curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port6/" && not_ok "IPv6 listen also answers on IPv4" || ok "[::1] does not answer on 127.0.0.1"
        web_stop
    else
        not_ok "cannot serve on [::1]:$port6"
    fi
fi
finish
