/* Unit tests of the SQLite store: schema, upsert and revisions, DST-correct totals, outbox, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

struct fixture {
    char dir[256];
    char path[300];
    struct tz *la;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pvtap-test-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/pvtap.db", f->dir);
    if (tz_load("America/Los_Angeles", &f->la))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[400];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    rmdir(f->dir);
    tz_free(f->la);
    free(f);
    return 0;
}

static struct interval_row mkrow(const char *series, int64_t ie, double prod, double net,
                                 unsigned flags)
{
    struct interval_row r = {.interval_end = ie, .series = series, .flags = flags};
    if (!isnan(prod)) {
        r.has |= IHAS_PRODUCTION;
        r.production_wh = prod;
    }
    if (!isnan(net)) {
        r.has |= IHAS_NET;
        r.net_wh = net;
    }
    if (!isnan(prod) && !isnan(net)) {
        r.has |= IHAS_CONSUMPTION;
        r.consumption_wh = prod + net;
    }
    return r;
}

struct collected {
    struct store_interval iv[64];
    char series[64][16];
    size_t n;
};

static int collect_cb(void *ctx, const struct store_interval *iv)
{
    struct collected *c = ctx;
    if (c->n < 64) {
        c->iv[c->n] = *iv;
        snprintf(c->series[c->n], sizeof c->series[c->n], "%s", iv->row.series);
        c->iv[c->n].row.series = c->series[c->n];
        c->n++;
    }
    return 0;
}

static void test_schema(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    store_close(st);
    /* reopening migrates nothing; the schema is at version 1 */
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    store_close(st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    /* a database from a newer pvtap is refused, not damaged */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->path, f->la, 0, &st), PVTAP_EDB);
    assert_null(st);
}

static void test_upsert_revision_outbox(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    static const char *const sinks[] = {"pvoutput", "mqtt"};
    const int64_t T = 1496852400; /* 2017-06-07T16:20:00Z */
    struct interval_row r = mkrow("sniff", T, 1234.5, -802.0, 0);
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_upsert_interval(st, &r, sinks, 2, 100), 0);
    assert_int_equal(store_commit(st), 0);

    struct collected c = {0};
    assert_int_equal(store_query_intervals(st, NULL, T, T + 1, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.iv[0].revision, 1);
    assert_true(fabs(c.iv[0].row.consumption_wh - 432.5) < 1e-9);

    /* the same printed row (float noise below 0.05 Wh) is not a revision */
    r.production_wh += 1e-9;
    assert_int_equal(store_upsert_interval(st, &r, sinks, 2, 200), 0);
    int64_t n;
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_PENDING, &n), 0);
    assert_int_equal(n, 1);
    /* deliver revision 1, then a revision comes: pending again */
    assert_int_equal(store_outbox_mark(st, "pvoutput", "sniff", T, 1, OUTBOX_DELIVERED, NULL, 300),
                     0);
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_PENDING, &n), 0);
    assert_int_equal(n, 0);
    r = mkrow("sniff", T, 1300.0, -802.0, IFLAG_INTERPOLATED);
    assert_int_equal(store_upsert_interval(st, &r, sinks, 2, 400), 0);
    c.n = 0;
    assert_int_equal(store_query_intervals(st, "sniff", T, T + 1, collect_cb, &c), 0);
    assert_int_equal(c.iv[0].revision, 2);
    assert_int_equal(c.iv[0].row.flags, IFLAG_INTERPOLATED);
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_PENDING, &n), 0);
    assert_int_equal(n, 1);
    /* a sink that delivered revision 1 cannot mark revision 2 done */
    assert_int_equal(store_outbox_mark(st, "mqtt", "sniff", T, 1, OUTBOX_DELIVERED, NULL, 500),
                     PVTAP_ENOTFOUND);
    assert_int_equal(store_outbox_mark(st, "mqtt", "sniff", T, 2, OUTBOX_UNDELIVERABLE, "too old",
                                       500),
                     0);
    assert_int_equal(store_outbox_count(st, "mqtt", OUTBOX_UNDELIVERABLE, &n), 0);
    assert_int_equal(n, 1);

    /* a gap row (no energies) is stored with its flag and empty cells */
    struct interval_row g = mkrow("sniff", T + 300, NAN, NAN, IFLAG_GAP);
    assert_int_equal(store_upsert_interval(st, &g, sinks, 0, 600), 0);
    c.n = 0;
    assert_int_equal(store_query_intervals(st, "sniff", T, T + 3600, collect_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.iv[1].row.has, 0);
    assert_int_equal(c.iv[1].row.flags, IFLAG_GAP);
    /* a row that no longer exists is deleted and leaves the totals */
    struct interval_row empty = {.interval_end = T + 300, .series = "sniff"};
    assert_int_equal(store_upsert_interval(st, &empty, sinks, 0, 700), 0);
    c.n = 0;
    assert_int_equal(store_query_intervals(st, "sniff", T, T + 3600, collect_cb, &c), 0);
    assert_int_equal(c.n, 1);
    store_close(st);
}

