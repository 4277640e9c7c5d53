/* Unit tests for util/timeutil: UTC stamps, the 5-minute grid, TZif zones, CLI times. */
#define _XOPEN_SOURCE 700 /* nftw() for cleaning the temporary zone directory */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/timeutil.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------
 * Compact supervisor stamps
 */

static void test_compact(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t len; /* 0: strlen */
        int rc;
        int64_t t;
    } cases[] = {
        {"20170607162000", 0, 0, 1496852400},
        {"19700101000000", 0, 0, 0},
        {"19691231235959", 0, 0, -1},
        {"20000229000000", 0, 0, 951782400},  /* divisible by 400: leap */
        {"20040229235959", 0, 0, 1078099199}, /* divisible by 4: leap */
        {"99991231235959", 0, 0, 253402300799},
        {"00010101000000", 0, 0, -62135596800},
        {"20380119031408", 0, 0, 2147483648},          /* past 32-bit time_t */
        {"20170607162000trailing", 14, 0, 1496852400}, /* exactly len bytes */
        {"19000229000000", 0, PVTAP_EINVAL, 0},        /* divisible by 100: not leap */
        {"21000229000000", 0, PVTAP_EINVAL, 0},
        {"20170229000000", 0, PVTAP_EINVAL, 0},
        {"20170431000000", 0, PVTAP_EINVAL, 0}, /* April has 30 days */
        {"20170631000000", 0, PVTAP_EINVAL, 0},
        {"20170132000000", 0, PVTAP_EINVAL, 0},
        {"20171301000000", 0, PVTAP_EINVAL, 0},
        {"20170001000000", 0, PVTAP_EINVAL, 0},
        {"20170600000000", 0, PVTAP_EINVAL, 0},
        {"20170607240000", 0, PVTAP_EINVAL, 0},
        {"20170607166000", 0, PVTAP_EINVAL, 0},
        {"20170607162060", 0, PVTAP_EINVAL, 0},
        {"2017060716200", 0, PVTAP_EINVAL, 0},   /* 13 digits */
        {"201706071620000", 0, PVTAP_EINVAL, 0}, /* 15 digits */
        {"20170607162000", 13, PVTAP_EINVAL, 0},
        {"2017060716200a", 0, PVTAP_EINVAL, 0},
        {"+0170607162000", 0, PVTAP_EINVAL, 0},
        {"2017-06-07T16:", 0, PVTAP_EINVAL, 0},
        {"2017060716 000", 0, PVTAP_EINVAL, 0},
        {"", 0, PVTAP_EINVAL, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].s);
        int64_t t = 12345;
        int rc = time_parse_compact_utc(cases[i].s, len, &t);
        if (rc != cases[i].rc || (rc == 0 && t != cases[i].t))
            fail_msg("case %zu \"%s\": rc %d t %lld", i, cases[i].s, rc, (long long)t);
        if (rc != 0)
            assert_int_equal(t, 12345); /* untouched on error */
    }
    int64_t t;
    assert_int_equal(time_parse_compact_utc(NULL, 14, &t), PVTAP_EINVAL);
    assert_int_equal(time_parse_compact_utc("20170607162000", 14, NULL), PVTAP_EINVAL);
}

/* ---------------------------------------------------------------------------
 * ISO 8601 UTC
 */

static void test_iso(void **state)
{
    (void)state;
    static const struct {
        int64_t t;
        const char *s;
    } fmt[] = {
        {1496852400, "2017-06-07T16:20:00Z"},   {0, "1970-01-01T00:00:00Z"},
        {-1, "1969-12-31T23:59:59Z"},           {951782400, "2000-02-29T00:00:00Z"},
        {4107542400, "2100-03-01T00:00:00Z"},   {253402300799, "9999-12-31T23:59:59Z"},
        {-62135596800, "0001-01-01T00:00:00Z"},
    };
    char buf[32];
    for (size_t i = 0; i < N_ELEMS(fmt); i++) {
        time_format_iso_utc(fmt[i].t, buf, sizeof buf);
        assert_string_equal(buf, fmt[i].s);
        int64_t t = 0;
        assert_int_equal(time_parse_iso_utc(fmt[i].s, &t), 0);
        assert_int_equal(t, fmt[i].t);
    }
    /* Round trips over a spread of instants, negative ones included. */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t t0 = (int64_t)(x % 300000000000u) - 62135596800; /* 0001..~9475 */
        int64_t t1 = 0;
        time_format_iso_utc(t0, buf, sizeof buf);
        assert_int_equal(strlen(buf), 20);
        assert_int_equal(time_parse_iso_utc(buf, &t1), 0);
        assert_int_equal(t1, t0);
    }
    /* A short buffer is truncated, still terminated. */
    char small[8];
    time_format_iso_utc(1496852400, small, sizeof small);
    assert_string_equal(small, "2017-06");
    time_format_iso_utc(1496852400, small, 0); /* no write, no crash */
    /* Extreme instants print something, without overflow. */
    time_format_iso_utc(INT64_MAX, buf, sizeof buf);
    time_format_iso_utc(INT64_MIN, buf, sizeof buf);

    static const struct {
        const char *s;
        int rc;
        int64_t t;
    } parse[] = {
        {"2017-06-07T16:20Z", 0, 1496852400},
        {"2017-06-07T16:20:00Z", 0, 1496852400},
        {"2017-06-07T16:20:00", PVTAP_EINVAL, 0}, /* no Z: not UTC */
        {"2017-06-07", PVTAP_EINVAL, 0},
        {"2017-06-07Z", PVTAP_EINVAL, 0},
        {"2017-06-07 16:20:00Z", PVTAP_EINVAL, 0},
        {"2017-06-07t16:20:00z", PVTAP_EINVAL, 0},
        {"2017-06-07T16:20:00ZZ", PVTAP_EINVAL, 0},
        {"2017-06-07T16:20:00.5Z", PVTAP_EINVAL, 0},
        {"2017-06-07T16:20:00+00:00", PVTAP_EINVAL, 0},
        {"2017-02-29T00:00:00Z", PVTAP_EINVAL, 0},
        {"2017-06-07T24:00:00Z", PVTAP_EINVAL, 0},
        {"2017-06-07T16:60Z", PVTAP_EINVAL, 0},
        {"2017-6-07T16:20:00Z", PVTAP_EINVAL, 0},
        {"2017/06/07T16:20:00Z", PVTAP_EINVAL, 0},
        {"Z", PVTAP_EINVAL, 0},
        {"", PVTAP_EINVAL, 0},
    };
    for (size_t i = 0; i < N_ELEMS(parse); i++) {
        int64_t t = 0;
        int rc = time_parse_iso_utc(parse[i].s, &t);
        if (rc != parse[i].rc || (rc == 0 && t != parse[i].t))
            fail_msg("case \"%s\": rc %d t %lld", parse[i].s, rc, (long long)t);
    }
    int64_t t;
    assert_int_equal(time_parse_iso_utc(NULL, &t), PVTAP_EINVAL);
}

