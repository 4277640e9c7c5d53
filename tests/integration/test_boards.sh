#!/usr/bin/env bash
# Every boards/*.conf passes `pvtap config check` when @included by a main
# config; a broken board fails naming the board file's path:line. The shipped
# default config (firmware/pvtap.conf) is checked too, once the sniff source
# backend is in the build.
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"

boards=("$PVTAP_SRC"/boards/*.conf)
[ -e "${boards[0]}" ] || { not_ok "no board files in $PVTAP_SRC/boards"; finish; exit 1; }

# The main config includes "board.conf" beside it, as /etc/pvtap/pvtap.conf
# does (/etc/pvtap/board.conf links to the chosen board).
cat >"$TMP/main.conf" <<'CONF'
site = { timezone = "America/Los_Angeles"; };
store = { path = "/tmp/pvtap-boards-test.db"; };
@include "board.conf"
CONF
for b in "${boards[@]}"; do
    name=$(basename "$b" .conf)
    ln -sf "$b" "$TMP/board.conf"
    expect_rc 0 "board $name validates" -- "$PVTAP" config check -c "$TMP/main.conf"
    expect_grep "$TMP/out" "name = \"$name\"" "board $name: its name is the file's name"
    expect_grep "$TMP/out" 'mirror = "eth[0-9]+"' "board $name names its mirror interface"
    expect_grep "$TMP/out" 'meter = "/dev/ttyRS485-[0-9a-z]+"' "board $name names its meter bus"
    # Every board says in its comments what is wired where.
    expect_grep "$b" '^# .*[Ww]iring' "board $name documents its wiring"
    expect_grep "$b" 'mirror port' "board $name says which port is the mirror port"
done

# A broken board: an unknown key and a wrong type, reported in the board file.
cat >"$TMP/broken-board.conf" <<'CONF'
# a board with mistakes
board = {
    name = "broken";
    mirrror = "eth0";
    rs485 = { meter = 5; };
};
CONF
ln -sf broken-board.conf "$TMP/board.conf"
expect_rc 2 "broken board fails" -- "$PVTAP" config check -c "$TMP/main.conf"
# libconfig 1.5 names an included file as the @include wrote it (1.7: with
# the include folder before it): either is the board file's path.
expect_grep "$TMP/err" "^($TMP/)?board.conf:4: .*mirrror" "unknown board key named with the board file's path:line"
expect_grep "$TMP/err" "^($TMP/)?board.conf:5: .*meter" "wrong type named with the board file's path:line"

# The shipped default config with each board. Its sniff source needs the
# sniff backend: until that is registered, this part says so and is skipped.
cp "$PVTAP_SRC/firmware/pvtap.conf" "$TMP/pvtap.conf"
ln -sf "$PVTAP_SRC/boards/rpi4-dcsw1005-ftdi.conf" "$TMP/board.conf"
rc=0
"$PVTAP" config check -c "$TMP/pvtap.conf" >"$TMP/out" 2>"$TMP/err" || rc=$?
if [ "$rc" -ne 0 ] && grep -q 'unknown source type "sniff"' "$TMP/err"; then
    skip_part "the sniff source is not in this build: default config not checked" || not_ok "default config checked"
else
    for b in "${boards[@]}"; do
        ln -sf "$b" "$TMP/board.conf"
        expect_rc 0 "default config with $(basename "$b")" -- "$PVTAP" config check -c "$TMP/pvtap.conf"
    done
    expect_no_grep "$TMP/out" '^(pvoutput|mqtt|http) ' "default config enables no sink"
fi
finish
