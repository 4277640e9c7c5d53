/* The alert set: raise once, update text quietly, clear once, JSON for the sinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/alerts.h"
#include "util/log.h"

static void test_raise_update_clear(void **state)
{
    (void)state;
    log_set_level(LOGL_ERR); /* the raise/clear lines are not under test here */
    struct alert_set s;
    memset(&s, 0, sizeof s);
    alerts_update(&s, "store", false, 100, "not raised");
    assert_int_equal(s.n, 0);
    assert_int_equal(s.version, 0);
    alerts_update(&s, "store", true, 100, "disk full, %d readings wait", 5);
    assert_int_equal(s.n, 1);
    assert_true(alerts_active(&s, "store"));
    uint64_t v = s.version;
    alerts_update(&s, "store", true, 200, "disk full, %d readings wait", 5);
    assert_int_equal(s.version, v); /* same text: no change to publish */
    alerts_update(&s, "store", true, 300, "disk full, %d readings wait", 9);
    assert_true(s.version > v);
    assert_int_equal(s.a[0].since_s, 100); /* since the first raise */
    alerts_update(&s, "sink:mqtt", true, 400, "broker down");
    char *json = alerts_json(&s);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"id\":\"store\""));
    assert_non_null(strstr(json, "9 readings wait"));
    assert_non_null(strstr(json, "\"since\":\"1970-01-01T00:01:40Z\""));
    assert_non_null(strstr(json, "broker down"));
    free(json);
    alerts_update(&s, "store", false, 500, "x");
    assert_int_equal(s.n, 1);
    assert_false(alerts_active(&s, "store"));
    assert_true(alerts_active(&s, "sink:mqtt"));
    json = alerts_json(&s);
    assert_null(strstr(json, "store"));
    free(json);
}

static void test_bounded(void **state)
{
    (void)state;
    log_set_level(LOGL_ERR - 1);
    struct alert_set s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < ALERTS_MAX + 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", i);
        alerts_update(&s, id, true, i, "alert %d", i);
    }
    assert_int_equal(s.n, ALERTS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_update_clear),
        cmocka_unit_test(test_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
