/* The simulated PV Supervisor: builds its upload records from the site model and schedules its requests. */
#include "site_supervisor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SLOT_S = 300, COMMAND_PERIOD_S = 1800, RESEND_AFTER_S = 60, DRAIN_AFTER_OUTAGE_S = 600 };

struct interval_set { /* the records of one 5-minute boundary, kept for a backlog */
    int64_t b_s;
    struct sim_record *recs;
    size_t n;
};

struct site_supervisor {
    struct site_model *m;
    struct supervisor_options o;
    uint64_t rng;
    int64_t slot;      /* next slot to plan */
    int64_t n_slots;
    int64_t uptime_s;  /* 120's uptime counter */
    struct sim_request pending[8];
    size_t n_pending, next_pending;
    struct interval_set *backlog;
    size_t n_backlog, cap_backlog;
    size_t *drain; /* chunk start indexes into backlog, in drain order */
    size_t n_drain, next_drain;
    bool drain_planned;
};

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    return site_hash64(*s);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

void supervisor_options_defaults(struct supervisor_options *o)
{
    memset(o, 0, sizeof(*o));
    o->outage_start_s = o->outage_end_s = -1;
    o->backlog_chunk = 48;
}

void sim_format_decimal(char *out, size_t size, double v, int decimals)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    size_t len = strlen(buf);
    if (strchr(buf, '.')) {
        while (len > 0 && buf[len - 1] == '0')
            buf[--len] = '\0';
        if (len > 0 && buf[len - 1] == '.')
            buf[--len] = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, sizeof(buf), "0");
    snprintf(out, size, "%s", buf);
}

void sim_format_compact(char *out, size_t size, int64_t t_s)
{
    time_t t = (time_t)t_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, size, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static struct sim_record *req_add(struct sim_request *r, int msg)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct sim_record *p = realloc(r->recs, cap * sizeof(*p));
        if (!p)
            return NULL;
        r->recs = p;
        r->cap = cap;
    }
    struct sim_record *rec = &r->recs[r->n++];
    rec->msg = msg;
    rec->nf = 0;
    return rec;
}

static void rec_str(struct sim_record *rec, const char *s)
{
    if (rec->nf < SIM_REC_MAX_FIELDS)
        snprintf(rec->f[rec->nf++], SIM_REC_FIELD_LEN, "%s", s);
}

static void rec_num(struct sim_record *rec, double v, int decimals)
{
    if (rec->nf < SIM_REC_MAX_FIELDS)
        sim_format_decimal(rec->f[rec->nf++], SIM_REC_FIELD_LEN, v, decimals);
}

static void rec_time(struct sim_record *rec, int64_t t_s)
{
    if (rec->nf < SIM_REC_MAX_FIELDS)
        sim_format_compact(rec->f[rec->nf++], SIM_REC_FIELD_LEN, t_s);
}

static int add_header(struct sim_request *r, const struct site_model *m, int64_t send_s)
{
    struct sim_record *rec = req_add(r, 100);
    if (!rec)
        return -1;
    rec_str(rec, "SPMS");
    rec_str(rec, "10");
    rec_str(rec, site_model_supervisor_serial(m));
    rec_time(rec, send_s);
    return 0;
}

/* The trailer's 20 base64 characters: its meaning is unknown, so any
 * deterministic 15 bytes (here a hash of the body) are as good as any. */
static int add_trailer(struct sim_request *r)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < r->n; i++)
        for (int j = 0; j < r->recs[i].nf; j++)
            for (const char *p = r->recs[i].f[j]; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
    struct sim_record *rec = req_add(r, 102);
    if (!rec)
        return -1;
    char s[21];
    for (int i = 0; i < 20; i++) {
        if (i % 10 == 0)
            h = site_hash64(h + (uint64_t)i);
        s[i] = b64[(h >> ((i % 10) * 6)) & 63];
    }
    s[20] = '\0';
    rec_str(rec, s);
    return 0;
}

