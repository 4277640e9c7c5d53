/* Unit tests of the interval engine: one table of cases per rule (R1-R6), then order-independence
 * properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "util/err.h"

/* the case tables leave the trailing `poll` member out: it is 0 unless said */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* 2017-06-07T00:00:00Z: tests count seconds from here */
#define T0     1496793600LL
#define M(min) ((min)*60)

enum {
    INV = DEVICE_INVERTER,
    NETM = DEVICE_NET_METER,
    PRODM = DEVICE_PRODUCTION_METER,
    CONSM = DEVICE_CONSUMPTION_METER
};
enum {
    LIFE = Q_ENERGY_LIFETIME_KWH,
    NET = Q_ENERGY_NET_LIFETIME_KWH,
    IMP = Q_ENERGY_IMPORT_LIFETIME_KWH,
    EXP = Q_ENERGY_EXPORT_LIFETIME_KWH,
    PW = Q_POWER_W
};
/* the site's interpretation in a case (0: net, auto) */
enum {
    CM_NET = ENGINE_CONSUMPTION_NET,
    CM_GROSS = ENGINE_CONSUMPTION_GROSS,
    CM_NONE = ENGINE_CONSUMPTION_NONE
};
enum {
    P_AUTO = ENGINE_PRODUCTION_AUTO,
    P_METER = ENGINE_PRODUCTION_METER,
    P_INV = ENGINE_PRODUCTION_INVERTERS
};

struct rec {
    const char *dev;
    int kind;
    int q;
    int64_t t_s; /* seconds after T0 */
    double v;
    int poll; /* CLOCK_POLL instead of CLOCK_RECORD */
};

struct ecase {
    const char *name;
    double max_power_kW; /* 0: default */
    struct rec recs[24];
    const char *expect; /* the CSV rows (no header), each ending in \n */
    int cm, prod;       /* enum engine_consumption, enum engine_production */
};

static void fmt_time(int64_t t, char *out, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_wh(char *out, size_t n, bool has, double wh)
{
    if (has)
        snprintf(out, n, "%.1f", engine_round_wh(wh));
    else
        out[0] = '\0';
}

/* The engine's rows of a series as the CSV of `pvtap replay`, into buf. */
static void rows_csv(const struct engine *e, const char *series, char *buf, size_t size)
{
    const struct interval_row *rows;
    size_t n, len = 0;
    engine_rows(e, series, &rows, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char t[32], p[32], nt[32], c[32], f[64];
        fmt_time(rows[i].interval_end, t, sizeof t);
        fmt_wh(p, sizeof p, rows[i].has & IHAS_PRODUCTION, rows[i].production_wh);
        fmt_wh(nt, sizeof nt, rows[i].has & IHAS_NET, rows[i].net_wh);
        fmt_wh(c, sizeof c, rows[i].has & IHAS_CONSUMPTION, rows[i].consumption_wh);
        engine_flags_format(rows[i].flags, f, sizeof f);
        int w =
            snprintf(buf + len, size - len, "%s,%s,%s,%s,%s,%s\n", t, rows[i].series, p, nt, c, f);
        assert_true(w > 0 && (size_t)w < size - len);
        len += (size_t)w;
    }
}

static struct reading mkreading(const struct rec *r, const char *series)
{
    struct reading rd = {0};
    rd.source = "test";
    rd.series = series;
    snprintf(rd.device, sizeof rd.device, "%s", r->dev);
    rd.kind = (enum device_kind)r->kind;
    rd.q = (enum quantity)r->q;
    rd.time = T0 + r->t_s;
    rd.clock = r->poll ? CLOCK_POLL : CLOCK_RECORD;
    rd.value = r->v;
    return rd;
}

static struct engine *new_engine_as(double max_kW, int cm, int prod)
{
    struct engine_params p;
    engine_params_default(&p);
    if (max_kW > 0)
        p.max_power_kW = max_kW;
    p.consumption_meter = (enum engine_consumption)cm;
    p.production = (enum engine_production)prod;
    struct engine *e = engine_new(&p);
    assert_non_null(e);
    return e;
}

static struct engine *new_engine(double max_kW)
{
    return new_engine_as(max_kW, CM_NET, P_AUTO);
}

static void run_case(const struct ecase *c)
{
    struct engine *e = new_engine_as(c->max_power_kW, c->cm, c->prod);
    for (size_t i = 0; i < sizeof c->recs / sizeof c->recs[0] && c->recs[i].dev; i++) {
        struct reading rd = mkreading(&c->recs[i], "sniff");
        assert_int_equal(engine_add(e, &rd), 0);
    }
    const struct interval_row *rows;
    size_t n;
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    char got[8192];
    rows_csv(e, "sniff", got, sizeof got);
    if (strcmp(got, c->expect) != 0)
        fail_msg("case %s:\n--- expected\n%s--- got\n%s", c->name, c->expect, got);
    engine_free(e);
}

/* ---- R1, R4, R6: differences, sums, consumption, first record -------------- */

static const struct ecase basic_cases[] = {
    {"first record only sets the base", 0, {{"i1", INV, LIFE, M(5), 10.0}}, ""},
    {"one inverter, k=1",
     0,
     {{"i1", INV, LIFE, M(5), 10.0}, {"i1", INV, LIFE, M(10), 10.1234}},
     "2017-06-07T00:10:00Z,sniff,123.4,,,\n"},
    {"two inverters sum, net meter, consumption = production + net",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.1},
      {"i2", INV, LIFE, M(5), 20.0},
      {"i2", INV, LIFE, M(10), 20.05},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 2.9}},
     "2017-06-07T00:10:00Z,sniff,150.0,-100.0,50.0,\n"},
    {"net only: production and consumption empty",
     0,
     {{"m1c", NETM, NET, M(5), 3.0}, {"m1c", NETM, NET, M(10), 3.25}},
     "2017-06-07T00:10:00Z,sniff,,250.0,,\n"},
    {"production meter: the site's production (site.production auto)",
     0,
     {{"m1p", PRODM, NET, M(5), 3.0}, {"m1p", PRODM, NET, M(10), 3.25}},
     "2017-06-07T00:10:00Z,sniff,250.0,,,\n"},
    {"production meter does not enter intervals under \"inverters\"",
     0,
     {{"m1p", PRODM, NET, M(5), 3.0}, {"m1p", PRODM, NET, M(10), 3.25}},
     "",
     CM_NET,
     P_INV},
    {"import/export counters alone make no row",
     0,
     {{"m1c", NETM, IMP, M(5), 3.0}, {"m1c", NETM, IMP, M(10), 3.25}},
     ""},
    {"a device that starts later contributes from its second record",
     0,
     {{"i1", INV, LIFE, M(5), 1.0},
      {"i1", INV, LIFE, M(10), 1.1},
      {"i1", INV, LIFE, M(15), 1.2},
      {"i2", INV, LIFE, M(10), 5.0},
      {"i2", INV, LIFE, M(15), 5.5}},
     "2017-06-07T00:10:00Z,sniff,100.0,,,\n2017-06-07T00:15:00Z,sniff,600.0,,,\n"},
    {"midnight: the interval ending 00:00 is an ordinary row",
     0,
     {{"i1", INV, LIFE, -M(5), 1.0}, {"i1", INV, LIFE, 0, 1.01}, {"i1", INV, LIFE, M(5), 1.02}},
     "2017-06-07T00:00:00Z,sniff,10.0,,,\n2017-06-07T00:05:00Z,sniff,10.0,,,\n"},
    {"rounding: float noise snaps, half away from zero, no -0.0",
     0,
     {{"i1", INV, LIFE, M(5), 0.1},
      {"i1", INV, LIFE, M(10), 0.10025},
      {"m1c", NETM, NET, M(5), 0.3},
      {"m1c", NETM, NET, M(10), 0.29975},
      {"m1c", NETM, NET, M(15), 0.29975},
      {"i1", INV, LIFE, M(15), 0.10025}},
     "2017-06-07T00:10:00Z,sniff,0.3,-0.3,0.0,\n2017-06-07T00:15:00Z,sniff,0.0,0.0,0.0,\n"},
    {"net meter may go down (export) without a reset",
     0,
     {{"m1c", NETM, NET, M(5), 10.0}, {"m1c", NETM, NET, M(10), 9.2}},
     "2017-06-07T00:10:00Z,sniff,,-800.0,,\n"},
};

