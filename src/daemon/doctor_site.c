/* Data-driven hints about the site's metering kind, from a day of the store's raw records. */
#include "daemon/doctor_site.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store/site_kind.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

/* How much evidence a hint needs: a few intervals, not one noisy record. */
enum { MIN_INTERVALS = 12, MIN_EXCEEDED = 6, MIN_NEGATIVE = 3 };
static const double NOISE_WH = 1.0; /* counter resolution: 0.001 kWh */
static const double MIN_DAY_PRODUCTION_WH = 1000.0;
static const double PMETER_TOLERANCE = 0.05; /* production meter vs inverters */

/* The next result slot (NULL when full), its check and level set. */
static struct doctor_result *hint(struct doctor_result *out, size_t max, size_t *n,
                                  enum doctor_level level, const char *series)
{
    if (*n >= max)
        return NULL;
    struct doctor_result *r = &out[(*n)++];
    snprintf(r->check, sizeof r->check, "metering (%s)", series);
    r->level = level;
    return r;
}

size_t doctor_site_hints(const struct doctor_site_day *day, enum engine_consumption kind,
                         struct doctor_result *out, size_t max)
{
    size_t n = 0, c_n = 0, exceeded = 0, negative = 0, both_n = 0;
    double c_min = INFINITY, pm_sum = 0, inv_sum = 0;
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++) {
        double c = day->c_wh[i], p = day->inverters_wh[i], pm = day->pmeter_wh[i];
        /* the production the meter would see: the production meter when live */
        double prod = !isnan(pm) && pm != 0.0 ? pm : p;
        if (!isnan(c)) {
            c_n++;
            c_min = c < c_min ? c : c_min;
            if (c < -NOISE_WH)
                negative++;
            /* a net meter exports (goes negative) when production exceeds the load */
            if (!isnan(prod) && c >= -NOISE_WH && prod > c + 10.0 * NOISE_WH)
                exceeded++;
        }
        if (!isnan(pm) && !isnan(p)) {
            both_n++;
            pm_sum += pm;
            inv_sum += p;
        }
    }
    struct doctor_result *r;
    /* a meter whose every record of the day reads 0 measures nothing */
    if (day->c_zero && !day->c_live && (r = hint(out, max, &n, DOCTOR_WARN, day->series)))
        snprintf(r->verdict, sizeof r->verdict,
                 "consumption CTs not installed or not wired: the consumption meter read 0 kWh "
                 "all day (net and consumption stay empty)");
    if (day->p_zero && !day->p_live && (r = hint(out, max, &n, DOCTOR_OK, day->series)))
        snprintf(r->verdict, sizeof r->verdict,
                 "production CTs not installed: the production meter read 0 kWh all day "
                 "(production is the inverters' sum)");
    if (kind == ENGINE_CONSUMPTION_NET && c_n >= MIN_INTERVALS && c_min >= -NOISE_WH &&
        exceeded >= MIN_EXCEEDED && (r = hint(out, max, &n, DOCTOR_WARN, day->series)))
        snprintf(r->verdict, sizeof r->verdict,
                 "the consumption meter, read as net, never went below 0 while production "
                 "exceeded it in %zu of %zu intervals of the last day: looks like gross CTs: set "
                 "site.consumption_meter = \"gross\"",
                 exceeded, c_n);
    if (kind == ENGINE_CONSUMPTION_GROSS && negative >= MIN_NEGATIVE &&
        (r = hint(out, max, &n, DOCTOR_WARN, day->series)))
        snprintf(r->verdict, sizeof r->verdict,
                 "the consumption meter, read as gross (the whole house), went negative in %zu "
                 "intervals of the last day (down to %.1f Wh): looks like net CTs: set "
                 "site.consumption_meter = \"net\"",
                 negative, c_min);
    if (both_n >= MIN_INTERVALS && inv_sum >= MIN_DAY_PRODUCTION_WH &&
        fabs(pm_sum - inv_sum) > PMETER_TOLERANCE * inv_sum &&
        (r = hint(out, max, &n, DOCTOR_WARN, day->series)))
        snprintf(r->verdict, sizeof r->verdict,
                 "the production meter measured %.0f Wh and the inverters %.0f Wh over the last "
                 "day (%.1f %% apart, more than 5 %%): check the production CTs (or use "
                 "site.production = \"inverters\")",
                 pm_sum, inv_sum, 100.0 * fabs(pm_sum - inv_sum) / inv_sum);
    if (n == 0 && (r = hint(out, max, &n, DOCTOR_OK, day->series))) {
        snprintf(r->verdict, sizeof r->verdict,
                 "the last day's records (%zu intervals of the consumption meter) agree with it "
                 "read as %s",
                 c_n, site_kind_consumption_name(kind));
    }
    return n;
}

