/* The PVOutput outbox planner: outbox entries -> day statuses -> the next batch; replies -> store
 * marks. */
#include "sinks/pvo_plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/grow.h"
#include "util/url_redact.h"

static const char *const MOD = "pvoutput";

enum { PENDING_SCAN_MAX = 20000 };

/* ---- the pending scan ---------------------------------------------------- */

struct pending {
    int64_t end_s, revision;
};

struct scan {
    const struct pvo_plan *p;
    struct pending *v;
    size_t n, cap;
    bool other_series;
    int err;
};

static int scan_cb(void *ctx, const struct outbox_entry *e)
{
    struct scan *s = ctx;
    if (strcmp(e->series, s->p->series) != 0) {
        s->other_series = true;
        return 0;
    }
    if (GROW(&s->v, &s->cap, s->n, 256) < 0) {
        s->err = PVTAP_ENOMEM;
        return 1;
    }
    s->v[s->n].end_s = e->interval_end;
    s->v[s->n].revision = e->revision;
    s->n++;
    return 0;
}

static const struct pending *find_pending(const struct scan *s, int64_t end_s)
{
    /* pending entries come sorted by interval_end (store_outbox_pending) */
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].end_s < end_s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->v[lo].end_s == end_s ? &s->v[lo] : NULL;
}

/* ---- one local day from the store ------------------------------------------ */

struct day {
    const struct pvo_plan *p;
    int date;
    struct pvo_interval *iv;
    size_t n, cap;
    int err;
};

static int day_cb(void *ctx, const struct store_interval *si)
{
    struct day *d = ctx;
    if (tz_local_date(d->p->tz, si->row.interval_end) != d->date)
        return 0;
    if (GROW(&d->iv, &d->cap, d->n, 320) < 0) {
        d->err = PVTAP_ENOMEM;
        return 1;
    }
    struct pvo_interval *v = &d->iv[d->n++];
    v->interval_end = si->row.interval_end;
    v->production_wh = si->row.production_wh;
    v->net_wh = si->row.net_wh;
    v->consumption_wh = si->row.consumption_wh;
    v->has = si->row.has;
    v->revision = si->revision;
    v->voltage_V = d->p->voltage ? d->p->voltage(d->p->voltage_ctx, v->interval_end) : NAN;
    return 0;
}

static int load_day(const struct pvo_plan *p, int date, struct day *d)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->date = date;
    int64_t midnight = tz_from_local(p->tz, date / 10000, date / 100 % 100, date % 100, 0, 0, 0);
    /* a local day is 23 to 25 hours: take 26 and keep the date's own */
    int rc = store_query_intervals(p->store, p->series, midnight, midnight + 26 * 3600, day_cb, d);
    if (d->err)
        return d->err;
    return rc < 0 ? rc : 0;
}

struct base {
    double production_wh, consumption_wh;
};

static int base_cb(void *ctx, const struct store_total *t)
{
    struct base *b = ctx;
    if (t->has & IHAS_PRODUCTION)
        b->production_wh += t->production_wh;
    if (t->has & IHAS_CONSUMPTION)
        b->consumption_wh += t->consumption_wh;
    return 0;
}

/* Lifetime energy before date (c1 mode): the sum of earlier local days. */
static int lifetime_before(const struct pvo_plan *p, int date, struct base *b)
{
    char period[16];
    snprintf(period, sizeof period, "%04d-%02d-%02d", date / 10000, date / 100 % 100, date % 100);
    memset(b, 0, sizeof *b);
    int rc = store_query_totals(p->store, p->series, STORE_DAY, NULL, period, base_cb, b);
    return rc < 0 ? rc : 0;
}

static void slot_key(const struct pvo_status *s, char *out, size_t n)
{
    snprintf(out, n, "%08d,%02d:%02d", s->date, s->minute / 60, s->minute % 60);
}

/* Mark the status's intervals that are pending (at the revision read). */
static int mark_status(struct pvo_plan *p, const struct scan *sc, const struct pvo_status *s,
                       enum outbox_state state, const char *why, int64_t now_s, int64_t *count)
{
    for (size_t j = 0; j < s->n_iv; j++) {
        const struct pending *pe = find_pending(sc, s->end_s[j]);
        if (!pe)
            continue;
        int rc = store_outbox_mark(p->store, PVO_SINK_NAME, p->series, pe->end_s, pe->revision,
                                   state, why, now_s);
        if (rc == 0 && count)
            (*count)++;
        else if (rc < 0 && rc != PVTAP_ENOTFOUND)
            return rc;
    }
    return 0;
}