/* ---- site topologies: gross / no consumption CTs / production CTs ---------- */

static const struct ecase topology_cases[] = {
    {"gross: the 'c' counter is consumption, net = consumption - production",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,150.0,50.0,200.0,\n",
     CM_GROSS},
    {"gross: exporting makes net negative",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.5},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,500.0,-300.0,200.0,\n",
     CM_GROSS},
    {"gross: a decrease is a counter reset",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.1},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 2.9}},
     "2017-06-07T00:10:00Z,sniff,100.0,-100.0,0.0,counter_reset\n",
     CM_GROSS},
    {"gross without production (inverters asleep): consumption only",
     0,
     {{"m1c", NETM, NET, M(5), 3.0}, {"m1c", NETM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,,,200.0,\n",
     CM_GROSS},
    {"a consumption meter is gross whatever the setting",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1c", CONSM, NET, M(5), 3.0},
      {"m1c", CONSM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,150.0,50.0,200.0,\n"},
    {"none: consumption meters enter no interval",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 3.2},
      {"m2c", CONSM, NET, M(5), 3.0},
      {"m2c", CONSM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,\n",
     CM_NONE},
    {"not installed: counter 0 and power 0 enter no interval (never 0 Wh)",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1c", NETM, NET, M(5), 0.0},
      {"m1c", NETM, PW, M(5), 0.0},
      {"m1c", NETM, NET, M(10), 0.0},
      {"m1c", NETM, PW, M(10), 0.0}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,\n"},
    {"not installed, gross: no consumption either",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1c", NETM, NET, M(5), 0.0},
      {"m1c", NETM, NET, M(10), 0.0}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,\n",
     CM_GROSS},
    {"a counter at exactly 0 with power is a value (power after the counter)",
     0,
     {{"m1c", NETM, NET, M(5), 0.0},
      {"m1c", NETM, NET, M(10), 0.1},
      {"m1c", NETM, PW, M(10), 1200.0},
      {"m1c", NETM, PW, M(5), -40.0}},
     "2017-06-07T00:10:00Z,sniff,,100.0,,\n"},
    {"a polled meter's 0 without power: no interval",
     0,
     {{"w", NETM, NET, M(5), 0.0, 1},
      {"w", NETM, PW, M(5), 0.0, 1},
      {"w", NETM, NET, M(10), 0.0, 1}},
     ""},
    {"production auto: a meter at 0 is not installed: the inverters",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1p", PRODM, NET, M(5), 0.0},
      {"m1p", PRODM, PW, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 0.0},
      {"m1p", PRODM, PW, M(10), 5.0}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,\n"},
    {"production auto: the meter wins over the inverters; gross net from it",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1p", PRODM, NET, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 5.147},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 3.2}},
     "2017-06-07T00:10:00Z,sniff,147.0,53.0,200.0,\n",
     CM_GROSS},
    {"production auto, net: consumption = meter production + net",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1p", PRODM, NET, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 5.147},
      {"m1c", NETM, NET, M(5), 3.0},
      {"m1c", NETM, NET, M(10), 2.9}},
     "2017-06-07T00:10:00Z,sniff,147.0,-100.0,47.0,\n"},
    {"production auto: the inverters where the meter has no data",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"i1", INV, LIFE, M(15), 10.25},
      {"m1p", PRODM, NET, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 5.147}},
     "2017-06-07T00:10:00Z,sniff,147.0,,,\n2017-06-07T00:15:00Z,sniff,100.0,,,\n"},
    {"production meter: the inverters never count",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"i1", INV, LIFE, M(15), 10.25},
      {"m1p", PRODM, NET, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 5.147}},
     "2017-06-07T00:10:00Z,sniff,147.0,,,\n",
     CM_NET,
     P_METER},
    {"production inverters: the meter never counts",
     0,
     {{"i1", INV, LIFE, M(5), 10.0},
      {"i1", INV, LIFE, M(10), 10.15},
      {"m1p", PRODM, NET, M(5), 5.0},
      {"m1p", PRODM, NET, M(10), 5.147}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,\n",
     CM_NET,
     P_INV},
};

/* ---- R2: splits, gaps, quiet stretches, resets ----------------------------- */

static const struct ecase gap_cases[] = {
    {"k=2 split",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(15), 1.3}},
     "2017-06-07T00:10:00Z,sniff,150.0,,,interpolated\n"
     "2017-06-07T00:15:00Z,sniff,150.0,,,interpolated\n"},
    {"k=3 split, odd share rounds",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(20), 1.1}},
     "2017-06-07T00:10:00Z,sniff,33.3,,,interpolated\n"
     "2017-06-07T00:15:00Z,sniff,33.3,,,interpolated\n"
     "2017-06-07T00:20:00Z,sniff,33.3,,,interpolated\n"},
    {"k=13: larger than 1 Wh is a gap, nothing in between",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(70), 1.5}},
     "2017-06-07T01:10:00Z,sniff,,,,gap\n"},
    {"k=13 quiet stretch: exactly 1 Wh is attributed to the record's interval",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(70), 1.001}},
     "2017-06-07T01:10:00Z,sniff,1.0,,,\n"},
    {"k=13 quiet stretch: no change at all",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(70), 1.0}},
     "2017-06-07T01:10:00Z,sniff,0.0,,,\n"},
    {"k=13 just over 1 Wh is a gap",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(70), 1.0011}},
     "2017-06-07T01:10:00Z,sniff,,,,gap\n"},
    {"night: many hours asleep, then the morning",
     0,
     {{"i1", INV, LIFE, -M(600), 7.0},
      {"i1", INV, LIFE, M(300), 7.0},
      {"i1", INV, LIFE, M(305), 7.01}},
     "2017-06-07T05:00:00Z,sniff,0.0,,,\n2017-06-07T05:05:00Z,sniff,10.0,,,\n"},
    {"gap for one device, data from another: both in the row",
     0,
     {{"i1", INV, LIFE, M(5), 1.0},
      {"i1", INV, LIFE, M(70), 2.0},
      {"i2", INV, LIFE, M(65), 1.0},
      {"i2", INV, LIFE, M(70), 1.1}},
     "2017-06-07T01:10:00Z,sniff,100.0,,,gap\n"},
    {"flags are a union in fixed order",
     0,
     {{"i1", INV, LIFE, M(5), 1.0},
      {"i1", INV, LIFE, M(70), 2.0},
      {"i2", INV, LIFE, M(55), 1.0},
      {"i2", INV, LIFE, M(70), 1.3},
      {"m1c", NETM, NET, M(65), 5.0},
      {"m1c", NETM, NET, M(70), 15.0}},
     "2017-06-07T01:00:00Z,sniff,100.0,,,interpolated\n"
     "2017-06-07T01:05:00Z,sniff,100.0,,,interpolated\n"
     "2017-06-07T01:10:00Z,sniff,100.0,0.0,100.0,interpolated;gap;counter_reset\n"},
    {"reset: monotonic counter goes down, new base",
     0,
     {{"i1", INV, LIFE, M(5), 100.0},
      {"i1", INV, LIFE, M(10), 100.1},
      {"i1", INV, LIFE, M(15), 0.05},
      {"i1", INV, LIFE, M(20), 0.15}},
     "2017-06-07T00:10:00Z,sniff,100.0,,,\n"
     "2017-06-07T00:15:00Z,sniff,0.0,,,counter_reset\n"
     "2017-06-07T00:20:00Z,sniff,100.0,,,\n"},
    {"reset: a jump beyond max_power_kW, net counter",
     0,
     {{"m1c", NETM, NET, M(5), 10.0},
      {"m1c", NETM, NET, M(10), 18.4},
      {"m1c", NETM, NET, M(15), 18.5}},
     "2017-06-07T00:10:00Z,sniff,,0.0,,counter_reset\n"
     "2017-06-07T00:15:00Z,sniff,,100.0,,\n"},
    {"just within max_power_kW is energy",
     0,
     {{"m1c", NETM, NET, M(5), 10.0}, {"m1c", NETM, NET, M(10), 18.3}},
     "2017-06-07T00:10:00Z,sniff,,8300.0,,\n"},
    {"configured max_power_kW = 2: 0.2 kWh in 5 min is a reset",
     2.0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(10), 1.2}},
     "2017-06-07T00:10:00Z,sniff,0.0,,,counter_reset\n"},
    {"reset across a k=3 stretch: 0.0 at the record only",
     0,
     {{"i1", INV, LIFE, M(5), 5.0}, {"i1", INV, LIFE, M(20), 1.0}},
     "2017-06-07T00:20:00Z,sniff,0.0,,,counter_reset\n"},
    {"reset check comes before the gap rule (k>12)",
     0,
     {{"i1", INV, LIFE, M(5), 5.0}, {"i1", INV, LIFE, M(100), 1.0}},
     "2017-06-07T01:40:00Z,sniff,0.0,,,counter_reset\n"},
};