/* ---------------------------------------------------------------------------
 * The 5-minute grid
 */

static void test_interval_end(void **state)
{
    (void)state;
    static const struct {
        int64_t t, end;
    } cases[] = {
        {0, 0},
        {1, 300},
        {299, 300},
        {300, 300},
        {301, 600},
        {-1, 0},
        {-299, 0},
        {-300, -300},
        {-301, -300},
        {-600, -600},
        {-601, -600},
        {1496852400, 1496852400},                 /* 16:20:00 */
        {1496852401, 1496852700},                 /* 16:20:01 -> 16:25 */
        {1496852399, 1496852400},                 /* 16:19:59 -> 16:20 */
        {1496852700 - 1, 1496852700},             /* 16:24:59 -> 16:25 */
        {INT64_MAX, INT64_MAX - INT64_MAX % 300}, /* saturates, no overflow */
        {INT64_MIN, INT64_MIN + 8},               /* -2^63 = -30744573456182586 * 300 - 8 */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t e = interval_end(cases[i].t);
        if (e != cases[i].end)
            fail_msg("interval_end(%lld) = %lld, want %lld", (long long)cases[i].t, (long long)e,
                     (long long)cases[i].end);
        assert_true(time_on_boundary(e));
    }
    /* Every second of an hour either side of the epoch: the end is the first
     * boundary at or after t, and within 300 s. */
    for (int64_t t = -3600; t <= 3600; t++) {
        int64_t e = interval_end(t);
        assert_true(time_on_boundary(e));
        assert_true(e >= t && e - t < 300);
    }
}

/* ---------------------------------------------------------------------------
 * Zones against fixed vectors
 */

static struct tz *load(const char *name)
{
    struct tz *tz = NULL;
    int rc = tz_load(name, &tz);
    if (rc != 0)
        fail_msg("tz_load(%s): %s", name, pvtap_strerror(rc));
    assert_non_null(tz);
    assert_string_equal(tz_name(tz), name);
    return tz;
}

struct zone_case {
    const char *zone;
    int64_t utc;
    int y, mo, d, h, mi, s, wday;
    int offset, dst;
};

static const struct zone_case zone_cases[] = {
    /* Los Angeles, spring forward 2017-03-12 02:00 PST -> 03:00 PDT. */
    {"America/Los_Angeles", 1489312799, 2017, 3, 12, 1, 59, 59, 0, -28800, 0},
    {"America/Los_Angeles", 1489312800, 2017, 3, 12, 3, 0, 0, 0, -25200, 1},
    /* Fall back 2017-11-05 02:00 PDT -> 01:00 PST: 01:xx shows twice. */
    {"America/Los_Angeles", 1509868800, 2017, 11, 5, 1, 0, 0, 0, -25200, 1},
    {"America/Los_Angeles", 1509872399, 2017, 11, 5, 1, 59, 59, 0, -25200, 1},
    {"America/Los_Angeles", 1509872400, 2017, 11, 5, 1, 0, 0, 0, -28800, 0},
    {"America/Los_Angeles", 1509875999, 2017, 11, 5, 1, 59, 59, 0, -28800, 0},
    {"America/Los_Angeles", 1496852400, 2017, 6, 7, 9, 20, 0, 3, -25200, 1},
    /* 2040: past the 2037 table, the footer's rule decides. */
    {"America/Los_Angeles", 2215072799, 2040, 3, 11, 1, 59, 59, 0, -28800, 0},
    {"America/Los_Angeles", 2215072800, 2040, 3, 11, 3, 0, 0, 0, -25200, 1},
    {"America/Los_Angeles", 2235632399, 2040, 11, 4, 1, 59, 59, 0, -25200, 1},
    {"America/Los_Angeles", 2235632400, 2040, 11, 4, 1, 0, 0, 0, -28800, 0},
    {"America/Los_Angeles", 4108701600, 2100, 3, 14, 3, 0, 0, 0, -25200, 1},
    /* London: BST from 01:00 UTC on the last Sundays of March and October. */
    {"Europe/London", 1490489999, 2017, 3, 26, 0, 59, 59, 0, 0, 0},
    {"Europe/London", 1490490000, 2017, 3, 26, 2, 0, 0, 0, 3600, 1},
    {"Europe/London", 1509238799, 2017, 10, 29, 1, 59, 59, 0, 3600, 1},
    {"Europe/London", 1509238800, 2017, 10, 29, 1, 0, 0, 0, 0, 0},
    {"Europe/London", 2216250000, 2040, 3, 25, 2, 0, 0, 0, 3600, 1},
    /* Sydney: southern hemisphere, DST across the new year. */
    {"Australia/Sydney", 1483228800, 2017, 1, 1, 11, 0, 0, 0, 39600, 1},
    {"Australia/Sydney", 1491062399, 2017, 4, 2, 2, 59, 59, 0, 39600, 1},
    {"Australia/Sydney", 1491062400, 2017, 4, 2, 2, 0, 0, 0, 36000, 0},
    {"Australia/Sydney", 1498867200, 2017, 7, 1, 10, 0, 0, 6, 36000, 0},
    {"Australia/Sydney", 1506787199, 2017, 10, 1, 1, 59, 59, 0, 36000, 0},
    {"Australia/Sydney", 1506787200, 2017, 10, 1, 3, 0, 0, 0, 39600, 1},
    {"Australia/Sydney", 2233152000, 2040, 10, 7, 3, 0, 0, 0, 39600, 1},
    {"Australia/Sydney", 2216822400, 2040, 4, 1, 2, 0, 0, 0, 36000, 0},
    /* Kolkata: +05:30 all year. */
    {"Asia/Kolkata", 1496852400, 2017, 6, 7, 21, 50, 0, 3, 19800, 0},
    {"Asia/Kolkata", 2208988800, 2040, 1, 1, 5, 30, 0, 0, 19800, 0},
    /* UTC. */
    {"UTC", 1496852400, 2017, 6, 7, 16, 20, 0, 3, 0, 0},
    {"Etc/UTC", -1, 1969, 12, 31, 23, 59, 59, 3, 0, 0},
};

