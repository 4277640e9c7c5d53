/* Ground truth: the simulator's own implementation of the sniffer's record output and of the interval rules (never pvtap's). */
#include "truth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct obs {
    int64_t t_s;
    double v;
};

struct device {
    char name[48];
    enum truth_quantity q;
    bool monotonic;
    struct obs *obs;
    size_t n, cap;
};

struct truth_series {
    char name[32];
    double max_power_kW;
    struct truth_topology topo;
    struct device *dev;
    size_t n_dev, cap_dev;
    size_t conflicts;
};

struct contrib {
    int64_t end_s;
    int q; /* TRUTH_PRODUCTION, TRUTH_NET, or -1: a flag alone */
    double wh;
    unsigned flags;
};

struct contribs {
    struct contrib *c;
    size_t n, cap;
};

struct truth_series *truth_series_new(const char *name, double max_power_kW)
{
    struct truth_series *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->max_power_kW = max_power_kW;
    return s;
}

void truth_series_free(struct truth_series *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_dev; i++)
        free(s->dev[i].obs);
    free(s->dev);
    free(s);
}

const char *truth_series_name(const struct truth_series *s)
{
    return s->name;
}

void truth_series_set_topology(struct truth_series *s, const struct truth_topology *t)
{
    s->topo = *t;
}

const struct truth_topology *truth_series_topology(const struct truth_series *s)
{
    return &s->topo;
}

size_t truth_series_conflicts(const struct truth_series *s)
{
    return s->conflicts;
}

int truth_series_add(struct truth_series *s, const char *device, enum truth_quantity q, bool monotonic,
                     int64_t t_s, double value_kWh)
{
    struct device *d = NULL;
    for (size_t i = 0; i < s->n_dev; i++)
        if (strcmp(s->dev[i].name, device) == 0 && s->dev[i].q == q)
            d = &s->dev[i];
    if (!d) {
        if (s->n_dev == s->cap_dev) {
            size_t cap = s->cap_dev ? s->cap_dev * 2 : 16;
            struct device *p = realloc(s->dev, cap * sizeof(*p));
            if (!p)
                return -1;
            s->dev = p;
            s->cap_dev = cap;
        }
        d = &s->dev[s->n_dev++];
        memset(d, 0, sizeof(*d));
        snprintf(d->name, sizeof(d->name), "%s", device);
        d->q = q;
        d->monotonic = monotonic;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        struct obs *p = realloc(d->obs, cap * sizeof(*p));
        if (!p)
            return -1;
        d->obs = p;
        d->cap = cap;
    }
    d->obs[d->n++] = (struct obs){t_s, value_kWh};
    return 0;
}

static int cmp_obs(const void *a, const void *b)
{
    const struct obs *x = a, *y = b;
    if (x->t_s != y->t_s)
        return (x->t_s > y->t_s) - (x->t_s < y->t_s);
    return (x->v > y->v) - (x->v < y->v);
}

static int contrib_add(struct contribs *c, int64_t end_s, int q, double wh, unsigned flags)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct contrib *p = realloc(c->c, cap * sizeof(*p));
        if (!p)
            return -1;
        c->c = p;
        c->cap = cap;
    }
    c->c[c->n++] = (struct contrib){end_s, q, wh, flags};
    return 0;
}

static int cmp_contrib(const void *a, const void *b)
{
    const struct contrib *x = a, *y = b;
    return (x->end_s > y->end_s) - (x->end_s < y->end_s);
}

/* Float noise (0.1 kWh x 1000 is not exact) must not decide a threshold. */
static double snap_micro(double wh)
{
    return round(wh * 1e6) / 1e6;
}

