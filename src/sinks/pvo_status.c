/* PVOutput's pure rules: statuses from intervals (local days, DST), replies, rate limits, back-off.
 */
#include "sinks/pvo_status.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine.h"
#include "util/err.h"
#include "util/timeutil.h"

void pvo_slot_of(const struct tz *tz, int64_t interval_end, int *date, int *minute)
{
    struct local_time lt;
    tz_to_local(tz, interval_end, &lt);
    /* tz_local_date is the calendar rule; local 00:00 is the new day's first slot */
    *date = tz_local_date(tz, interval_end);
    *minute = lt.hour * 60 + lt.minute;
}

/* Energies in integer deci-Wh: the store rounds to 0.1 Wh, so sums are exact. */
static long long dwh(double wh)
{
    return llround(wh * 10.0);
}

static long long wh_of_dwh(long long d)
{
    return llround((double)d / 10.0);
}

struct slot {
    int minute;
    size_t n_iv;
    const struct pvo_interval *iv[2];
};

static int slot_cmp(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    return (x->minute > y->minute) - (x->minute < y->minute);
}

static int iv_end_cmp(const void *a, const void *b)
{
    const struct pvo_interval *const *x = a, *const *y = b;
    return ((*x)->interval_end > (*y)->interval_end) - ((*x)->interval_end < (*y)->interval_end);
}

size_t pvo_day_statuses(const struct tz *tz, int date, const struct pvo_interval *iv, size_t n,
                        bool cumulative, double base_production_wh, double base_consumption_wh,
                        struct pvo_status *out)
{
    if (n == 0)
        return 0;
    /* Intervals by end, so the repeated hour's pair lands earlier-first. */
    const struct pvo_interval **by_end = malloc(n * sizeof *by_end);
    struct slot *slots = malloc(n * sizeof *slots);
    if (!by_end || !slots) {
        free(by_end);
        free(slots);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        by_end[i] = &iv[i];
    qsort(by_end, n, sizeof *by_end, iv_end_cmp);
    size_t n_slots = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pvo_interval *v = by_end[i];
        int d, minute;
        pvo_slot_of(tz, v->interval_end, &d, &minute);
        if (d != date)
            continue;
        size_t k = 0;
        while (k < n_slots && slots[k].minute != minute)
            k++;
        if (k == n_slots) {
            slots[n_slots].minute = minute;
            slots[n_slots].n_iv = 0;
            n_slots++;
        }
        if (slots[k].n_iv < 2)
            slots[k].iv[slots[k].n_iv++] = v;
    }
    free(by_end);
    qsort(slots, n_slots, sizeof *slots, slot_cmp);

