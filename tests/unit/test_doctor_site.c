/* Unit tests of the doctor's metering hints (pure) and of the day it reads from the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/doctor_site.h"
#include "store/store.h"

static void empty_day(struct doctor_site_day *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->series, sizeof d->series, "sniff");
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++)
        d->c_wh[i] = d->inverters_wh[i] = d->pmeter_wh[i] = NAN;
}

/* A day: load W all day, a sun of peak_wh per interval from slot 100 to 180,
 * the 'c' meter reading net (export negative) or gross (the load). */
static void make_day(struct doctor_site_day *d, bool gross, double peak_wh)
{
    empty_day(d);
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++) {
        double load = 40.0;
        double sun = i >= 100 && i < 180 ? peak_wh * sin((double)(i - 100) * M_PI / 80.0) : 0.0;
        d->inverters_wh[i] = sun;
        d->c_wh[i] = gross ? load : load - sun;
    }
}

static size_t hints(const struct doctor_site_day *d, enum engine_consumption k,
                    struct doctor_result *out)
{
    return doctor_site_hints(d, k, out, 3);
}

static void test_consumption_hints(void **state)
{
    (void)state;
    struct doctor_site_day d;
    struct doctor_result r[3];
    /* gross CTs taken as net: never below 0 while production exceeds it */
    make_day(&d, true, 300.0);
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_WARN);
    assert_string_equal(r[0].check, "metering (sniff)");
    assert_non_null(strstr(r[0].verdict, "looks like gross CTs: set site.consumption_meter = "
                                         "\"gross\""));
    /* the same day read as gross: fine */
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_GROSS, r), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
    assert_non_null(strstr(r[0].verdict, "read as gross"));
    /* net CTs taken as gross: goes negative */
    make_day(&d, false, 300.0);
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_GROSS, r), 1);
    assert_int_equal(r[0].level, DOCTOR_WARN);
    assert_non_null(strstr(r[0].verdict, "looks like net CTs: set site.consumption_meter = "
                                         "\"net\""));
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
    /* a cloudy day where production never beats the load says nothing */
    make_day(&d, true, 20.0);
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
    /* no consumption CTs: named */
    d.c_zero = 200;
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_GROSS, r), 1);
    assert_int_equal(r[0].level, DOCTOR_WARN);
    assert_non_null(strstr(r[0].verdict, "consumption CTs not installed or not wired"));
    d.c_zero = 0;
    /* too few intervals of the meter: no verdict on it */
    make_day(&d, true, 300.0);
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++)
        if (i < 110 || i > 120)
            d.c_wh[i] = NAN;
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
}

static void test_production_meter_hint(void **state)
{
    (void)state;
    struct doctor_site_day d;
    struct doctor_result r[3];
    make_day(&d, false, 300.0);
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++)
        d.pmeter_wh[i] = d.inverters_wh[i] * 0.97; /* CT error within 5 % */
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++)
        d.pmeter_wh[i] = d.inverters_wh[i] * 0.90;
    assert_int_equal(hints(&d, ENGINE_CONSUMPTION_NET, r), 1);
    assert_int_equal(r[0].level, DOCTOR_WARN);
    assert_non_null(strstr(r[0].verdict, "(10.0 % apart, more than 5 %)"));
}

/* The day as read from the store: counter differences per interval. */
static void test_day_from_store(void **state)
{
    (void)state;
    struct store *st;
    assert_int_equal(store_open(":memory:", NULL, 0, &st), 0);
    assert_int_equal(store_begin(st), 0);
    const int64_t t0 = 1496793600; /* 2017-06-07T00:00Z */
    for (int i = 0; i <= 20; i++) {
        struct reading r = {
            .source = "t", .series = "sniff", .time = t0 + i * 300, .clock = CLOCK_RECORD};
        snprintf(r.device, sizeof r.device, "i1");
        r.kind = DEVICE_INVERTER, r.q = Q_ENERGY_LIFETIME_KWH, r.value = 10.0 + 0.1 * i;
        assert_int_equal(store_put_reading(st, &r), 0);
        snprintf(r.device, sizeof r.device, "m1c");
        r.kind = DEVICE_NET_METER, r.q = Q_ENERGY_NET_LIFETIME_KWH, r.value = 5.0 - 0.05 * i;
        assert_int_equal(store_put_reading(st, &r), 0);
        snprintf(r.device, sizeof r.device, "m1p"); /* no CTs: 0 always */
        r.kind = DEVICE_PRODUCTION_METER, r.value = 0.0;
        assert_int_equal(store_put_reading(st, &r), 0);
    }
    assert_int_equal(store_commit(st), 0);
    struct doctor_site_day days[2];
    assert_int_equal(doctor_site_days(st, days, 2), 1);
    assert_string_equal(days[0].series, "sniff");
    /* the newest record ends the day: its interval is the last slot */
    assert_true(fabs(days[0].inverters_wh[DOCTOR_DAY_SLOTS - 1] - (100.0)) < 1e-6); /* NAN fails */
    assert_true(fabs(days[0].c_wh[DOCTOR_DAY_SLOTS - 1] - (-50.0)) < 1e-6);         /* NAN fails */
    assert_true(fabs(days[0].c_wh[DOCTOR_DAY_SLOTS - 20] - (-50.0)) < 1e-6);        /* NAN fails */
    assert_true(isnan(days[0].c_wh[DOCTOR_DAY_SLOTS - 21])); /* the first record: a base */
    assert_true(isnan(days[0].pmeter_wh[DOCTOR_DAY_SLOTS - 1]));
    struct doctor_result r[3];
    assert_int_equal(doctor_site_hints(&days[0], ENGINE_CONSUMPTION_NET, r, 3), 1);
    assert_int_equal(r[0].level, DOCTOR_OK);
    assert_non_null(strstr(r[0].verdict, "production CTs not installed"));
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consumption_hints),
        cmocka_unit_test(test_production_meter_hint),
        cmocka_unit_test(test_day_from_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