/* ---- R3: repeats and conflicts -------------------------------------------- */

static const struct ecase repeat_cases[] = {
    {"a repeat changes nothing",
     0,
     {{"i1", INV, LIFE, M(5), 1.0},
      {"i1", INV, LIFE, M(10), 1.1},
      {"i1", INV, LIFE, M(10), 1.1},
      {"i1", INV, LIFE, M(5), 1.0}},
     "2017-06-07T00:10:00Z,sniff,100.0,,,\n"},
    {"a conflicting repeat keeps the larger (larger first)",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(10), 1.2}, {"i1", INV, LIFE, M(10), 1.1}},
     "2017-06-07T00:10:00Z,sniff,200.0,,,\n"},
    {"a conflicting repeat keeps the larger (larger last)",
     0,
     {{"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(10), 1.1}, {"i1", INV, LIFE, M(10), 1.2}},
     "2017-06-07T00:10:00Z,sniff,200.0,,,\n"},
    {"the same serial in two roles stays two counters",
     0,
     {{"x", INV, LIFE, M(5), 1.0},
      {"x", INV, LIFE, M(10), 1.1},
      {"x", NETM, NET, M(5), 1.0},
      {"x", NETM, NET, M(10), 1.3}},
     "2017-06-07T00:10:00Z,sniff,100.0,300.0,400.0,\n"},
};

/* ---- R5: polled counters -------------------------------------------------- */

static const struct ecase poll_cases[] = {
    {"polls exactly on the boundaries",
     0,
     {{"w", NETM, NET, M(5), 1.0, 1}, {"w", NETM, NET, M(10), 1.5, 1}},
     "2017-06-07T00:10:00Z,sniff,,500.0,,\n"},
    {"linear interpolation between polls around each boundary",
     0,
     /* boundary 00:05 = 1.0 + 0.2 * 10/20 = 1.1; 00:10 = 2.0 + 0.4 * 30/40 = 2.3 */
     {{"w", NETM, NET, M(5) - 10, 1.0, 1},
      {"w", NETM, NET, M(5) + 10, 1.2, 1},
      {"w", NETM, NET, M(10) - 30, 2.0, 1},
      {"w", NETM, NET, M(10) + 10, 2.4, 1}},
     "2017-06-07T00:10:00Z,sniff,,1200.0,,\n"},
    {"a poll 61 s away gives the boundary no value: k=2 split",
     0,
     {{"w", NETM, NET, M(5), 1.0, 1},
      {"w", NETM, NET, M(10) - 61, 1.1, 1},
      {"w", NETM, NET, M(10) + 30, 1.2, 1},
      {"w", NETM, NET, M(15), 1.3, 1}},
     "2017-06-07T00:10:00Z,sniff,,150.0,,interpolated\n"
     "2017-06-07T00:15:00Z,sniff,,150.0,,interpolated\n"},
    {"exactly 60 s on both sides is still a value",
     0,
     {{"w", NETM, NET, M(5), 1.0, 1},
      {"w", NETM, NET, M(10) - 60, 1.1, 1},
      {"w", NETM, NET, M(10) + 60, 1.3, 1}},
     "2017-06-07T00:10:00Z,sniff,,200.0,,\n"},
    {"missing polls for an hour: a gap",
     0,
     {{"w", NETM, NET, M(5), 1.0, 1},
      {"w", NETM, NET, M(5) + 10, 1.0, 1},
      {"w", NETM, NET, M(70) - 10, 2.0, 1},
      {"w", NETM, NET, M(70), 2.0, 1}},
     "2017-06-07T01:10:00Z,sniff,,,,gap\n"},
    {"polled inverter and meter together",
     0,
     {{"inv", INV, LIFE, M(5) - 5, 1.0, 1},
      {"inv", INV, LIFE, M(5) + 5, 1.0, 1},
      {"inv", INV, LIFE, M(10) - 5, 1.3, 1},
      {"inv", INV, LIFE, M(10) + 5, 1.3, 1},
      {"w", NETM, NET, M(5), 1.0, 1},
      {"w", NETM, NET, M(10), 0.9, 1}},
     "2017-06-07T00:10:00Z,sniff,300.0,-100.0,200.0,\n"},
    {"a repeated poll with another value keeps the larger",
     0,
     {{"w", NETM, NET, M(5), 1.0, 1},
      {"w", NETM, NET, M(10), 1.5, 1},
      {"w", NETM, NET, M(10), 1.4, 1}},
     "2017-06-07T00:10:00Z,sniff,,500.0,,\n"},
};

static void run_table(const struct ecase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i]);
}