    /* A site with inverters stays in gross mode at night, when only its net
     * meter reports: production 0, consumption = net. Net mode is for a
     * site whose day has no production data at all. */
    bool gross_site = false;
    for (size_t k = 0; k < n_slots; k++)
        for (size_t j = 0; j < slots[k].n_iv; j++)
            if (slots[k].iv[j]->has & IHAS_PRODUCTION)
                gross_site = true;
    long long run_prod = cumulative ? dwh(base_production_wh) : 0;
    long long run_cons = cumulative ? dwh(base_consumption_wh) : 0;
    size_t n_out = 0;
    for (size_t k = 0; k < n_slots; k++) {
        const struct slot *sl = &slots[k];
        long long prod = 0, net = 0, cons = 0;
        unsigned has = 0;
        double volt_sum = 0;
        int volt_n = 0;
        for (size_t j = 0; j < sl->n_iv; j++) {
            const struct pvo_interval *v = sl->iv[j];
            if (v->has & IHAS_PRODUCTION)
                prod += dwh(v->production_wh), has |= IHAS_PRODUCTION;
            if (v->has & IHAS_NET)
                net += dwh(v->net_wh), has |= IHAS_NET;
            if (v->has & IHAS_CONSUMPTION) {
                cons += dwh(v->consumption_wh), has |= IHAS_CONSUMPTION;
                /* a gross meter at night: its consumption, production 0 */
                if (gross_site && !(v->has & IHAS_PRODUCTION))
                    has |= IHAS_PRODUCTION;
            } else if (gross_site && (v->has & IHAS_NET) && !(v->has & IHAS_PRODUCTION))
                cons += dwh(v->net_wh), has |= IHAS_CONSUMPTION | IHAS_PRODUCTION;
            if (!isnan(v->voltage_V))
                volt_sum += v->voltage_V, volt_n++;
        }
        if (has & IHAS_PRODUCTION)
            run_prod += prod;
        if (has & IHAS_CONSUMPTION)
            run_cons += cons;
        if (!(has & (IHAS_PRODUCTION | IHAS_NET)))
            continue; /* a gap: no status, the running totals carry on */
        struct pvo_status *s = &out[n_out++];
        memset(s, 0, sizeof *s);
        s->date = date;
        s->minute = sl->minute;
        s->n_iv = sl->n_iv;
        for (size_t j = 0; j < sl->n_iv; j++) {
            s->end_s[j] = sl->iv[j]->interval_end;
            s->revision[j] = sl->iv[j]->revision;
        }
        /* average W over the slot's 5 minutes: Wh * 12, halved for a merged pair */
        double per_wh = 12.0 / (double)sl->n_iv;
        if (has & IHAS_PRODUCTION) {
            s->fields |= PVO_V1 | PVO_V2;
            s->v1_Wh = wh_of_dwh(run_prod);
            s->v2_W = llround((double)prod / 10.0 * per_wh);
            if (has & IHAS_CONSUMPTION) {
                s->fields |= PVO_V3 | PVO_V4;
                s->v3_Wh = wh_of_dwh(run_cons);
                s->v4_W = llround((double)cons / 10.0 * per_wh);
            }
        } else {
            /* only a net meter: PVOutput's net mode, v2 exported and v4 imported W */
            s->net = true;
            s->fields |= PVO_V2 | PVO_V4;
            double w = (double)net / 10.0 * per_wh;
            s->v2_W = w < 0 ? llround(-w) : 0;
            s->v4_W = w > 0 ? llround(w) : 0;
        }
        if (volt_n > 0) {
            s->fields |= PVO_V6;
            s->v6_V = volt_sum / volt_n;
        }
    }
    free(slots);
    return n_out;
}

size_t pvo_status_format(const struct pvo_status *s, bool with_v6, char *out, size_t out_size)
{
    char f[6][32] = {{0}};
    int last = 0; /* the last non-empty field, 1-based */
    if (s->fields & PVO_V1)
        snprintf(f[0], sizeof f[0], "%lld", s->v1_Wh), last = 1;
    if (s->fields & PVO_V2)
        snprintf(f[1], sizeof f[1], "%lld", s->v2_W), last = 2;
    if (s->fields & PVO_V3)
        snprintf(f[2], sizeof f[2], "%lld", s->v3_Wh), last = 3;
    if (s->fields & PVO_V4)
        snprintf(f[3], sizeof f[3], "%lld", s->v4_W), last = 4;
    if (with_v6 && (s->fields & PVO_V6))
        snprintf(f[5], sizeof f[5], "%.1f", s->v6_V), last = 6;
    int len = snprintf(out, out_size, "%08d,%02d:%02d", s->date, s->minute / 60, s->minute % 60);
    if (len < 0 || (size_t)len >= out_size)
        return 0;
    for (int i = 0; i < last; i++) {
        int w = snprintf(out + len, out_size - (size_t)len, ",%s", f[i]);
        if (w < 0 || (size_t)w >= out_size - (size_t)len)
            return 0;
        len += w;
    }
    return (size_t)len;
}

bool pvo_within_backload(const struct tz *tz, int date, int64_t now_s, int days)
{
    /* PVOutput counts whole local dates; an hour's margin keeps a status
     * from going stale between our check and its arrival */
    int oldest = tz_local_date(tz, now_s - (int64_t)days * 86400 + 3600);
    return date >= oldest;
}