struct totals_seen {
    char period[8][16];
    double prod[8];
    int64_t intervals[8];
    unsigned has[8];
    size_t n;
};

static int totals_cb(void *ctx, const struct store_total *t)
{
    struct totals_seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->period[s->n], sizeof s->period[0], "%s", t->period);
        s->prod[s->n] = t->production_wh;
        s->intervals[s->n] = t->intervals;
        s->has[s->n] = t->has;
        s->n++;
    }
    return 0;
}

/* Every interval 1.0 Wh of production from local 2017-11-04 00:00 to
 * 2017-11-07 00:00 (fall back on the 5th: 25 hours), and 2017-03-11..13
 * (spring forward on the 12th: 23 hours). */
static void test_totals_dst(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    assert_int_equal(store_begin(st), 0);
    int64_t from = tz_from_local(f->la, 2017, 11, 4, 0, 0, 0);
    int64_t to = tz_from_local(f->la, 2017, 11, 7, 0, 0, 0);
    for (int64_t t = from; t < to; t += 300) {
        struct interval_row r = mkrow("sniff", t, 1.0, NAN, 0);
        assert_int_equal(store_upsert_interval(st, &r, NULL, 0, 1), 0);
    }
    from = tz_from_local(f->la, 2017, 3, 11, 0, 0, 0);
    to = tz_from_local(f->la, 2017, 3, 14, 0, 0, 0);
    for (int64_t t = from; t < to; t += 300) {
        struct interval_row r = mkrow("sniff", t, 1.0, NAN, 0);
        assert_int_equal(store_upsert_interval(st, &r, NULL, 0, 1), 0);
    }
    assert_int_equal(store_commit(st), 0);

    struct totals_seen s = {0};
    assert_int_equal(store_query_totals(st, "sniff", STORE_DAY, "2017-11-04", "2017-11-07",
                                        totals_cb, &s),
                     0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.period[0], "2017-11-04");
    /* the interval ending at local 00:00 starts its day: 288 each, 300 on the long day */
    assert_int_equal(s.intervals[0], 288);
    assert_int_equal(s.intervals[1], 300);
    assert_true(fabs(s.prod[1] - 300.0) < 1e-9);
    assert_int_equal(s.intervals[2], 288);
    assert_true(s.has[0] & IHAS_PRODUCTION);
    assert_false(s.has[0] & IHAS_NET);

    memset(&s, 0, sizeof s);
    assert_int_equal(store_query_totals(st, "sniff", STORE_DAY, "2017-03-11", "2017-03-14",
                                        totals_cb, &s),
                     0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.intervals[1], 276); /* 23 hours */

    memset(&s, 0, sizeof s);
    assert_int_equal(store_query_totals(st, "sniff", STORE_MONTH, NULL, NULL, totals_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.period[0], "2017-03");
    assert_int_equal(s.intervals[0], 288 + 276 + 288);
    assert_int_equal(s.intervals[1], 288 + 300 + 288);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_query_totals(st, "sniff", STORE_YEAR, NULL, NULL, totals_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(fabs(s.prod[0] - (288 * 4 + 276 + 300) * 1.0) < 1e-9);

    /* a revision moves the totals */
    struct interval_row r = mkrow("sniff", tz_from_local(f->la, 2017, 11, 5, 1, 30, 0), 11.0, NAN,
                                  0);
    assert_int_equal(store_upsert_interval(st, &r, NULL, 0, 2), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_query_totals(st, "sniff", STORE_DAY, "2017-11-05", "2017-11-06",
                                        totals_cb, &s),
                     0);
    assert_true(fabs(s.prod[0] - 310.0) < 1e-9);
    store_close(st);

    /* another site zone: the totals are rebuilt in it */
    assert_int_equal(store_open(f->path, NULL, 0, &st), 0);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_query_totals(st, "sniff", STORE_DAY, "2017-11-05", "2017-11-06",
                                        totals_cb, &s),
                     0);
    assert_int_equal(s.intervals[0], 288);
    store_close(st);
}

struct loaded {
    struct reading r[8];
    char series[8][16];
    size_t n;
};

static void load_cb(void *ctx, const struct reading *r)
{
    struct loaded *l = ctx;
    if (l->n < 8) {
        l->r[l->n] = *r;
        snprintf(l->series[l->n], sizeof l->series[0], "%s", r->series);
        l->r[l->n].series = l->series[l->n];
        l->n++;
    }
}

static void test_records(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    struct reading r = {.source = "sniff", .series = "sniff", .device = "414051708000326",
                        .kind = DEVICE_INVERTER, .time = 1496852400, .clock = CLOCK_RECORD,
                        .msg = 130, .q = Q_ENERGY_LIFETIME_KWH, .value = 2.6042};
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_put_reading(st, &r), 0);
    r.value = 2.6; /* a conflicting repeat: the larger stays */
    assert_int_equal(store_put_reading(st, &r), 0);
    r.value = 2.7;
    r.time += 300;
    assert_int_equal(store_put_reading(st, &r), 0);
    r.q = Q_POWER_W; /* live values are not stored */
    assert_int_equal(store_put_reading(st, &r), 0);
    struct reading p = {.source = "wattnode", .series = "poll", .device = "wattnode@1",
                        .kind = DEVICE_NET_METER, .time = 1496852410, .clock = CLOCK_POLL,
                        .q = Q_ENERGY_NET_LIFETIME_KWH, .value = -3.5};
    assert_int_equal(store_put_reading(st, &p), 0);
    p.value = NAN;
    assert_int_equal(store_put_reading(st, &p), PVTAP_EINVAL);
    assert_int_equal(store_commit(st), 0);

    struct loaded l = {0};
    struct reading_sink sink = {load_cb, &l};
    assert_int_equal(store_load_readings(st, "sniff", &sink), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.r[0].value == 2.6042);
    assert_int_equal(l.r[0].kind, DEVICE_INVERTER);
    assert_int_equal(l.r[0].q, Q_ENERGY_LIFETIME_KWH);
    assert_int_equal(l.r[0].msg, 130);
    memset(&l, 0, sizeof l);
    assert_int_equal(store_load_readings(st, NULL, &sink), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.series[0], "poll");
    assert_int_equal(l.r[0].clock, CLOCK_POLL);
    assert_true(l.r[0].value == -3.5);
    store_close(st);
}

