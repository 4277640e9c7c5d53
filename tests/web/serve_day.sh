# Shared by the web tests and the web benchmark (sourced): replays the sample
# day into a store, then runs `pvtap run` with only the http sink on a free
# loopback port. Needs $PVTAP, $PVTAP_DATA and a $TMP directory; sets
# $WEB_URL, $WEB_PID, $WEB_CONF and $WEB_DB. web_stop ends the daemon.
# $WEB_HTTP_EXTRA: more settings of the http group ("header_timeout = 2;").
web_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

web_start() {
    local listen=${1:-}
    WEB_DB=$TMP/web.db
    WEB_CONF=$TMP/web.conf
    local port
    port=$(web_free_port)
    [ -n "$listen" ] || listen="127.0.0.1:$port"
    cat >"$WEB_CONF" <<CONF
site = { timezone = "America/Los_Angeles"; name = "sample-site"; production = "inverters"; };
store = { path = "$WEB_DB"; };
http = { listen = "$listen"; ${WEB_HTTP_EXTRA:-} };
CONF
    if [ ! -s "$WEB_DB" ]; then
        "$PVTAP" replay "$PVTAP_DATA/sample-day.pcap" "$PVTAP_DATA/sample-day.poll.jsonl" \
            -c "$WEB_CONF" --db "$WEB_DB" --format csv >"$TMP/replay.csv" 2>"$TMP/replay.err"
    fi
    "$PVTAP" run -c "$WEB_CONF" --no-drop --runtime-dir "$TMP/rt" >"$TMP/run.log" 2>&1 &
    WEB_PID=$!
    case $listen in
    \[*) WEB_URL="http://$listen" ;;
    *) WEB_URL="http://$listen" ;;
    esac
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null "$WEB_URL/api/site" 2>/dev/null && return 0
        kill -0 "$WEB_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "pvtap run did not serve $WEB_URL:" >&2
    cat "$TMP/run.log" >&2
    return 1
}

web_stop() {
    [ -n "${WEB_PID:-}" ] || return 0
    kill -TERM "$WEB_PID" 2>/dev/null || true
    wait "$WEB_PID" 2>/dev/null || true
    WEB_PID=
}