static void test_basic(void **state)
{
    (void)state;
    run_table(basic_cases, sizeof basic_cases / sizeof basic_cases[0]);
}

static void test_topologies(void **state)
{
    (void)state;
    run_table(topology_cases, sizeof topology_cases / sizeof topology_cases[0]);
}

/* Gross: the meter's import/export counters say nothing about the grid. */
static void test_gross_ignores_import_export(void **state)
{
    (void)state;
    struct engine *e = new_engine_as(0, CM_GROSS, P_AUTO);
    const struct rec recs[] = {{"i1", INV, LIFE, M(5), 10.0}, {"i1", INV, LIFE, M(10), 10.1},
                               {"m1c", NETM, NET, M(5), 3.0}, {"m1c", NETM, NET, M(10), 3.2},
                               {"m1c", NETM, IMP, M(5), 3.0}, {"m1c", NETM, IMP, M(10), 3.2},
                               {"m1c", NETM, EXP, M(5), 0.0}, {"m1c", NETM, EXP, M(10), 0.0}};
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        struct reading r = mkreading(&recs[i], "sniff");
        assert_int_equal(engine_add(e, &r), 0);
    }
    const struct interval_row *rows;
    size_t n;
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].has, IHAS_PRODUCTION | IHAS_NET | IHAS_CONSUMPTION);
    engine_free(e);
}

static void test_gaps_and_resets(void **state)
{
    (void)state;
    run_table(gap_cases, sizeof gap_cases / sizeof gap_cases[0]);
}

static void test_repeats(void **state)
{
    (void)state;
    run_table(repeat_cases, sizeof repeat_cases / sizeof repeat_cases[0]);
}

static void test_poll(void **state)
{
    (void)state;
    run_table(poll_cases, sizeof poll_cases / sizeof poll_cases[0]);
}

