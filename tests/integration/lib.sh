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
