/* `pvtap compare`'s builder: two series lined up interval by interval, printed as table, csv or
 * jsonl (CLI and web). */
#include "cli/compare_format.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/grow.h"

enum { NQ = 3 };
static const char *const q_name[NQ] = {"production", "net", "consumption"};
static const unsigned q_bit[NQ] = {IHAS_PRODUCTION, IHAS_NET, IHAS_CONSUMPTION};

/* One side's row, energies as stored (rounded to 0.1 Wh). */
struct side {
    int64_t interval_end;
    double wh[NQ];
    unsigned has, flags;
};

struct rows {
    struct side *v;
    size_t n, cap;
};

static int add_row(void *ctx, const struct store_interval *iv)
{
    struct rows *r = ctx;
    if (GROW(&r->v, &r->cap, r->n, 1024) < 0)
        return PVTAP_ENOMEM;
    struct side *s = &r->v[r->n++];
    s->interval_end = iv->row.interval_end;
    s->wh[0] = iv->row.production_wh;
    s->wh[1] = iv->row.net_wh;
    s->wh[2] = iv->row.consumption_wh;
    s->has = iv->row.has;
    s->flags = iv->row.flags;
    return 0;
}

struct qstat {
    uint64_t n;
    double sum_abs, max_abs;
    int64_t max_at;
};

struct day {
    int date; /* YYYYMMDD, site time */
    double wh[2][NQ];
    unsigned has[2];
};

struct summary {
    uint64_t both, only_a, only_b;
    struct qstat q[NQ];
    struct day *days;
    size_t n_days, cap_days;
};

static int day_add(struct summary *s, int date, int side, const struct side *r)
{
    if (!s->n_days || s->days[s->n_days - 1].date != date) {
        if (s->n_days == s->cap_days) {
            size_t cap = s->cap_days ? s->cap_days * 2 : 64;
            struct day *d = realloc(s->days, cap * sizeof *d);
            if (!d)
                return PVTAP_ENOMEM;
            s->days = d;
            s->cap_days = cap;
        }
        memset(&s->days[s->n_days], 0, sizeof s->days[0]);
        s->days[s->n_days++].date = date;
    }
    struct day *d = &s->days[s->n_days - 1];
    for (int q = 0; q < NQ; q++)
        if (r->has & q_bit[q]) {
            d->wh[side][q] += r->wh[q];
            d->has[side] |= q_bit[q];
        }
    return 0;
}

static void flags_letters(const struct side *r, char *out)
{
    /* the table's one letter per side: - clean, i interpolated, g gap, r reset, * several */
    if (!r) {
        out[0] = ' ';
    } else if (!r->flags) {
        out[0] = '-';
    } else if (r->flags & (r->flags - 1)) {
        out[0] = '*';
    } else {
        out[0] = r->flags == IFLAG_INTERPOLATED ? 'i' : r->flags == IFLAG_GAP ? 'g' : 'r';
    }
}

static void cell(char *buf, size_t n, const struct side *r, int q, const char *empty)
{
    if (r && (r->has & q_bit[q]))
        interval_format_wh(r->wh[q], buf, n);
    else
        snprintf(buf, n, "%s", empty);
}