/* Every k from 2 to 12: k equal shares, each flagged; 13 is a gap. */
static void test_split_every_k(void **state)
{
    (void)state;
    for (int k = 2; k <= 13; k++) {
        struct engine *e = new_engine(0);
        struct rec a = {"i1", INV, LIFE, M(5), 2.0}, b = {"i1", INV, LIFE, M(5) + k * 300, 3.2};
        struct reading ra = mkreading(&a, "sniff"), rb = mkreading(&b, "sniff");
        assert_int_equal(engine_add(e, &rb), 0);
        assert_int_equal(engine_add(e, &ra), 0);
        const struct interval_row *rows;
        size_t n;
        assert_int_equal(engine_collect(e, &rows, &n), 0);
        engine_rows(e, "sniff", &rows, &n);
        if (k <= 12) {
            assert_int_equal(n, (size_t)k);
            double sum = 0;
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(rows[i].interval_end, T0 + M(5) + (int64_t)(i + 1) * 300);
                assert_int_equal(rows[i].flags, IFLAG_INTERPOLATED);
                assert_true(fabs(rows[i].production_wh - 1200.0 / k) < 1e-9);
                sum += rows[i].production_wh;
            }
            assert_true(fabs(sum - 1200.0) < 1e-6);
        } else {
            assert_int_equal(n, 1);
            assert_int_equal(rows[0].flags, IFLAG_GAP);
            assert_int_equal(rows[0].has, 0);
        }
        engine_free(e);
    }
}

/* A late record revises: the split and its flags give way to real data. */
static void test_late_record_revises(void **state)
{
    (void)state;
    struct engine *e = new_engine(0);
    struct rec recs[] = {
        {"i1", INV, LIFE, M(5), 1.0}, {"i1", INV, LIFE, M(15), 1.3}, {"i1", INV, LIFE, M(10), 1.2}};
    const struct interval_row *rows;
    size_t n;
    for (int i = 0; i < 2; i++) {
        struct reading r = mkreading(&recs[i], "sniff");
        assert_int_equal(engine_add(e, &r), 0);
    }
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].flags, IFLAG_INTERPOLATED);
    struct reading r = mkreading(&recs[2], "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 2); /* both intervals revised */
    assert_true(fabs(rows[0].production_wh - 200.0) < 1e-9 && rows[0].flags == 0);
    assert_true(fabs(rows[1].production_wh - 100.0) < 1e-9 && rows[1].flags == 0);
    /* nothing new: nothing changes */
    assert_int_equal(engine_add(e, &r), 0);
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 0);
    /* a record before the first makes the old first contribute */
    struct rec early = {"i1", INV, LIFE, 0, 0.9};
    r = mkreading(&early, "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].interval_end, T0 + M(5));
    struct engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.repeats, 1);
    engine_free(e);
}

/* A gap that a backlog fills ends clean: the gap row becomes data rows. */
static void test_gap_filled_later(void **state)
{
    (void)state;
    struct engine *e = new_engine(0);
    struct rec a = {"i1", INV, LIFE, M(5), 1.0}, b = {"i1", INV, LIFE, M(100), 2.9};
    struct reading r = mkreading(&a, "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    r = mkreading(&b, "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    const struct interval_row *rows;
    size_t n;
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].flags, IFLAG_GAP);
    for (int m = 10; m < 100; m += 5) {
        struct rec x = {"i1", INV, LIFE, M(m), 1.0 + (m - 5) * 0.02};
        r = mkreading(&x, "sniff");
        assert_int_equal(engine_add(e, &r), 0);
    }
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    engine_rows(e, "sniff", &rows, &n);
    assert_int_equal(n, 19);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].flags, 0);
        assert_true(fabs(engine_round_wh(rows[i].production_wh) - 100.0) < 1e-9);
    }
    engine_free(e);
}

/* Series never mix: the same device in two series gives two rows. */
static void test_series_separate(void **state)
{
    (void)state;
    struct engine *e = new_engine(0);
    struct rec a = {"i1", INV, LIFE, M(5), 1.0}, b = {"i1", INV, LIFE, M(10), 1.1};
    struct reading r;
    r = mkreading(&a, "sniff"), assert_int_equal(engine_add(e, &r), 0);
    r = mkreading(&b, "sniff"), assert_int_equal(engine_add(e, &r), 0);
    r = mkreading(&a, "poll"), assert_int_equal(engine_add(e, &r), 0);
    const struct interval_row *rows;
    size_t n;
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].series, "sniff");
    engine_rows(e, "poll", &rows, &n);
    assert_int_equal(n, 0);
    assert_int_equal(engine_series_count(e), 2);
    engine_free(e);
}

/* Bad input is refused and leaves the engine as it was. */
static void test_bad_input(void **state)
{
    (void)state;
    struct engine *e = new_engine(0);
    struct rec a = {"i1", INV, LIFE, M(5), 1.0};
    struct reading r = mkreading(&a, "sniff");
    r.value = NAN;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.value = INFINITY;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.time = -5;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.time = 5000000000LL;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.series = NULL;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.device[0] = '\0';
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.clock = 0;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    r.clock = CLOCK_POLL; /* the same device cannot switch clocks */
    r.time += 300;
    assert_int_equal(engine_add(e, &r), PVTAP_EINVAL);
    r = mkreading(&a, "sniff");
    r.q = Q_POWER_W; /* live values are ignored */
    assert_int_equal(engine_add(e, &r), 0);
    struct engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.readings, 1);
    assert_int_equal(st.ignored, 1);
    assert_int_equal(st.points, 1);
    engine_free(e);

    /* the key limit */
    struct engine_params p;
    engine_params_default(&p);
    p.max_keys = 2;
    e = engine_new(&p);
    assert_non_null(e);
    for (int i = 0; i < 3; i++) {
        r = mkreading(&a, "sniff");
        snprintf(r.device, sizeof r.device, "dev%d", i);
        assert_int_equal(engine_add(e, &r), i < 2 ? 0 : PVTAP_ELIMIT);
    }
    engine_free(e);
}

