/* The interval engine: per-device counter points -> 5-minute rows by the rules R1-R6. */
#include "engine/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/timeutil.h" /* INTERVAL_S only: the engine calls no time functions */

/* The rules (R1-R6, tabled in docs/design.md), in
 * one place:
 *  - every counter (series, device, quantity) keeps the set of its distinct
 *    points time -> value (a repeat with another value keeps the larger), so
 *    the result is a function of that set, never of the arrival order;
 *  - an interval's energy from one counter comes from the pair of
 *    consecutive points around it (R2), so a new point only changes the
 *    intervals its old and new pairs cover: those are marked dirty and
 *    engine_collect() recomputes just them;
 *  - polled counters keep their samples and derive a point at each 5-minute
 *    boundary with a poll within max_poll_gap_s on both sides (R5). */

enum { SPLIT_MAX = 12 }; /* a gap of up to 12 intervals is split evenly */
enum { DEFAULT_MAX_KEYS = 4096 };
static const int64_t TIME_MAX_S = 4102444800LL; /* 2100-01-01: anything later is bad input */

/* ROLE_PRODUCTION: an inverter; ROLE_PMETER: a production meter;
 * ROLE_CONSUMPTION: a gross consumption meter (the whole house). */
enum role {
    ROLE_NONE,
    ROLE_PRODUCTION,
    ROLE_NET,
    ROLE_IMPORT,
    ROLE_EXPORT,
    ROLE_CONSUMPTION,
    ROLE_PMETER,
    ROLE_COUNT_
};

struct point {
    int64_t t;
    double v; /* kWh */
};

struct points {
    struct point *p;
    size_t n, cap;
};

struct key {
    char device[sizeof((struct reading *)0)->device];
    enum quantity q;
    enum role role;
    bool monotonic;
    enum reading_clock clock;
    bool meter;            /* a meter's counter: a 0 needs a non-zero power to count */
    struct points pts;     /* record points, or boundary values derived from samples */
    struct points samples; /* CLOCK_POLL only */
    struct points held;    /* times of 0 values waiting for a power reading (v unused) */
};

/* The times at which a meter reported a non-zero power (v unused). */
struct powered {
    char device[sizeof((struct reading *)0)->device];
    struct points times;
};

struct series {
    char name[ENGINE_SERIES_MAX];
    struct key **keys; /* sorted by (device, quantity): sums in a fixed order */
    size_t n_keys, cap_keys;
    struct interval_row *rows; /* sorted by interval_end */
    size_t n_rows, cap_rows;
    int64_t *dirty; /* interval ends to recompute (unsorted, repeats allowed) */
    size_t n_dirty, cap_dirty;
    struct powered *powered; /* one per meter device that reported power */
    size_t n_powered, cap_powered;
};

struct engine {
    struct engine_params p;
    struct series **series;
    size_t n_series, cap_series;
    size_t n_keys;
    int64_t horizon; /* engine_forget(): nothing before it is held */
    struct interval_row *out;
    size_t n_out, cap_out;
    struct engine_stats st;
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t iend(int64_t t)
{
    /* times are >= 0 (checked on entry), so integer division rounds down */
    return (t + INTERVAL_S - 1) / INTERVAL_S * INTERVAL_S;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return PVTAP_ENOMEM;
        n *= 2;
    }
    void *q = realloc(*arr, n * elem);
    if (!q)
        return PVTAP_ENOMEM;
    *arr = q;
    *cap = n;
    return 0;
}

