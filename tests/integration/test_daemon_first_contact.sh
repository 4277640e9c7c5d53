#!/usr/bin/env bash
# `sudo pvtap run -c my.conf` where the package was never installed: one message naming every
# reason the privilege drop would fail (no user pvtap, a store folder the user cannot write),
# each with its fix, before anything is opened; exit 2.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_test "needs root (the privilege drop is only tried as root)"
user=pvtapnouser$$
! getent passwd "$user" >/dev/null || { not_ok "user $user exists"; finish; }
chmod 755 "$TMP"
mkdir -p "$TMP/store"
cat >"$TMP/my.conf" <<CONF
run = { user = "$user"; };
store = { path = "$TMP/store/pvtap.db"; };
sources = ( { type = "sniff"; file = "$PVTAP_DATA/sample-day.pcap"; } );
CONF
expect_rc 2 "no such user: refused" -- "$PVTAP" run -c "$TMP/my.conf" --runtime-dir "$TMP/rt"
expect_grep "$TMP/err" "user \"$user\" does not exist" "the missing user is named"
expect_grep "$TMP/err" "useradd --system .* $user" "with the useradd that fixes it"
expect_grep "$TMP/err" "store folder $TMP/store belongs to root" "the store folder is named in the same message"
expect_grep "$TMP/err" "chown $user $TMP/store" "with the chown that fixes it"
expect_grep "$TMP/err" "--no-drop" "and --no-drop for a test"
[ "$(grep -c 'error' "$TMP/err")" = 1 ] && ok "said once" || not_ok "said $(grep -c error "$TMP/err") times"
[ ! -e "$TMP/store/pvtap.db" ] && [ ! -e "$TMP/rt" ] && ok "nothing was created or opened" ||
    not_ok "files created before the refusal: $(ls "$TMP/store" "$TMP" | tr '\n' ' ')"

# An existing user that cannot write the store folder.
sed -i "s/user = \"$user\"/user = \"nobody\"/" "$TMP/my.conf"
expect_rc 2 "an existing user without a writable store folder: refused" -- \
    "$PVTAP" run -c "$TMP/my.conf" --runtime-dir "$TMP/rt"
expect_grep "$TMP/err" "user \"nobody\" cannot write the store folder $TMP/store" "the folder is named"
expect_grep "$TMP/err" "chown nobody $TMP/store" "with the chown"
expect_no_grep "$TMP/err" "does not exist" "the user is not said to be missing"

# Once fixed as the message says, the daemon runs.
chown nobody "$TMP/store"
expect_rc 0 "after the chown the daemon runs" -- \
    "$PVTAP" run -c "$TMP/my.conf" --runtime-dir "$TMP/rt" --until-idle
[ -s "$TMP/store/pvtap.db" ] && ok "the store was written as nobody" || not_ok "no store"
[ "$(stat -c %U "$TMP/rt")" = nobody ] && ok "the runtime folder was made for the user" ||
    not_ok "runtime folder owner $(stat -c %U "$TMP/rt" 2>/dev/null)"
finish
