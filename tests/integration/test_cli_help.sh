#!/usr/bin/env bash
# Every listed subcommand answers --help on stdout with "usage:" and exit 0; bad usage exits 2.
source "$(dirname "$0")/lib.sh"

expect_rc 0 "pvtap --help" -- "$PVTAP" --help
expect_grep "$TMP/out" '^usage: pvtap' "top-level help starts with usage:"
cmds=$(awk '/^commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{f=0}' "$TMP/out")
[ -n "$cmds" ] && ok "help lists commands: $(echo $cmds)" || not_ok "help lists no command"
for c in $cmds; do
    expect_rc 0 "pvtap $c --help" -- "$PVTAP" "$c" --help
    first=$(head -c 6 "$TMP/out")
    [ "$first" = "usage:" ] && ok "$c --help starts with usage:" || not_ok "$c --help starts with '$first'"
    [ -s "$TMP/err" ] && not_ok "$c --help wrote to stderr" || ok "$c --help: stderr empty"
    expect_rc 2 "pvtap $c --no-such-option" -- "$PVTAP" "$c" --no-such-option
done
expect_rc 2 "no command" -- "$PVTAP"
expect_rc 2 "unknown command" -- "$PVTAP" frobnicate
expect_grep "$TMP/err" "unknown command 'frobnicate'" "unknown command named"
expect_rc 0 "--version" -- "$PVTAP" --version
expect_grep "$TMP/out" '^pvtap [0-9]+\.[0-9]+' "version printed"
finish
