#!/usr/bin/env bash
# The floors hold: every #include under src/ obeys the matrix of
# docs/design.md (tests/check-floors). Then the checker is shown to bite, on a
# copy of the tree: a planted back edge, an exception taken off the list, and
# an exception that no longer occurs must each fail with FILE:LINE.
source "$(dirname "$0")/lib.sh"
: "${PVTAP_SRC:?}"
check="$PVTAP_SRC/tests/check-floors"

expect_rc 0 "the tree obeys docs/design.md's include matrix" -- /usr/bin/python3 "$check" "$PVTAP_SRC"
sed "s/^/  | /" "$TMP/out" "$TMP/err"

# A copy to break: only what the checker reads.
copy() { rm -rf "$TMP/tree"; mkdir -p "$TMP/tree/docs"; cp -r "$PVTAP_SRC/src" "$TMP/tree/";
         cp "$PVTAP_SRC/docs/design.md" "$TMP/tree/docs/"; }

copy
echo '#include "sinks/sink.h"' >>"$TMP/tree/src/proto/cursor.h"
line=$(wc -l <"$TMP/tree/src/proto/cursor.h")
expect_rc 1 "a planted proto -> sinks include fails" -- /usr/bin/python3 "$check" "$TMP/tree"
expect_grep "$TMP/out" "^src/proto/cursor.h:$line: includes \"sinks/sink.h\": proto may not include sinks" \
    "the failure names file:line and the rule"

copy
echo '#include "daemon/daemon.h"' >>"$TMP/tree/src/engine/engine.c"
expect_rc 1 "a planted engine -> daemon include fails" -- /usr/bin/python3 "$check" "$TMP/tree"
expect_grep "$TMP/out" '^src/engine/engine.c:[0-9]+: includes "daemon/daemon.h": engine may not include daemon' \
    "the engine's failure names the rule"

copy
sed -i '/^| `src\/store\/store.h` | `sources\/reading.h`/d' "$TMP/tree/docs/design.md"
expect_rc 1 "a known back edge taken off the list fails" -- /usr/bin/python3 "$check" "$TMP/tree"
expect_grep "$TMP/out" '^src/store/store.h:[0-9]+: includes "sources/reading.h": store may not include sources' \
    "the unlisted edge is named"

copy
sed -i '/#include "sources\/reading.h"/d' "$TMP/tree/src/store/store.h"
expect_rc 1 "an exception that no longer occurs fails" -- /usr/bin/python3 "$check" "$TMP/tree"
expect_grep "$TMP/out" '^docs/design.md:[0-9]+: exception src/store/store.h -> sources/reading.h no longer occurs' \
    "the stale exception is named"

copy
mkdir "$TMP/tree/src/model"
echo '#include "util/err.h"' >"$TMP/tree/src/model/x.h"
expect_rc 1 "a directory that is no floor fails" -- /usr/bin/python3 "$check" "$TMP/tree"
expect_grep "$TMP/out" "^src/model/x.h:1: floor 'model' is not in the matrix" "the new directory is named"

finish