int pvo_plan_next(struct pvo_plan *p, int64_t now_s, size_t cap, struct pvo_batch *b,
                  struct pvo_plan_stats *stats)
{
    b->n = 0;
    b->net = false;
    if (cap > PVO_BATCH_MAX_DONATION)
        cap = PVO_BATCH_MAX_DONATION;
    if (cap == 0)
        cap = 1;
    struct scan sc = {.p = p};
    int rc = store_outbox_pending(p->store, PVO_SINK_NAME, PENDING_SCAN_MAX, scan_cb, &sc);
    if (sc.err || rc < 0) {
        free(sc.v);
        return sc.err ? sc.err : rc;
    }
    if (sc.other_series) {
        int64_t dropped = 0;
        rc = store_outbox_drop_other_series(p->store, PVO_SINK_NAME, p->series, &dropped);
        if (rc < 0) {
            free(sc.v);
            return rc;
        }
        stats->other_series += dropped;
    }
    char backload_why[96];
    snprintf(backload_why, sizeof backload_why, "older than PVOutput's backload window (%d days)",
             p->backload_days);

    /* Day by day in order, until the batch is full. */
    size_t i = 0;
    rc = 0;
    while (i < sc.n && b->n < cap && rc == 0) {
        int date = tz_local_date(p->tz, sc.v[i].end_s);
        size_t next = i;
        while (next < sc.n && tz_local_date(p->tz, sc.v[next].end_s) == date)
            next++;
        struct day d;
        rc = load_day(p, date, &d);
        struct base base = {0, 0};
        if (rc == 0 && p->cumulative)
            rc = lifetime_before(p, date, &base);
        struct pvo_status *sts = NULL;
        size_t n_st = 0;
        if (rc == 0 && d.n > 0) {
            sts = malloc(d.n * sizeof *sts);
            if (!sts)
                rc = PVTAP_ENOMEM;
            else
                n_st = pvo_day_statuses(p->tz, date, d.iv, d.n, p->cumulative, base.production_wh,
                                        base.consumption_wh, sts);
        }
        bool within = pvo_within_backload(p->tz, date, now_s, p->backload_days);
        bool full = false;
        for (size_t k = 0; rc == 0 && k < n_st && !full; k++) {
            const struct pvo_status *s = &sts[k];
            if (!within) {
                rc = mark_status(p, &sc, s, OUTBOX_UNDELIVERABLE, backload_why, now_s,
                                 &stats->too_old);
                continue;
            }
            char cmp[PVO_STATUS_TEXT_MAX], slot[32], sent[PVO_STATUS_TEXT_MAX];
            if (!pvo_status_format(s, false, cmp, sizeof cmp)) {
                rc = PVTAP_ELIMIT;
                break;
            }
            slot_key(s, slot, sizeof slot);
            enum store_sent_state sstate = STORE_SENT_DELIVERED;
            bool found = false;
            rc = store_sent_get(p->store, PVO_SINK_NAME, p->series, slot, sent, sizeof sent,
                                &sstate, &found);
            if (rc < 0)
                break;
            if (found && strcmp(sent, cmp) == 0) {
                /* PVOutput has exactly this (or refused exactly this): nothing to send */
                if (sstate == STORE_SENT_DELIVERED)
                    rc = mark_status(p, &sc, s, OUTBOX_DELIVERED, NULL, now_s, &stats->unchanged);
                else
                    rc = mark_status(p, &sc, s, OUTBOX_UNDELIVERABLE,
                                     "PVOutput rejected these values before", now_s,
                                     &stats->still_rejected);
                continue;
            }
            if (b->n > 0 && s->net != b->net) {
                full = true; /* a batch carries one mode: n=1 or not */
                break;
            }
            b->net = s->net;
            b->st[b->n] = *s;
            memcpy(b->compare[b->n], cmp, sizeof cmp);
            if (!pvo_status_format(s, true, b->text[b->n], sizeof b->text[b->n])) {
                rc = PVTAP_ELIMIT;
                break;
            }
            b->n++;
            if (b->n >= cap)
                full = true;
        }
        /* pending rows of this day that make no status (gaps) are done, as far
         * as the batch got */
        int64_t reached =
            full && b->n > 0 ? b->st[b->n - 1].end_s[b->st[b->n - 1].n_iv - 1] : INT64_MAX;
        for (size_t j = i; rc == 0 && j < next && sc.v[j].end_s <= reached; j++) {
            bool covered = false;
            for (size_t k = 0; k < n_st && !covered; k++)
                for (size_t m = 0; m < sts[k].n_iv; m++)
                    if (sts[k].end_s[m] == sc.v[j].end_s)
                        covered = true;
            if (covered)
                continue;
            int r = store_outbox_mark(
                p->store, PVO_SINK_NAME, p->series, sc.v[j].end_s, sc.v[j].revision,
                within ? OUTBOX_DELIVERED : OUTBOX_UNDELIVERABLE,
                within ? "no energy in this interval: no status" : backload_why, now_s);
            if (r == 0)
                ++*(within ? &stats->no_status : &stats->too_old);
            else if (r != PVTAP_ENOTFOUND)
                rc = r;
        }
        free(sts);
        free(d.iv);
        if (full)
            break;
        i = next;
    }
    free(sc.v);
    return rc;
}