static void set_free(struct interval_set *set)
{
    free(set->recs);
    set->recs = NULL;
    set->n = 0;
}

/* The device records (130, 140, 141) of boundary b into r. */
static int add_interval_records(struct site_supervisor *s, struct sim_request *r, int64_t b_s)
{
    struct site_model *m = s->m;
    int n_inv = site_model_inverter_count(m);
    double prev_kWh[SITE_MAX_INVERTERS];
    struct site_snapshot prev, now;
    struct site_inverter inv;
    site_model_at(m, b_s - SLOT_S, &prev);
    for (int i = 0; i < n_inv; i++) {
        site_model_inverter(m, i, &inv);
        prev_kWh[i] = inv.energy_lifetime_kWh;
    }
    site_model_at(m, b_s, &now);
    const struct site_config *cfg = site_model_config(m);
    for (int i = 0; i < n_inv; i++) {
        site_model_inverter(m, i, &inv);
        bool miss = rng_unit(&s->rng) < s->o.missing;
        if (!inv.awake || miss)
            continue;
        /* The supervisor prints the interval's average power. */
        double avg_kW = (inv.energy_lifetime_kWh - prev_kWh[i]) * 3600.0 / SLOT_S;
        if (avg_kW < 0)
            avg_kW = 0;
        struct sim_record *rec = req_add(r, 130);
        if (!rec)
            return -1;
        rec_time(rec, b_s);
        rec_str(rec, inv.serial);
        rec_str(rec, inv.model);
        rec_str(rec, "");
        rec_num(rec, inv.energy_lifetime_kWh, 4);
        rec_num(rec, avg_kW, 4);
        rec_num(rec, inv.voltage_V, 2);
        rec_num(rec, avg_kW * 1000.0 / inv.voltage_V, 4);
        rec_num(rec, avg_kW > 0 ? avg_kW / 0.965 + 0.0008 : 0.0, 4);
        rec_num(rec, inv.dc_voltage_V, 4);
        rec_num(rec, inv.dc_current_A, 4);
        rec_num(rec, inv.temperature_C, 2);
        rec_num(rec, inv.frequency_Hz, 4);
        rec_str(rec, "0");
    }
    (void)cfg;
    /* A meter without CTs still sends its 140, every value 0 (power factor 1),
     * and no 141: what a real PVS5 did for its uninstalled production CTs. */
    bool c_cts = cfg->consumption_ct != SITE_CT_NONE, p_cts = cfg->production_ct_factor > 0;
    for (int pass = 0; pass < 2; pass++) { /* 140 c, 140 p */
        bool net = pass == 0;
        if (rng_unit(&s->rng) < s->o.missing)
            continue;
        double life = net ? now.cmeter_lifetime_kWh : now.prod_meter_lifetime_kWh;
        double life_prev = net ? prev.cmeter_lifetime_kWh : prev.prod_meter_lifetime_kWh;
        double p_kW = (life - life_prev) * 3600.0 / SLOT_S;
        if (net && cfg->meter_reset_s > b_s - SLOT_S && cfg->meter_reset_s <= b_s)
            p_kW = now.cmeter_W / 1000.0; /* the counter restarted: the difference means nothing */
        double q = net && c_cts ? 0.25 + 0.3 * site_unit(cfg->seed, (uint64_t)b_s, 83) : 0.0;
        double sva = sqrt(p_kW * p_kW + q * q);
        struct sim_record *rec = req_add(r, 140);
        if (!rec)
            return -1;
        rec_time(rec, b_s);
        rec_str(rec, site_model_meter_serial(m, net ? 'c' : 'p'));
        rec_str(rec, net ? "PVS5M0400c" : "PVS5M0400p");
        rec_str(rec, net ? "100" : "50");
        rec_num(rec, life, 4);
        rec_num(rec, p_kW, 4);
        rec_num(rec, q, 4);
        rec_num(rec, sva, 4);
        rec_num(rec, sva > 0 ? p_kW / sva : 1.0, 4);
        rec_num(rec, now.frequency_Hz, 3);
        rec_str(rec, "0");
    }
    for (int pass = 0; pass < 2; pass++) { /* 141 c, 141 p: two legs of a split phase */
        bool net = pass == 0;
        if (rng_unit(&s->rng) < s->o.missing || !(net ? c_cts : p_cts))
            continue;
        double p_kW = net ? now.cmeter_W / 1000.0 : now.prod_meter_W / 1000.0;
        double v1 = now.voltage_V / 2.0 + 0.4, v2 = now.voltage_V / 2.0 - 0.4;
        double p1 = p_kW * 0.55, p2 = p_kW - p1;
        struct sim_record *rec = req_add(r, 141);
        if (!rec)
            return -1;
        rec_time(rec, b_s);
        rec_str(rec, site_model_meter_serial(m, net ? 'c' : 'p'));
        rec_str(rec, net ? "PVS5M0400c" : "PVS5M0400p");
        rec_str(rec, "");
        rec_num(rec, fabs(p1) * 1000.0 / v1, 4);
        rec_num(rec, fabs(p2) * 1000.0 / v2, 4);
        rec_num(rec, v1, 4);
        rec_num(rec, v2, 4);
        rec_num(rec, p1, 4);
        rec_num(rec, p2, 4);
        rec_str(rec, "0");
    }
    return 0;
}

