/* pvsim_truth_test: the simulator's interval oracle and record writer checked on small hand-written tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "truth.h"

static int failures;

#define B(hhmm) (1496793600 + ((hhmm) / 100) * 3600 + ((hhmm) % 100) * 60) /* 2017-06-07 UTC */

struct obs {
    const char *device;
    enum truth_quantity q;
    bool monotonic;
    int64_t t;
    double kWh;
};

static char *csv_of(struct truth_series **s, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp)
        return NULL;
    truth_write_csv(fp, s, n);
    fclose(fp);
    return buf;
}

static void check(const char *name, const char *got, const char *want)
{
    if (got && strcmp(got, want) == 0) {
        printf("ok   %s\n", name);
        return;
    }
    printf("FAIL %s\n--- got\n%s--- want\n%s", name, got ? got : "(null)\n", want);
    failures++;
}

/* Feeds the table in the given order and in reverse: the result depends only on the set.
 * topo NULL: the default topology (net meters, production from the inverters). */
static void table_topo(const char *name, const struct truth_topology *topo, const struct obs *o,
                       size_t n, const char *want, size_t want_conflicts)
{
    for (int pass = 0; pass < 2; pass++) {
        struct truth_series *s = truth_series_new("sniff", 100.0);
        if (!s) {
            failures++;
            return;
        }
        if (topo)
            truth_series_set_topology(s, topo);
        for (size_t i = 0; i < n; i++) {
            const struct obs *x = &o[pass ? n - 1 - i : i];
            truth_series_add(s, x->device, x->q, x->monotonic, x->t, x->kWh);
        }
        char *got = csv_of(&s, 1);
        char label[128];
        snprintf(label, sizeof(label), "%s%s", name, pass ? " (reversed)" : "");
        check(label, got, want);
        if (truth_series_conflicts(s) != want_conflicts) {
            printf("FAIL %s: %zu conflicts, want %zu\n", label, truth_series_conflicts(s), want_conflicts);
            failures++;
        }
        free(got);
        truth_series_free(s);
    }
}

static void table(const char *name, const struct obs *o, size_t n, const char *want,
                  size_t want_conflicts)
{
    table_topo(name, NULL, o, n, want, want_conflicts);
}

#define HDR "interval_end,source,production_wh,net_wh,consumption_wh,flags\n"
#define INV(t, v) {"inv1", TRUTH_PRODUCTION, true, B(t), v}
#define INV2(t, v) {"inv2", TRUTH_PRODUCTION, true, B(t), v}
#define NET(t, v) {"metc", TRUTH_NET, false, B(t), v}