static void test_round_and_flags(void **state)
{
    (void)state;
    static const struct {
        double in, out;
    } r[] = {{0.05, 0.1},         {-0.05, -0.1},
             {0.0499994, 0.0},    {0.04999999999, 0.1} /* snapped to micro-Wh first */,
             {1.25, 1.3},         {-1.25, -1.3},
             {-0.04, 0.0},        {123.45000000001, 123.5},
             {1200.0 / 7, 171.4}, {0.1 + 0.2, 0.3},
             {-0.0, 0.0}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        double got = engine_round_wh(r[i].in);
        assert_true(fabs(got - r[i].out) < 1e-12);
        assert_false(signbit(got) && got == 0.0);
    }
    char buf[64];
    engine_flags_format(IFLAG_COUNTER_RESET | IFLAG_INTERPOLATED, buf, sizeof buf);
    assert_string_equal(buf, "interpolated;counter_reset");
    engine_flags_format(0, buf, sizeof buf);
    assert_string_equal(buf, "");
    unsigned f;
    assert_int_equal(engine_flags_parse("gap;interpolated", &f), 0);
    assert_int_equal(f, IFLAG_GAP | IFLAG_INTERPOLATED);
    assert_int_equal(engine_flags_parse("gapx", &f), PVTAP_EINVAL);
    engine_flags_format(7, buf, 8); /* truncation stays terminated */
    assert_true(strlen(buf) < 8);
}

/* engine_forget keeps the base: later records still compute right; older are refused. */
static void test_forget(void **state)
{
    (void)state;
    struct engine *e = new_engine(0);
    struct reading r;
    for (int m = 5; m <= 60; m += 5) {
        struct rec x = {"i1", INV, LIFE, M(m), m * 0.01};
        r = mkreading(&x, "sniff");
        assert_int_equal(engine_add(e, &r), 0);
    }
    const struct interval_row *rows;
    size_t n;
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 11);
    engine_forget(e, T0 + M(50));
    struct engine_stats st;
    engine_get_stats(e, &st);
    assert_int_equal(st.points, 4); /* 00:45 kept as the base, 00:50..01:00 */
    struct rec x = {"i1", INV, LIFE, M(65), 0.65};
    r = mkreading(&x, "sniff");
    assert_int_equal(engine_add(e, &r), 0);
    assert_int_equal(engine_collect(e, &rows, &n), 0);
    assert_int_equal(n, 1);
    assert_true(fabs(rows[0].production_wh - 50.0) < 1e-9);
    struct rec old = {"i1", INV, LIFE, M(20), 0.2};
    r = mkreading(&old, "sniff");
    assert_int_equal(engine_add(e, &r), PVTAP_ELIMIT);
    engine_free(e);
}

/* ---- properties: order and repetition never matter ------------------------- */

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}

/* A generated day: 3 inverters (one with a reset, one with gaps), a net
 * meter, import/export counters, and a polled meter in series "poll". */
static size_t gen_day(struct reading *out, size_t cap)
{
    size_t n = 0;
    static const char *const inv[] = {"i1", "i2", "i3"};
    double life[3] = {100.0, 200.0, 50.0}, net = 500.0, imp = 900.0, exp = 400.0;
    for (int iv = 0; iv < 288; iv++) {
        int64_t t = T0 + (int64_t)iv * 300;
        double sun = (iv > 72 && iv < 230) ? sin((iv - 72) * M_PI / 158.0) : 0.0;
        for (int d = 0; d < 3; d++) {
            life[d] += sun * 0.02 * (d + 1) + (rnd() % 3) * 1e-4 * sun;
            if (d == 1 && iv == 150)
                life[d] = 0.5; /* reset */
            if (d == 2 && (iv % 37 == 5 || (iv >= 100 && iv < 115)))
                continue; /* missing records: splits, and one k > 12 */
            if (sun == 0.0 && iv % 50 != 0 && d == 0)
                continue; /* asleep at night */
            assert_true(n < cap);
            out[n++] = (struct reading){.source = "t",
                                        .series = "sniff",
                                        .kind = DEVICE_INVERTER,
                                        .time = t,
                                        .clock = CLOCK_RECORD,
                                        .q = Q_ENERGY_LIFETIME_KWH,
                                        .value = life[d]};
            snprintf(out[n - 1].device, sizeof out[n - 1].device, "%s", inv[d]);
        }
        double load = 0.05 + (rnd() % 100) * 1e-3, prod = sun * 0.12;
        net += load - prod;
        if (load > prod)
            imp += load - prod;
        else
            exp += prod - load;
        static const enum quantity mq[] = {Q_ENERGY_NET_LIFETIME_KWH, Q_ENERGY_IMPORT_LIFETIME_KWH,
                                           Q_ENERGY_EXPORT_LIFETIME_KWH};
        const double mv[] = {net, imp, exp};
        for (int q = 0; q < 3; q++) {
            assert_true(n < cap);
            out[n++] = (struct reading){.source = "t",
                                        .series = "sniff",
                                        .kind = DEVICE_NET_METER,
                                        .time = t,
                                        .clock = CLOCK_RECORD,
                                        .q = mq[q],
                                        .value = mv[q]};
            snprintf(out[n - 1].device, sizeof out[n - 1].device, "m1c");
        }
        /* the polled meter: a sample every 20-40 s, none for a while at noon */
        for (int s = 0; s < 300; s += 20 + (int)(rnd() % 21)) {
            if (iv >= 140 && iv < 143)
                continue;
            assert_true(n < cap);
            out[n++] = (struct reading){.source = "t",
                                        .series = "poll",
                                        .kind = DEVICE_NET_METER,
                                        .time = t + s,
                                        .clock = CLOCK_POLL,
                                        .q = Q_ENERGY_NET_LIFETIME_KWH,
                                        .value = net + s * 1e-5};
            snprintf(out[n - 1].device, sizeof out[n - 1].device, "wattnode@1");
        }
    }
    return n;
}

