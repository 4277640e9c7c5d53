/* Unit tests of the site's kind in force: config, learnt from the supervisor (kept in the store),
 * default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/site_kind.h"
#include "store/store.h"

/* 2026-12-08T04:00:00Z */
#define NOW 1796702400LL

static void test_default_then_learnt(void **state)
{
    (void)state;
    struct store *st;
    assert_int_equal(store_open(":memory:", NULL, 0, &st), 0);
    struct site_config site = {.consumption_meter = SITE_CM_AUTO, .production = SITE_PROD_AUTO};
    struct site_kind k;
    assert_int_equal(site_kind_resolve(&site, st, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_NET);
    assert_string_equal(k.origin, "default");

    /* the supervisor says net: nothing to recompute, but the origin is known */
    bool changed = true;
    assert_int_equal(site_kind_learn(st, ENGINE_CONSUMPTION_NET, NOW, &changed), 0);
    assert_false(changed);
    assert_int_equal(site_kind_resolve(&site, st, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_NET);
    assert_string_equal(k.origin, "supervisor (pvs-api) on 2026-12-08");

    /* then gross (a corrected subtype): a change */
    assert_int_equal(site_kind_learn(st, ENGINE_CONSUMPTION_GROSS, NOW + 86400, &changed), 0);
    assert_true(changed);
    assert_int_equal(site_kind_resolve(&site, st, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_GROSS);
    assert_string_equal(k.origin, "supervisor (pvs-api) on 2026-12-09");
    /* the same again: no change */
    assert_int_equal(site_kind_learn(st, ENGINE_CONSUMPTION_GROSS, NOW + 2 * 86400, &changed), 0);
    assert_false(changed);

    /* the configuration wins over what was learnt */
    site.consumption_meter = SITE_CM_NONE;
    site.production = SITE_PROD_INVERTERS;
    assert_int_equal(site_kind_resolve(&site, st, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_NONE);
    assert_int_equal(k.production, ENGINE_PRODUCTION_INVERTERS);
    assert_string_equal(k.origin, "config");
    struct engine_params p;
    engine_params_default(&p);
    site_kind_engine_params(&k, &p);
    assert_int_equal(p.consumption_meter, ENGINE_CONSUMPTION_NONE);
    assert_int_equal(p.production, ENGINE_PRODUCTION_INVERTERS);
    store_close(st);
}

/* No store (a replay without one): auto is net, by default. */
static void test_no_store(void **state)
{
    (void)state;
    struct site_config site = {.consumption_meter = SITE_CM_AUTO, .production = SITE_PROD_METER};
    struct site_kind k;
    assert_int_equal(site_kind_resolve(&site, NULL, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_NET);
    assert_int_equal(k.production, ENGINE_PRODUCTION_METER);
    assert_string_equal(k.origin, "default");
    site.consumption_meter = SITE_CM_GROSS;
    assert_int_equal(site_kind_resolve(&site, NULL, &k), 0);
    assert_int_equal(k.consumption_meter, ENGINE_CONSUMPTION_GROSS);
    assert_string_equal(site_kind_consumption_name(k.consumption_meter), "gross");
    assert_string_equal(site_kind_production_name(k.production), "meter");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_then_learnt),
        cmocka_unit_test(test_no_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