static void test_tables(void)
{
    static const struct obs simple[] = {INV(1600, 100.0), INV(1605, 100.0123), INV(1610, 100.0250),
                                        NET(1600, 50.0), NET(1605, 49.9901), NET(1610, 50.0)};
    table("difference, consumption = production + net", simple, 6,
          HDR "2017-06-07T16:05:00Z,sniff,12.3,-9.9,2.4,\n"
              "2017-06-07T16:10:00Z,sniff,12.7,9.9,22.6,\n",
          0);

    static const struct obs split[] = {INV(1600, 10.0), INV(1615, 10.0300), INV(1620, 10.0310)};
    table("k=3 split evenly, flagged interpolated; no net: empty cells", split, 3,
          HDR "2017-06-07T16:05:00Z,sniff,10.0,,,interpolated\n"
              "2017-06-07T16:10:00Z,sniff,10.0,,,interpolated\n"
              "2017-06-07T16:15:00Z,sniff,10.0,,,interpolated\n"
              "2017-06-07T16:20:00Z,sniff,1.0,,,\n",
          0);

    static const struct obs k12[] = {INV(1600, 10.0), INV(1700, 10.0120)};
    table("k=12 still splits", k12, 2,
          HDR "2017-06-07T16:05:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:10:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:15:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:20:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:25:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:30:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:35:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:40:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:45:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:50:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T16:55:00Z,sniff,1.0,,,interpolated\n"
              "2017-06-07T17:00:00Z,sniff,1.0,,,interpolated\n",
          0);

    static const struct obs gap[] = {INV(1600, 10.0), INV(1705, 10.5), NET(1600, 7.0), NET(1705, 7.2)};
    table("k=13 with a real difference: gap, nothing attributed", gap, 4,
          HDR "2017-06-07T17:05:00Z,sniff,,,,gap\n", 0);

    static const struct obs quiet[] = {INV(400, 10.0), INV(1300, 10.0008), INV(1305, 10.0108),
                                       INV2(400, 20.0), INV2(1300, 20.0010), INV2(1305, 20.0110)};
    table("night: a difference of at most 1 Wh over k>12 is quiet, no flag", quiet, 6,
          HDR "2017-06-07T13:00:00Z,sniff,1.8,,,\n"
              "2017-06-07T13:05:00Z,sniff,20.0,,,\n",
          0);

    static const struct obs reset[] = {INV(1600, 10.0), INV(1605, 2.0), INV(1610, 2.005),
                                       NET(1600, 100.0), NET(1605, 99.5), NET(1610, 0.0), NET(1615, 0.01)};
    table("resets: monotonic goes down; net jumps beyond max power", reset, 7,
          HDR "2017-06-07T16:05:00Z,sniff,0.0,-500.0,-500.0,counter_reset\n"
              "2017-06-07T16:10:00Z,sniff,5.0,0.0,5.0,counter_reset\n"
              "2017-06-07T16:15:00Z,sniff,,10.0,,\n",
          0);

    static const struct obs rep[] = {INV(1600, 1.0), INV(1605, 1.01), INV(1605, 1.01), INV(1605, 1.02),
                                     INV(1610, 1.03)};
    table("repeats: same value nothing, different value keeps the larger", rep, 5,
          HDR "2017-06-07T16:05:00Z,sniff,20.0,,,\n"
              "2017-06-07T16:10:00Z,sniff,10.0,,,\n",
          1);

    static const struct obs mix[] = {INV(1600, 1.0), INV(1610, 1.01), INV2(1600, 2.0), INV2(1605, 2.004),
                                     INV2(1610, 2.006), NET(1600, 5.0), NET(1605, 5.0)};
    table("devices sum; flags are the union; first record only a base", mix, 7,
          HDR "2017-06-07T16:05:00Z,sniff,9.0,0.0,9.0,interpolated\n"
              "2017-06-07T16:10:00Z,sniff,7.0,,,interpolated\n",
          0);

    static const struct obs round_[] = {INV(1600, 0.0), INV(1605, 0.00005), NET(1600, 0.0), NET(1605, -0.00005),
                                        NET(1610, -0.00009)};
    table("rounding half away from zero, never -0.0", round_, 5,
          HDR "2017-06-07T16:05:00Z,sniff,0.1,-0.1,0.0,\n"
              "2017-06-07T16:10:00Z,sniff,,0.0,,\n",
          0);
}

#define CONS(t, v) {"metc", TRUTH_CONSUMPTION, true, B(t), v}
#define PMET(t, v) {"metp", TRUTH_PRODUCTION_METER, true, B(t), v}