/* ---- daily totals (addoutput.jsp) --------------------------------------- */

bool pvo_day_output(int date, double production_wh, double consumption_wh, double export_wh,
                    unsigned has, struct pvo_output *out)
{
    memset(out, 0, sizeof *out);
    out->date = date;
    /* the store keeps 0.1 Wh: round the deci-Wh sum once, as v1/v3 do */
    if (has & IHAS_PRODUCTION) {
        out->fields |= PVO_OUT_G;
        out->g_Wh = wh_of_dwh(dwh(production_wh));
    }
    if (has & IHAS_CONSUMPTION) {
        out->fields |= PVO_OUT_C;
        out->c_Wh = wh_of_dwh(dwh(consumption_wh));
    }
    if (has & IHAS_EXPORT) {
        out->fields |= PVO_OUT_E;
        out->e_Wh = wh_of_dwh(dwh(export_wh));
    }
    return out->fields != 0;
}

size_t pvo_output_body(const struct pvo_output *o, char *out, size_t out_size)
{
    char g[32] = "", c[32] = "", e[32] = "";
    if (o->fields & PVO_OUT_G)
        snprintf(g, sizeof g, "&g=%lld", o->g_Wh);
    if (o->fields & PVO_OUT_C)
        snprintf(c, sizeof c, "&c=%lld", o->c_Wh);
    if (o->fields & PVO_OUT_E)
        snprintf(e, sizeof e, "&e=%lld", o->e_Wh);
    int w = snprintf(out, out_size, "d=%08d%s%s%s", o->date, g, c, e);
    if (w < 0 || (size_t)w >= out_size)
        return 0;
    return (size_t)w;
}

int64_t pvo_next_midnight_s(const struct tz *tz, int date)
{
    int64_t m0 = tz_from_local(tz, date / 10000, date / 100 % 100, date % 100, 0, 0, 0);
    /* a local day lasts 23 to 25 hours: 26 h after its midnight is the next date */
    int next = tz_local_date(tz, m0 + 26 * 3600);
    return tz_from_local(tz, next / 10000, next / 100 % 100, next % 100, 0, 0, 0);
}

bool pvo_day_complete(const struct tz *tz, int date, int64_t latest_end_s)
{
    return latest_end_s > 0 && latest_end_s >= pvo_next_midnight_s(tz, date);
}

/* ---- replies ------------------------------------------------------------ */

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return true;
}

/* Each item: 8 digits date, ',', hh ':' mm, ',', a flag of digits. */
int pvo_reply_parse(const char *body, size_t len, struct pvo_reply_item *items, size_t max)
{
    size_t i = 0, n = 0;
    for (;;) {
        while (i < len && (body[i] == ' ' || body[i] == '\r' || body[i] == '\n' || body[i] == '\t'))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && body[i] != ';')
            i++;
        size_t end = i;
        while (end > start && isspace((unsigned char)body[end - 1]))
            end--;
        const char *p = body + start;
        size_t m = end - start;
        if (m < 16 || !digits(p, 8) || p[8] != ',' || !digits(p + 9, 2) || p[11] != ':' ||
            !digits(p + 12, 2) || p[14] != ',' || !digits(p + 15, m - 15) || m - 15 > 3)
            return PVTAP_ECORRUPT;
        if (n < max) {
            items[n].date = atoi(p); /* stops at ',' */
            items[n].minute =
                (p[9] - '0') * 600 + (p[10] - '0') * 60 + (p[12] - '0') * 10 + (p[13] - '0');
            items[n].flag = atoi(p + 15);
        }
        n++;
        if (i < len)
            i++; /* the ';' */
    }
    return (int)(n < max ? n : max);
}

