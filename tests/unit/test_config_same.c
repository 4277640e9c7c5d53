/* config_setting_same: what a SIGHUP reload counts as "this section changed". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libconfig.h>
#include <string.h>

#include "daemon/config_same.h"

/* Parses two texts and compares their member `key`. */
static bool same(const char *a, const char *b, const char *key)
{
    config_t x, y;
    config_init(&x);
    config_init(&y);
    assert_int_equal(config_read_string(&x, a), CONFIG_TRUE);
    assert_int_equal(config_read_string(&y, b), CONFIG_TRUE);
    bool r = config_member_same(&x, &y, key);
    config_destroy(&x);
    config_destroy(&y);
    return r;
}

static void test_groups(void **state)
{
    (void)state;
    assert_true(same("m = { host = \"a\"; port = 1; };", "m = { host = \"a\"; port = 1; };", "m"));
    /* member order and layout do not matter; values and keys do */
    assert_true(
        same("m = { host = \"a\"; port = 1; };", "m = {\n port = 1;\n host = \"a\"; };", "m"));
    assert_false(same("m = { host = \"a\"; port = 1; };", "m = { host = \"b\"; port = 1; };", "m"));
    assert_false(same("m = { host = \"a\"; port = 1; };", "m = { host = \"a\"; port = 2; };", "m"));
    assert_false(same("m = { host = \"a\"; };", "m = { host = \"a\"; port = 1; };", "m"));
    assert_false(same("m = { port = 1; };", "m = { port = 1.0; };", "m")); /* int vs float */
    assert_false(same("m = { on = true; };", "m = { on = false; };", "m"));
    assert_true(same("m = { x = 1.5; };", "m = { x = 1.5; };", "m"));
    /* both absent: the same; one absent: changed */
    assert_true(same("a = 1;", "b = 2;", "m"));
    assert_false(same("m = { };", "b = 2;", "m"));
    /* the other sections do not matter */
    assert_true(same("m = { p = 1; }; s = 1;", "m = { p = 1; }; s = 2;", "m"));
}

static void test_lists(void **state)
{
    (void)state;
    const char *base = "sources = ( { type = \"sniff\"; paths = [\"/a\", \"/b\"]; } );";
    assert_true(same(base, base, "sources"));
    /* list and array elements are compared in order */
    assert_false(
        same(base, "sources = ( { type = \"sniff\"; paths = [\"/b\", \"/a\"]; } );", "sources"));
    assert_false(same(base, "sources = ( { type = \"sniff\"; paths = [\"/a\"]; } );", "sources"));
    assert_false(same(base,
                      "sources = ( { type = \"sniff\"; paths = [\"/a\", \"/b\"]; }, "
                      "{ type = \"listen\"; } );",
                      "sources"));
    assert_true(config_setting_same(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
