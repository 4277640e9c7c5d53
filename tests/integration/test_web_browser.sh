# The page in a real browser: headless Debian chromium driven by playwright-core
# (tests/web, `npm ci`) loads a replayed day, the graph's points must match the
# store, a click goes to the day before, screenshots land in the build dir.
. "$(dirname "$0")/lib.sh"
. "$PVTAP_SRC/tests/web/serve_day.sh"
trap 'web_stop; rm -rf "$TMP"' EXIT
grep -q 'PVTAP_HAVE_MICROHTTPD 1' "$PVTAP_BUILD/generated/pvtap_build.h" || {
    skip_test "built without libmicrohttpd"; }
need_tool node nodejs
need_tool npm npm
if [ -n "${CHROMIUM:-}" ]; then
    [ -x "$CHROMIUM" ] || skip_test "no chromium at CHROMIUM=$CHROMIUM"
else
    need_tool chromium chromium
fi

# playwright-core, pinned by tests/web/package-lock.json, installed once per build dir
W=$PVTAP_BUILD/web-test
mkdir -p "$W"
cp "$PVTAP_SRC/tests/web/package.json" "$PVTAP_SRC/tests/web/package-lock.json" "$PVTAP_SRC/tests/web/browser_test.mjs" "$W/"
if ! cmp -s "$W/package-lock.json" "$W/node_modules/.package-lock.json.installed" 2>/dev/null; then
    (cd "$W" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) \
        || { not_ok "npm ci (playwright-core)"; finish; exit 1; }
    cp "$W/package-lock.json" "$W/node_modules/.package-lock.json.installed"
fi

web_start || { not_ok "daemon serving"; finish; exit 1; }
ok "pvtap run serves $WEB_URL"
"$PVTAP" intervals -c "$WEB_CONF" --from 2017-06-07 --to 2017-06-08 --format jsonl \
    | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))' >"$TMP/day.json"
"$PVTAP" intervals -c "$WEB_CONF" --from 2017-06-06 --to 2017-06-07 --format jsonl \
    | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))' >"$TMP/day.prev.json"
rc=0
node "$W/browser_test.mjs" "$WEB_URL" 2017-06-07 sniff "$TMP/day.json" "$PVTAP_BUILD" || rc=$?
[ "$rc" = 77 ] && skip_test "chromium cannot start here"
[ "$rc" = 0 ] && ok "browser test ($PVTAP_BUILD/web-day.png)" || not_ok "browser test"
finish