static void test_zone_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_ELEMS(zone_cases); i++) {
        const struct zone_case *c = &zone_cases[i];
        struct tz *tz = load(c->zone);
        struct local_time lt;
        tz_to_local(tz, c->utc, &lt);
        if (lt.year != c->y || lt.month != c->mo || lt.day != c->d || lt.hour != c->h ||
            lt.minute != c->mi || lt.second != c->s || lt.wday != c->wday ||
            lt.utc_offset_s != c->offset || lt.is_dst != c->dst)
            fail_msg("%s %lld: got %04d-%02d-%02d %02d:%02d:%02d wday %d off %d dst %d", c->zone,
                     (long long)c->utc, lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second,
                     lt.wday, lt.utc_offset_s, lt.is_dst);
        tz_free(tz);
    }
}

/* Local -> UTC, including the repeated hour (earlier instant) and the gap
 * (moved forward by the gap). */
static void test_from_local(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        int y, mo, d, h, mi, s;
        int64_t utc;
    } cases[] = {
        {"America/Los_Angeles", 2017, 3, 12, 1, 59, 59, 1489312799},
        {"America/Los_Angeles", 2017, 3, 12, 2, 0, 0, 1489312800},   /* gap -> 03:00 PDT */
        {"America/Los_Angeles", 2017, 3, 12, 2, 30, 0, 1489314600},  /* gap -> 03:30 PDT */
        {"America/Los_Angeles", 2017, 3, 12, 2, 59, 59, 1489316399}, /* gap -> 03:59:59 */
        {"America/Los_Angeles", 2017, 3, 12, 3, 0, 0, 1489312800},
        {"America/Los_Angeles", 2017, 11, 5, 0, 59, 59, 1509868799},
        {"America/Los_Angeles", 2017, 11, 5, 1, 0, 0, 1509868800},   /* repeated: PDT pass */
        {"America/Los_Angeles", 2017, 11, 5, 1, 30, 0, 1509870600},  /* repeated: PDT pass */
        {"America/Los_Angeles", 2017, 11, 5, 1, 59, 59, 1509872399}, /* repeated: PDT pass */
        {"America/Los_Angeles", 2017, 11, 5, 2, 0, 0, 1509876000},
        {"America/Los_Angeles", 2017, 6, 7, 16, 20, 0, 1496877600},
        {"America/Los_Angeles", 2040, 3, 11, 2, 30, 0, 2215074600}, /* footer gap */
        {"America/Los_Angeles", 2040, 11, 4, 1, 30, 0, 2235630600}, /* footer repeat */
        {"Europe/London", 2017, 3, 26, 1, 30, 0, 1490491800},       /* gap -> 02:30 BST */
        {"Europe/London", 2017, 10, 29, 1, 30, 0, 1509237000},      /* repeated: BST pass */
        {"Australia/Sydney", 2017, 10, 1, 2, 30, 0, 1506789000},    /* gap -> 03:30 AEDT */
        {"Australia/Sydney", 2017, 4, 2, 2, 30, 0, 1491060600},     /* repeated: AEDT pass */
        {"Australia/Sydney", 2017, 1, 1, 0, 0, 0, 1483189200},
        {"Asia/Kolkata", 2017, 6, 7, 0, 0, 0, 1496773800},
        {"UTC", 2017, 6, 7, 16, 20, 0, 1496852400},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        struct tz *tz = load(cases[i].zone);
        int64_t t = tz_from_local(tz, cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi,
                                  cases[i].s);
        if (t != cases[i].utc)
            fail_msg("%s %04d-%02d-%02d %02d:%02d:%02d: got %lld want %lld", cases[i].zone,
                     cases[i].y, cases[i].mo, cases[i].d, cases[i].h, cases[i].mi, cases[i].s,
                     (long long)t, (long long)cases[i].utc);
        tz_free(tz);
    }
    /* NULL means UTC. */
    assert_int_equal(tz_from_local(NULL, 2017, 6, 7, 16, 20, 0), 1496852400);
    /* Absurd fields do not crash or overflow. */
    struct tz *tz = load("America/Los_Angeles");
    (void)tz_from_local(tz, 2147483647, 2147483647, 2147483647, 2147483647, 2147483647, 2147483647);
    (void)tz_from_local(tz, -2147483647 - 1, -2147483647 - 1, -2147483647 - 1, 0, 0, 0);
    struct local_time lt;
    tz_to_local(tz, INT64_MAX, &lt);
    tz_to_local(tz, INT64_MIN, &lt);
    (void)tz_local_date(tz, INT64_MAX);
    tz_free(tz);
}