/* First index with p[i].t >= t. */
static size_t pts_lower(const struct points *ps, int64_t t)
{
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->p[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int mark(struct series *s, int64_t iv)
{
    if (!s)
        return 0; /* poll samples: their boundary values are marked instead */
    if (grow((void **)&s->dirty, &s->cap_dirty, s->n_dirty + 1, sizeof *s->dirty))
        return PVTAP_ENOMEM;
    s->dirty[s->n_dirty++] = iv;
    return 0;
}

/* The intervals the pair (a, b) can contribute to: every one of a split
 * (k <= 12), else only b's own. Depends on the times only. */
static int mark_pair(struct series *s, const struct point *a, const struct point *b)
{
    int64_t ia = iend(a->t), ib = iend(b->t);
    int64_t k = (ib - ia) / INTERVAL_S;
    if (k >= 2 && k <= SPLIT_MAX) {
        for (int64_t iv = ia + INTERVAL_S; iv <= ib; iv += INTERVAL_S)
            if (mark(s, iv))
                return PVTAP_ENOMEM;
        return 0;
    }
    return mark(s, ib);
}

static int mark_around(struct series *s, const struct points *ps, size_t i)
{
    if (i > 0 && mark_pair(s, &ps->p[i - 1], &ps->p[i]))
        return PVTAP_ENOMEM;
    if (i + 1 < ps->n && mark_pair(s, &ps->p[i], &ps->p[i + 1]))
        return PVTAP_ENOMEM;
    return 0;
}

/* Insert or update point t. keep_max: a record repeat keeps the larger value
 * (R3); otherwise (derived boundary values) the new value replaces. */
static int point_set(struct engine *e, struct series *s, struct points *ps, int64_t t, double v,
                     bool keep_max, bool count)
{
    size_t i = pts_lower(ps, t);
    if (i < ps->n && ps->p[i].t == t) {
        if (ps->p[i].v == v) {
            if (count)
                e->st.repeats++;
            return 0;
        }
        if (count)
            e->st.conflicts++;
        if (keep_max && v < ps->p[i].v)
            return 0;
        ps->p[i].v = v;
        return mark_around(s, ps, i);
    }
    if (grow((void **)&ps->p, &ps->cap, ps->n + 1, sizeof *ps->p))
        return PVTAP_ENOMEM;
    /* the old pair across the new point no longer exists */
    if (i > 0 && i < ps->n && mark_pair(s, &ps->p[i - 1], &ps->p[i]))
        return PVTAP_ENOMEM;
    memmove(&ps->p[i + 1], &ps->p[i], (ps->n - i) * sizeof *ps->p);
    ps->p[i] = (struct point){t, v};
    ps->n++;
    return mark_around(s, ps, i);
}

static int point_remove(struct series *s, struct points *ps, int64_t t)
{
    size_t i = pts_lower(ps, t);
    if (i >= ps->n || ps->p[i].t != t)
        return 0;
    if (mark_around(s, ps, i))
        return PVTAP_ENOMEM;
    memmove(&ps->p[i], &ps->p[i + 1], (ps->n - i - 1) * sizeof *ps->p);
    ps->n--;
    if (i > 0 && i < ps->n)
        return mark_pair(s, &ps->p[i - 1], &ps->p[i]);
    return 0;
}

/* R5: the value at boundary b from the polls around it, if both are close. */
static bool boundary_value(const struct engine *e, const struct points *smp, int64_t b, double *v)
{
    size_t i = pts_lower(smp, b);
    if (i < smp->n && smp->p[i].t == b) {
        *v = smp->p[i].v;
        return true;
    }
    if (i == 0 || i >= smp->n)
        return false;
    const struct point *p1 = &smp->p[i - 1], *p2 = &smp->p[i];
    if (b - p1->t > e->p.max_poll_gap_s || p2->t - b > e->p.max_poll_gap_s)
        return false;
    *v = p1->v + (p2->v - p1->v) * (double)(b - p1->t) / (double)(p2->t - p1->t);
    return true;
}

static int poll_sample(struct engine *e, struct series *s, struct key *k, int64_t t, double v)
{
    size_t i = pts_lower(&k->samples, t);
    bool existed = i < k->samples.n && k->samples.p[i].t == t;
    double before_v = existed ? k->samples.p[i].v : 0.0;
    int rc = point_set(e, NULL, &k->samples, t, v, true, true);
    if (rc)
        return rc;
    if (existed && k->samples.p[i].v == before_v)
        return 0; /* a repeat, or a conflict that kept the old larger value */
    int64_t gap = e->p.max_poll_gap_s;
    int64_t first = iend(t - gap > 0 ? t - gap : 0);
    for (int64_t b = first; b <= t + gap; b += INTERVAL_S) {
        if (b < e->horizon)
            continue;
        double bv;
        if (boundary_value(e, &k->samples, b, &bv))
            rc = point_set(e, s, &k->pts, b, bv, false, false);
        else
            rc = point_remove(s, &k->pts, b);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- keys and series ---------------------------------------------------- */

static bool kind_is_meter(enum device_kind kind)
{
    return kind == DEVICE_NET_METER || kind == DEVICE_PRODUCTION_METER ||
           kind == DEVICE_CONSUMPTION_METER;
}

/* What a counter is for, under the site's interpretation (params). */
static enum role role_of(const struct engine_params *p, enum device_kind kind, enum quantity q,
                         bool *monotonic)
{
    *monotonic = q != Q_ENERGY_NET_LIFETIME_KWH;
    if (kind == DEVICE_INVERTER && q == Q_ENERGY_LIFETIME_KWH)
        return ROLE_PRODUCTION;
    if (kind == DEVICE_PRODUCTION_METER) {
        /* its net counter may dip at night (the inverters' standby) */
        if (q == Q_ENERGY_NET_LIFETIME_KWH && p->production != ENGINE_PRODUCTION_INVERTERS)
            return ROLE_PMETER;
        return ROLE_NONE;
    }
    bool gross = kind == DEVICE_CONSUMPTION_METER ||
                 (kind == DEVICE_NET_METER && p->consumption_meter == ENGINE_CONSUMPTION_GROSS);
    if (p->consumption_meter == ENGINE_CONSUMPTION_NONE && kind_is_meter(kind))
        return ROLE_NONE;
    if (gross) {
        /* the whole house never runs backwards: a decrease is a reset; its
         * import/export counters say nothing about the grid */
        *monotonic = true;
        return q == Q_ENERGY_NET_LIFETIME_KWH ? ROLE_CONSUMPTION : ROLE_NONE;
    }
    if (kind == DEVICE_NET_METER) {
        switch (q) {
        case Q_ENERGY_NET_LIFETIME_KWH:
            return ROLE_NET;
        case Q_ENERGY_IMPORT_LIFETIME_KWH:
            return ROLE_IMPORT;
        case Q_ENERGY_EXPORT_LIFETIME_KWH:
            return ROLE_EXPORT;
        default:
            break;
        }
    }
    return ROLE_NONE; /* anything else does not enter intervals */
}

static struct series *series_find(const struct engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_series; i++)
        if (strcmp(e->series[i]->name, name) == 0)
            return e->series[i];
    return NULL;
}

static struct series *series_get(struct engine *e, const char *name)
{
    struct series *s = series_find(e, name);
    if (s)
        return s;
    if (grow((void **)&e->series, &e->cap_series, e->n_series + 1, sizeof *e->series))
        return NULL;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    e->series[e->n_series++] = s;
    return s;
}

static int key_cmp(const struct key *k, const char *device, enum quantity q)
{
    int c = strcmp(k->device, device);
    if (c)
        return c;
    return (int)k->q - (int)q;
}

static struct key *key_get(struct engine *e, struct series *s, const struct reading *r,
                           enum role role, bool monotonic, int *err)
{
    size_t lo = 0, hi = s->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(s->keys[mid], r->device, r->q);
        if (c == 0)
            return s->keys[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (e->n_keys >= e->p.max_keys) {
        *err = PVTAP_ELIMIT;
        return NULL;
    }
    *err = PVTAP_ENOMEM;
    if (grow((void **)&s->keys, &s->cap_keys, s->n_keys + 1, sizeof *s->keys))
        return NULL;
    struct key *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    snprintf(k->device, sizeof k->device, "%s", r->device);
    k->q = r->q;
    k->role = role;
    k->monotonic = monotonic;
    k->clock = r->clock;
    k->meter = kind_is_meter(r->kind);
    memmove(&s->keys[lo + 1], &s->keys[lo], (s->n_keys - lo) * sizeof *s->keys);
    s->keys[lo] = k;
    s->n_keys++;
    e->n_keys++;
    *err = 0;
    return k;
}

/* ---- public ------------------------------------------------------------- */

void engine_params_default(struct engine_params *p)
{
    p->max_power_kW = 100.0;
    p->max_poll_gap_s = 60;
    p->max_keys = DEFAULT_MAX_KEYS;
    p->consumption_meter = ENGINE_CONSUMPTION_NET;
    p->production = ENGINE_PRODUCTION_AUTO;
}

struct engine *engine_new(const struct engine_params *params)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    engine_params_default(&e->p);
    if (params) {
        if (params->max_power_kW > 0 && isfinite(params->max_power_kW))
            e->p.max_power_kW = params->max_power_kW;
        if (params->max_poll_gap_s >= 0)
            e->p.max_poll_gap_s = params->max_poll_gap_s;
        if (params->max_keys > 0)
            e->p.max_keys = params->max_keys;
        if (params->consumption_meter <= ENGINE_CONSUMPTION_NONE)
            e->p.consumption_meter = params->consumption_meter;
        if (params->production <= ENGINE_PRODUCTION_INVERTERS)
            e->p.production = params->production;
    }
    return e;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_series; i++) {
        struct series *s = e->series[i];
        for (size_t j = 0; j < s->n_keys; j++) {
            free(s->keys[j]->pts.p);
            free(s->keys[j]->samples.p);
            free(s->keys[j]->held.p);
            free(s->keys[j]);
        }
        for (size_t j = 0; j < s->n_powered; j++)
            free(s->powered[j].times.p);
        free(s->powered);
        free(s->keys);
        free(s->rows);
        free(s->dirty);
        free(s);
    }
    free(e->series);
    free(e->out);
    free(e);
}

static struct powered *powered_find(const struct series *s, const char *device)
{
    for (size_t i = 0; i < s->n_powered; i++)
        if (strcmp(s->powered[i].device, device) == 0)
            return &s->powered[i];
    return NULL;
}

static bool is_powered(const struct series *s, const char *device, int64_t t)
{
    const struct powered *pw = powered_find(s, device);
    if (!pw)
        return false;
    size_t i = pts_lower(&pw->times, t);
    return i < pw->times.n && pw->times.p[i].t == t;
}

/* A counter value at t of key k (record point or poll sample). */
static int counter_put(struct engine *e, struct series *s, struct key *k, int64_t t, double v)
{
    if (k->clock == CLOCK_POLL)
        return poll_sample(e, s, k, t, v);
    return point_set(e, s, &k->pts, t, v, true, true);
}

/* A meter's non-zero power at t: its counters' zeros at t are real values
 * (a meter at exactly 0 kWh that is measuring), whichever came first. */
static int power_note(struct engine *e, const struct reading *r)
{
    e->st.ignored++;
    if (!isfinite(r->value) || r->value == 0.0 || r->time < e->horizon || r->time < 0 ||
        r->time >= TIME_MAX_S)
        return 0;
    struct series *s = series_get(e, r->series);
    if (!s)
        return PVTAP_ENOMEM;
    struct powered *pw = powered_find(s, r->device);
    if (!pw) {
        if (grow((void **)&s->powered, &s->cap_powered, s->n_powered + 1, sizeof *s->powered))
            return PVTAP_ENOMEM;
        pw = &s->powered[s->n_powered++];
        memset(pw, 0, sizeof *pw);
        snprintf(pw->device, sizeof pw->device, "%s", r->device);
    }
    int rc = point_set(e, NULL, &pw->times, r->time, 1.0, true, false);
    for (size_t j = 0; rc == 0 && j < s->n_keys; j++) {
        struct key *k = s->keys[j];
        if (strcmp(k->device, r->device) != 0)
            continue;
        size_t i = pts_lower(&k->held, r->time);
        if (i >= k->held.n || k->held.p[i].t != r->time)
            continue;
        rc = point_remove(NULL, &k->held, r->time);
        if (rc == 0)
            rc = counter_put(e, s, k, r->time, 0.0);
    }
    return rc;
}

int engine_add(struct engine *e, const struct reading *r)
{
    if (!r || !r->series || !r->series[0] || strlen(r->series) >= ENGINE_SERIES_MAX ||
        !r->device[0] || memchr(r->device, '\0', sizeof r->device) == NULL)
        return PVTAP_EINVAL;
    if (r->q == Q_POWER_W && kind_is_meter(r->kind))
        return power_note(e, r);
    if (!quantity_is_counter(r->q)) {
        e->st.ignored++;
        return 0;
    }
    bool monotonic;
    enum role role = role_of(&e->p, r->kind, r->q, &monotonic);
    /* site.production auto: a production meter reading 0 is one whose CTs
     * are not there, whatever its power says */
    if (role == ROLE_PMETER && e->p.production == ENGINE_PRODUCTION_AUTO && r->value == 0.0)
        role = ROLE_NONE;
    if (role == ROLE_NONE) {
        e->st.ignored++;
        return 0;
    }
    if (!isfinite(r->value) || r->time < 0 || r->time >= TIME_MAX_S ||
        (r->clock != CLOCK_RECORD && r->clock != CLOCK_POLL))
        return PVTAP_EINVAL;
    if (r->time < e->horizon) {
        e->st.too_old++;
        return PVTAP_ELIMIT;
    }
    struct series *s = series_get(e, r->series);
    if (!s)
        return PVTAP_ENOMEM;
    int err;
    struct key *k = key_get(e, s, r, role, monotonic, &err);
    if (!k)
        return err;
    if (k->clock != r->clock)
        return PVTAP_EINVAL; /* one device is either sniffed records or polled samples */
    int rc;
    if (k->meter && r->value == 0.0 && !is_powered(s, r->device, r->time)) {
        /* not installed (0 kWh, no power): held until a power says otherwise */
        rc = point_set(e, NULL, &k->held, r->time, 0.0, true, false);
        if (rc == 0)
            e->st.held_zero++;
        return rc;
    }
    rc = counter_put(e, s, k, r->time, r->value);
    if (rc == 0)
        e->st.readings++;
    return rc;
}

struct acc {
    double sum[ROLE_COUNT_];
    unsigned n[ROLE_COUNT_];
    unsigned flags[ROLE_COUNT_];
};

static void acc_add(struct acc *a, enum role role, double wh)
{
    a->sum[role] += wh;
    a->n[role]++;
}

/* R2 for the pair (a, b) of one counter, as it touches interval iv. */
static void pair_contrib(const struct engine *e, const struct key *k, const struct point *a,
                         const struct point *b, int64_t iv, struct acc *acc)
{
    int64_t ia = iend(a->t), ib = iend(b->t);
    double dv_kWh = b->v - a->v;
    double dt_h = (double)(b->t - a->t) / 3600.0;
    unsigned flags = 0;
    if ((k->monotonic && b->v < a->v) || fabs(dv_kWh) > e->p.max_power_kW * dt_h) {
        if (iv == ib) {
            acc_add(acc, k->role, 0.0);
            flags = IFLAG_COUNTER_RESET;
        }
    } else {
        int64_t n = (ib - ia) / INTERVAL_S;
        double d_Wh = dv_kWh * 1000.0;
        if (n <= 1) {
            if (iv == ib)
                acc_add(acc, k->role, d_Wh);
        } else if (n <= SPLIT_MAX) {
            if (iv > ia && iv <= ib) {
                acc_add(acc, k->role, d_Wh / (double)n);
                flags = IFLAG_INTERPOLATED;
            }
        } else if (iv == ib) {
            /* compare in micro-Wh, as R1 rounds, so 0.001 kWh counts as 1 Wh */
            if (round(fabs(d_Wh) * 1e6) <= 1e6)
                acc_add(acc, k->role, d_Wh);
            else
                flags = IFLAG_GAP;
        }
    }
    acc->flags[k->role] |= flags;
}

static void key_contrib(const struct engine *e, const struct key *k, int64_t iv, struct acc *acc)
{
    const struct points *ps = &k->pts;
    /* first point whose interval is iv or later: iend(t) >= iv <=> t > iv - 300 */
    size_t i = pts_lower(ps, iv - INTERVAL_S + 1);
    if (i >= ps->n)
        return;
    if (iend(ps->p[i].t) == iv) {
        for (size_t j = i; j < ps->n && iend(ps->p[j].t) == iv; j++)
            if (j > 0)
                pair_contrib(e, k, &ps->p[j - 1], &ps->p[j], iv, acc);
    } else if (i > 0) {
        pair_contrib(e, k, &ps->p[i - 1], &ps->p[i], iv, acc);
    }
}

static void compute_row(const struct engine *e, const struct series *s, int64_t iv,
                        struct interval_row *row)
{
    struct acc acc = {0};
    for (size_t j = 0; j < s->n_keys; j++)
        if (s->keys[j]->pts.n >= 2)
            key_contrib(e, s->keys[j], iv, &acc);
    memset(row, 0, sizeof *row);
    row->interval_end = iv;
    row->series = s->name;
    /* production: the meter under "meter", and under "auto" where it has a
     * (non-zero) counter around this interval; else the inverters */
    enum role prod = ROLE_PRODUCTION;
    if (e->p.production == ENGINE_PRODUCTION_METER ||
        (e->p.production == ENGINE_PRODUCTION_AUTO && acc.n[ROLE_PMETER]))
        prod = ROLE_PMETER;
    bool has_p = acc.n[prod] > 0;
    double p_wh = acc.sum[prod];
    /* a gap or reset of a consumption meter flags the row even without data */
    row->flags = acc.flags[prod] | acc.flags[ROLE_NET] | acc.flags[ROLE_CONSUMPTION];
    if (has_p) {
        row->has |= IHAS_PRODUCTION;
        row->production_wh = p_wh;
    }
    if (acc.n[ROLE_NET]) {
        row->has |= IHAS_NET;
        row->net_wh = acc.sum[ROLE_NET];
        if (has_p) {
            row->has |= IHAS_CONSUMPTION;
            row->consumption_wh = p_wh + acc.sum[ROLE_NET]; /* R1: unrounded */
        }
    } else if (acc.n[ROLE_CONSUMPTION]) {
        /* gross: the meter is the consumption; the grid is what production
         * does not cover (known only with production) */
        row->has |= IHAS_CONSUMPTION;
        row->consumption_wh = acc.sum[ROLE_CONSUMPTION];
        if (has_p) {
            row->has |= IHAS_NET;
            row->net_wh = acc.sum[ROLE_CONSUMPTION] - p_wh;
        }
    }
    if (!row->has && !row->flags)
        return; /* R6: no row; import/export alone do not make one */
    if (acc.n[ROLE_IMPORT]) {
        row->has |= IHAS_IMPORT;
        row->import_wh = acc.sum[ROLE_IMPORT];
    }
    if (acc.n[ROLE_EXPORT]) {
        row->has |= IHAS_EXPORT;
        row->export_wh = acc.sum[ROLE_EXPORT];
    }
}

static bool row_equal(const struct interval_row *a, const struct interval_row *b)
{
    return a->has == b->has && a->flags == b->flags && a->production_wh == b->production_wh &&
           a->net_wh == b->net_wh && a->consumption_wh == b->consumption_wh &&
           a->import_wh == b->import_wh && a->export_wh == b->export_wh;
}

static size_t rows_lower(const struct series *s, int64_t iv)
{
    size_t lo = 0, hi = s->n_rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->rows[mid].interval_end < iv)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int collect_series(struct engine *e, struct series *s)
{
    if (!s->n_dirty)
        return 0;
    qsort(s->dirty, s->n_dirty, sizeof *s->dirty, cmp_i64);
    for (size_t d = 0; d < s->n_dirty; d++) {
        int64_t iv = s->dirty[d];
        if ((d > 0 && iv == s->dirty[d - 1]) || iv < e->horizon)
            continue;
        struct interval_row row;
        compute_row(e, s, iv, &row);
        bool exists = row.has || row.flags;
        size_t i = rows_lower(s, iv);
        bool had = i < s->n_rows && s->rows[i].interval_end == iv;
        if (!exists && !had)
            continue;
        if (exists && had && row_equal(&row, &s->rows[i]))
            continue;
        if (grow((void **)&e->out, &e->cap_out, e->n_out + 1, sizeof *e->out))
            return PVTAP_ENOMEM;
        if (exists && !had) {
            if (grow((void **)&s->rows, &s->cap_rows, s->n_rows + 1, sizeof *s->rows))
                return PVTAP_ENOMEM;
            memmove(&s->rows[i + 1], &s->rows[i], (s->n_rows - i) * sizeof *s->rows);
            s->n_rows++;
        }
        if (exists) {
            s->rows[i] = row;
        } else {
            memmove(&s->rows[i], &s->rows[i + 1], (s->n_rows - i - 1) * sizeof *s->rows);
            s->n_rows--;
        }
        e->out[e->n_out++] = row;
    }
    s->n_dirty = 0;
    return 0;
}

int engine_collect(struct engine *e, const struct interval_row **rows, size_t *n)
{
    e->n_out = 0;
    *rows = NULL;
    *n = 0;
    for (size_t i = 0; i < e->n_series; i++) {
        int rc = collect_series(e, e->series[i]);
        if (rc)
            return rc; /* the dirty marks stay: a retry recomputes them */
    }
    *rows = e->out;
    *n = e->n_out;
    return 0;
}

void engine_rows(const struct engine *e, const char *series, const struct interval_row **rows,
                 size_t *n)
{
    const struct series *s = series_find(e, series);
    *rows = s ? s->rows : NULL;
    *n = s ? s->n_rows : 0;
}

size_t engine_series_count(const struct engine *e)
{
    return e->n_series;
}

const char *engine_series_name(const struct engine *e, size_t i)
{
    return i < e->n_series ? e->series[i]->name : NULL;
}

static void drop_before(struct points *ps, int64_t t, bool keep_one)
{
    size_t i = pts_lower(ps, t);
    if (keep_one && i > 0)
        i--;
    if (i == 0)
        return; /* nothing to drop (and p may still be NULL) */
    memmove(ps->p, ps->p + i, (ps->n - i) * sizeof *ps->p);
    ps->n -= i;
}

void engine_forget(struct engine *e, int64_t before_s)
{
    if (before_s <= e->horizon)
        return;
    e->horizon = before_s;
    for (size_t i = 0; i < e->n_series; i++) {
        struct series *s = e->series[i];
        for (size_t j = 0; j < s->n_keys; j++) {
            struct key *k = s->keys[j];
            drop_before(&k->pts, before_s, true);
            /* boundaries at or after the horizon still need the polls before them */
            drop_before(&k->samples, before_s - e->p.max_poll_gap_s, true);
            drop_before(&k->held, before_s - e->p.max_poll_gap_s, false);
        }
        for (size_t j = 0; j < s->n_powered; j++)
            drop_before(&s->powered[j].times, before_s - e->p.max_poll_gap_s, false);
        size_t r = rows_lower(s, before_s);
        if (r == 0)
            continue;
        memmove(s->rows, s->rows + r, (s->n_rows - r) * sizeof *s->rows);
        s->n_rows -= r;
    }
}

void engine_get_stats(const struct engine *e, struct engine_stats *out)
{
    *out = e->st;
    out->keys = e->n_keys;
    out->points = out->samples = out->rows = 0;
    for (size_t i = 0; i < e->n_series; i++) {
        const struct series *s = e->series[i];
        out->rows += s->n_rows;
        for (size_t j = 0; j < s->n_keys; j++) {
            out->points += s->keys[j]->pts.n;
            out->samples += s->keys[j]->samples.n;
        }
    }
}

double engine_round_wh(double wh)
{
    double micro = round(wh * 1e6);
    double out = round(micro / 1e5) / 10.0;
    return out == 0.0 ? 0.0 : out; /* no -0.0 */
}

static const char *const flag_names[] = {"interpolated", "gap", "counter_reset"};

void engine_flags_format(unsigned flags, char *out, size_t out_size)
{
    size_t len = 0;
    if (out_size)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
        if (!(flags & (1u << i)))
            continue;
        int w = snprintf(out + len, out_size > len ? out_size - len : 0, "%s%s", len ? ";" : "",
                         flag_names[i]);
        if (w < 0 || (size_t)w >= out_size - len)
            return; /* truncated: out is still terminated */
        len += (size_t)w;
    }
}

int engine_flags_parse(const char *s, unsigned *flags)
{
    *flags = 0;
    while (*s) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        bool found = false;
        for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
            if (strlen(flag_names[i]) == len && strncmp(s, flag_names[i], len) == 0) {
                *flags |= 1u << i;
                found = true;
            }
        }
        if (!found)
            return PVTAP_EINVAL;
        s += len;
        if (*s == ';')
            s++;
    }
    return 0;
}
