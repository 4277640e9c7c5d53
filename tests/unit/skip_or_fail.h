/* skip_or_fail(WHY) for cmocka tests: cmocka's skip() leaves a test out and
 * the binary still exits 0, so ctest never sees it. Under CI (env CI set, not
 * "false" or "0") nothing may be left out: the test fails, saying WHY.
 * Include after <cmocka.h>. */
#ifndef PVTAP_TESTS_SKIP_OR_FAIL_H
#define PVTAP_TESTS_SKIP_OR_FAIL_H

#include <stdlib.h>
#include <string.h>

#define skip_or_fail(why)                                                                          \
    do {                                                                                           \
        const char *ci_ = getenv("CI");                                                            \
        if (ci_ && *ci_ && strcmp(ci_, "false") != 0 && strcmp(ci_, "0") != 0)                     \
            fail_msg("not run under CI=%s: %s", ci_, (why));                                       \
        skip();                                                                                    \
    } while (0)

#endif