static bool rows_same(const struct interval_row *a, size_t na, const struct interval_row *b,
                      size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (a[i].interval_end != b[i].interval_end || a[i].has != b[i].has ||
            a[i].flags != b[i].flags || a[i].production_wh != b[i].production_wh ||
            a[i].net_wh != b[i].net_wh || a[i].consumption_wh != b[i].consumption_wh ||
            a[i].import_wh != b[i].import_wh || a[i].export_wh != b[i].export_wh)
            return false;
    return true;
}

static void test_permutation_property(void **state)
{
    (void)state;
    enum { CAP = 20000 };
    struct reading *day = calloc(CAP, sizeof *day);
    struct reading *feed = calloc(CAP * 2, sizeof *feed);
    assert_non_null(day);
    assert_non_null(feed);
    rng_state = 42;
    size_t n = gen_day(day, CAP);

    struct engine *ref = new_engine(0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(engine_add(ref, &day[i]), 0);
    const struct interval_row *rows;
    size_t nrows;
    assert_int_equal(engine_collect(ref, &rows, &nrows), 0);
    const struct interval_row *ref_sniff, *ref_poll;
    size_t n_sniff, n_poll;
    engine_rows(ref, "sniff", &ref_sniff, &n_sniff);
    engine_rows(ref, "poll", &ref_poll, &n_poll);
    assert_true(n_sniff > 250);
    assert_true(n_poll > 250);
    /* the generated day exercises every flag */
    unsigned all = 0;
    for (size_t i = 0; i < n_sniff; i++)
        all |= ref_sniff[i].flags;
    assert_int_equal(all, IFLAG_INTERPOLATED | IFLAG_GAP | IFLAG_COUNTER_RESET);

    for (int trial = 0; trial < 12; trial++) {
        rng_state = 1000 + (uint64_t)trial;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            feed[m++] = day[i];
            if (rnd() % 4 == 0)
                feed[m++] = day[i]; /* a duplicate */
        }
        for (size_t i = m; i > 1; i--) { /* Fisher-Yates */
            size_t j = rnd() % i;
            struct reading t = feed[i - 1];
            feed[i - 1] = feed[j];
            feed[j] = t;
        }
        struct engine *e = new_engine(0);
        /* collect at random points: the changes, applied in order, must end
         * equal to the engine's final rows (no lost revision) */
        size_t n_seen = 0;
        int64_t *seen_ie = calloc(m + 1024, sizeof *seen_ie);
        assert_non_null(seen_ie);
        for (size_t i = 0; i < m; i++) {
            assert_int_equal(engine_add(e, &feed[i]), 0);
            if (rnd() % 200 == 0 || i + 1 == m) {
                assert_int_equal(engine_collect(e, &rows, &nrows), 0);
                for (size_t k = 0; k < nrows && n_seen < m + 1024; k++)
                    seen_ie[n_seen++] = rows[k].interval_end;
            }
        }
        const struct interval_row *got;
        size_t ng;
        engine_rows(e, "sniff", &got, &ng);
        assert_true(rows_same(got, ng, ref_sniff, n_sniff));
        engine_rows(e, "poll", &got, &ng);
        assert_true(rows_same(got, ng, ref_poll, n_poll));
        /* every final row was reported by some collect */
        engine_rows(e, "sniff", &got, &ng);
        for (size_t i = 0; i < ng; i++) {
            bool found = false;
            for (size_t k = 0; k < n_seen && !found; k++)
                found = seen_ie[k] == got[i].interval_end;
            assert_true(found);
        }
        struct engine_stats st;
        engine_get_stats(e, &st);
        assert_true(st.repeats > 0);
        free(seen_ie);
        engine_free(e);
    }
    engine_free(ref);
    free(day);
    free(feed);
}

/* A day of every topology at once: inverters, a 'c' meter, a production
 * meter (with power), a meter whose CTs are missing (0 and 0), a 'c' meter
 * of kind consumption_meter in another series, zeros with and without power,
 * and a polled meter passing through exactly 0 kWh. */
static size_t gen_topology_day(struct reading *out, size_t cap)
{
    size_t n = 0;
    double inv = 10.0, pm = 0.0, cm = 2.0, cons = 7.0, wn = -0.3;
#define PUT(ser, dev_, kind_, q_, t_, v_, clk)                                                     \
    do {                                                                                           \
        assert_true(n < cap);                                                                      \
        out[n] = (struct reading){.source = "t",                                                   \
                                  .series = (ser),                                                 \
                                  .kind = (kind_),                                                 \
                                  .time = (t_),                                                    \
                                  .clock = (clk),                                                  \
                                  .q = (q_),                                                       \
                                  .value = (v_)};                                                  \
        snprintf(out[n].device, sizeof out[n].device, "%s", (dev_));                               \
        n++;                                                                                       \
    } while (0)
    for (int iv = 0; iv < 288; iv++) {
        int64_t t = T0 + (int64_t)iv * 300;
        double sun = (iv > 72 && iv < 230) ? sin((iv - 72) * M_PI / 158.0) : 0.0;
        double load = 0.05 + (rnd() % 100) * 1e-3;
        inv += sun * 0.1;
        /* the production meter starts at 0 kWh: its first points are 0 with power */
        if (iv > 80)
            pm += sun * 0.098;
        cm += load; /* gross read: always up; net read: just a counter */
        cons += load;
        if (iv == 200)
            cm = 0.5; /* a reset */
        if (!(sun == 0.0 && iv % 7 != 0))
            PUT("sniff", "i1", DEVICE_INVERTER, Q_ENERGY_LIFETIME_KWH, t, inv, CLOCK_RECORD);
        if (iv % 41 != 3) {
            PUT("sniff", "m1p", DEVICE_PRODUCTION_METER, Q_ENERGY_NET_LIFETIME_KWH, t, pm,
                CLOCK_RECORD);
            PUT("sniff", "m1p", DEVICE_PRODUCTION_METER, Q_POWER_W, t, sun * 1200.0 + 1.0,
                CLOCK_RECORD);
        }
        PUT("sniff", "m1c", DEVICE_NET_METER, Q_ENERGY_NET_LIFETIME_KWH, t, cm, CLOCK_RECORD);
        PUT("sniff", "m1c", DEVICE_NET_METER, Q_POWER_W, t, load * 12000.0, CLOCK_RECORD);
        PUT("sniff", "m2c", DEVICE_NET_METER, Q_ENERGY_NET_LIFETIME_KWH, t, 0.0, CLOCK_RECORD);
        PUT("sniff", "m2c", DEVICE_NET_METER, Q_POWER_W, t, 0.0, CLOCK_RECORD);
        PUT("pvs", "i1", DEVICE_INVERTER, Q_ENERGY_LIFETIME_KWH, t, inv, CLOCK_RECORD);
        PUT("pvs", "m1c", DEVICE_CONSUMPTION_METER, Q_ENERGY_NET_LIFETIME_KWH, t, cons,
            CLOCK_RECORD);
        for (int s = 0; s < 300; s += 20 + (int)(rnd() % 21)) {
            wn += (load - sun * 0.1) * 0.07;
            /* rounded so it sits at exactly 0 now and then */
            double v = round(wn * 100.0) / 100.0;
            PUT("poll", "w@1", DEVICE_NET_METER, Q_ENERGY_NET_LIFETIME_KWH, t + s, v, CLOCK_POLL);
            if (rnd() % 3)
                PUT("poll", "w@1", DEVICE_NET_METER, Q_POWER_W, t + s, v == 0.0 ? 0.0 : 300.0,
                    CLOCK_POLL);
        }
    }
#undef PUT
    return n;
}