static void print_line(FILE *out, enum interval_format fmt, const char *a_name, const char *b_name,
                       int64_t ie, const struct side *a, const struct side *b, const struct tz *tz)
{
    char t[32];
    /* the table is for a person: site-local time; CSV and JSON stay UTC */
    if (fmt == IFMT_TABLE)
        time_format_local(tz, ie, t, sizeof t);
    else
        time_format_iso_utc(ie, t, sizeof t);
    const char *empty = fmt == IFMT_JSONL ? "null" : "";
    char va[NQ][32], vb[NQ][32], d[NQ][32], pct[NQ][32];
    for (int q = 0; q < NQ; q++) {
        cell(va[q], sizeof va[q], a, q, empty);
        cell(vb[q], sizeof vb[q], b, q, empty);
        snprintf(d[q], sizeof d[q], "%s", empty);
        snprintf(pct[q], sizeof pct[q], "%s", empty);
        if (a && b && (a->has & b->has & q_bit[q])) {
            double diff = b->wh[q] - a->wh[q];
            interval_format_wh(diff, d[q], sizeof d[q]);
            if (a->wh[q] != 0.0)
                snprintf(pct[q], sizeof pct[q], "%.1f",
                         engine_round_wh(100.0 * diff / fabs(a->wh[q])));
        }
    }
    char fa[64] = "", fb[64] = "";
    if (a)
        engine_flags_format(a->flags, fa, sizeof fa);
    if (b)
        engine_flags_format(b->flags, fb, sizeof fb);
    if (fmt == IFMT_CSV) {
        fprintf(out, "%s", t);
        for (int q = 0; q < NQ; q++)
            fprintf(out, ",%s,%s,%s,%s", va[q], vb[q], d[q], pct[q]);
        fprintf(out, ",%s,%s,%s,%s\n", a ? "1" : "0", b ? "1" : "0", fa, fb);
    } else if (fmt == IFMT_JSONL) {
        /* which series is a and b: the summary object names them */
        fprintf(out, "{\"interval_end\":\"%s\"", t);
        for (int q = 0; q < NQ; q++)
            fprintf(out, ",\"%s_wh_a\":%s,\"%s_wh_b\":%s,\"%s_diff_wh\":%s,\"%s_diff_pct\":%s",
                    q_name[q], va[q], q_name[q], vb[q], q_name[q], d[q], q_name[q], pct[q]);
        fprintf(out, ",\"in_a\":%s,\"in_b\":%s,\"flags_a\":\"%s\",\"flags_b\":\"%s\"}\n",
                a ? "true" : "false", b ? "true" : "false", fa, fb);
    } else {
        char la[2] = {0}, lb[2] = {0};
        flags_letters(a, la);
        flags_letters(b, lb);
        fprintf(out, "%-20s%8s%8s%8s%8s%8s%8s%8s %s/%s\n", t, va[0], vb[0], d[0], va[1], vb[1],
                d[1], d[2], la, lb);
    }
    (void)a_name;
    (void)b_name;
}

static void print_header(FILE *out, enum interval_format fmt, const char *a, const char *b)
{
    if (fmt == IFMT_CSV) {
        fprintf(out, "interval_end");
        for (int q = 0; q < NQ; q++)
            fprintf(out, ",%s_wh_a,%s_wh_b,%s_diff_wh,%s_diff_pct", q_name[q], q_name[q], q_name[q],
                    q_name[q]);
        fprintf(out, ",in_a,in_b,flags_a,flags_b\n");
    } else if (fmt == IFMT_TABLE) {
        fprintf(out,
                "a = %s, b = %s; d = b - a (Wh); flags a/b: - clean, i interpolated, g gap,\n"
                "r counter reset, * several\n",
                a, b);
        fprintf(out, "%-20s%8s%8s%8s%8s%8s%8s%8s %s\n", "interval_end", "prod_a", "prod_b",
                "d_prod", "net_a", "net_b", "d_net", "d_cons", "a/b");
    }
}

static void print_summary(FILE *out, enum interval_format fmt, const struct tz *tz, const char *a,
                          const char *b, const struct summary *s)
{
    if (fmt == IFMT_JSONL) {
        fprintf(out,
                "{\"summary\":{\"a\":\"%s\",\"b\":\"%s\",\"intervals_both\":%llu,"
                "\"intervals_only_a\":%llu,\"intervals_only_b\":%llu",
                a, b, (unsigned long long)s->both, (unsigned long long)s->only_a,
                (unsigned long long)s->only_b);
        for (int q = 0; q < NQ; q++) {
            char t[32] = "null";
            if (s->q[q].n) {
                t[0] = '"';
                time_format_iso_utc(s->q[q].max_at, t + 1, sizeof t - 2);
                size_t l = strlen(t);
                t[l] = '"';
                t[l + 1] = '\0';
            }
            fprintf(out, ",\"%s\":{\"compared\":%llu,\"mean_abs_diff_wh\":", q_name[q],
                    (unsigned long long)s->q[q].n);
            if (s->q[q].n)
                fprintf(out, "%.1f,\"max_abs_diff_wh\":%.1f,\"max_at\":%s}",
                        engine_round_wh(s->q[q].sum_abs / (double)s->q[q].n),
                        engine_round_wh(s->q[q].max_abs), t);
            else
                fprintf(out, "null,\"max_abs_diff_wh\":null,\"max_at\":null}");
        }
        fprintf(out, ",\"days\":[");
        for (size_t i = 0; i < s->n_days; i++) {
            const struct day *d = &s->days[i];
            fprintf(out, "%s{\"date\":\"%04d-%02d-%02d\"", i ? "," : "", d->date / 10000,
                    d->date / 100 % 100, d->date % 100);
            for (int side = 0; side < 2; side++)
                for (int q = 0; q < NQ; q++) {
                    fprintf(out, ",\"%s_wh_%c\":", q_name[q], side ? 'b' : 'a');
                    if (d->has[side] & q_bit[q])
                        fprintf(out, "%.1f", engine_round_wh(d->wh[side][q]));
                    else
                        fputs("null", out);
                }
            fputc('}', out);
        }
        fputs("]}}\n", out);
        return;
    }
    const char *pfx = fmt == IFMT_CSV ? "# " : "";
    fprintf(out, "%s\n%sintervals: %llu in both, %llu only in %s, %llu only in %s\n", pfx, pfx,
            (unsigned long long)s->both, (unsigned long long)s->only_a, a,
            (unsigned long long)s->only_b, b);
    for (int q = 0; q < NQ; q++) {
        if (!s->q[q].n) {
            fprintf(out, "%s%-12s no interval has it in both\n", pfx, q_name[q]);
            continue;
        }
        char t[32];
        time_format_local(tz, s->q[q].max_at, t, sizeof t); /* text for a person */
        fprintf(out, "%s%-12s %6llu compared, mean |b-a| %.1f Wh, max %.1f Wh at %s\n", pfx,
                q_name[q], (unsigned long long)s->q[q].n,
                engine_round_wh(s->q[q].sum_abs / (double)s->q[q].n),
                engine_round_wh(s->q[q].max_abs), t);
    }
    if (s->n_days)
        fprintf(out, "%s\n%s%-10s %10s %10s %10s %10s %10s %10s\n", pfx, pfx, "day (local)",
                "prod_a_Wh", "prod_b_Wh", "net_a_Wh", "net_b_Wh", "cons_a_Wh", "cons_b_Wh");
    for (size_t i = 0; i < s->n_days; i++) {
        const struct day *d = &s->days[i];
        char v[6][32];
        for (int q = 0; q < NQ; q++)
            for (int side = 0; side < 2; side++) {
                char *buf = v[q * 2 + side];
                if (d->has[side] & q_bit[q])
                    interval_format_wh(d->wh[side][q], buf, 32);
                else
                    snprintf(buf, 32, "-");
            }
        fprintf(out, "%s%04d-%02d-%02d %10s %10s %10s %10s %10s %10s\n", pfx, d->date / 10000,
                d->date / 100 % 100, d->date % 100, v[0], v[1], v[2], v[3], v[4], v[5]);
    }
}