static int settle(struct pvo_plan *p, const struct pvo_batch *b, size_t i, bool ok, const char *why,
                  int64_t now_s)
{
    const struct pvo_status *s = &b->st[i];
    char slot[32];
    slot_key(s, slot, sizeof slot);
    int rc = store_sent_put(p->store, PVO_SINK_NAME, p->series, slot, b->compare[i],
                            ok ? STORE_SENT_DELIVERED : STORE_SENT_REJECTED, now_s);
    for (size_t j = 0; rc == 0 && j < s->n_iv; j++) {
        int r = store_outbox_mark(p->store, PVO_SINK_NAME, p->series, s->end_s[j], s->revision[j],
                                  ok ? OUTBOX_DELIVERED : OUTBOX_UNDELIVERABLE, why, now_s);
        /* not found: revised meanwhile (its new revision stays pending), or a
         * later status of the day re-sent for its running total */
        if (r < 0 && r != PVTAP_ENOTFOUND)
            rc = r;
    }
    return rc;
}

int pvo_plan_apply(struct pvo_plan *p, const struct pvo_batch *b,
                   const struct pvo_reply_item *items, size_t n_items, int64_t now_s,
                   struct pvo_plan_stats *stats, size_t *missing)
{
    size_t miss = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->n; i++) {
        const struct pvo_reply_item *it = NULL;
        for (size_t k = 0; k < n_items && !it; k++)
            if (items[k].date == b->st[i].date && items[k].minute == b->st[i].minute)
                it = &items[k];
        if (!it) {
            miss++;
            continue;
        }
        if (it->flag == 1) {
            rc = settle(p, b, i, true, NULL, now_s);
        } else {
            log_msg(LOGL_WARNING, MOD, "status %s not accepted by PVOutput (reply flag %d)",
                    b->compare[i], it->flag);
            rc = settle(p, b, i, false, "PVOutput did not accept it (reply flag 0)", now_s);
            stats->rejected++;
        }
    }
    if (missing)
        *missing = miss;
    return rc;
}

int pvo_plan_reject(struct pvo_plan *p, const struct pvo_batch *b, size_t i, const char *reason,
                    int64_t now_s, struct pvo_plan_stats *stats)
{
    char why[256];
    snprintf(why, sizeof why, "rejected by PVOutput: %s", reason);
    stats->rejected++;
    return settle(p, b, i, false, why, now_s);
}

/* ---- daily totals (addoutput.jsp) ----------------------------------------- */

enum { OUTPUT_DAYS_MAX = PVO_BACKLOAD_DAYS_DONATION + 2 };

struct day_totals {
    size_t n;
    struct pvo_output o[OUTPUT_DAYS_MAX];
};

static int totals_cb(void *ctx, const struct store_total *t)
{
    struct day_totals *d = ctx;
    int y, m, dd;
    if (d->n == OUTPUT_DAYS_MAX || sscanf(t->period, "%4d-%2d-%2d", &y, &m, &dd) != 3)
        return 0;
    if (pvo_day_output(y * 10000 + m * 100 + dd, t->production_wh, t->consumption_wh, t->export_wh,
                       t->has, &d->o[d->n]))
        d->n++;
    return 0;
}

static int first_row_cb(void *ctx, const struct store_interval *si)
{
    *(int64_t *)ctx = si->row.interval_end;
    return 1; /* one is enough */
}

static void output_slot(int date, char *out, size_t n)
{
    snprintf(out, n, "output:%08d", date);
}