/* Every interpretation stays a function of the set of readings. */
static void test_topology_permutation_property(void **state)
{
    (void)state;
    enum { CAP = 40000 };
    struct reading *day = calloc(CAP, sizeof *day);
    struct reading *feed = calloc(CAP * 2, sizeof *feed);
    assert_non_null(day);
    assert_non_null(feed);
    rng_state = 7;
    size_t n = gen_topology_day(day, CAP);
    static const char *const series[] = {"sniff", "pvs", "poll"};
    for (int cm = CM_NET; cm <= CM_NONE; cm++) {
        for (int prod = P_AUTO; prod <= P_INV; prod++) {
            struct engine *ref = new_engine_as(0, cm, prod);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(engine_add(ref, &day[i]), 0);
            const struct interval_row *rows;
            size_t nrows;
            assert_int_equal(engine_collect(ref, &rows, &nrows), 0);
            size_t total = 0;
            for (size_t si = 0; si < 3; si++) {
                engine_rows(ref, series[si], &rows, &nrows);
                total += nrows;
            }
            if (total <= 250)
                fail_msg("cm %d prod %d: %zu rows", cm, prod, total);
            for (int trial = 0; trial < 3; trial++) {
                rng_state = 500 + (uint64_t)(trial + 10 * cm + 100 * prod);
                size_t m = 0;
                for (size_t i = 0; i < n; i++) {
                    feed[m++] = day[i];
                    if (rnd() % 4 == 0)
                        feed[m++] = day[i];
                }
                for (size_t i = m; i > 1; i--) {
                    size_t j = rnd() % i;
                    struct reading t = feed[i - 1];
                    feed[i - 1] = feed[j];
                    feed[j] = t;
                }
                struct engine *e = new_engine_as(0, cm, prod);
                for (size_t i = 0; i < m; i++) {
                    assert_int_equal(engine_add(e, &feed[i]), 0);
                    if (rnd() % 500 == 0)
                        assert_int_equal(engine_collect(e, &rows, &nrows), 0);
                }
                assert_int_equal(engine_collect(e, &rows, &nrows), 0);
                for (size_t si = 0; si < 3; si++) {
                    const struct interval_row *a, *b;
                    size_t na, nb;
                    engine_rows(ref, series[si], &a, &na);
                    engine_rows(e, series[si], &b, &nb);
                    if (!rows_same(a, na, b, nb))
                        fail_msg("consumption_meter %d production %d trial %d: series %s differs",
                                 cm, prod, trial, series[si]);
                }
                engine_free(e);
            }
            engine_free(ref);
        }
    }
    free(day);
    free(feed);
}

/* Conflicts: the result depends on the max per (device, time) only. */
static void test_conflict_property(void **state)
{
    (void)state;
    struct reading rs[64];
    size_t n = 0;
    for (int m = 5; m <= 60; m += 5) {
        struct rec x = {"i1", INV, LIFE, M(m), 1.0 + m * 0.01};
        rs[n++] = mkreading(&x, "sniff");
        struct rec lower = {"i1", INV, LIFE, M(m), 1.0 + m * 0.01 - 0.003};
        if (m % 10 == 0)
            rs[n++] = mkreading(&lower, "sniff");
    }
    char a[4096], b[4096];
    for (int order = 0; order < 2; order++) {
        struct engine *e = new_engine(0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(engine_add(e, &rs[order ? n - 1 - i : i]), 0);
        const struct interval_row *rows;
        size_t nr;
        assert_int_equal(engine_collect(e, &rows, &nr), 0);
        rows_csv(e, "sniff", order ? b : a, sizeof a);
        struct engine_stats st;
        engine_get_stats(e, &st);
        assert_int_equal(st.conflicts, 6);
        engine_free(e);
    }
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "2017-06-07T00:10:00Z,sniff,50.0,,,"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_topologies),
        cmocka_unit_test(test_gross_ignores_import_export),
        cmocka_unit_test(test_gaps_and_resets),
        cmocka_unit_test(test_repeats),
        cmocka_unit_test(test_poll),
        cmocka_unit_test(test_split_every_k),
        cmocka_unit_test(test_late_record_revises),
        cmocka_unit_test(test_gap_filled_later),
        cmocka_unit_test(test_series_separate),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_round_and_flags),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_permutation_property),
        cmocka_unit_test(test_conflict_property),
        cmocka_unit_test(test_topology_permutation_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