static int add_stats(struct site_supervisor *s, struct sim_request *r, int64_t b_s)
{
    const struct site_model *m = s->m;
    uint64_t seed = site_model_config(m)->seed;
    struct sim_record *rec = req_add(r, 120);
    if (!rec)
        return -1;
    rec_time(rec, b_s);
    rec_str(rec, site_model_supervisor_serial(m));
    rec_str(rec, "0");
    rec_num(rec, 300 + (int)(site_unit(seed, (uint64_t)b_s, 89) * 120), 0);
    rec_str(rec, "0");
    rec_str(rec, "0");
    rec_num(rec, 290 + (int)(site_unit(seed, (uint64_t)b_s, 97) * 30), 0);
    rec_num(rec, (double)s->uptime_s, 0);
    rec_num(rec, 0.02 + 0.1 * site_unit(seed, (uint64_t)b_s, 101), 2);
    rec_num(rec, 23000 + (int)(site_unit(seed, (uint64_t)b_s, 103) * 400), 0);
    rec_str(rec, "12580");
    if (b_s % 3600 == 0) {
        rec = req_add(r, 122);
        if (!rec)
            return -1;
        rec_time(rec, b_s);
        rec_str(rec, site_model_supervisor_serial(m));
        rec_str(rec, "SMSPVS20R1");
        rec_str(rec, "2019.1, Build 5002");
        rec_str(rec, "4.0.0");
        rec_str(rec, "PV Supervisor PVS5");
        rec_str(rec, "10");
    }
    return 0;
}

struct site_supervisor *site_supervisor_new(struct site_model *model, const struct supervisor_options *o)
{
    struct site_supervisor *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->m = model;
    s->o = *o;
    if (s->o.backlog_chunk < 1)
        s->o.backlog_chunk = 1;
    const struct site_config *cfg = site_model_config(model);
    s->rng = site_hash64(cfg->seed ^ 0x5355504552ull);
    s->n_slots = (int64_t)cfg->days * 86400 / SLOT_S;
    s->uptime_s = 86400 * 3 + (int64_t)(site_unit(cfg->seed, 9, 9) * 86400.0);
    return s;
}

void site_supervisor_limit(struct site_supervisor *s, int64_t n_slots)
{
    s->n_slots = n_slots;
}

static void pending_clear(struct site_supervisor *s)
{
    for (size_t i = 0; i < s->n_pending; i++)
        free(s->pending[i].recs);
    memset(s->pending, 0, sizeof(s->pending));
    s->n_pending = s->next_pending = 0;
}

