#!/usr/bin/env bash
# `pvtap config check`: valid configs print redacted, broken ones exit 2 with FILE:LINE.
source "$(dirname "$0")/lib.sh"

cat >"$TMP/board.conf" <<'CONF'
board = { name = "test-board"; mirror = "eth1";
          rs485 = { meter = "/dev/ttyRS485-0"; }; };
CONF
cat >"$TMP/good.conf" <<'CONF'
site = { timezone = "America/Los_Angeles"; max_power_kW = 11.4; };
store = { path = "/tmp/pvtap-x.db"; };
pvoutput = { api_key = "0123456789abcdef-SECRET"; system_id = 42; };
http = { listen = "127.0.0.1:8080"; };
@include "board.conf"
CONF
expect_rc 0 "valid config" -- "$PVTAP" config check -c "$TMP/good.conf"
expect_grep "$TMP/out" 'timezone = "America/Los_Angeles"' "timezone printed"
expect_grep "$TMP/out" 'api_key = "<redacted>"' "api_key redacted"
expect_no_grep "$TMP/out" 'SECRET' "key text absent from stdout"
expect_no_grep "$TMP/err" 'SECRET' "key text absent from stderr"
expect_grep "$TMP/out" 'meter = "/dev/ttyRS485-0"' "board ports printed"
expect_rc 0 "valid config, quiet" -- "$PVTAP" config check -q -c "$TMP/good.conf"
[ -s "$TMP/out" ] && not_ok "quiet printed something" || ok "quiet prints nothing"

printf 'site = {\n  timezone = "UTC";\n  max_power_kW = "x";\n};\npvoutput = { api_key = "SECRET2"; system_id = -1; };\n' >"$TMP/bad.conf"
expect_rc 2 "broken config" -- "$PVTAP" config check -c "$TMP/bad.conf"
expect_grep "$TMP/err" "^$TMP/bad.conf:3: site.max_power_kW: must be a number" "wrong type named with file:line"
expect_grep "$TMP/err" "^$TMP/bad.conf:5: pvoutput.system_id: -1 is out of range" "range error named with file:line"
expect_no_grep "$TMP/err" 'SECRET2' "secret not in errors"

printf '@include "missing-board.conf"\n' >"$TMP/inc.conf"
expect_rc 2 "missing include" -- "$PVTAP" config check -c "$TMP/inc.conf"
expect_grep "$TMP/err" "inc.conf:1: @include \"missing-board.conf\" .*cannot read it" "missing include named with file:line"

expect_rc 2 "unreadable config" -- "$PVTAP" config check -c "$TMP/nope.conf"
expect_rc 2 "no action" -- "$PVTAP" config
expect_rc 2 "unknown action" -- "$PVTAP" config frob
finish
