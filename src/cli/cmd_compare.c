/* `pvtap compare`: two series side by side, interval by interval, with differences and a summary. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_cli.h"
#include "cli/interval_format.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvtap compare [-c FILE] [--db PATH] [--a S] [--b S] [--from T] [--to T]\n"
            "                     [--format table|csv|jsonl]\n"
            "\n"
            "Lines up two series of the store (default: a = sniff, b = poll) interval by\n"
            "interval: each quantity from both, the difference b - a in Wh and in %% of a,\n"
            "and both rows' flags; then a summary: intervals in both or only one, the mean\n"
            "and largest absolute difference per quantity, and daily totals (site time).\n"
            "  -c, --config FILE  configuration (default /etc/pvtap/pvtap.conf if it exists)\n"
            "      --db PATH      the store (default: store.path, else " PVTAP_DEFAULT_DB ")\n"
            "      --a S, --b S   the two series\n"
            "      --from T, --to T  range of interval_end, --to exclusive (as `intervals`)\n"
            "      --format F     table on a terminal, else csv; or jsonl. csv prints the\n"
            "                     summary to stderr (# lines); jsonl ends with a summary object\n"
            "  -h, --help         this text\n");
}

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
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        struct side *v = realloc(r->v, cap * sizeof *v);
        if (!v)
            return PVTAP_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
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

static void print_line(enum interval_format fmt, const char *a_name, const char *b_name,
                       int64_t ie, const struct side *a, const struct side *b)
{
    char t[32];
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
        printf("%s", t);
        for (int q = 0; q < NQ; q++)
            printf(",%s,%s,%s,%s", va[q], vb[q], d[q], pct[q]);
        printf(",%s,%s,%s,%s\n", a ? "1" : "0", b ? "1" : "0", fa, fb);
    } else if (fmt == IFMT_JSONL) {
        /* which series is a and b: the summary object names them */
        printf("{\"interval_end\":\"%s\"", t);
        for (int q = 0; q < NQ; q++)
            printf(",\"%s_wh_a\":%s,\"%s_wh_b\":%s,\"%s_diff_wh\":%s,\"%s_diff_pct\":%s",
                   q_name[q], va[q], q_name[q], vb[q], q_name[q], d[q], q_name[q], pct[q]);
        printf(",\"in_a\":%s,\"in_b\":%s,\"flags_a\":\"%s\",\"flags_b\":\"%s\"}\n",
               a ? "true" : "false", b ? "true" : "false", fa, fb);
    } else {
        char la[2] = {0}, lb[2] = {0};
        flags_letters(a, la);
        flags_letters(b, lb);
        printf("%-20s%8s%8s%8s%8s%8s%8s%8s %s/%s\n", t, va[0], vb[0], d[0], va[1], vb[1], d[1],
               d[2], la, lb);
    }
    (void)a_name;
    (void)b_name;
}

static void print_header(enum interval_format fmt, const char *a, const char *b)
{
    if (fmt == IFMT_CSV) {
        printf("interval_end");
        for (int q = 0; q < NQ; q++)
            printf(",%s_wh_a,%s_wh_b,%s_diff_wh,%s_diff_pct", q_name[q], q_name[q], q_name[q],
                   q_name[q]);
        printf(",in_a,in_b,flags_a,flags_b\n");
    } else if (fmt == IFMT_TABLE) {
        printf("a = %s, b = %s; d = b - a (Wh); flags a/b: - clean, i interpolated, g gap,\n"
               "r counter reset, * several\n",
               a, b);
        printf("%-20s%8s%8s%8s%8s%8s%8s%8s %s\n", "interval_end (UTC)", "prod_a", "prod_b",
               "d_prod", "net_a", "net_b", "d_net", "d_cons", "a/b");
    }
}

static void print_summary(FILE *out, enum interval_format fmt, const char *a, const char *b,
                          const struct summary *s)
{
    if (fmt == IFMT_JSONL) {
        fprintf(out, "{\"summary\":{\"a\":\"%s\",\"b\":\"%s\",\"intervals_both\":%llu,"
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
        time_format_iso_utc(s->q[q].max_at, t, sizeof t);
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
static int compare(enum interval_format fmt, const char *an, const char *bn,
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
        print_line(fmt, an, bn, ie, ra, rb);
        if (ra)
            i++;
        if (rb)
            j++;
    }
    return 0;
}

static bool plain_name(const char *s)
{
    if (!*s || strlen(s) >= ENGINE_SERIES_MAX)
        return false;
    for (; *s; s++)
        if (!(*s == '-' || *s == '_' || *s == '.' || *s == '@' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}

int cmd_compare_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"a", required_argument, NULL, 'a'},      {"b", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'F'},   {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_arg = NULL, *db_arg = NULL, *from_arg = NULL, *to_arg = NULL;
    const char *an = "sniff", *bn = "poll", *format_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_arg = optarg; break;
        case 'd': db_arg = optarg; break;
        case 'a': an = optarg; break;
        case 'b': bn = optarg; break;
        case 'F': from_arg = optarg; break;
        case 'T': to_arg = optarg; break;
        case 'f': format_arg = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: return cli_usage_error("compare", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("compare", "unexpected argument '%s'", argv[optind]);
    if (!plain_name(an) || !plain_name(bn))
        return cli_usage_error("compare", "a series name is letters, digits and -_.@ only");
    if (strcmp(an, bn) == 0)
        return cli_usage_error("compare", "--a and --b name the same series '%s'", an);
    enum interval_format fmt;
    int ex = engine_cli_format("compare", format_arg, &fmt);
    if (ex)
        return ex;
    struct engine_cli_site site;
    ex = engine_cli_site_load("compare", config_arg, db_arg, &site);
    int64_t from = INT64_MIN, to = INT64_MAX;
    if (!ex && from_arg)
        ex = engine_cli_time("compare", "--from", from_arg, site.tz, &from);
    if (!ex && to_arg)
        ex = engine_cli_time("compare", "--to", to_arg, site.tz, &to);
    if (ex) {
        engine_cli_site_free(&site);
        return ex;
    }
    struct rows a = {0}, b = {0};
    struct summary s = {0};
    struct store *st;
    int rc = store_open(site.db_path ? site.db_path : PVTAP_DEFAULT_DB, site.tz, STORE_RDONLY,
                        &st);
    if (rc == 0) {
        rc = store_query_intervals(st, an, from, to, add_row, &a);
        if (rc == 0)
            rc = store_query_intervals(st, bn, from, to, add_row, &b);
        store_close(st);
    }
    if (rc == 0) {
        print_header(fmt, an, bn);
        rc = compare(fmt, an, bn, &a, &b, site.tz, &s);
    }
    if (rc == 0)
        print_summary(fmt == IFMT_CSV ? stderr : stdout, fmt, an, bn, &s);
    free(a.v);
    free(b.v);
    free(s.days);
    engine_cli_site_free(&site);
    if (rc) {
        fprintf(stderr, "pvtap compare: %s\n", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