void pvo_reply_reason(const char *body, size_t len, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    /* "Bad request 400: Moon Powered" -> "Moon Powered"; else the whole line */
    size_t start = 0;
    for (size_t i = 0; i + 4 < len; i++)
        if (isdigit((unsigned char)body[i]) && isdigit((unsigned char)body[i + 1]) &&
            isdigit((unsigned char)body[i + 2]) && body[i + 3] == ':') {
            start = i + 4;
            break;
        }
    while (start < len && isspace((unsigned char)body[start]))
        start++;
    size_t end = start;
    while (end < len && body[end] != '\n' && body[end] != '\r')
        end++;
    size_t n = end - start;
    if (n >= out_size)
        n = out_size - 1;
    /* printable only: this ends up in logs and the store */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[start + i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
}

/* ---- rate limits -------------------------------------------------------- */

bool pvo_ratelimit_header(const char *line, size_t len, struct pvo_ratelimit *rl)
{
    static const char prefix[] = "x-rate-limit-";
    size_t pl = sizeof prefix - 1;
    if (len <= pl || strncasecmp(line, prefix, pl) != 0)
        return false;
    const char *name = line + pl;
    size_t rest = len - pl;
    const char *colon = memchr(name, ':', rest);
    if (!colon)
        return false;
    size_t name_len = (size_t)(colon - name);
    char val[32];
    size_t vi = 0;
    for (const char *p = colon + 1; p < line + len && vi + 1 < sizeof val; p++)
        if (!isspace((unsigned char)*p))
            val[vi++] = *p;
    val[vi] = '\0';
    char *endp;
    long long v = strtoll(val, &endp, 10);
    if (vi == 0 || *endp != '\0')
        return false;
    if (name_len == 9 && strncasecmp(name, "remaining", 9) == 0) {
        rl->remaining = v, rl->have_remaining = true;
    } else if (name_len == 5 && strncasecmp(name, "limit", 5) == 0) {
        rl->limit = v, rl->have_limit = true;
    } else if (name_len == 5 && strncasecmp(name, "reset", 5) == 0) {
        rl->reset_s = v, rl->have_reset = true;
    } else {
        return false;
    }
    return true;
}

int64_t pvo_next_request_s(const struct pvo_ratelimit *rl, int64_t now_s, long long reserve)
{
    if (!rl->have_remaining)
        return now_s;
    bool reset_ahead = rl->have_reset && rl->reset_s > now_s;
    if (rl->remaining <= 0)
        return reset_ahead ? rl->reset_s : now_s;
    if (rl->remaining > reserve || !reset_ahead)
        return now_s;
    /* down to the reserve: spread what is left so one is kept to the end */
    int64_t spacing = (rl->reset_s - now_s) / (rl->remaining + 1);
    return now_s + spacing;
}

/* ---- back-off ----------------------------------------------------------- */

double pvo_backoff_s(int attempt, double min_s, double max_s, double jitter01)
{
    double d = min_s;
    for (int i = 1; i < attempt && d < max_s; i++)
        d *= 2;
    if (d > max_s)
        d = max_s;
    if (jitter01 < 0)
        jitter01 = 0;
    if (jitter01 >= 1)
        jitter01 = 0.999;
    /* jitter spreads many gateways' retries after a PVOutput outage */
    d += d * 0.2 * jitter01;
    return d > max_s ? max_s : d;
}

/* ---- bisecting a 400 ----------------------------------------------------- */

void pvo_bisect_init(struct pvo_bisect *b, size_t full)
{
    b->full = full ? full : PVO_BATCH_MAX;
    b->cap = b->full;
    b->suspect_end = 0;
}

size_t pvo_bisect_cap(struct pvo_bisect *b, int64_t first_end)
{
    if (b->suspect_end && first_end > b->suspect_end) {
        b->cap = b->full;
        b->suspect_end = 0;
    }
    return b->cap;
}

bool pvo_bisect_rejected(struct pvo_bisect *b, size_t n, int64_t last_end)
{
    if (n <= 1) {
        /* found: the rest goes at the full size again (a second bad status
         * would start its own bisection) */
        b->cap = b->full;
        b->suspect_end = 0;
        return true;
    }
    if (last_end > b->suspect_end)
        b->suspect_end = last_end;
    b->cap = n / 2;
    return false;
}