void site_supervisor_free(struct site_supervisor *s)
{
    if (!s)
        return;
    pending_clear(s);
    for (size_t i = 0; i < s->n_backlog; i++)
        set_free(&s->backlog[i]);
    free(s->backlog);
    free(s->drain);
    free(s);
}

static bool in_outage(const struct site_supervisor *s, int64_t t_s)
{
    return s->o.outage_start_s >= 0 && t_s >= s->o.outage_start_s && t_s < s->o.outage_end_s;
}

static struct sim_request *pending_new(struct site_supervisor *s, bool command, int64_t send_us)
{
    if (s->n_pending >= sizeof(s->pending) / sizeof(s->pending[0]))
        return NULL;
    struct sim_request *r = &s->pending[s->n_pending++];
    memset(r, 0, sizeof(*r));
    r->command = command;
    r->send_us = send_us;
    return r;
}

/* A lost reply makes the supervisor send the very same body again later. */
static int maybe_lose(struct site_supervisor *s, struct sim_request *r)
{
    if (rng_unit(&s->rng) >= s->o.lost_reply)
        return 0;
    r->lost_reply = true;
    int64_t at_us = r->send_us + (int64_t)RESEND_AFTER_S * 1000000;
    size_t idx = (size_t)(r - s->pending);
    struct sim_request *c = pending_new(s, r->command, at_us);
    if (!c)
        return 0; /* no room: this one is simply not lost (never happens with <= 3 requests) */
    r = &s->pending[idx];
    c->resend = true;
    c->recs = malloc(r->n * sizeof(*c->recs));
    if (!c->recs)
        return -1;
    memcpy(c->recs, r->recs, r->n * sizeof(*c->recs));
    c->n = c->cap = r->n;
    return 0;
}

static int backlog_store(struct site_supervisor *s, int64_t b_s)
{
    if (s->n_backlog == s->cap_backlog) {
        size_t cap = s->cap_backlog ? s->cap_backlog * 2 : 64;
        struct interval_set *p = realloc(s->backlog, cap * sizeof(*p));
        if (!p)
            return -1;
        s->backlog = p;
        s->cap_backlog = cap;
    }
    struct sim_request tmp = {0};
    if (add_interval_records(s, &tmp, b_s) < 0) {
        free(tmp.recs);
        return -1;
    }
    s->backlog[s->n_backlog++] = (struct interval_set){b_s, tmp.recs, tmp.n};
    return 0;
}

/* Backlog bodies go out in shuffled order, and some twice. */
static int plan_drain(struct site_supervisor *s)
{
    size_t chunk = (size_t)s->o.backlog_chunk;
    size_t n_chunks = (s->n_backlog + chunk - 1) / chunk;
    s->drain = malloc((2 * n_chunks + 1) * sizeof(*s->drain));
    if (!s->drain)
        return -1;
    for (size_t i = 0; i < n_chunks; i++)
        s->drain[i] = i * chunk;
    for (size_t i = n_chunks; i > 1; i--) {
        size_t j = (size_t)(rng_next(&s->rng) % i);
        size_t t = s->drain[i - 1];
        s->drain[i - 1] = s->drain[j];
        s->drain[j] = t;
    }
    s->n_drain = n_chunks;
    /* the first body drained always goes out twice, ~30 % of the others too */
    for (size_t i = 0; i < n_chunks; i++)
        if (rng_unit(&s->rng) < 0.3 || i == 0)
            s->drain[s->n_drain++] = s->drain[i];
    s->drain_planned = true;
    return 0;
}

static int add_drain_body(struct site_supervisor *s, struct sim_request *r, size_t first)
{
    size_t last = first + (size_t)s->o.backlog_chunk;
    if (last > s->n_backlog)
        last = s->n_backlog;
    /* newest first: the archive is read backwards */
    for (size_t i = last; i-- > first;) {
        const struct interval_set *set = &s->backlog[i];
        for (size_t j = 0; j < set->n; j++) {
            struct sim_record *rec = req_add(r, set->recs[j].msg);
            if (!rec)
                return -1;
            *rec = set->recs[j];
        }
    }
    return 0;
}