/* The window load: per counter its last record before the window and every
 * record in it, nothing older; the newest record and interval by seeks. */
static void test_records_since(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    struct reading r = {.source = "sniff",
                        .series = "sniff",
                        .device = "inv-a",
                        .kind = DEVICE_INVERTER,
                        .clock = CLOCK_RECORD,
                        .msg = 130,
                        .q = Q_ENERGY_LIFETIME_KWH};
    assert_int_equal(store_begin(st), 0);
    for (int i = 0; i < 6; i++) { /* inv-a at 0, 300 ... 1500 */
        r.time = 1496852400 + i * 300;
        r.value = 1.0 + i;
        assert_int_equal(store_put_reading(st, &r), 0);
    }
    snprintf(r.device, sizeof r.device, "inv-b"); /* inv-b only long before */
    r.time = 1496852400 - 86400;
    r.value = 7.0;
    assert_int_equal(store_put_reading(st, &r), 0);
    struct reading m = {.source = "sniff",
                        .series = "sniff",
                        .device = "meter-c",
                        .kind = DEVICE_NET_METER,
                        .clock = CLOCK_RECORD,
                        .msg = 140,
                        .q = Q_ENERGY_NET_LIFETIME_KWH,
                        .time = 1496852400 + 1800,
                        .value = -2.0};
    assert_int_equal(store_put_reading(st, &m), 0);
    m.q = Q_ENERGY_IMPORT_LIFETIME_KWH; /* a second counter of the same device */
    m.value = 5.0;
    assert_int_equal(store_put_reading(st, &m), 0);
    assert_int_equal(store_commit(st), 0);

    struct loaded l = {0};
    struct reading_sink sink = {load_cb, &l};
    assert_int_equal(store_load_readings_since(st, 1496852400 + 900, &sink), 0);
    /* inv-a: base 600 then 900, 1200, 1500; inv-b: its only (base) record; meter-c: 1800
     * of both counters (in key order: energy_import... before energy_net...) */
    assert_int_equal(l.n, 7);
    assert_string_equal(l.r[0].device, "inv-a");
    assert_int_equal(l.r[0].time, 1496852400 + 600);
    assert_true(l.r[0].value == 3.0);
    assert_int_equal(l.r[3].time, 1496852400 + 1500);
    assert_string_equal(l.r[4].device, "inv-b");
    assert_int_equal(l.r[4].time, 1496852400 - 86400);
    assert_string_equal(l.r[5].device, "meter-c");
    assert_int_equal(l.r[5].kind, DEVICE_NET_METER);
    assert_int_equal(l.r[5].q, Q_ENERGY_IMPORT_LIFETIME_KWH);
    assert_true(l.r[5].value == 5.0);
    assert_string_equal(l.r[6].device, "meter-c");
    assert_true(l.r[6].value == -2.0);

    int64_t t = 0;
    bool found = false;
    assert_int_equal(store_newest_record(st, &t, &found), 0);
    assert_true(found);
    assert_int_equal(t, 1496852400 + 1800);

    assert_int_equal(store_newest_interval(st, "sniff", &t, &found), 0);
    assert_false(found);
    assert_int_equal(store_begin(st), 0);
    for (int i = 0; i < 3; i++) {
        struct interval_row row = mkrow("sniff", 1496852700 + i * 300, 10.0, NAN, 0);
        assert_int_equal(store_upsert_interval(st, &row, NULL, 0, 1), 0);
    }
    struct interval_row other = mkrow("poll", 1496852700 + 3000, 10.0, NAN, 0);
    assert_int_equal(store_upsert_interval(st, &other, NULL, 0, 1), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_newest_interval(st, "sniff", &t, &found), 0);
    assert_true(found);
    assert_int_equal(t, 1496852700 + 600);
    store_close(st);
}