/* Gross meters and production meters, each worked out by hand. */
static void test_topologies(void)
{
    static const struct truth_topology gross = {TRUTH_CMETER_GROSS, TRUTH_PROD_INVERTERS};
    /* cons 20.0 - prod 12.3 = 7.7; 10.0 - 12.7 = -2.7; no production: no net; a gross
     * counter going down is a reset */
    static const struct obs g[] = {INV(1600, 10.0),    INV(1605, 10.0123),  INV(1610, 10.0250),
                                   CONS(1600, 500.0),  CONS(1605, 500.02),  CONS(1610, 500.03),
                                   CONS(1615, 500.035), CONS(1620, 499.0)};
    table_topo("gross: consumption = the meter's deltas, net = consumption - production", &gross, g,
               8,
               HDR "2017-06-07T16:05:00Z,sniff,12.3,7.7,20.0,\n"
                   "2017-06-07T16:10:00Z,sniff,12.7,-2.7,10.0,\n"
                   "2017-06-07T16:15:00Z,sniff,,,5.0,\n"
                   "2017-06-07T16:20:00Z,sniff,,,0.0,counter_reset\n",
               0);

    /* inverters 12.3 Wh, the production meter 12.0 Wh, net -9.9 Wh */
    static const struct obs pm[] = {INV(1600, 10.0), INV(1605, 10.0123), PMET(1600, 8.0),
                                    PMET(1605, 8.012), NET(1600, 50.0), NET(1605, 49.9901)};
    static const struct truth_topology inv = {TRUTH_CMETER_NET, TRUTH_PROD_INVERTERS};
    static const struct truth_topology meter = {TRUTH_CMETER_NET, TRUTH_PROD_METER};
    static const struct truth_topology aut = {TRUTH_CMETER_NET, TRUTH_PROD_AUTO};
    table_topo("production inverters: the meter is ignored", &inv, pm, 6,
               HDR "2017-06-07T16:05:00Z,sniff,12.3,-9.9,2.4,\n", 0);
    table_topo("production meter: consumption = meter + net", &meter, pm, 6,
               HDR "2017-06-07T16:05:00Z,sniff,12.0,-9.9,2.1,\n", 0);
    table_topo("production auto with a meter: the meter", &aut, pm, 6,
               HDR "2017-06-07T16:05:00Z,sniff,12.0,-9.9,2.1,\n", 0);
    static const struct obs no_pm[] = {INV(1600, 10.0), INV(1605, 10.0123), NET(1600, 50.0),
                                       NET(1605, 49.9901)};
    table_topo("production auto, no meter in the series: the inverters", &aut, no_pm, 4,
               HDR "2017-06-07T16:05:00Z,sniff,12.3,-9.9,2.4,\n", 0);
    table_topo("production meter, no meter in the series: no production, no consumption", &meter,
               no_pm, 4, HDR "2017-06-07T16:05:00Z,sniff,,-9.9,,\n", 0);

    static const struct truth_topology gross_auto = {TRUTH_CMETER_GROSS, TRUTH_PROD_AUTO};
    static const struct obs gp[] = {INV(1600, 10.0),  INV(1605, 10.0123), PMET(1600, 8.0),
                                    PMET(1605, 8.012), CONS(1600, 500.0), CONS(1605, 500.02)};
    table_topo("gross and production meter: net = 20.0 - 12.0", &gross_auto, gp, 6,
               HDR "2017-06-07T16:05:00Z,sniff,12.0,8.0,20.0,\n", 0);
}

static void set_rec(struct sim_record *rec, int msg, const char *const *f, int n)
{
    memset(rec, 0, sizeof(*rec));
    rec->msg = msg;
    for (int i = 0; i < n; i++)
        snprintf(rec->f[rec->nf++], SIM_REC_FIELD_LEN, "%s", f[i]);
}

/* One request: an inverter's 130 and the c and p meters' 140 at 16:00 and 16:05
 * (lifetime, power as the body carries them), through truth_add_request(). */
static void request_case(const char *name, const struct truth_topology *topo, const char *c0,
                         const char *cw0, const char *c1, const char *cw1, const char *p0,
                         const char *p1, const char *want)
{
    const char *t[2] = {"20170607160000", "20170607160500"};
    const char *inv[2] = {"10.0", "10.0123"}, *cl[2] = {c0, c1}, *cw[2] = {cw0, cw1};
    /* the p meter's power: 0 exactly when its counter is 0 (no CTs) */
    const char *pl[2] = {p0, p1};
    const char *pw[2] = {strcmp(p0, "0") ? "0.1" : "0", strcmp(p1, "0") ? "0.1" : "0"};
    struct sim_record recs[6];
    for (int i = 0; i < 2; i++) {
        const char *f130[] = {t[i], "414051708000326", "AC_Module_Type_C", "", inv[i], "0.1"};
        const char *f140c[] = {t[i], "PVS5M562239c", "PVS5M0400c", "100", cl[i], cw[i]};
        const char *f140p[] = {t[i], "PVS5M562239p", "PVS5M0400p", "50", pl[i], pw[i]};
        set_rec(&recs[3 * i], 130, f130, 6);
        set_rec(&recs[3 * i + 1], 140, f140c, 6);
        set_rec(&recs[3 * i + 2], 140, f140p, 6);
    }
    struct sim_request r = {0};
    r.recs = recs;
    r.n = 6;
    struct truth_series *s = truth_series_new("sniff", 100.0);
    if (!s) {
        failures++;
        return;
    }
    truth_series_set_topology(s, topo);
    truth_add_request(s, &r);
    char *got = csv_of(&s, 1);
    check(name, got, want);
    free(got);
    truth_series_free(s);
}