/* Walk both sorted lists together: print each interval, fold the summary. */
static int compare(FILE *out, enum interval_format fmt, const char *an, const char *bn,
                   const struct rows *a, const struct rows *b, const struct tz *tz,
                   struct summary *s)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const struct side *ra = NULL, *rb = NULL;
        if (j >= b->n || (i < a->n && a->v[i].interval_end <= b->v[j].interval_end))
            ra = &a->v[i];
        if (i >= a->n || (j < b->n && b->v[j].interval_end <= a->v[i].interval_end))
            rb = &b->v[j];
        int64_t ie = ra ? ra->interval_end : rb->interval_end;
        if (ra && rb)
            s->both++;
        else if (ra)
            s->only_a++;
        else
            s->only_b++;
        for (int q = 0; q < NQ; q++)
            if (ra && rb && (ra->has & rb->has & q_bit[q])) {
                double d = fabs(rb->wh[q] - ra->wh[q]);
                struct qstat *st = &s->q[q];
                st->n++;
                st->sum_abs += d;
                if (st->n == 1 || d > st->max_abs) {
                    st->max_abs = d;
                    st->max_at = ie;
                }
            }
        int date = tz_local_date(tz, ie);
        if ((ra && day_add(s, date, 0, ra)) || (rb && day_add(s, date, 1, rb)))
            return PVTAP_ENOMEM;
        print_line(out, fmt, an, bn, ie, ra, rb, tz);
        if (ra)
            i++;
        if (rb)
            j++;
    }
    return 0;
}

bool compare_series_name_ok(const char *s)
{
    if (!*s || strlen(s) >= ENGINE_SERIES_MAX)
        return false;
    for (; *s; s++)
        if (!(*s == '-' || *s == '_' || *s == '.' || *s == '@' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

int compare_write(struct store *st, const struct tz *tz, const char *an, const char *bn,
                  int64_t from, int64_t to, enum interval_format fmt, FILE *out, FILE *summary_out)
{
    struct rows a = {0}, b = {0};
    struct summary s = {0};
    int rc = store_query_intervals(st, an, from, to, add_row, &a);
    if (rc == 0)
        rc = store_query_intervals(st, bn, from, to, add_row, &b);
    if (rc == 0) {
        print_header(out, fmt, an, bn);
        rc = compare(out, fmt, an, bn, &a, &b, tz, &s);
    }
    if (rc == 0)
        print_summary(summary_out, fmt, tz, an, bn, &s);
    free(a.v);
    free(b.v);
    free(s.days);
    return rc;
}