/* ---------------------------------------------------------------------------
 * Zones against glibc, hour by hour (the test may use TZ; the library does not)
 */

static void compare_with_libc(const char *tzenv, struct tz *tz, int year)
{
    assert_int_equal(setenv("TZ", tzenv, 1), 0);
    tzset();
    int64_t from = tz_from_local(NULL, year, 1, 1, 0, 0, 0);
    int64_t to = tz_from_local(NULL, year + 1, 1, 1, 0, 0, 0);
    for (int64_t t = from; t < to; t += 3600) {
        /* On the hour and at :30 (half-hour zones, changes at odd times). */
        for (int64_t u = t; u < t + 3600; u += 1800) {
            time_t tt = (time_t)u;
            struct tm tm;
            assert_non_null(localtime_r(&tt, &tm));
            struct local_time lt;
            tz_to_local(tz, u, &lt);
            if (lt.year != tm.tm_year + 1900 || lt.month != tm.tm_mon + 1 || lt.day != tm.tm_mday ||
                lt.hour != tm.tm_hour || lt.minute != tm.tm_min || lt.second != tm.tm_sec ||
                lt.wday != tm.tm_wday || lt.utc_offset_s != tm.tm_gmtoff ||
                lt.is_dst != (tm.tm_isdst > 0))
                fail_msg("%s at %lld: ours %04d-%02d-%02d %02d:%02d off %d dst %d, libc "
                         "%04d-%02d-%02d %02d:%02d off %ld dst %d",
                         tzenv, (long long)u, lt.year, lt.month, lt.day, lt.hour, lt.minute,
                         lt.utc_offset_s, lt.is_dst, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_gmtoff, tm.tm_isdst);
            /* the abbreviation, from the table and from the footer alike */
            if (strcmp(lt.abbr, tm.tm_zone) != 0)
                fail_msg("%s at %lld: abbreviation %s, libc %s", tzenv, (long long)u, lt.abbr,
                         tm.tm_zone);
            /* And back: the wall time maps to u, or (repeated hour) to an
             * earlier instant showing the same wall time. */
            int64_t back =
                tz_from_local(tz, lt.year, lt.month, lt.day, lt.hour, lt.minute, lt.second);
            if (back != u) {
                struct local_time lb;
                tz_to_local(tz, back, &lb);
                if (!(back < u && lb.hour == lt.hour && lb.minute == lt.minute && lb.day == lt.day))
                    fail_msg("%s: local of %lld maps back to %lld", tzenv, (long long)u,
                             (long long)back);
            }
        }
    }
    unsetenv("TZ");
    tzset();
}

static void test_against_libc(void **state)
{
    (void)state;
    static const char *zones[] = {"America/Los_Angeles", "Europe/London", "Australia/Sydney",
                                  "Asia/Kolkata"};
    static const int years[] = {2017, 2040};
    unsetenv("TZDIR");
    for (size_t z = 0; z < N_ELEMS(zones); z++) {
        struct tz *tz = load(zones[z]);
        for (size_t y = 0; y < N_ELEMS(years); y++)
            compare_with_libc(zones[z], tz, years[y]);
        tz_free(tz);
    }
}

/* POSIX TZ strings, as in TZif footers: every form of rule date and time. */
static void test_posix_against_libc(void **state)
{
    (void)state;
    static const char *specs[] = {
        "PST8PDT,M3.2.0,M11.1.0",
        "GMT0BST,M3.5.0/1,M10.5.0",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",
        "IST-5:30",
        "<+03>-3",
        "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",     /* negative rule times (RFC 8536) */
        "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", /* half-hour DST (Lord Howe) */
        "EST5EDT,J60/2,J300/2",                 /* Jn: Feb 29 never counted */
        "EST5EDT,59/2,299/2",                   /* n: Feb 29 counted */
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "NZST-12NZDT,M9.5.0,M4.1.0/3",
        "AAA3:30BBB2:15:10,M4.1.1/1:30:15,M10.5.6/23:59:59",
        "EST5EDT",                                 /* no rule: US rules */
        "<-0330>3:30<-0230>,M3.2.0/26,M11.1.0/25", /* rule times past 24 h */
    };
    static const int years[] = {2016, 2017, 2040};
    for (size_t i = 0; i < N_ELEMS(specs); i++) {
        struct tz *tz = NULL;
        int rc = tz_parse_posix(specs[i], &tz);
        if (rc != 0)
            fail_msg("tz_parse_posix(%s): %d", specs[i], rc);
        for (size_t y = 0; y < N_ELEMS(years); y++)
            compare_with_libc(specs[i], tz, years[y]);
        tz_free(tz);
    }
}

