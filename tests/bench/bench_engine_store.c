/* Benchmark: a year of simulated site readings through engine + store; store size; day and year query times. */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

/* usage: bench_engine_store [DB] [INVERTERS]  (default /tmp/pvtap-bench.db, 20) */

enum { BATCH = 5000 };
static const int64_t YEAR_START = 1483228800; /* 2017-01-01T00:00:00Z */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct gen {
    int n_inv;
    double *life;
    double net, imp, exp;
    uint64_t rng;
};

static double rnd01(struct gen *g)
{
    g->rng = g->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(g->rng >> 11) / 9007199254740992.0;
}

/* The readings of one 5-minute record time: every inverter and the meter. */
static size_t gen_step(struct gen *g, int64_t t, struct reading *out)
{
    int doy = (int)((t - YEAR_START) / 86400);
    double hour = (double)((t - YEAR_START) % 86400) / 3600.0 - 8.0; /* ~ Pacific time */
    double len = 12.0 + 2.5 * sin((doy - 80) * 2 * M_PI / 365.0);
    double x = (hour - (12.0 - len / 2)) / len;
    double sun = x > 0 && x < 1 ? sin(x * M_PI) * (0.7 + 0.3 * rnd01(g)) : 0.0;
    size_t n = 0;
    double prod = 0;
    for (int i = 0; i < g->n_inv; i++) {
        double e = sun * 0.3 * 300 / 3600; /* 300 W peak each, kWh per 5 min */
        g->life[i] += e;
        prod += e;
        out[n] = (struct reading){.source = "sniff", .series = "sniff", .kind = DEVICE_INVERTER,
                                  .time = t, .clock = CLOCK_RECORD, .msg = 130,
                                  .q = Q_ENERGY_LIFETIME_KWH, .value = round(g->life[i] * 1e4) / 1e4};
        snprintf(out[n].device, sizeof out[n].device, "4140517080%05d", i);
        n++;
    }
    double load = (0.4 + 0.8 * rnd01(g)) * 300 / 3600;
    g->net += load - prod;
    if (load > prod)
        g->imp += load - prod;
    else
        g->exp += prod - load;
    const enum quantity q[] = {Q_ENERGY_NET_LIFETIME_KWH, Q_ENERGY_IMPORT_LIFETIME_KWH,
                               Q_ENERGY_EXPORT_LIFETIME_KWH};
    const double v[] = {g->net, g->imp, g->exp};
    for (int i = 0; i < 3; i++) {
        out[n] = (struct reading){.source = "sniff", .series = "sniff", .kind = DEVICE_NET_METER,
                                  .time = t, .clock = CLOCK_RECORD, .msg = 140, .q = q[i],
                                  .value = round(v[i] * 1e3) / 1e3};
        snprintf(out[n].device, sizeof out[n].device, "PVS5M562239c");
        n++;
    }
    return n;
}

static int run(struct engine *e, struct store *st, int n_inv, uint64_t *readings)
{
    struct gen g = {.n_inv = n_inv, .net = 1000, .imp = 3000, .exp = 2000, .rng = 7};
    g.life = calloc((size_t)n_inv, sizeof *g.life);
    struct reading *buf = calloc((size_t)n_inv + 3, sizeof *buf);
    if (!g.life || !buf)
        return PVTAP_ENOMEM;
    for (int i = 0; i < n_inv; i++)
        g.life[i] = 1000 + i;
    int rc = st ? store_begin(st) : 0;
    size_t in_batch = 0;
    *readings = 0;
    for (int64_t t = YEAR_START; rc == 0 && t < YEAR_START + 365 * 86400LL; t += 300) {
        size_t n = gen_step(&g, t, buf);
        for (size_t i = 0; i < n && rc == 0; i++) {
            rc = engine_add(e, &buf[i]);
            if (rc == 0 && st)
                rc = store_put_reading(st, &buf[i]);
        }
        *readings += n;
        in_batch += n;
        if (rc == 0 && (in_batch >= BATCH || t + 300 >= YEAR_START + 365 * 86400LL)) {
            const struct interval_row *rows;
            size_t nr;
            rc = engine_collect(e, &rows, &nr);
            for (size_t i = 0; rc == 0 && st && i < nr; i++)
                rc = store_upsert_interval(st, &rows[i], NULL, 0, t);
            if (rc == 0 && st && (rc = store_commit(st)) == 0)
                rc = store_begin(st);
            in_batch = 0;
        }
    }
    if (st)
        store_rollback(st);
    free(g.life);
    free(buf);
    return rc;
}

static int count_cb(void *ctx, const struct store_interval *iv)
{
    (void)iv;
    (*(size_t *)ctx)++;
    return 0;
}