/* ---- the last day of each series from the store's records ---------------- */

struct gather {
    struct doctor_site_day *days;
    size_t max, n;
    int64_t newest; /* first pass: the newest record time */
    bool second;
    /* the previous point of the counter being read (records come ordered by
     * series, device, quantity, time) */
    char key[96];
    int64_t prev_t;
    double prev_v;
};

static struct doctor_site_day *day_of(struct gather *g, const char *series)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->days[i].series, series) == 0)
            return &g->days[i];
    if (g->n >= g->max)
        return NULL;
    struct doctor_site_day *d = &g->days[g->n++];
    snprintf(d->series, sizeof d->series, "%s", series);
    for (size_t i = 0; i < DOCTOR_DAY_SLOTS; i++)
        d->c_wh[i] = d->inverters_wh[i] = d->pmeter_wh[i] = NAN;
    return d;
}

static void add(double *slot, double wh)
{
    *slot = isnan(*slot) ? wh : *slot + wh;
}

static void on_record(void *ctx, const struct reading *r)
{
    struct gather *g = ctx;
    if (!g->second) {
        if (r->time > g->newest)
            g->newest = r->time;
        return;
    }
    char key[96];
    snprintf(key, sizeof key, "%s/%s/%d", r->series, r->device, (int)r->q);
    bool same = strcmp(key, g->key) == 0;
    int64_t pt = g->prev_t;
    double pv = g->prev_v;
    snprintf(g->key, sizeof g->key, "%s", key);
    g->prev_t = r->time;
    g->prev_v = r->value;
    int64_t start = g->newest - (int64_t)DOCTOR_DAY_SLOTS * INTERVAL_S;
    /* differences within one interval's reach only: no gaps, no day before */
    if (!same || pt < start || r->time - pt > INTERVAL_S || r->time <= pt)
        return;
    size_t slot = (size_t)((r->time - 1 - start) / INTERVAL_S);
    if (slot >= DOCTOR_DAY_SLOTS)
        return;
    double *arr = NULL;
    if (r->kind == DEVICE_INVERTER && r->q == Q_ENERGY_LIFETIME_KWH) {
        if (r->value < pv)
            return; /* a reset */
        struct doctor_site_day *d = day_of(g, r->series);
        if (d)
            add(&d->inverters_wh[slot], (r->value - pv) * 1000.0);
        return;
    }
    if (r->q != Q_ENERGY_NET_LIFETIME_KWH)
        return;
    struct doctor_site_day *d = day_of(g, r->series);
    if (!d)
        return;
    bool zero = r->value == 0.0 && pv == 0.0;
    if (r->kind == DEVICE_NET_METER || r->kind == DEVICE_CONSUMPTION_METER) {
        arr = d->c_wh;
        zero ? d->c_zero++ : d->c_live++;
    } else if (r->kind == DEVICE_PRODUCTION_METER) {
        arr = d->pmeter_wh;
        zero ? d->p_zero++ : d->p_live++;
    }
    /* a meter at 0 and 0 measures nothing (CTs not installed) */
    if (arr && !(r->value == 0.0 && pv == 0.0))
        add(&arr[slot], (r->value - pv) * 1000.0);
}

int doctor_site_days(struct store *st, struct doctor_site_day *out, size_t max)
{
    struct gather g = {.days = out, .max = max, .newest = INT64_MIN};
    struct reading_sink sink = {on_record, &g};
    /* the newest record and the last day's records by key seeks: not two
     * passes over years of records */
    bool found = false;
    int rc = store_newest_record(st, &g.newest, &found);
    if (rc < 0 || !found)
        return rc;
    g.second = true;
    rc = store_load_readings_since(st, g.newest - (int64_t)DOCTOR_DAY_SLOTS * INTERVAL_S, &sink);
    return rc < 0 ? rc : (int)g.n;
}