static void test_posix_special(void **state)
{
    (void)state;
    /* DST all year: the rule's end meets the next start. */
    struct tz *tz = NULL;
    assert_int_equal(tz_parse_posix("EST5EDT,0/0,J365/25", &tz), 0);
    for (int64_t t = 1483228800 - 86400 * 3; t < 1483228800 + 86400 * 800; t += 1800) {
        struct local_time lt;
        tz_to_local(tz, t, &lt);
        if (lt.utc_offset_s != -4 * 3600 || !lt.is_dst)
            fail_msg("all-year DST at %lld: off %d", (long long)t, lt.utc_offset_s);
    }
    tz_free(tz);

    static const char *bad[] = {
        "",
        "PST",            /* no offset */
        "PS8",            /* name too short */
        "PST8PDT,M3.2.0", /* no end rule */
        "PST8PDT,M13.2.0,M11.1.0",
        "PST8PDT,M3.6.0,M11.1.0",
        "PST8PDT,M3.2.7,M11.1.0",
        "PST8PDT,M3.2.0/168,M11.1.0",
        "PST8PDT,M3.2.0,M11.1.0x",
        "PST8PDT,M3.2,M11.1.0",
        "PST8PDT,M3.2.",
        "PST25",
        "PST8:60",
        "<+03-3",
        "<+3>-3", /* quoted name too short */
        "EST5EDT,J0,J365",
        "EST5EDT,366,0",
        "EST5EDT,,",
        "8PST",
        "PST8PDT;",
    };
    for (size_t i = 0; i < N_ELEMS(bad); i++) {
        tz = (struct tz *)&tz; /* must be reset to NULL */
        int rc = tz_parse_posix(bad[i], &tz);
        if (rc != PVTAP_EINVAL || tz != NULL)
            fail_msg("tz_parse_posix(\"%s\") accepted", bad[i]);
    }
    assert_int_equal(tz_parse_posix(NULL, &tz), PVTAP_EINVAL);
}

/* ---------------------------------------------------------------------------
 * Calendar date of an instant and of an interval
 */

static void test_local_date(void **state)
{
    (void)state;
    struct tz *la = load("America/Los_Angeles");
    /* Local midnight 2017-06-08 PDT is 07:00Z. */
    static const struct {
        int64_t t;
        int date;
    } cases[] = {
        {1496905200 - 300, 20170607}, /* interval ending 23:55 */
        {1496905200 - 1, 20170607},
        {1496905200, 20170608}, /* interval ending at local 00:00: the new day */
        {1496905200 + 1, 20170608},
        {1496818800, 20170607}, /* 2017-06-07 00:00 PDT */
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++)
        assert_int_equal(tz_local_date(la, cases[i].t), cases[i].date);
    /* The interval of a sample at 23:58 local ends at 00:00: new day; one at
     * 00:00:01 ends at 00:05, same new day; one at 23:55 ends then, old day. */
    assert_int_equal(tz_local_date(la, interval_end(1496905200 - 120)), 20170608);
    assert_int_equal(tz_local_date(la, interval_end(1496905200 + 1)), 20170608);
    assert_int_equal(tz_local_date(la, interval_end(1496905200 - 300)), 20170607);
    /* Fall-back day: 01:00-02:00 twice, still 2017-11-05. */
    assert_int_equal(tz_local_date(la, 1509872400), 20171105);
    assert_int_equal(tz_local_date(la, 1509868800), 20171105);
    tz_free(la);
    assert_int_equal(tz_local_date(NULL, 1496852400), 20170607);
    struct tz *syd = load("Australia/Sydney");
    assert_int_equal(tz_local_date(syd, 1496852400), 20170608); /* 02:20 AEST next day */
    tz_free(syd);
}

/* ---------------------------------------------------------------------------
 * Command-line times
 */

static void test_parse_cli(void **state)
{
    (void)state;
    struct tz *la = load("America/Los_Angeles");
    const int64_t now = 1496852400;
    static const struct {
        const char *s;
        int use_tz;
        int rc;
        int64_t t;
    } cases[] = {
        {"2017-06-07", 1, 0, 1496818800}, /* local midnight PDT */
        {"2017-06-07", 0, 0, 1496793600}, /* UTC midnight */
        {"2017-06-07T16:20", 1, 0, 1496877600},
        {"2017-06-07T16:20:00", 1, 0, 1496877600},
        {"2017-06-07T16:20:30", 1, 0, 1496877630},
        {"2017-06-07T16:20:00Z", 1, 0, 1496852400},
        {"2017-06-07T16:20Z", 1, 0, 1496852400},
        {"2017-01-15", 1, 0, 1484467200},       /* PST */
        {"2017-03-12T02:30", 1, 0, 1489314600}, /* gap: forward to 03:30 PDT */
        {"2017-11-05T01:30", 1, 0, 1509870600}, /* repeated: the earlier */
        {"-1d", 1, 0, 1496852400 - 86400},
        {"-6h", 1, 0, 1496852400 - 6 * 3600},
        {"-30m", 1, 0, 1496852400 - 1800},
        {"-90s", 1, 0, 1496852400 - 90},
        {"-0d", 1, 0, 1496852400},
        {"-400d", 0, 0, 1496852400 - 400 * 86400},
        {"", 1, PVTAP_EINVAL, 0},
        {"-", 1, PVTAP_EINVAL, 0},
        {"-1", 1, PVTAP_EINVAL, 0},
        {"-d", 1, PVTAP_EINVAL, 0},
        {"-1w", 1, PVTAP_EINVAL, 0},
        {"-1dd", 1, PVTAP_EINVAL, 0},
        {"-1d ", 1, PVTAP_EINVAL, 0},
        {"--1d", 1, PVTAP_EINVAL, 0},
        {"-1.5h", 1, PVTAP_EINVAL, 0},
        {"-9999999999999d", 1, PVTAP_EINVAL, 0},
        {"1d", 1, PVTAP_EINVAL, 0},
        {"+1d", 1, PVTAP_EINVAL, 0},
        {"2017-06-07Z", 1, PVTAP_EINVAL, 0},
        {"2017-6-7", 1, PVTAP_EINVAL, 0},
        {"2017-06-07T16", 1, PVTAP_EINVAL, 0},
        {"2017-06-07T25:00", 1, PVTAP_EINVAL, 0},
        {"2017-02-29", 1, PVTAP_EINVAL, 0},
        {"2017-06-07T16:20:00+02:00", 1, PVTAP_EINVAL, 0},
        {"2017-06-07 16:20", 1, PVTAP_EINVAL, 0},
        {" 2017-06-07", 1, PVTAP_EINVAL, 0},
        {"yesterday", 1, PVTAP_EINVAL, 0},
        {"20170607", 1, PVTAP_EINVAL, 0},
    };
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        int64_t t = 777;
        int rc = time_parse_cli(cases[i].s, cases[i].use_tz ? la : NULL, now, &t);
        if (rc != cases[i].rc || (rc == 0 && t != cases[i].t))
            fail_msg("case \"%s\": rc %d t %lld, want rc %d t %lld", cases[i].s, rc, (long long)t,
                     cases[i].rc, (long long)cases[i].t);
        if (rc != 0)
            assert_int_equal(t, 777);
    }
    int64_t t;
    assert_int_equal(time_parse_cli(NULL, la, now, &t), PVTAP_EINVAL);
    assert_int_equal(time_parse_cli("-1d", la, INT64_MIN, &t), PVTAP_EINVAL); /* underflow */
    tz_free(la);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t a = time_mono_ms();
    struct timespec ts = {0, 20 * 1000000};
    nanosleep(&ts, NULL);
    int64_t b = time_mono_ms();
    assert_true(b - a >= 19 && b - a < 5000);
    int64_t now = time_now_s();
    assert_true(now > 1496852400); /* after 2017 */
    assert_true(llabs(now - (int64_t)time(NULL)) <= 1);
}

