/* Unit tests of PVOutput's pure rules: statuses by local day and DST, formats, replies, rate
 * limits, back-off, bisection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "sinks/pvo_status.h"
#include "util/err.h"
#include "util/timeutil.h"

static struct tz *la(void)
{
    struct tz *tz = NULL;
    if (tz_load("America/Los_Angeles", &tz) != 0)
        fail_msg("no America/Los_Angeles zone");
    return tz;
}

static int64_t utc(const char *iso)
{
    int64_t t;
    if (time_parse_iso_utc(iso, &t) != 0)
        fail_msg("bad time %s", iso);
    return t;
}

static struct pvo_interval iv(const char *iso, double prod, double net, unsigned has)
{
    struct pvo_interval v = {.interval_end = utc(iso),
                             .production_wh = prod,
                             .net_wh = net,
                             .has = has,
                             .revision = 1,
                             .voltage_V = NAN};
    if ((has & IHAS_PRODUCTION) && (has & IHAS_NET)) {
        v.has |= IHAS_CONSUMPTION;
        v.consumption_wh = prod + net;
    }
    return v;
}

enum { P = IHAS_PRODUCTION, N = IHAS_NET, PN = IHAS_PRODUCTION | IHAS_NET };

/* A day's statuses, each formatted (with v6), joined by ' '. */
static void day_text(const struct tz *tz, int date, const struct pvo_interval *v, size_t n,
                     bool cumulative, double base_p, double base_c, char *out, size_t size)
{
    struct pvo_status st[64];
    assert_true(n <= 64);
    size_t k = pvo_day_statuses(tz, date, v, n, cumulative, base_p, base_c, st);
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < k; i++) {
        char t[PVO_STATUS_TEXT_MAX];
        assert_true(pvo_status_format(&st[i], true, t, sizeof t) > 0);
        len += (size_t)snprintf(out + len, size - len, "%s%s%s", i ? " " : "", t,
                                st[i].net ? "(n)" : "");
    }
}

static void test_day_statuses(void **state)
{
    (void)state;
    struct tz *tz = la();
    /* Local 2017-06-06 23:55 (06:55Z) is the old day; 00:00 (07:00Z) starts 06-07. */
    struct pvo_interval v[] = {
        iv("2017-06-07T07:10:00Z", 20.0, 5.0, PN),
        iv("2017-06-07T06:55:00Z", 100.0, -50.0, PN),
        iv("2017-06-07T07:00:00Z", 10.4, 2.0, PN),
        iv("2017-06-07T07:05:00Z", 0, 0, 0), /* a gap: no status, totals carry on */
        iv("2017-06-07T07:15:00Z", 1.3, -0.1, PN),
    };
    char text[512];
    day_text(tz, 20170607, v, 5, false, 0, 0, text, sizeof text);
    /* 00:00: v1 10 (10.4), v2 round(10.4*12)=125, v3 12 (12.4), v4 149;
     * 00:10: v1 30.4 -> 30, v2 240, v3 12.4+25 = 37, v4 300;
     * 00:15: v1 31.7 -> 32, v2 round(15.6) = 16, v3 38.6 -> 39, v4 round(1.2*12) = 14 */
    assert_string_equal(text, "20170607,00:00,10,125,12,149 20170607,00:10,30,240,37,300 "
                              "20170607,00:15,32,16,39,14");
    day_text(tz, 20170606, v, 5, false, 0, 0, text, sizeof text);
    assert_string_equal(text, "20170606,23:55,100,1200,50,600");
    /* cumulative: lifetime bases before the day are added */
    day_text(tz, 20170606, v, 5, true, 5000.5, 700, text, sizeof text);
    assert_string_equal(text, "20170606,23:55,5101,1200,750,600");
    tz_free(tz);
}

