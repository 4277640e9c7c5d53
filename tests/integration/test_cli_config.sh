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

# A relative @include resolves from the including file's folder, whatever the
# working directory; the decoy sits where the old resolution looked.
mkdir -p "$TMP/etc/boards" "$TMP/elsewhere"
printf 'site = { timezone = "UTC"; };\n@include "boards/b.conf"\n' >"$TMP/etc/top.conf"
printf 'board = { name = "b";\n@include "ports.conf"\n};\n' >"$TMP/etc/boards/b.conf"
printf 'rs485 = { meter = "/dev/ttyRIGHT"; };\n' >"$TMP/etc/boards/ports.conf"
printf 'rs485 = { meter = "/dev/ttyDECOY"; };\n' >"$TMP/etc/ports.conf"
expect_rc 0 "nested relative include, absolute top" -- "$PVTAP" config check -c "$TMP/etc/top.conf"
expect_grep "$TMP/out" 'meter = "/dev/ttyRIGHT"' "include resolved from the including file's folder"
cd "$TMP/elsewhere"
expect_rc 0 "nested relative include, relative top" -- "$PVTAP" config check -c ../etc/top.conf
expect_grep "$TMP/out" 'meter = "/dev/ttyRIGHT"' "relative top: include resolved from its folder"
cd - >/dev/null

# Integers are range-checked as written, not modulo 2^32.
printf 'mqtt = {\n  port = 4294969179;\n};\n' >"$TMP/wrap.conf"
expect_rc 2 "integer beyond 32 bits" -- "$PVTAP" config check -c "$TMP/wrap.conf"
expect_grep "$TMP/err" "^$TMP/wrap.conf:2: mqtt.port: 4294969179 is out of range 1..65535" "value printed as written"

# A FIFO include is refused at once instead of blocking the reader.
mkfifo "$TMP/fifo.conf"
printf 'site = { timezone = "UTC"; };\n@include "fifo.conf"\n' >"$TMP/fifo-inc.conf"
expect_rc 2 "FIFO include" -- timeout 10 "$PVTAP" config check -c "$TMP/fifo-inc.conf"
expect_grep "$TMP/err" "fifo-inc.conf:2: @include \"fifo.conf\" .*is a FIFO" "FIFO include named with file:line"

# A config over 1 MiB is refused with a clear error.
/usr/bin/python3 -c 'import sys; sys.stdout.write("# padding\n" * 120000)' >"$TMP/huge.conf"
expect_rc 2 "config over 1 MiB" -- "$PVTAP" config check -c "$TMP/huge.conf"
expect_grep "$TMP/err" "huge.conf: is larger than 1048576 bytes" "size limit named"

# Credentials inside URLs never reach the dump.
printf 'pvoutput = { api_key = "k"; system_id = 5;\n  url = "https://me:URLPASSWORD@pvo.example/r2/"; };\n' >"$TMP/url.conf"
expect_rc 0 "pvoutput url with user:password@" -- "$PVTAP" config check -c "$TMP/url.conf"
expect_grep "$TMP/out" 'url = "https://\*\*\*@pvo.example/r2/"' "url userinfo redacted"
expect_no_grep "$TMP/out" 'URLPASSWORD' "url password absent from stdout"
expect_no_grep "$TMP/err" 'URLPASSWORD' "url password absent from stderr"

expect_rc 2 "unreadable config" -- "$PVTAP" config check -c "$TMP/nope.conf"
expect_rc 2 "no action" -- "$PVTAP" config
expect_rc 2 "unknown action" -- "$PVTAP" config frob
finish