/* ---------------------------------------------------------------------------
 * The TZif reader on synthetic files (RFC 8536)
 */

struct bytes {
    uint8_t b[4096];
    size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof o->b);
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_be(struct bytes *o, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++) {
        uint8_t c = (uint8_t)(v >> (8 * (size - 1 - i)));
        put(o, &c, 1);
    }
}

struct tzif_spec {
    char version; /* 0 (v1), '2', '3', '4' */
    size_t ntrans, ntypes, nleap;
    int64_t trans[4];
    uint8_t idx[4];
    int32_t utoff[3];
    uint8_t isdst[3];
    int32_t v1_bias;    /* added to the v1 block's offsets: shows which block was read */
    const char *footer; /* NULL: none */
};

static void put_block(struct bytes *o, const struct tzif_spec *s, unsigned tsize, int32_t bias)
{
    static const uint8_t zeros[15] = {0};
    put(o, "TZif", 4);
    put(o, &s->version, 1);
    put(o, zeros, 15);
    put_be(o, s->ntypes, 4); /* isutcnt */
    put_be(o, s->ntypes, 4); /* isstdcnt */
    put_be(o, s->nleap, 4);
    put_be(o, s->ntrans, 4);
    put_be(o, s->ntypes, 4);
    put_be(o, 4, 4); /* charcnt */
    for (size_t i = 0; i < s->ntrans; i++)
        put_be(o, (uint64_t)s->trans[i], tsize);
    put(o, s->idx, s->ntrans);
    for (size_t i = 0; i < s->ntypes; i++) {
        put_be(o, (uint32_t)(s->utoff[i] + bias), 4);
        put(o, &s->isdst[i], 1);
        put(o, zeros, 1);
    }
    put(o, "XYZ", 4);
    for (size_t i = 0; i < s->nleap; i++) {
        put_be(o, (uint64_t)(78796800 + 15778800 * (int64_t)i), tsize);
        put_be(o, i + 1, 4);
    }
    put(o, zeros, s->ntypes);
    put(o, zeros, s->ntypes);
}

static void build_tzif(struct bytes *o, const struct tzif_spec *s)
{
    o->n = 0;
    put_block(o, s, 4, s->v1_bias);
    if (s->version == 0)
        return;
    put_block(o, s, 8, 0);
    if (s->footer) {
        put(o, "\n", 1);
        put(o, s->footer, strlen(s->footer));
        put(o, "\n", 1);
    }
}

static char g_dir[256];