static void test_request_topologies(void)
{
    static const struct truth_topology net_inv = {TRUTH_CMETER_NET, TRUTH_PROD_INVERTERS};
    static const struct truth_topology net_auto = {TRUTH_CMETER_NET, TRUTH_PROD_AUTO};
    static const struct truth_topology gross_auto = {TRUTH_CMETER_GROSS, TRUTH_PROD_AUTO};
    static const struct truth_topology none_auto = {TRUTH_CMETER_NONE, TRUTH_PROD_AUTO};
    request_case("records, net + inverters: 130 -> production, 140 c -> net, p ignored", &net_inv,
                 "50.0", "0.1", "49.9901", "-0.1", "8.0", "8.012",
                 HDR "2017-06-07T16:05:00Z,sniff,12.3,-9.9,2.4,\n");
    request_case("records, net + auto: the live p meter is production", &net_auto, "50.0", "0.1",
                 "49.9901", "-0.1", "8.0", "8.012",
                 HDR "2017-06-07T16:05:00Z,sniff,12.0,-9.9,2.1,\n");
    request_case("records, gross + auto: 140 c is consumption", &gross_auto, "500.0", "0.2",
                 "500.02", "0.2", "8.0", "8.012",
                 HDR "2017-06-07T16:05:00Z,sniff,12.0,8.0,20.0,\n");
    request_case("records, none: the c meter enters nothing", &none_auto, "50.0", "0.1", "49.9901",
                 "-0.1", "8.0", "8.012", HDR "2017-06-07T16:05:00Z,sniff,12.0,,,\n");
    request_case("records, meters without CTs (0 and 0) enter nothing: auto -> inverters",
                 &net_auto, "0", "0", "0", "0", "0", "0",
                 HDR "2017-06-07T16:05:00Z,sniff,12.3,,,\n");
    request_case("records, a counter at 0 with power (a reset meter) still counts", &net_inv, "0",
                 "0.5", "0.01", "0.1", "0", "0",
                 HDR "2017-06-07T16:05:00Z,sniff,12.3,10.0,22.3,\n");
}