static int net_total_cb(void *ctx, const struct store_total *t)
{
    struct store_total *out = ctx;
    *out = *t;
    out->period = NULL;
    return 0;
}

/* v3 keeps the intervals' net split by sign in the totals, v4 the outbox
 * counts; a v2 store gets both filled when it is opened. */
static void test_migrate_v3(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    assert_int_equal(store_begin(st), 0);
    const double nets[4] = {12.5, -40.0, 7.5, -0.5};
    const char *const sinks[1] = {"pvoutput"};
    for (int i = 0; i < 4; i++) {
        struct interval_row row = mkrow("sniff", 1496852700 + i * 300, 100.0, nets[i], 0);
        assert_int_equal(store_upsert_interval(st, &row, sinks, 1, 1), 0);
    }
    /* (v4) the outbox counts follow every change of an entry's state */
    assert_int_equal(
        store_outbox_mark(st, "pvoutput", "sniff", 1496852700 + 300, 1, OUTBOX_DELIVERED, NULL, 2),
        0);
    int64_t count = -1;
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_PENDING, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_DELIVERED, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(store_outbox_count(st, "mqtt", OUTBOX_DELIVERED, &count), 0);
    assert_int_equal(count, 0);
    /* a revision takes the old split away and adds the new one */
    struct interval_row again = mkrow("sniff", 1496852700, 100.0, -10.0, 0);
    assert_int_equal(store_upsert_interval(st, &again, NULL, 0, 1), 0);
    assert_int_equal(store_commit(st), 0);
    struct store_total t = {0};
    assert_int_equal(store_query_totals(st, "sniff", STORE_DAY, NULL, NULL, net_total_cb, &t), 0);
    assert_float_equal(t.net_import_wh, 7.5, 1e-9);
    assert_float_equal(t.net_export_wh, 50.5, 1e-9);
    store_close(st);

    /* the same store as version 2 left it */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE totals DROP COLUMN dimport_dwh;"
                                  "ALTER TABLE totals DROP COLUMN dexport_dwh;"
                                  "DROP TRIGGER outbox_counts_ins; DROP TRIGGER outbox_counts_del;"
                                  "DROP TRIGGER outbox_counts_upd; DROP TABLE outbox_counts;"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(f->path, f->la, 0, &st), 0);
    memset(&t, 0, sizeof t);
    assert_int_equal(store_query_totals(st, "sniff", STORE_YEAR, NULL, NULL, net_total_cb, &t), 0);
    assert_float_equal(t.net_import_wh, 7.5, 1e-9);
    assert_float_equal(t.net_export_wh, 50.5, 1e-9);
    assert_int_equal(t.intervals, 4);
    /* v4 counted the entries the outbox held */
    int64_t n = -1;
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_PENDING, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_outbox_count(st, "pvoutput", OUTBOX_DELIVERED, &n), 0);
    assert_int_equal(n, 1);
    store_close(st);
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    struct store *st;
    /* a missing directory, a missing file opened read-only */
    assert_int_equal(store_open("/nonexistent-dir/x/pvtap.db", NULL, 0, &st), PVTAP_EIO);
    assert_null(st);
    assert_int_equal(store_open(f->path, NULL, STORE_RDONLY, &st), PVTAP_EIO);
    /* not a database */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("this is not a database, it is a text file long enough to have a header.........\n"
          "..........................................................................\n",
          fp);
    fclose(fp);
    assert_int_equal(store_open(f->path, NULL, 0, &st), PVTAP_EDB);
    unlink(f->path);
    /* writing through a read-only handle is a clear error, not a crash */
    assert_int_equal(store_open(f->path, NULL, 0, &st), 0);
    store_close(st);
    assert_int_equal(store_open(f->path, NULL, STORE_RDONLY, &st), 0);
    struct interval_row r = mkrow("sniff", 1496852400, 1.0, NAN, 0);
    assert_int_equal(store_upsert_interval(st, &r, NULL, 0, 1), PVTAP_EIO);
    struct reading rd = {.series = "sniff", .device = "x", .kind = DEVICE_INVERTER,
                         .q = Q_ENERGY_LIFETIME_KWH, .clock = CLOCK_RECORD, .value = 1.0};
    assert_int_equal(store_put_reading(st, &rd), PVTAP_EIO);
    store_close(st);
}

int main(void)
{
    log_init(LOGL_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upsert_revision_outbox, setup, teardown),
        cmocka_unit_test_setup_teardown(test_totals_dst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records_since, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
