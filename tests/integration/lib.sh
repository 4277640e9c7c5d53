# Shared helpers for the bash integration tests (sourced, not run).
set -euo pipefail
: "${PVTAP:?PVTAP (the pvtap binary) must be set; run through ctest}"
. "$(dirname "${BASH_SOURCE[0]}")/need.sh"
TMP=$(mktemp -d /tmp/pvtap-it.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
not_ok() { fails=$((fails + 1)); echo "not ok - $*"; }
# expect_rc WANT DESCRIPTION -- COMMAND...: runs COMMAND, stdout/stderr into $TMP/out $TMP/err
expect_rc() {
    local want=$1 what=$2
    shift 3
    local rc=0
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else
        not_ok "$what: exit $rc, wanted $want"; sed 's/^/  stderr: /' "$TMP/err" | head -20
    fi
}
# expect_grep FILE PATTERN DESCRIPTION
expect_grep() {
    if grep -qE -- "$2" "$1"; then ok "$3"; else not_ok "$3: no /$2/ in $(basename "$1")"; sed 's/^/  | /' "$1" | head -20; fi
}
expect_no_grep() {
    if grep -qE -- "$2" "$1"; then not_ok "$3: found /$2/ in $(basename "$1")"; else ok "$3"; fi
}
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}
# capture_netns PREFIX: a network namespace of this test's own ($NS) holding a
# veth pair, veth0 (what tcpreplay sends on) and veth1 (what pvtap captures on,
# silent: no IPv6, so no link-local or solicitations); in_ns runs a command in
# it; the namespace, its processes and $TMP go at exit. Skips without root.
capture_netns() {
    [ "$(id -u)" = 0 ] || skip_test "needs root (network namespace)"
    NS=$1$$
    ip netns add "$NS" 2>/dev/null || skip_test "cannot create a network namespace here"
    trap 'ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
    in_ns ip link set lo up
    in_ns ip link add veth0 type veth peer name veth1
    in_ns sysctl -qw net.ipv6.conf.veth1.disable_ipv6=1 net.ipv6.conf.veth0.disable_ipv6=1
    in_ns ip link set veth0 up
    in_ns ip link set veth1 up
}
in_ns() { ip netns exec "$NS" "$@"; }