/* The interval rules (docs/design.md, R1-R6) for one device's distinct values. */
static int device_contribs(struct truth_series *s, struct device *d, struct contribs *out)
{
    qsort(d->obs, d->n, sizeof(*d->obs), cmp_obs);
    /* repeats: one value per time, the largest; a differing repeat is a conflict */
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (m > 0 && d->obs[m - 1].t_s == d->obs[i].t_s) {
            if (d->obs[i].v != d->obs[m - 1].v) {
                s->conflicts++;
                d->obs[m - 1].v = d->obs[i].v; /* sorted ascending: this one is larger */
            }
            continue;
        }
        d->obs[m++] = d->obs[i];
    }
    d->n = m;
    /* the first value only sets the base */
    for (size_t i = 1; i < d->n; i++) {
        int64_t t0 = d->obs[i - 1].t_s, t = d->obs[i].t_s;
        double v0 = d->obs[i - 1].v, v = d->obs[i].v;
        int64_t dt = t - t0;
        int64_t k = dt / TRUTH_INTERVAL_S;
        double diff_Wh = v * 1000.0 - v0 * 1000.0;
        int rc = 0;
        if ((d->monotonic && v < v0) || fabs(v - v0) > s->max_power_kW * (double)dt / 3600.0) {
            rc = contrib_add(out, t, (int)d->q, 0.0, TRUTH_COUNTER_RESET);
        } else if (k == 1) {
            rc = contrib_add(out, t, (int)d->q, diff_Wh, 0);
        } else if (k >= 2 && k <= TRUTH_MAX_K) {
            for (int64_t j = 1; j <= k && rc == 0; j++)
                rc = contrib_add(out, t0 + j * TRUTH_INTERVAL_S, (int)d->q, diff_Wh / (double)k,
                                 TRUTH_INTERPOLATED);
        } else if (fabs(snap_micro(diff_Wh)) <= 1.0) {
            rc = contrib_add(out, t, (int)d->q, diff_Wh, 0); /* a quiet stretch */
        } else {
            rc = contrib_add(out, t, -1, 0.0, TRUTH_GAP);
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int truth_series_rows(struct truth_series *s, struct truth_row **rows, size_t *n)
{
    struct contribs c = {0};
    *rows = NULL;
    *n = 0;
    /* one production source per series for the whole run */
    bool meters = s->topo.production == TRUTH_PROD_METER;
    if (s->topo.production == TRUTH_PROD_AUTO)
        for (size_t i = 0; i < s->n_dev; i++)
            meters = meters || (s->dev[i].q == TRUTH_PRODUCTION_METER && s->dev[i].n > 0);
    for (size_t i = 0; i < s->n_dev; i++) {
        enum truth_quantity q = s->dev[i].q;
        if ((q == TRUTH_PRODUCTION && meters) || (q == TRUTH_PRODUCTION_METER && !meters))
            continue;
        if (device_contribs(s, &s->dev[i], &c) < 0) {
            free(c.c);
            return -1;
        }
    }
    qsort(c.c, c.n, sizeof(*c.c), cmp_contrib);
    struct truth_row *r = calloc(c.n ? c.n : 1, sizeof(*r));
    if (!r) {
        free(c.c);
        return -1;
    }
    size_t m = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (m == 0 || r[m - 1].end_s != c.c[i].end_s) {
            memset(&r[m], 0, sizeof(r[m]));
            r[m++].end_s = c.c[i].end_s;
        }
        struct truth_row *row = &r[m - 1];
        row->flags |= c.c[i].flags;
        if (c.c[i].q == TRUTH_PRODUCTION || c.c[i].q == TRUTH_PRODUCTION_METER) {
            row->has_prod = true;
            row->prod_Wh += c.c[i].wh;
        } else if (c.c[i].q == TRUTH_NET) {
            row->has_net = true;
            row->net_Wh += c.c[i].wh;
        } else if (c.c[i].q == TRUTH_CONSUMPTION) {
            row->has_cons = true;
            row->cons_Wh += c.c[i].wh;
        }
    }
    free(c.c);
    *rows = r;
    *n = m;
    return 0;
}

int truth_poll_boundaries(const int64_t *t_s, const double *v, size_t n, int64_t max_gap_s, truth_boundary_fn add,
                          void *ctx)
{
    if (n == 0)
        return 0;
    int64_t b = t_s[0] - (t_s[0] % TRUTH_INTERVAL_S + TRUTH_INTERVAL_S) % TRUTH_INTERVAL_S;
    if (b < t_s[0])
        b += TRUTH_INTERVAL_S;
    size_t i = 0; /* t_s[i] <= b < t_s[i+1] */
    for (; b <= t_s[n - 1]; b += TRUTH_INTERVAL_S) {
        while (i + 1 < n && t_s[i + 1] <= b)
            i++;
        double val;
        if (t_s[i] == b) {
            val = v[i];
        } else {
            if (i + 1 >= n)
                break;
            int64_t t1 = t_s[i], t2 = t_s[i + 1];
            if (b - t1 > max_gap_s || t2 - b > max_gap_s)
                continue; /* no value at this boundary: a missing record */
            val = v[i] + (v[i + 1] - v[i]) * (double)(b - t1) / (double)(t2 - t1);
        }
        if (add(ctx, b, val) < 0)
            return -1;
    }
    return 0;
}

void truth_format_wh(char *out, size_t size, double wh)
{
    double micro = round(wh * 1e6);
    double x = round(micro / 1e5) / 10.0;
    if (x == 0.0)
        x = 0.0; /* -0.0 prints as 0.0 */
    snprintf(out, size, "%.1f", x);
}

void truth_format_iso(char *out, size_t size, int64_t t_s)
{
    time_t t = (time_t)t_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct tagged_row {
    struct truth_row row;
    const char *series;
};

static int cmp_tagged(const void *a, const void *b)
{
    const struct tagged_row *x = a, *y = b;
    if (x->row.end_s != y->row.end_s)
        return (x->row.end_s > y->row.end_s) - (x->row.end_s < y->row.end_s);
    return strcmp(x->series, y->series);
}

int truth_write_csv(FILE *fp, struct truth_series **series, size_t n_series)
{
    struct tagged_row *all = NULL;
    size_t n_all = 0;
    for (size_t i = 0; i < n_series; i++) {
        struct truth_row *rows;
        size_t n;
        if (truth_series_rows(series[i], &rows, &n) < 0) {
            free(all);
            return -1;
        }
        struct tagged_row *p = realloc(all, (n_all + n + 1) * sizeof(*p));
        if (!p) {
            free(rows);
            free(all);
            return -1;
        }
        all = p;
        for (size_t j = 0; j < n; j++)
            all[n_all++] = (struct tagged_row){rows[j], truth_series_name(series[i])};
        free(rows);
    }
    if (n_all)
        qsort(all, n_all, sizeof(*all), cmp_tagged);
    fprintf(fp, "interval_end,source,production_wh,net_wh,consumption_wh,flags\n");
    for (size_t i = 0; i < n_all; i++) {
        const struct truth_row *r = &all[i].row;
        char iso[32], p[32] = "", nt[32] = "", c[32] = "", fl[64] = "";
        truth_format_iso(iso, sizeof(iso), r->end_s);
        if (r->has_prod)
            truth_format_wh(p, sizeof(p), r->prod_Wh);
        if (r->has_net)
            truth_format_wh(nt, sizeof(nt), r->net_Wh);
        else if (r->has_cons && r->has_prod)
            truth_format_wh(nt, sizeof(nt), r->cons_Wh - r->prod_Wh);
        if (r->has_cons)
            truth_format_wh(c, sizeof(c), r->cons_Wh);
        else if (r->has_prod && r->has_net)
            truth_format_wh(c, sizeof(c), r->prod_Wh + r->net_Wh);
        /* fixed order: interpolated;gap;counter_reset */
        static const struct {
            unsigned bit;
            const char *name;
        } names[] = {{TRUTH_INTERPOLATED, "interpolated"}, {TRUTH_GAP, "gap"}, {TRUTH_COUNTER_RESET, "counter_reset"}};
        size_t fn = 0;
        for (size_t k = 0; k < 3; k++)
            if (r->flags & names[k].bit)
                fn += (size_t)snprintf(fl + fn, sizeof(fl) - fn, "%s%s", fn ? ";" : "", names[k].name);
        fprintf(fp, "%s,%s,%s,%s,%s,%s\n", iso, all[i].series, p, nt, c, fl);
    }
    free(all);
    return ferror(fp) ? -1 : 0;
}

/* ---- records ----------------------------------------------------------- */

static bool parse_compact(const char *s, int64_t *out)
{
    if (strlen(s) != 14)
        return false;
    int v[6];
    static const int w[6] = {4, 2, 2, 2, 2, 2};
    const char *p = s;
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int j = 0; j < w[i]; j++, p++) {
            if (*p < '0' || *p > '9')
                return false;
            v[i] = v[i] * 10 + (*p - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return false;
    struct tm tm = {0};
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    *out = (int64_t)timegm(&tm);
    return true;
}

static void json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(fp, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(fp, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, fp);
    }
    fputc('"', fp);
}

static const char *const KEYS_130[] = {"time", "serial", "model", NULL, "energy_lifetime_kWh", "power_kW",
                                       "voltage_V", "current_A", "dc_power_kW", "dc_voltage_V", "dc_current_A",
                                       "temperature_C", "frequency_Hz", "status"};
static const char *const KEYS_140[] = {"time", "serial", "model", "ct_scale", "energy_net_lifetime_kWh",
                                       "power_kW", "reactive_kvar", "apparent_kVA", "power_factor",
                                       "frequency_Hz", "status"};

int truth_write_records(FILE *fp, const struct sim_request *r)
{
    int64_t send_s = -1;
    for (size_t i = 0; i < r->n; i++)
        if (r->recs[i].msg == 100 && r->recs[i].nf > 3 && parse_compact(r->recs[i].f[3], &send_s))
            break;
    for (size_t i = 0; i < r->n; i++) {
        const struct sim_record *rec = &r->recs[i];
        char iso[32];
        int64_t t;
        fprintf(fp, "{\"msg\":%d", rec->msg);
        const char *const *keys = NULL;
        size_t n_keys = 0;
        if (rec->msg == 130) {
            keys = KEYS_130;
            n_keys = sizeof(KEYS_130) / sizeof(KEYS_130[0]);
        } else if (rec->msg == 140) {
            keys = KEYS_140;
            n_keys = sizeof(KEYS_140) / sizeof(KEYS_140[0]);
        }
        if (keys) {
            for (int j = 0; j < rec->nf && (size_t)j < n_keys; j++) {
                if (!keys[j] || rec->f[j][0] == '\0')
                    continue; /* an empty field is absent */
                fprintf(fp, ",\"%s\":", keys[j]);
                if (j == 0 && parse_compact(rec->f[0], &t)) {
                    truth_format_iso(iso, sizeof(iso), t);
                    json_string(fp, iso);
                } else if (j == 1 || j == 2) {
                    json_string(fp, rec->f[j]);
                } else {
                    fputs(rec->f[j], fp); /* the body's own decimal text */
                }
            }
        } else {
            bool has_time = false;
            if (rec->msg == 100)
                has_time = rec->nf > 3 && parse_compact(rec->f[3], &t);
            else if (rec->msg == 102)
                has_time = send_s >= 0 && (t = send_s, true);
            else
                has_time = rec->nf > 0 && parse_compact(rec->f[0], &t);
            if (has_time) {
                truth_format_iso(iso, sizeof(iso), t);
                fputs(",\"time\":", fp);
                json_string(fp, iso);
            }
            fputs(",\"fields\":[", fp);
            for (int j = 0; j < rec->nf; j++) {
                if (j)
                    fputc(',', fp);
                json_string(fp, rec->f[j]);
            }
            fputc(']', fp);
        }
        fputs("}\n", fp);
    }
    return ferror(fp) ? -1 : 0;
}

bool truth_meter_not_installed(double lifetime_kWh, double power)
{
    return lifetime_kWh == 0.0 && power == 0.0;
}

int truth_add_request(struct truth_series *sniff, const struct sim_request *r)
{
    const struct truth_topology *topo = &sniff->topo;
    for (size_t i = 0; i < r->n; i++) {
        const struct sim_record *rec = &r->recs[i];
        int64_t t;
        if ((rec->msg != 130 && rec->msg != 140) || rec->nf < 5 || rec->f[4][0] == '\0')
            continue;
        if (!parse_compact(rec->f[0], &t))
            continue;
        char *end;
        double v = strtod(rec->f[4], &end);
        if (*end != '\0')
            continue;
        size_t sl = strlen(rec->f[1]);
        if (rec->msg == 130) {
            if (truth_series_add(sniff, rec->f[1], TRUTH_PRODUCTION, true, t, v) < 0)
                return -1;
            continue;
        }
        double pw = rec->nf > 5 ? strtod(rec->f[5], NULL) : 0.0;
        if (sl == 0 || truth_meter_not_installed(v, pw))
            continue;
        char suffix = rec->f[1][sl - 1];
        enum truth_quantity q;
        if (suffix == 'p')
            q = TRUTH_PRODUCTION_METER;
        else if (suffix == 'c' && topo->cmeter == TRUTH_CMETER_NET)
            q = TRUTH_NET;
        else if (suffix == 'c' && topo->cmeter == TRUTH_CMETER_GROSS)
            q = TRUTH_CONSUMPTION;
        else
            continue;
        /* only a net counter may go down; the others are lifetimes like an inverter's */
        if (truth_series_add(sniff, rec->f[1], q, q != TRUTH_NET, t, v) < 0)
            return -1;
    }
    return 0;
}