static void write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int setup_dir(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/pvtap-tz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        return -1;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/Test", g_dir);
    if (mkdir(sub, 0700) != 0)
        return -1;
    return setenv("TZDIR", g_dir, 1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown_dir(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    return nftw(g_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* A CET-like zone: two table transitions, then the footer. */
static const struct tzif_spec base_spec = {
    .version = '2',
    .ntrans = 2,
    .ntypes = 2,
    .nleap = 2,
    .trans = {1000000000, 1100000000},
    .idx = {1, 0},
    .utoff = {3600, 7200},
    .isdst = {0, 1},
    .v1_bias = 60,
    .footer = "<+01>-1<+02>,M3.5.0,M10.5.0/3",
};

static int offset_at(const struct tz *tz, int64_t t)
{
    struct local_time lt;
    tz_to_local(tz, t, &lt);
    return lt.utc_offset_s;
}

static void test_tzif_versions(void **state)
{
    (void)state;
    static const char versions[] = {'2', '3', '4'};
    for (size_t v = 0; v < N_ELEMS(versions); v++) {
        struct tzif_spec s = base_spec;
        s.version = versions[v];
        struct bytes b;
        build_tzif(&b, &s);
        write_file("Test/Zone", b.b, b.n);
        struct tz *tz = load("Test/Zone");
        assert_int_equal(offset_at(tz, 0), 3600); /* before: type 0 */
        assert_int_equal(offset_at(tz, 999999999), 3600);
        assert_int_equal(offset_at(tz, 1000000000), 7200); /* 64-bit block, not v1's */
        assert_int_equal(offset_at(tz, 1099999999), 7200);
        assert_int_equal(offset_at(tz, 1100000000), 3600);
        assert_int_equal(offset_at(tz, 2225000000), 7200); /* 2040-07: footer DST */
        assert_int_equal(offset_at(tz, 2209000000), 3600); /* 2040-01: footer std */
        tz_free(tz);
    }

    /* The same bytes from memory. */
    {
        struct bytes m;
        build_tzif(&m, &base_spec);
        struct tz *mem = NULL;
        assert_int_equal(tz_parse_tzif(m.b, m.n, "Mem/Zone", &mem), 0);
        assert_string_equal(tz_name(mem), "Mem/Zone");
        assert_int_equal(offset_at(mem, 1000000000), 7200);
        tz_free(mem);
        assert_int_equal(tz_parse_tzif("TZi", 3, "x", &mem), PVTAP_ECORRUPT);
        assert_null(mem);
        assert_int_equal(tz_parse_tzif("not a zone", 10, "x", &mem), PVTAP_ECORRUPT);
        assert_int_equal(tz_parse_tzif(NULL, 0, "x", &mem), PVTAP_EINVAL);
        assert_int_equal(tz_parse_tzif(m.b, m.n, NULL, &mem), PVTAP_EINVAL);
    }

    /* Version 1: the 32-bit block is all there is; after the last transition
     * its type stays. */
    struct tzif_spec s = base_spec;
    s.version = 0;
    s.v1_bias = 0;
    struct bytes b;
    build_tzif(&b, &s);
    write_file("Test/V1", b.b, b.n);
    struct tz *tz = load("Test/V1");
    assert_int_equal(offset_at(tz, 1000000000), 7200);
    assert_int_equal(offset_at(tz, 2225000000), 3600);
    assert_int_equal(tz_from_local(tz, 2040, 7, 1, 12, 0, 0), 2224753200);
    tz_free(tz);

    /* v2 without a footer string ("\n\n", as right/ zones have) and with no
     * footer at all: the last type stays. */
    s = base_spec;
    s.footer = "";
    build_tzif(&b, &s);
    write_file("Test/Empty", b.b, b.n);
    tz = load("Test/Empty");
    assert_int_equal(offset_at(tz, 2225000000), 3600);
    tz_free(tz);
    s.footer = NULL;
    build_tzif(&b, &s);
    write_file("Test/NoFooter", b.b, b.n);
    tz = load("Test/NoFooter");
    assert_int_equal(offset_at(tz, 2225000000), 3600);
    tz_free(tz);

    /* No transitions: the footer rules all time. */
    s = base_spec;
    s.ntrans = 0;
    build_tzif(&b, &s);
    write_file("Test/Rule", b.b, b.n);
    tz = load("Test/Rule");
    assert_int_equal(offset_at(tz, 1498867200), 7200); /* 2017-07 */
    assert_int_equal(offset_at(tz, 1483228800), 3600); /* 2017-01 */
    tz_free(tz);

    /* The real right/ zones carry leap-second records: skipped, still load. */
    unsetenv("TZDIR");
    struct tz *right = NULL;
    int rc = tz_load("right/America/Los_Angeles", &right);
    if (rc == 0) {
        assert_int_equal(offset_at(right, 1496852400), -25200);
        tz_free(right);
    } else {
        assert_int_equal(rc, PVTAP_ENOTFOUND); /* not installed here */
    }
    setenv("TZDIR", g_dir, 1);
}

static void test_tzif_corrupt(void **state)
{
    (void)state;
    struct bytes b;
    struct tz *tz;

    struct {
        const char *what;
        struct tzif_spec s;
        size_t poke_at; /* 0: none */
        uint8_t poke;
    } cases[] = {
        {"version 5", base_spec, 4, '5'},
        {"version 1 digit", base_spec, 4, '1'},
        {"bad magic", base_spec, 3, 'x'},
        {"typecnt 0", base_spec, 36 + 3, 0}, /* v1 header's typecnt low byte */
        {"charcnt 0", base_spec, 40 + 3, 0},
        {"isutcnt 1", base_spec, 20 + 3, 1}, /* neither 0 nor typecnt */
    };
    cases[0].s.version = '5';
    for (size_t i = 0; i < N_ELEMS(cases); i++) {
        build_tzif(&b, &cases[i].s);
        if (cases[i].poke_at)
            b.b[cases[i].poke_at] = cases[i].poke;
        write_file("Test/Bad", b.b, b.n);
        tz = (struct tz *)&b;
        int rc = tz_load("Test/Bad", &tz);
        if (rc != PVTAP_ECORRUPT || tz != NULL)
            fail_msg("%s: rc %d", cases[i].what, rc);
    }

    /* Defects in the 64-bit block, found through its own offsets. */
    struct tzif_spec s = base_spec;
    build_tzif(&b, &s);
    size_t v1 = 44 + 2 * 4 + 2 + 2 * 6 + 4 + 2 * 8 + 2 + 2; /* 32-bit block size */
    size_t d2 = v1 + 44;                                    /* 64-bit data */
    struct {
        const char *what;
        size_t at;
        uint8_t v;
    } pokes[] = {
        {"descending transitions", d2 + 8 + 4, 0}, /* second time -> below the first */
        {"type index out of range", d2 + 16, 2},   {"isdst 2", d2 + 18 + 4, 2},
        {"desigidx past charcnt", d2 + 18 + 5, 4}, {"second magic", v1, 'X'},
        {"second header version 1", v1 + 4, 0},    {"utoff beyond 26 h", d2 + 18, 0x7f},
    };
    for (size_t i = 0; i < N_ELEMS(pokes); i++) {
        struct bytes c = b;
        c.b[pokes[i].at] = pokes[i].v;
        write_file("Test/Bad", c.b, c.n);
        tz = NULL;
        int rc = tz_load("Test/Bad", &tz);
        if (rc != PVTAP_ECORRUPT)
            fail_msg("%s: rc %d", pokes[i].what, rc);
    }

    static const char *footers[] = {"junk", "PST8PDT,M3.2.0", "PST8\nPDT", "<+01>-1<+02>,M3.5.0,"};
    for (size_t i = 0; i < N_ELEMS(footers); i++) {
        s = base_spec;
        s.footer = footers[i];
        build_tzif(&b, &s);
        write_file("Test/Bad", b.b, b.n);
        assert_int_equal(tz_load("Test/Bad", &tz), PVTAP_ECORRUPT);
    }

    /* Every truncation of a valid file is refused cleanly: all but the one
     * that cuts exactly the whole footer off (a file without one is valid). */
    s = base_spec;
    build_tzif(&b, &s);
    size_t footer_len = strlen(s.footer) + 2;
    for (size_t n = 0; n < b.n; n++) {
        write_file("Test/Short", b.b, n);
        tz = NULL;
        int rc = tz_load("Test/Short", &tz);
        if (n == b.n - footer_len) {
            assert_int_equal(rc, 0);
            tz_free(tz);
        } else if (rc != PVTAP_ECORRUPT) {
            fail_msg("truncated to %zu of %zu: rc %d", n, b.n, rc);
        }
    }

    /* Random damage: any answer, never a crash (ASan/UBSan watch). */
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 3000; i++) {
        struct bytes c = b;
        for (int k = 0; k < 1 + i % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.b[x % c.n] = (uint8_t)(x >> 32);
        }
        write_file("Test/Fuzz", c.b, c.n);
        tz = NULL;
        if (tz_load("Test/Fuzz", &tz) == 0) {
            struct local_time lt;
            for (int64_t t = -4000000000; t < 4000000000; t += 123456789)
                tz_to_local(tz, t, &lt);
            (void)tz_from_local(tz, 2040, 3, 30, 2, 30, 0);
            tz_free(tz);
        }
    }
}

static void test_tz_names(void **state)
{
    (void)state;
    struct tz *tz = NULL;

    /* Not a TZif file inside the zone directory: corrupt. */
    write_file("Test/Text", "just some text\n", 15);
    assert_int_equal(tz_load("Test/Text", &tz), PVTAP_ECORRUPT);
    assert_null(tz);
    write_file("Test/Empty0", "", 0);
    assert_int_equal(tz_load("Test/Empty0", &tz), PVTAP_ECORRUPT);

    assert_int_equal(tz_load("Test/Nowhere", &tz), PVTAP_ENOTFOUND);
    assert_int_equal(tz_load("Mars/Olympus_Mons", &tz), PVTAP_ENOTFOUND);
    assert_int_equal(tz_load("Test", &tz), PVTAP_ENOTFOUND); /* a directory */
    assert_int_equal(tz_load("Test/Text/x", &tz), PVTAP_ENOTFOUND);
    assert_int_equal(tz_load("", &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load(NULL, &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("America/Los\nAngeles", &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("UTC", NULL), PVTAP_EINVAL);

    /* UTC needs no file: this TZDIR has none. */
    tz = load("UTC");
    assert_int_equal(offset_at(tz, 1496852400), 0);
    tz_free(tz);
    tz = load("Etc/UTC");
    assert_int_equal(tz_from_local(tz, 2017, 6, 7, 16, 20, 0), 1496852400);
    tz_free(tz);

    /* Names reaching outside the zone directory: only TZif files. */
    char path[600];
    snprintf(path, sizeof path, "%s/Test/Text", g_dir);
    assert_int_equal(tz_load(path, &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("../../../../../../../etc/passwd", &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("Test/../Test/Text", &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("/dev/null", &tz), PVTAP_EINVAL);
    assert_int_equal(tz_load("/nonexistent/zone", &tz), PVTAP_ENOTFOUND);

    struct bytes b;
    build_tzif(&b, &base_spec);
    write_file("Test/Zone2", b.b, b.n);
    snprintf(path, sizeof path, "%s/Test/Zone2", g_dir);
    tz = load(path);
    assert_int_equal(offset_at(tz, 1000000000), 7200);
    tz_free(tz);
    tz = load("Test/../Test/Zone2");
    tz_free(tz);
    if (access("/usr/share/zoneinfo/Asia/Kolkata", R_OK) == 0) {
        tz = load("/usr/share/zoneinfo/Asia/Kolkata");
        assert_int_equal(offset_at(tz, 1496852400), 19800);
        tz_free(tz);
    }
    assert_string_equal(tz_name(NULL), "UTC");
    tz_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_interval_end),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_zone_vectors),
        cmocka_unit_test(test_from_local),
        cmocka_unit_test(test_local_date),
        cmocka_unit_test(test_parse_cli),
        cmocka_unit_test(test_against_libc),
        cmocka_unit_test(test_posix_against_libc),
        cmocka_unit_test(test_posix_special),
        cmocka_unit_test_setup_teardown(test_tzif_versions, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_tzif_corrupt, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_tz_names, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