static int cmp_req(const void *a, const void *b)
{
    const struct sim_request *x = a, *y = b;
    return (x->send_us > y->send_us) - (x->send_us < y->send_us);
}

/* Plan every request of one 5-minute slot, in send order. */
static int plan_slot(struct site_supervisor *s)
{
    const struct site_config *cfg = site_model_config(s->m);
    int64_t b_s = cfg->start_s + s->slot * SLOT_S;
    s->slot++;
    s->uptime_s += SLOT_S;
    int64_t delay_us = 20000000 + (int64_t)(rng_unit(&s->rng) * 35000000.0);
    int64_t send_us = b_s * 1000000 + delay_us;
    if (in_outage(s, send_us / 1000000)) {
        if (backlog_store(s, b_s) < 0)
            return -1;
    } else {
        struct sim_request *r = pending_new(s, false, send_us);
        if (!r || add_header(r, s->m, send_us / 1000000) < 0 || add_stats(s, r, b_s) < 0 ||
            add_interval_records(s, r, b_s) < 0 || add_trailer(r) < 0 || maybe_lose(s, r) < 0)
            return -1;
    }
    if (b_s % COMMAND_PERIOD_S == 0) {
        int64_t c_us = send_us + 5000000 + (int64_t)(rng_unit(&s->rng) * 10000000.0);
        if (!in_outage(s, c_us / 1000000)) {
            struct sim_request *r = pending_new(s, true, c_us);
            if (!r || add_header(r, s->m, c_us / 1000000) < 0 || add_trailer(r) < 0 ||
                maybe_lose(s, r) < 0)
                return -1;
        }
    }
    if (s->n_backlog > 0 && !in_outage(s, b_s) && b_s >= s->o.outage_end_s + DRAIN_AFTER_OUTAGE_S) {
        if (!s->drain_planned && plan_drain(s) < 0)
            return -1;
        if (s->next_drain < s->n_drain) {
            int64_t d_us = b_s * 1000000 + 150000000 + (int64_t)(rng_unit(&s->rng) * 20000000.0);
            struct sim_request *r = pending_new(s, false, d_us);
            if (!r || add_header(r, s->m, d_us / 1000000) < 0 ||
                add_drain_body(s, r, s->drain[s->next_drain++]) < 0 || add_trailer(r) < 0 ||
                maybe_lose(s, r) < 0)
                return -1;
        }
    }
    qsort(s->pending, s->n_pending, sizeof(s->pending[0]), cmp_req);
    return 0;
}

int site_supervisor_next(struct site_supervisor *s, const struct sim_request **out)
{
    while (s->next_pending >= s->n_pending) {
        pending_clear(s);
        if (s->slot >= s->n_slots)
            return 0;
        if (plan_slot(s) < 0)
            return -1;
    }
    *out = &s->pending[s->next_pending++];
    return 1;
}

const char *sim_request_path(const struct sim_request *r)
{
    return r->command ? "/Command/SMS2DataCollector.aspx" : "/Data/SMS2DataCollector.aspx";
}

char *sim_request_body(const struct sim_request *r, bool crlf, size_t *len)
{
    size_t cap = 64;
    for (size_t i = 0; i < r->n; i++) {
        cap += 8;
        for (int j = 0; j < r->recs[i].nf; j++)
            cap += strlen(r->recs[i].f[j]) + 1;
    }
    char *b = malloc(cap);
    if (!b)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        n += (size_t)snprintf(b + n, cap - n, "%d", r->recs[i].msg);
        for (int j = 0; j < r->recs[i].nf; j++)
            n += (size_t)snprintf(b + n, cap - n, "\t%s", r->recs[i].f[j]);
        n += (size_t)snprintf(b + n, cap - n, "%s", crlf ? "\r\n" : "\n");
    }
    *len = n;
    return b;
}
