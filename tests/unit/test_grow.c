/* grow_array: room for one more, doubling from `first`, untouched on failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "util/err.h"
#include "util/grow.h"

struct pair {
    int a;
    double b;
};

static void test_grows_and_keeps_contents(void **state)
{
    (void)state;
    struct pair *v = NULL;
    size_t cap = 0, n = 0;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(GROW(&v, &cap, n, 8), 0);
        assert_true(n < cap);
        v[n++] = (struct pair){i, i * 0.5};
    }
    assert_int_equal(cap, 1024); /* 8, 16, ... 1024 */
    for (int i = 0; i < 1000; i++)
        assert_true(v[i].a == i && v[i].b == i * 0.5);
    size_t before = cap;
    assert_int_equal(GROW(&v, &cap, 10, 8), 0); /* room already */
    assert_int_equal(cap, before);
    free(v);
}

static void test_overflow_leaves_array(void **state)
{
    (void)state;
    char *v = malloc(4);
    assert_non_null(v);
    size_t cap = SIZE_MAX / 2 + 1, n = cap;
    char *keep = v;
    assert_int_equal(grow_array(&v, &cap, n, 1, 8), PVTAP_ENOMEM);
    assert_ptr_equal(v, keep);
    assert_int_equal(cap, SIZE_MAX / 2 + 1);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_keeps_contents),
        cmocka_unit_test(test_overflow_leaves_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