static void test_format(void)
{
    static const struct {
        double wh;
        const char *want;
    } cases[] = {{1234.45, "1234.5"}, {-1234.45, "-1234.5"}, {0.05, "0.1"},  {-0.05, "-0.1"},
                 {-0.04, "0.0"},      {-0.0, "0.0"},         {2.25, "2.3"}, {1e-9, "0.0"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[32], name[64];
        truth_format_wh(got, sizeof(got), cases[i].wh);
        snprintf(name, sizeof(name), "format %g", cases[i].wh);
        char g[40], w[40];
        snprintf(g, sizeof(g), "%s\n", got);
        snprintf(w, sizeof(w), "%s\n", cases[i].want);
        check(name, g, w);
    }
}

static int collect(void *ctx, int64_t b, double v)
{
    char **p = ctx;
    size_t len = strlen(*p);
    char *n = realloc(*p, len + 64);
    if (!n)
        return -1;
    snprintf(n + len, 64, "%lld=%.4f\n", (long long)(b - B(1600)), v);
    *p = n;
    return 0;
}

static void test_poll_boundaries(void)
{
    /* polls at -20, +10 (B=0: interpolated), 280 (B=300: 20 before, next 70 after: none),
     * 370, 600 exactly (B=600: the value), 650 */
    const int64_t t[] = {B(1600) - 20, B(1600) + 10, B(1600) + 280, B(1600) + 370, B(1600) + 600,
                         B(1600) + 650};
    const double v[] = {1.0, 1.3, 2.0, 3.0, 5.0, 6.0};
    char *got = calloc(1, 1);
    if (!got) {
        failures++;
        return;
    }
    truth_poll_boundaries(t, v, 6, 60, collect, &got);
    check("poll boundaries: interpolate within 60 s, exact at B, missing otherwise", got,
          "0=1.2000\n600=5.0000\n");
    free(got);
}

static void test_merge(void)
{
    struct truth_series *a = truth_series_new("sniff", 100), *b = truth_series_new("poll", 100);
    if (!a || !b) {
        failures++;
        return;
    }
    truth_series_add(a, "m", TRUTH_NET, false, B(1600), 1.0);
    truth_series_add(a, "m", TRUTH_NET, false, B(1605), 1.001);
    truth_series_add(b, "w", TRUTH_NET, false, B(1600), 1.0);
    truth_series_add(b, "w", TRUTH_NET, false, B(1605), 1.0012);
    truth_series_add(b, "w", TRUTH_NET, false, B(1610), 1.0013);
    struct truth_series *list[2] = {a, b};
    char *got = csv_of(list, 2);
    check("series merged by interval_end then name", got,
          HDR "2017-06-07T16:05:00Z,poll,,1.2,,\n"
              "2017-06-07T16:05:00Z,sniff,,1.0,,\n"
              "2017-06-07T16:10:00Z,poll,,0.1,,\n");
    free(got);
    truth_series_free(a);
    truth_series_free(b);
}

static void test_records(void)
{
    struct sim_request r = {0};
    struct sim_record recs[4];
    memset(recs, 0, sizeof(recs));
    const char *f100[] = {"SPMS", "10", "ZT1", "20170607162941"};
    const char *f130[] = {"20170607162000", "414051708000326", "AC_Module_Type_C", "", "2.6042", "0.0963",
                          "249.03", "0.5752", "0.0995", "56.0065", "1.7445", "28.75", "60.0096", "0"};
    const char *f141[] = {"20170607162000", "PVS5M562239c", "PVS5M0400c", "", "1"};
    recs[0].msg = 100;
    for (int i = 0; i < 4; i++)
        snprintf(recs[0].f[recs[0].nf++], SIM_REC_FIELD_LEN, "%s", f100[i]);
    recs[1].msg = 130;
    for (int i = 0; i < 14; i++)
        snprintf(recs[1].f[recs[1].nf++], SIM_REC_FIELD_LEN, "%s", f130[i]);
    recs[2].msg = 141;
    for (int i = 0; i < 5; i++)
        snprintf(recs[2].f[recs[2].nf++], SIM_REC_FIELD_LEN, "%s", f141[i]);
    recs[3].msg = 102;
    snprintf(recs[3].f[recs[3].nf++], SIM_REC_FIELD_LEN, "nomAQPq+JV15zemUzITk");
    r.recs = recs;
    r.n = 4;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) {
        failures++;
        return;
    }
    truth_write_records(fp, &r);
    fclose(fp);
    check("records as sniff --format jsonl", buf,
          "{\"msg\":100,\"time\":\"2017-06-07T16:29:41Z\",\"fields\":[\"SPMS\",\"10\",\"ZT1\",\"20170607162941\"]}\n"
          "{\"msg\":130,\"time\":\"2017-06-07T16:20:00Z\",\"serial\":\"414051708000326\",\"model\":"
          "\"AC_Module_Type_C\",\"energy_lifetime_kWh\":2.6042,\"power_kW\":0.0963,\"voltage_V\":249.03,"
          "\"current_A\":0.5752,\"dc_power_kW\":0.0995,\"dc_voltage_V\":56.0065,\"dc_current_A\":1.7445,"
          "\"temperature_C\":28.75,\"frequency_Hz\":60.0096,\"status\":0}\n"
          "{\"msg\":141,\"time\":\"2017-06-07T16:20:00Z\",\"fields\":[\"20170607162000\",\"PVS5M562239c\","
          "\"PVS5M0400c\",\"\",\"1\"]}\n"
          "{\"msg\":102,\"time\":\"2017-06-07T16:29:41Z\",\"fields\":[\"nomAQPq+JV15zemUzITk\"]}\n");
    free(buf);
    char d[32];
    sim_format_decimal(d, sizeof(d), 3.2100, 4);
    check("canonical decimal", d, "3.21");
    sim_format_decimal(d, sizeof(d), -0.00001, 4);
    check("canonical decimal, no -0", d, "0");
}

int main(void)
{
    test_tables();
    test_topologies();
    test_request_topologies();
    test_format();
    test_poll_boundaries();
    test_merge();
    test_records();
    if (failures)
        printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