int pvo_plan_output(struct pvo_plan *p, int64_t now_s, struct pvo_output_req *o, bool *found)
{
    *found = false;
    int64_t pending = 0;
    int rc = store_outbox_count(p->store, PVO_SINK_NAME, OUTBOX_PENDING, &pending);
    if (rc < 0 || pending > 0)
        return rc < 0 ? rc : 0; /* statuses first: the day's own go before its totals */
    int oldest = tz_local_date(p->tz, now_s - (int64_t)p->backload_days * 86400 + 3600);
    char from[16];
    snprintf(from, sizeof from, "%04d-%02d-%02d", oldest / 10000, oldest / 100 % 100, oldest % 100);
    struct day_totals *d = malloc(sizeof *d);
    if (!d)
        return PVTAP_ENOMEM;
    d->n = 0;
    rc = store_query_totals(p->store, p->series, STORE_DAY, from, NULL, totals_cb, d);
    for (size_t i = 0; rc >= 0 && i < d->n && !*found; i++) {
        const struct pvo_output *out = &d->o[i];
        if (!pvo_within_backload(p->tz, out->date, now_s, p->backload_days))
            continue;
        char body[PVO_OUTPUT_TEXT_MAX], slot[32], sent[PVO_OUTPUT_TEXT_MAX];
        if (!pvo_output_body(out, body, sizeof body)) {
            rc = PVTAP_ELIMIT;
            break;
        }
        output_slot(out->date, slot, sizeof slot);
        enum store_sent_state sstate;
        bool was = false;
        rc = store_sent_get(p->store, PVO_SINK_NAME, p->series, slot, sent, sizeof sent, &sstate,
                            &was);
        if (rc < 0)
            break;
        if (was && strcmp(sent, body) == 0)
            continue; /* PVOutput has these totals (or refused exactly these) */
        int64_t next = pvo_next_midnight_s(p->tz, out->date), latest = 0;
        rc = store_query_intervals(p->store, p->series, next, INT64_MAX, first_row_cb, &latest);
        if (rc < 0)
            break;
        rc = 0;
        if (!pvo_day_complete(p->tz, out->date, latest))
            continue;
        o->o = *out;
        memcpy(o->body, body, sizeof body);
        *found = true;
    }
    free(d);
    return rc < 0 ? rc : 0;
}

int pvo_plan_output_done(struct pvo_plan *p, const struct pvo_output_req *o, bool ok, int64_t now_s)
{
    char slot[32];
    output_slot(o->o.date, slot, sizeof slot);
    return store_sent_put(p->store, PVO_SINK_NAME, p->series, slot, o->body,
                          ok ? STORE_SENT_DELIVERED : STORE_SENT_REJECTED, now_s);
}

int pvo_plan_dry_outputs(struct pvo_plan *p, int64_t now_s, const char *base_url,
                         long long system_id, FILE *out, size_t *n)
{
    char url[600], shown[URL_SHOWN_SIZE];
    pvo_request_url(base_url, "addoutput.jsp", url, sizeof url);
    url_redact(url, shown, sizeof shown);
    *n = 0;
    for (;;) {
        struct pvo_output_req o;
        bool found = false;
        int rc = pvo_plan_output(p, now_s, &o, &found);
        if (rc < 0 || !found)
            return rc;
        fprintf(out,
                "POST %s\nX-Pvoutput-Apikey: <redacted>\nX-Pvoutput-SystemId: %lld\n"
                "X-Rate-Limit: 1\nContent-Type: application/x-www-form-urlencoded\n\n%s\n\n",
                shown, system_id, o.body);
        ++*n;
        if ((rc = pvo_plan_output_done(p, &o, true, now_s)) < 0)
            return rc;
    }
}

size_t pvo_batch_body(const struct pvo_batch *b, bool cumulative, char *out, size_t out_size)
{
    size_t len = 0;
    int w = snprintf(out, out_size, "data=");
    if (w < 0 || (size_t)w >= out_size)
        return 0;
    len = (size_t)w;
    for (size_t i = 0; i < b->n; i++) {
        w = snprintf(out + len, out_size - len, "%s%s", i ? ";" : "", b->text[i]);
        if (w < 0 || (size_t)w >= out_size - len)
            return 0;
        len += (size_t)w;
    }
    w = snprintf(out + len, out_size - len, "%s%s", cumulative && !b->net ? "&c1=1" : "",
                 b->net ? "&n=1" : "");
    if (w < 0 || (size_t)w >= out_size - len)
        return 0;
    return len + (size_t)w;
}

int pvo_pause_load(struct store *st, int64_t *until_s)
{
    char v[32];
    bool found;
    *until_s = 0;
    int rc = store_sink_get(st, PVO_SINK_NAME, "pause_until_s", v, sizeof v, &found);
    if (rc == 0 && found)
        *until_s = strtoll(v, NULL, 10);
    return rc;
}

int pvo_pause_save(struct store *st, int64_t until_s)
{
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)until_s);
    return store_sink_set(st, PVO_SINK_NAME, "pause_until_s", until_s ? v : NULL);
}

int64_t pvo_clock_offset_s(void)
{
    const char *e = getenv("PVTAP_FAKE_NOW_OFFSET_S");
    return e ? strtoll(e, NULL, 10) : 0;
}

void pvo_request_url(const char *base, const char *endpoint, char *out, size_t out_size)
{
    size_t n = strlen(base);
    snprintf(out, out_size, "%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", endpoint);
}