static void test_day_modes(void **state)
{
    (void)state;
    struct tz *tz = la();
    struct {
        const char *name;
        struct pvo_interval v[3];
        size_t n;
        const char *want;
    } cases[] = {
        {"production only: v1 v2",
         {iv("2017-06-07T19:00:00Z", 250.0, 0, P), iv("2017-06-07T19:05:00Z", 260.0, 0, P)},
         2,
         "20170607,12:00,250,3000 20170607,12:05,510,3120"},
        {"net only: net mode, v2 export W, v4 import W",
         {iv("2017-06-07T19:00:00Z", 0, -100.0, N), iv("2017-06-07T19:05:00Z", 0, 40.0, N)},
         2,
         "20170607,12:00,,1200,,0(n) 20170607,12:05,,0,,480(n)"},
        {"night on a site with inverters: gross, production 0, consumption = net",
         {iv("2017-06-07T19:00:00Z", 0, 30.0, N), iv("2017-06-07T19:05:00Z", 100.0, -20.0, PN)},
         2,
         "20170607,12:00,0,0,30,360 20170607,12:05,100,1200,110,960"},
        {"negative consumption rounds half away from zero",
         {iv("2017-06-07T19:00:00Z", 10.0, -10.05, PN)},
         1,
         "20170607,12:00,10,120,0,-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        day_text(tz, 20170607, cases[i].v, cases[i].n, false, 0, 0, text, sizeof text);
        if (strcmp(text, cases[i].want) != 0)
            fail_msg("%s: got '%s', want '%s'", cases[i].name, text, cases[i].want);
    }
    tz_free(tz);
}

/* A gross site (the 'c' meter is the house): the engine gives consumption
 * from the meter and net = consumption - production; at night, with the
 * inverters asleep, consumption alone. PVOutput gets the house's
 * consumption either way, never a net value taken for it. */
static void test_gross_site(void **state)
{
    (void)state;
    struct tz *tz = la();
    struct pvo_interval night = iv("2017-06-07T19:00:00Z", 0, 0, 0);
    night.has = IHAS_CONSUMPTION;
    night.consumption_wh = 200.0;
    struct pvo_interval day = iv("2017-06-07T19:05:00Z", 0, 0, 0);
    day.has = IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION;
    day.production_wh = 300.0;
    day.consumption_wh = 120.0;
    day.net_wh = -180.0;
    struct pvo_interval v[] = {night, day};
    char text[512];
    day_text(tz, 20170607, v, 2, false, 0, 0, text, sizeof text);
    assert_string_equal(text, "20170607,12:00,0,0,200,2400 20170607,12:05,300,3600,320,1440");
    tz_free(tz);
}

static void test_dst_fall_back(void **state)
{
    (void)state;
    struct tz *tz = la();
    /* 2017-11-05: 01:00-01:55 happen twice (PDT 08:xxZ, then PST 09:xxZ). */
    struct pvo_interval v[] = {
        iv("2017-11-05T08:55:00Z", 1.0, 1.0, PN),  /* 01:55 PDT */
        iv("2017-11-05T08:05:00Z", 2.0, 2.0, PN),  /* 01:05 PDT */
        iv("2017-11-05T09:05:00Z", 4.0, 4.0, PN),  /* 01:05 PST */
        iv("2017-11-05T07:55:00Z", 8.0, 8.0, PN),  /* 00:55 PDT */
        iv("2017-11-05T10:00:00Z", 16.0, 0.0, PN), /* 02:00 PST */
    };
    struct pvo_status st[8];
    size_t n = pvo_day_statuses(tz, 20171105, v, 5, false, 0, 0, st);
    assert_int_equal(n, 4);
    char t[PVO_STATUS_TEXT_MAX];
    pvo_status_format(&st[0], true, t, sizeof t);
    assert_string_equal(t, "20171105,00:55,8,96,16,192");
    /* merged: energies 2+4 added, power averaged (6 Wh over 2 x 5 min = 36 W) */
    pvo_status_format(&st[1], true, t, sizeof t);
    assert_string_equal(t, "20171105,01:05,14,36,28,72");
    assert_int_equal(st[1].n_iv, 2);
    assert_true(st[1].end_s[0] == utc("2017-11-05T08:05:00Z"));
    assert_true(st[1].end_s[1] == utc("2017-11-05T09:05:00Z"));
    pvo_status_format(&st[2], true, t, sizeof t);
    assert_string_equal(t, "20171105,01:55,15,12,30,24");
    pvo_status_format(&st[3], true, t, sizeof t);
    /* the day's total is exact: 8+2+4+1+16 */
    assert_string_equal(t, "20171105,02:00,31,192,46,192");
    tz_free(tz);
}

static void test_format(void **state)
{
    (void)state;
    struct pvo_status s = {.date = 20170607,
                           .minute = 9 * 60 + 5,
                           .fields = PVO_V1 | PVO_V2,
                           .v1_Wh = 1234,
                           .v2_W = 567};
    char t[PVO_STATUS_TEXT_MAX];
    assert_int_equal(pvo_status_format(&s, true, t, sizeof t), strlen("20170607,09:05,1234,567"));
    assert_string_equal(t, "20170607,09:05,1234,567");
    s.fields |= PVO_V6;
    s.v6_V = 241.26;
    pvo_status_format(&s, true, t, sizeof t);
    assert_string_equal(t, "20170607,09:05,1234,567,,,,241.3");
    pvo_status_format(&s, false, t, sizeof t);
    assert_string_equal(t, "20170607,09:05,1234,567");
    char tiny[10];
    assert_int_equal(pvo_status_format(&s, true, tiny, sizeof tiny), 0);
}

static void test_reply_parse(void **state)
{
    (void)state;
    struct {
        const char *body;
        int want;               /* items or error */
        int date, minute, flag; /* of the last item */
    } cases[] = {
        {"20170607,09:05,1", 1, 20170607, 545, 1},
        {"20170607,09:05,1;20170607,09:10,0\n", 2, 20170607, 550, 0},
        {" 20170607,00:00,1 ; 20170608,23:55,1 \r\n", 2, 20170608, 1435, 1},
        {"", 0, 0, 0, 0},
        {"Bad request 400: Moon Powered", PVTAP_ECORRUPT, 0, 0, 0},
        {"20170607,0905,1", PVTAP_ECORRUPT, 0, 0, 0},
        {"20170607,09:05,", PVTAP_ECORRUPT, 0, 0, 0},
        {"2017060,09:05,1", PVTAP_ECORRUPT, 0, 0, 0},
        {"20170607,09:05,1;junk", PVTAP_ECORRUPT, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pvo_reply_item items[4];
        int n = pvo_reply_parse(cases[i].body, strlen(cases[i].body), items, 4);
        if (n != cases[i].want)
            fail_msg("'%s': %d items, want %d", cases[i].body, n, cases[i].want);
        if (n > 0) {
            assert_int_equal(items[n - 1].date, cases[i].date);
            assert_int_equal(items[n - 1].minute, cases[i].minute);
            assert_int_equal(items[n - 1].flag, cases[i].flag);
        }
    }
    char why[64];
    const char *b = "Bad request 400: Power value [99999] too high for system size\n";
    pvo_reply_reason(b, strlen(b), why, sizeof why);
    assert_string_equal(why, "Power value [99999] too high for system size");
    pvo_reply_reason("Moon\x01", 5, why, sizeof why);
    assert_string_equal(why, "Moon?");
}

static void test_ratelimit(void **state)
{
    (void)state;
    struct pvo_ratelimit rl = {0};
    assert_true(pvo_ratelimit_header("X-Rate-Limit-Remaining: 59\r\n", 28, &rl));
    assert_true(pvo_ratelimit_header("x-rate-limit-limit:60", 21, &rl));
    assert_true(pvo_ratelimit_header("X-RATE-LIMIT-RESET: 1496851200\r\n", 32, &rl));
    assert_false(pvo_ratelimit_header("X-Rate-Limit-Reset: soon\r\n", 26, &rl));
    assert_false(pvo_ratelimit_header("Content-Type: text/plain\r\n", 26, &rl));
    assert_true(rl.have_remaining && rl.have_limit && rl.have_reset);
    assert_int_equal(rl.remaining, 59);
    assert_int_equal(rl.limit, 60);
    assert_true(rl.reset_s == 1496851200);

    const int64_t now = 1496850000; /* 1200 s before the reset */
    struct {
        long long remaining;
        bool have_reset;
        int64_t reset_s;
        int64_t want;
    } cases[] = {
        {59, true, now + 1200, now},      /* plenty: at once */
        {6, true, now + 1200, now},       /* above the reserve of 5 */
        {5, true, now + 1200, now + 200}, /* at the reserve: 1200 / 6 */
        {1, true, now + 1200, now + 600},
        {0, true, now + 1200, now + 1200}, /* none left: the Reset second */
        {0, true, now - 5, now},           /* a Reset already past */
        {0, false, 0, now},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pvo_ratelimit r = {.have_remaining = true,
                                  .remaining = cases[i].remaining,
                                  .have_reset = cases[i].have_reset,
                                  .reset_s = cases[i].reset_s};
        int64_t got = pvo_next_request_s(&r, now, 5);
        if (got != cases[i].want)
            fail_msg("case %zu: %lld, want %lld", i, (long long)(got - now),
                     (long long)(cases[i].want - now));
    }
}

static void test_backoff(void **state)
{
    (void)state;
    struct {
        int attempt;
        double jitter, want;
    } cases[] = {
        {1, 0, 2},   {2, 0, 4},    {3, 0, 8},     {8, 0, 256},
        {9, 0, 300}, {30, 0, 300}, {1, 0.5, 2.2}, {8, 0.99, 300}, /* jitter never passes the cap */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double d = pvo_backoff_s(cases[i].attempt, 2, 300, cases[i].jitter);
        if (fabs(d - cases[i].want) > 1e-9)
            fail_msg("attempt %d jitter %.2f: %.3f, want %.3f", cases[i].attempt, cases[i].jitter,
                     d, cases[i].want);
    }
}

static void test_bisect(void **state)
{
    (void)state;
    struct pvo_bisect b;
    pvo_bisect_init(&b, 30);
    assert_int_equal(pvo_bisect_cap(&b, 100), 30);
    assert_false(pvo_bisect_rejected(&b, 30, 3000)); /* statuses ending 100..3000 */
    assert_int_equal(b.cap, 15);
    assert_int_equal(pvo_bisect_cap(&b, 100), 15);
    assert_false(pvo_bisect_rejected(&b, 15, 1500));
    assert_int_equal(b.cap, 7);
    assert_false(pvo_bisect_rejected(&b, 7, 700));
    assert_false(pvo_bisect_rejected(&b, 3, 300));
    assert_int_equal(b.cap, 1);
    assert_true(pvo_bisect_rejected(&b, 1, 100)); /* found */
    assert_int_equal(pvo_bisect_cap(&b, 200), 30);
    /* a suspect range that ends: past it the cap is full again */
    assert_false(pvo_bisect_rejected(&b, 30, 3000));
    assert_int_equal(pvo_bisect_cap(&b, 2000), 15);
    assert_int_equal(pvo_bisect_cap(&b, 3100), 30);
}

static void test_backload(void **state)
{
    (void)state;
    struct tz *tz = la();
    int64_t now = utc("2017-06-21T19:00:00Z"); /* 12:00 local on 06-21 */
    struct {
        int date, days;
        bool want;
    } cases[] = {
        {20170621, 14, true},  {20170608, 14, true}, {20170607, 14, true},
        {20170606, 14, false}, {20170323, 90, true}, {20170322, 90, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (pvo_within_backload(tz, cases[i].date, now, cases[i].days) != cases[i].want)
            fail_msg("%d within %d days: want %d", cases[i].date, cases[i].days, cases[i].want);
    tz_free(tz);
}

static void test_day_output(void **state)
{
    (void)state;
    struct pvo_output o;
    char body[PVO_OUTPUT_TEXT_MAX];
    /* 0.1 Wh sums, rounded once to whole Wh (half away from zero) */
    assert_true(pvo_day_output(20170606, 12345.5, 8000.4, 0,
                               IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION, &o));
    assert_int_equal(pvo_output_body(&o, body, sizeof body), strlen("d=20170606&g=12346&c=8000"));
    assert_string_equal(body, "d=20170606&g=12346&c=8000");
    /* e only with the meter's export counter */
    assert_true(pvo_day_output(20170606, 100, 50, 20.6,
                               IHAS_PRODUCTION | IHAS_CONSUMPTION | IHAS_EXPORT, &o));
    pvo_output_body(&o, body, sizeof body);
    assert_string_equal(body, "d=20170606&g=100&c=50&e=21");
    /* production only: no c */
    assert_true(pvo_day_output(20170101, 7, 0, 0, IHAS_PRODUCTION, &o));
    pvo_output_body(&o, body, sizeof body);
    assert_string_equal(body, "d=20170101&g=7");
    /* nothing known: nothing to send; too small a buffer: 0 */
    assert_false(pvo_day_output(20170101, 0, 0, 0, IHAS_NET, &o));
    assert_true(pvo_day_output(20170101, 7, 0, 0, IHAS_PRODUCTION, &o));
    assert_int_equal(pvo_output_body(&o, body, 8), 0);
}

static void test_day_complete(void **state)
{
    (void)state;
    struct tz *tz = la();
    /* an ordinary day: complete once the interval ending at local 00:00 of the next is in */
    assert_int_equal(pvo_next_midnight_s(tz, 20170606), utc("2017-06-07T07:00:00Z"));
    assert_false(pvo_day_complete(tz, 20170606, utc("2017-06-07T06:55:00Z")));
    assert_true(pvo_day_complete(tz, 20170606, utc("2017-06-07T07:00:00Z")));
    assert_true(pvo_day_complete(tz, 20170606, utc("2017-06-09T07:00:00Z")));
    assert_false(pvo_day_complete(tz, 20170606, 0));
    /* 25-hour fall-back day and 23-hour spring-forward day */
    assert_int_equal(pvo_next_midnight_s(tz, 20171105), utc("2017-11-06T08:00:00Z"));
    assert_false(pvo_day_complete(tz, 20171105, utc("2017-11-06T07:55:00Z")));
    assert_int_equal(pvo_next_midnight_s(tz, 20170312), utc("2017-03-13T07:00:00Z"));
    assert_true(pvo_day_complete(tz, 20170312, utc("2017-03-13T07:00:00Z")));
    /* month and year ends */
    assert_int_equal(pvo_next_midnight_s(tz, 20171231), utc("2018-01-01T08:00:00Z"));
    assert_int_equal(pvo_next_midnight_s(NULL, 20170630), utc("2017-07-01T00:00:00Z"));
    tz_free(tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_statuses), cmocka_unit_test(test_day_modes),
        cmocka_unit_test(test_gross_site),   cmocka_unit_test(test_dst_fall_back),
        cmocka_unit_test(test_format),       cmocka_unit_test(test_reply_parse),
        cmocka_unit_test(test_ratelimit),    cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_bisect),       cmocka_unit_test(test_backload),
        cmocka_unit_test(test_day_output),   cmocka_unit_test(test_day_complete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