static int count_total(void *ctx, const struct store_total *t)
{
    (void)t;
    (*(size_t *)ctx)++;
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of 21 runs of the raw SQL through the sqlite3 API: the reference. */
static double raw_query_ms(const char *path, const char *sql, size_t *rows)
{
    sqlite3 *db;
    double t[21];
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    for (int r = 0; r < 21; r++) {
        double t0 = now_ms();
        sqlite3_stmt *s;
        *rows = 0;
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
            break;
        while (sqlite3_step(s) == SQLITE_ROW)
            (*rows)++;
        sqlite3_finalize(s);
        t[r] = now_ms() - t0;
    }
    sqlite3_close(db);
    qsort(t, 21, sizeof t[0], cmp_d);
    return t[10];
}

/* The same SQL through the sqlite3 CLI (process start included). */
static double cli_query_ms(const char *path, const char *sql)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sqlite3 -readonly '%s' \"%s\" >/dev/null 2>&1", path, sql);
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now_ms();
        if (system(cmd) != 0)
            return -1;
        t[r] = now_ms() - t0;
    }
    qsort(t, 5, sizeof t[0], cmp_d);
    return t[2];
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/pvtap-bench.db";
    int n_inv = argc > 2 ? atoi(argv[2]) : 20;
    if (n_inv < 1 || n_inv > 500) {
        fprintf(stderr, "usage: bench_engine_store [DB] [INVERTERS 1..500]\n");
        return 2;
    }
    log_init(LOGL_WARNING);
    char p[1100];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
        unlink(p);
    }
    struct tz *tz;
    if (tz_load("America/Los_Angeles", &tz))
        return 1;

    /* reference: the engine alone */
    uint64_t n;
    struct engine *e = engine_new(NULL);
    double t0 = now_ms();
    if (!e || run(e, NULL, n_inv, &n))
        return 1;
    double engine_ms = now_ms() - t0;
    engine_free(e);

    struct store *st;
    e = engine_new(NULL);
    if (!e || store_open(path, tz, 0, &st))
        return 1;
    t0 = now_ms();
    int rc = run(e, st, n_inv, &n);
    double full_ms = now_ms() - t0;
    engine_free(e);
    store_close(st);
    if (rc) {
        fprintf(stderr, "bench: %s\n", pvtap_strerror(rc));
        return 1;
    }
    struct stat sb;
    stat(path, &sb);

    printf("a year (2017) of %d inverters + 1 net meter (net/import/export), 5-min records\n",
           n_inv);
    printf("readings:            %llu\n", (unsigned long long)n);
    printf("engine alone:        %8.0f ms  %10.0f readings/s   (reference)\n", engine_ms,
           n / engine_ms * 1e3);
    printf("engine + store:      %8.0f ms  %10.0f readings/s   (x%.1f the engine alone)\n",
           full_ms, n / full_ms * 1e3, full_ms / engine_ms);
    printf("store size:          %8.1f MiB (records + intervals + totals, after checkpoint)\n",
           sb.st_size / 1048576.0);

    /* queries: a day graph (one series, one local day) and a year of monthly totals */
    if (store_open(path, tz, STORE_RDONLY, &st))
        return 1;
    int64_t day_from = tz_from_local(tz, 2017, 6, 7, 0, 0, 0), day_to = day_from + 86400;
    double td[21], tm[21];
    size_t rows_day = 0, rows_month = 0;
    for (int r = 0; r < 21; r++) {
        rows_day = 0;
        t0 = now_ms();
        store_query_intervals(st, "sniff", day_from, day_to, count_cb, &rows_day);
        td[r] = now_ms() - t0;
        rows_month = 0;
        t0 = now_ms();
        store_query_totals(st, "sniff", STORE_MONTH, "2017-01", "2018-01", count_total,
                           &rows_month);
        tm[r] = now_ms() - t0;
    }
    store_close(st);
    qsort(td, 21, sizeof td[0], cmp_d);
    qsort(tm, 21, sizeof tm[0], cmp_d);
    char sql_day[512], sql_month[512];
    snprintf(sql_day, sizeof sql_day,
             "SELECT * FROM intervals WHERE series = 'sniff' AND interval_end >= %lld"
             " AND interval_end < %lld ORDER BY interval_end",
             (long long)day_from, (long long)day_to);
    snprintf(sql_month, sizeof sql_month,
             "SELECT * FROM totals WHERE series = 'sniff' AND kind = 'month'"
             " AND period >= '2017-01' AND period < '2018-01' ORDER BY period");
    size_t raw_rows;
    double raw_day = raw_query_ms(path, sql_day, &raw_rows);
    double raw_month = raw_query_ms(path, sql_month, &raw_rows);
    double cli_day = cli_query_ms(path, sql_day), cli_month = cli_query_ms(path, sql_month);
    printf("day graph query:     %8.3f ms (%zu rows; raw SQL %.3f ms, x%.1f; sqlite3 CLI %.1f ms)\n",
           td[10], rows_day, raw_day, td[10] / raw_day, cli_day);
    printf("year of months:      %8.3f ms (%zu rows; raw SQL %.3f ms, x%.1f; sqlite3 CLI %.1f ms)\n",
           tm[10], rows_month, raw_month, tm[10] / raw_month, cli_month);
    printf("target < 20 ms each: %s\n", td[10] < 20 && tm[10] < 20 ? "met" : "MISSED");
    tz_free(tz);
    return 0;
}
