# Skipping a test (exit 77: ctest SKIP) when something it needs is missing, for
# the bash integration tests (sourced; lib.sh sources it too). Under CI (CI set,
# not "false" or "0") nothing may skip: CI installs every package of
# firmware/packages-build.txt and builds with every library, so a missing tool
# is a broken setup and fails, naming the Debian package to install.

in_ci() { [ -n "${CI:-}" ] && [ "$CI" != false ] && [ "$CI" != 0 ]; }

# skip_test WHY: skip the whole test (exit 77); under CI fail (exit 1).
skip_test() {
    if in_ci; then
        echo "FAIL: $* (CI=$CI: no test may be skipped)"
        exit 1
    fi
    echo "skip: $*"
    exit 77
}

# need_tool TOOL PACKAGE: TOOL on PATH (or in /usr/sbin, /sbin, for tests run
# by a user), else skip, or under CI fail naming PACKAGE.
need_tool() {
    PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1 && return 0
    if in_ci; then
        echo "FAIL: $1 missing: apt-get install $2"
        exit 1
    fi
    echo "skip: $1 missing (apt-get install $2)"
    exit 77
}

# skip_part WHY: a test leaves one part out and goes on; under CI that part
# fails instead (returns 1, for: skip_part "..." || not_ok "...").
skip_part() {
    if in_ci; then
        echo "FAIL: $* (CI=$CI: no part may be skipped)"
        return 1
    fi
    echo "# skip: $*"
}
