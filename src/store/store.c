/* The SQLite store: schema migrations, raw records, intervals with revisions, local totals,
 * outboxes. */
#include "store/store.h"

#include "store/store_internal.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Layout (the README's "Intervals, the store" has the user's view):
 *   records   raw counter readings, pk (series, device, quantity, time): the
 *             engine is re-fed from here, which is how a killed replay or a
 *             restarted daemon converges
 *   intervals one row per (series, interval_end), energies rounded as printed,
 *             a revision that counts changes
 *   totals    per series and local day/month/year, integer deci-Wh sums
 *             (exact under add/subtract) and per-quantity counts (a quantity
 *             no interval had stays NULL)
 *   outbox    per (sink, series, interval_end): the revision to deliver
 *   meta      key/value: the time zone the totals were built with
 *   sink_kv   (v2) per sink key/value: state a sink must not forget across
 *             restarts (PVOutput's rate-limit pause)
 *   outbox_counts (v4) per sink and state, kept by triggers on the outbox
 *   sink_sent (v2) per sink, series and slot: the text a sink last delivered
 *             (or had rejected) there, so only changed values are re-sent */

static const char *const stmt_sql[S_COUNT_] = {
    [S_PUT_RECORD] =
        "INSERT INTO records(series, device, kind, quantity, clock, time, value, msg)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        " ON CONFLICT(series, device, quantity, time) DO UPDATE SET value = excluded.value"
        " WHERE excluded.value > records.value",
    [S_GET_INTERVAL] = "SELECT production_wh, net_wh, consumption_wh, import_wh, export_wh, flags,"
                       " revision FROM intervals WHERE series = ?1 AND interval_end = ?2",
    [S_PUT_INTERVAL] =
        "INSERT INTO intervals(series, interval_end, production_wh, net_wh, consumption_wh,"
        " import_wh, export_wh, flags, revision, updated_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT(series, interval_end) DO UPDATE SET production_wh = excluded.production_wh,"
        " net_wh = excluded.net_wh, consumption_wh = excluded.consumption_wh,"
        " import_wh = excluded.import_wh, export_wh = excluded.export_wh, flags = excluded.flags,"
        " revision = excluded.revision, updated_at = excluded.updated_at",
    [S_DEL_INTERVAL] = "DELETE FROM intervals WHERE series = ?1 AND interval_end = ?2",
    [S_ADD_TOTAL] =
        "INSERT INTO totals(series, kind, period, production_dwh, n_production, net_dwh, n_net,"
        " consumption_dwh, n_consumption, import_dwh, n_import, export_dwh, n_export, intervals,"
        " dimport_dwh, dexport_dwh)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        " ON CONFLICT(series, kind, period) DO UPDATE SET"
        " production_dwh = production_dwh + excluded.production_dwh,"
        " n_production = n_production + excluded.n_production,"
        " net_dwh = net_dwh + excluded.net_dwh, n_net = n_net + excluded.n_net,"
        " consumption_dwh = consumption_dwh + excluded.consumption_dwh,"
        " n_consumption = n_consumption + excluded.n_consumption,"
        " import_dwh = import_dwh + excluded.import_dwh, n_import = n_import + excluded.n_import,"
        " export_dwh = export_dwh + excluded.export_dwh, n_export = n_export + excluded.n_export,"
        " intervals = intervals + excluded.intervals,"
        " dimport_dwh = dimport_dwh + excluded.dimport_dwh,"
        " dexport_dwh = dexport_dwh + excluded.dexport_dwh",
    [S_ENQUEUE] =
        "INSERT INTO outbox(sink, series, interval_end, revision, state, attempts, last_error,"
        " enqueued_at, updated_at) VALUES(?1, ?2, ?3, ?4, 'pending', 0, NULL, ?5, ?5)"
        " ON CONFLICT(sink, series, interval_end) DO UPDATE SET revision = excluded.revision,"
        " state = 'pending', attempts = 0, last_error = NULL, updated_at = excluded.updated_at",
    [S_GET_RECORD] = "SELECT value FROM records WHERE series = ?1 AND device = ?2 AND quantity = ?3"
                     " AND time = ?4",
};

/* ---- errors ------------------------------------------------------------- */

/* Name the path and what a user can do about the common failures. */
int store_db_fail(struct store *st, int rc, const char *what)
{
    /* the connection's message only when it is about this failure */
    const char *msg =
        st->db && (sqlite3_extended_errcode(st->db) == rc || sqlite3_errcode(st->db) == (rc & 0xff))
            ? sqlite3_errmsg(st->db)
            : sqlite3_errstr(rc);
    snprintf(st->last_error, sizeof st->last_error, "%s: %s", what, msg);
    /* A quiet store leaves the telling to its owner (the daemon says a
     * failing store once, not once per retried statement). */
    enum log_level lvl = st->quiet ? LOGL_DEBUG : LOGL_ERR;
    switch (rc & 0xff) {
    case SQLITE_READONLY:
        log_msg(lvl, "store", "%s: cannot write: the database is read-only (%s: %s)", st->path,
                what, msg);
        return PVTAP_EIO;
    case SQLITE_FULL:
        log_msg(lvl, "store", "%s: cannot write: the disk is full (%s)", st->path, what);
        snprintf(st->last_error, sizeof st->last_error, "%s: the disk is full", what);
        return PVTAP_EIO;
    case SQLITE_CANTOPEN:
        log_msg(lvl, "store",
                "%s: cannot open the database: missing file or directory, or no permission (%s)",
                st->path, msg);
        return PVTAP_EIO;
    case SQLITE_IOERR:
    case SQLITE_PERM:
        log_msg(lvl, "store", "%s: I/O error (%s: %s)", st->path, what, msg);
        return PVTAP_EIO;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        log_msg(lvl, "store", "%s: not a usable database (%s)", st->path, msg);
        return PVTAP_EDB;
    case SQLITE_NOMEM:
        return PVTAP_ENOMEM;
    default:
        log_msg(lvl, "store", "%s: %s: %s", st->path, what, msg);
        return PVTAP_EDB;
    }
}

static int exec(struct store *st, const char *sql)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_db_fail(st, rc, sql);
}

static int prepare(struct store *st, const char *sql, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, out, NULL);
    return rc == SQLITE_OK ? 0 : store_db_fail(st, rc, "prepare");
}

/* ---- schema ------------------------------------------------------------- */

static int migrate_v1(struct store *st)
{
    return exec(st,
                "CREATE TABLE records("
                " series TEXT NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL,"
                " quantity TEXT NOT NULL, clock INTEGER NOT NULL, time INTEGER NOT NULL,"
                " value REAL NOT NULL, msg INTEGER NOT NULL DEFAULT 0,"
                " PRIMARY KEY(series, device, quantity, time)) WITHOUT ROWID;"
                "CREATE TABLE intervals("
                " series TEXT NOT NULL, interval_end INTEGER NOT NULL,"
                " production_wh REAL, net_wh REAL, consumption_wh REAL, import_wh REAL,"
                " export_wh REAL, flags TEXT NOT NULL DEFAULT '',"
                " revision INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
                " PRIMARY KEY(series, interval_end)) WITHOUT ROWID;"
                "CREATE INDEX intervals_by_time ON intervals(interval_end);"
                "CREATE TABLE totals("
                " series TEXT NOT NULL, kind TEXT NOT NULL CHECK(kind IN ('day','month','year')),"
                " period TEXT NOT NULL,"
                " production_dwh INTEGER NOT NULL, n_production INTEGER NOT NULL,"
                " net_dwh INTEGER NOT NULL, n_net INTEGER NOT NULL,"
                " consumption_dwh INTEGER NOT NULL, n_consumption INTEGER NOT NULL,"
                " import_dwh INTEGER NOT NULL, n_import INTEGER NOT NULL,"
                " export_dwh INTEGER NOT NULL, n_export INTEGER NOT NULL,"
                " intervals INTEGER NOT NULL,"
                " PRIMARY KEY(series, kind, period)) WITHOUT ROWID;"
                "CREATE TABLE outbox("
                " sink TEXT NOT NULL, series TEXT NOT NULL, interval_end INTEGER NOT NULL,"
                " revision INTEGER NOT NULL,"
                " state TEXT NOT NULL CHECK(state IN ('pending','delivered','undeliverable')),"
                " attempts INTEGER NOT NULL, last_error TEXT,"
                " enqueued_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
                " PRIMARY KEY(sink, series, interval_end)) WITHOUT ROWID;"
                "CREATE INDEX outbox_by_state ON outbox(sink, state, interval_end);"
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;");
}

static int migrate_v2(struct store *st)
{
    return exec(st,
                "CREATE TABLE sink_kv(sink TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY(sink, key)) WITHOUT ROWID;"
                "CREATE TABLE sink_sent(sink TEXT NOT NULL, series TEXT NOT NULL,"
                " slot TEXT NOT NULL, text TEXT NOT NULL,"
                " state TEXT NOT NULL CHECK(state IN ('delivered','rejected')),"
                " updated_at INTEGER NOT NULL,"
                " PRIMARY KEY(sink, series, slot)) WITHOUT ROWID;");
}

/* v3: import and export derived from each interval's net (its sign) kept
 * in the totals beside the meter counters' own, so a period's import and
 * export are read, not summed from its intervals at every request. The
 * totals are rebuilt to fill them: dropping the zone they were built with
 * makes check_totals_zone() rebuild them in its own transaction, and again
 * at the next open if a kill interrupts it. */
static int migrate_v3(struct store *st)
{
    return exec(st, "ALTER TABLE totals ADD COLUMN dimport_dwh INTEGER NOT NULL DEFAULT 0;"
                    "ALTER TABLE totals ADD COLUMN dexport_dwh INTEGER NOT NULL DEFAULT 0;"
                    "DELETE FROM meta WHERE key = 'totals_timezone';");
}

/* v4: each sink's outbox entries counted per state, kept by triggers, so
 * `pvtap status` and /api/status read three numbers instead of counting
 * years of delivered entries at every request. */
static int migrate_v4(struct store *st)
{
    return exec(
        st,
        "CREATE TABLE outbox_counts(sink TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,"
        " PRIMARY KEY(sink, state)) WITHOUT ROWID;"
        "INSERT INTO outbox_counts(sink, state, n) SELECT sink, state, count(*) FROM outbox"
        " GROUP BY sink, state;"
        "CREATE TRIGGER outbox_counts_ins AFTER INSERT ON outbox BEGIN"
        " INSERT INTO outbox_counts(sink, state, n) VALUES(NEW.sink, NEW.state, 1)"
        " ON CONFLICT(sink, state) DO UPDATE SET n = n + 1; END;"
        "CREATE TRIGGER outbox_counts_del AFTER DELETE ON outbox BEGIN"
        " UPDATE outbox_counts SET n = n - 1 WHERE sink = OLD.sink AND state = OLD.state; END;"
        "CREATE TRIGGER outbox_counts_upd AFTER UPDATE OF sink, state ON outbox"
        " WHEN OLD.sink IS NOT NEW.sink OR OLD.state IS NOT NEW.state BEGIN"
        " UPDATE outbox_counts SET n = n - 1 WHERE sink = OLD.sink AND state = OLD.state;"
        " INSERT INTO outbox_counts(sink, state, n) VALUES(NEW.sink, NEW.state, 1)"
        " ON CONFLICT(sink, state) DO UPDATE SET n = n + 1; END;");
}

/* migrations[v] takes a database at version v to v + 1; append only. */
static int (*const migrations[])(struct store *) = {migrate_v1, migrate_v2, migrate_v3, migrate_v4};

static int user_version(struct store *st, int *v)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "PRAGMA user_version", &s);
    if (rc)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(s, 0);
        rc = 0;
    } else {
        rc = store_db_fail(st, rc, "reading the schema version");
    }
    sqlite3_finalize(s);
    return rc;
}

static int migrate(struct store *st, bool rdonly)
{
    int v = 0;
    int rc = user_version(st, &v);
    if (rc)
        return rc;
    int target = (int)(sizeof migrations / sizeof migrations[0]);
    if (v > target) {
        log_msg(LOGL_ERR, "store", "%s: schema version %d is newer than this pvtap's (%d)",
                st->path, v, target);
        return PVTAP_EDB;
    }
    if (v == target)
        return 0;
    if (rdonly) {
        log_msg(LOGL_ERR, "store",
                "%s: schema version %d needs an upgrade: run pvtap with write "
                "access once",
                st->path, v);
        return PVTAP_EDB;
    }
    /* each step and its version bump commit together: a kill leaves v or v+1 */
    for (; v < target; v++) {
        if ((rc = exec(st, "BEGIN IMMEDIATE")))
            return rc;
        rc = migrations[v](st);
        if (rc == 0) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
            rc = exec(st, sql);
        }
        if (rc == 0)
            rc = exec(st, "COMMIT");
        if (rc) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        log_msg(LOGL_INFO, "store", "%s: schema migrated to version %d", st->path, v + 1);
    }
    return 0;
}

static int meta_get(struct store *st, const char *key, char *out, size_t out_size, bool *found)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT value FROM meta WHERE key = ?1", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        snprintf(out, out_size, "%s", v ? (const char *)v : "");
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = store_db_fail(st, rc, "reading meta");
    }
    sqlite3_finalize(s);
    return rc;
}

static int meta_set(struct store *st, const char *key, const char *value)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "writing meta");
    sqlite3_finalize(s);
    return rc;
}

/* Totals follow the zone they were built with; a new zone rebuilds them. */
static int check_totals_zone(struct store *st)
{
    const char *zone = st->tz ? tz_name(st->tz) : "UTC";
    char have[128];
    bool found;
    int rc = meta_get(st, "totals_timezone", have, sizeof have, &found);
    if (rc || (found && strcmp(have, zone) == 0))
        return rc;
    if (found)
        log_msg(LOGL_NOTICE, "store", "%s: site time zone changed from %s to %s: rebuilding totals",
                st->path, have, zone);
    if ((rc = store_begin(st)))
        return rc;
    rc = store_rebuild_totals(st);
    if (rc == 0)
        rc = meta_set(st, "totals_timezone", zone);
    if (rc == 0)
        return store_commit(st);
    store_rollback(st);
    return rc;
}

int store_db_open(struct store *st, bool rdonly)
{
    const char *path = st->path;
    int oflags = rdonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return store_db_fail(st, rc, "open");
    sqlite3_extended_result_codes(st->db, 1);
    /* a reader waits out a writer's commit instead of failing */
    sqlite3_busy_timeout(st->db, 5000);
    rc = exec(st, "PRAGMA foreign_keys = ON");
    /* WAL: readers (web, status) never block the writer; NORMAL sync is
     * durable across a process kill, and a power cut can only lose the last
     * commits, never corrupt (the records are re-fed from the supervisor's
     * own backlog anyway) */
    if (rc == 0 && !rdonly && strcmp(path, ":memory:") != 0) {
        sqlite3_stmt *s;
        rc = prepare(st, "PRAGMA journal_mode = WAL", &s);
        if (rc == 0) {
            int step = sqlite3_step(s);
            if (step != SQLITE_ROW)
                rc = store_db_fail(st, step, "enabling WAL");
            sqlite3_finalize(s);
        }
        if (rc == 0)
            rc = exec(st, "PRAGMA synchronous = NORMAL");
    }
    if (rc == 0)
        rc = migrate(st, rdonly);
    for (int i = 0; rc == 0 && i < S_COUNT_; i++)
        if (!rdonly || i == S_GET_INTERVAL)
            rc = prepare(st, stmt_sql[i], &st->stmt[i]);
    if (rc == 0 && !rdonly)
        rc = check_totals_zone(st);
    return rc;
}

void store_db_close(struct store *st)
{
    if (st->in_tx)
        store_rollback(st);
    for (int i = 0; i < S_COUNT_; i++) {
        sqlite3_finalize(st->stmt[i]);
        st->stmt[i] = NULL;
    }
    if (st->db)
        sqlite3_close(st->db);
    st->db = NULL;
}

int store_open(const char *path, const struct tz *tz, unsigned flags, struct store **out)
{
    *out = NULL;
    struct store *st = calloc(1, sizeof *st);
    if (!st)
        return PVTAP_ENOMEM;
    snprintf(st->path, sizeof st->path, "%s", path);
    st->tz = tz;
    int rc = store_db_open(st, flags & STORE_RDONLY);
    if (rc) {
        store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void store_close(struct store *st)
{
    if (!st)
        return;
    store_db_close(st);
    free(st);
}

void store_set_quiet(struct store *st, bool quiet)
{
    st->quiet = quiet;
}

const char *store_last_error(const struct store *st)
{
    return st->last_error;
}

const char *store_path(const struct store *st)
{
    return st->path;
}

int store_begin(struct store *st)
{
    /* IMMEDIATE: take the write lock now, so a busy database waits here
     * rather than failing half-way through a batch */
    int rc = exec(st, "BEGIN IMMEDIATE");
    if (rc == 0)
        st->in_tx = true;
    return rc;
}

int store_commit(struct store *st)
{
    int rc = exec(st, "COMMIT");
    if (rc == 0)
        st->in_tx = false;
    else
        store_rollback(st);
    return rc;
}

void store_rollback(struct store *st)
{
    if (sqlite3_get_autocommit(st->db) == 0)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_tx = false;
}

/* Run a prepared, bound statement that returns no rows, and reset it. */
static int step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, what);
}

/* ---- records ------------------------------------------------------------ */

int store_put_reading(struct store *st, const struct reading *r)
{
    if (!quantity_is_counter(r->q))
        return 0;
    if (!r->series || !r->device[0] || !isfinite(r->value))
        return PVTAP_EINVAL;
    sqlite3_stmt *s = st->stmt[S_PUT_RECORD];
    if (!s)
        return store_db_fail(st, SQLITE_READONLY, "storing a record");
    sqlite3_bind_text(s, 1, r->series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, device_kind_name(r->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, quantity_name(r->q), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, (int)r->clock);
    sqlite3_bind_int64(s, 6, r->time);
    sqlite3_bind_double(s, 7, r->value);
    sqlite3_bind_int(s, 8, r->msg);
    return step_done(st, s, "storing a record");
}

int store_load_readings(struct store *st, const char *series, const struct reading_sink *sink)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     series ? "SELECT series, device, kind, quantity, clock, time, value, msg"
                              " FROM records WHERE series = ?1 ORDER BY device, quantity, time"
                            : "SELECT series, device, kind, quantity, clock, time, value, msg"
                              " FROM records ORDER BY series, device, quantity, time",
                     &s);
    if (rc)
        return rc;
    if (series)
        sqlite3_bind_text(s, 1, series, -1, SQLITE_STATIC);
    uint64_t skipped = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct reading r;
        if (store_row_reading(s, &r))
            reading_emit(sink, &r);
        else
            skipped++;
    }
    rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading records");
    sqlite3_finalize(s);
    if (skipped)
        log_msg(LOGL_WARNING, "store", "%s: %llu stored records not understood, skipped", st->path,
                (unsigned long long)skipped);
    return rc;
}

/* ---- intervals and totals ----------------------------------------------- */

/* What the store keeps of a row: deci-Wh as printed, or "absent". */
struct dwh_row {
    int64_t v[5]; /* production, net, consumption, import, export */
    unsigned has;
    unsigned flags;
};

static const unsigned has_bit[5] = {IHAS_PRODUCTION, IHAS_NET, IHAS_CONSUMPTION, IHAS_IMPORT,
                                    IHAS_EXPORT};

static int64_t to_dwh(double wh)
{
    return llround(engine_round_wh(wh) * 10.0);
}

static void dwh_from_row(const struct interval_row *r, struct dwh_row *out)
{
    const double wh[5] = {r->production_wh, r->net_wh, r->consumption_wh, r->import_wh,
                          r->export_wh};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 5; i++)
        if (r->has & has_bit[i]) {
            out->has |= has_bit[i];
            out->v[i] = to_dwh(wh[i]);
        }
    out->flags = r->flags;
}

static bool dwh_equal(const struct dwh_row *a, const struct dwh_row *b)
{
    return a->has == b->has && a->flags == b->flags && memcmp(a->v, b->v, sizeof a->v) == 0;
}

static void format_period(int yyyymmdd, enum store_period kind, char *out, size_t n)
{
    int y = yyyymmdd / 10000, m = yyyymmdd / 100 % 100, d = yyyymmdd % 100;
    if (kind == STORE_DAY)
        snprintf(out, n, "%04d-%02d-%02d", y, m, d);
    else if (kind == STORE_MONTH)
        snprintf(out, n, "%04d-%02d", y, m);
    else
        snprintf(out, n, "%04d", y);
}

static int local_date(const struct store *st, int64_t interval_end)
{
    if (st->tz)
        return tz_local_date(st->tz, interval_end);
    /* UTC; the calendar rule still holds: the date of interval_end itself */
    int64_t days = interval_end / 86400 - (interval_end % 86400 < 0);
    /* civil-from-days (Howard Hinnant's algorithm) */
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return (int)((y + (m <= 2)) * 10000 + m * 100 + d);
}

static const char *const period_kind_name[] = {"day", "month", "year"};

/* Add (sign +1) or take away (-1) one row from its day, month and year. */
static int totals_apply(struct store *st, const char *series, int64_t interval_end,
                        const struct dwh_row *r, int sign)
{
    int date = local_date(st, interval_end);
    sqlite3_stmt *s = st->stmt[S_ADD_TOTAL];
    for (int k = STORE_DAY; k <= STORE_YEAR; k++) {
        char period[16];
        format_period(date, (enum store_period)k, period, sizeof period);
        sqlite3_bind_text(s, 1, series, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, period_kind_name[k], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, period, -1, SQLITE_TRANSIENT);
        for (int i = 0; i < 5; i++) {
            bool has = r->has & has_bit[i];
            sqlite3_bind_int64(s, 4 + 2 * i, has ? sign * r->v[i] : 0);
            sqlite3_bind_int(s, 5 + 2 * i, has ? sign : 0);
        }
        sqlite3_bind_int(s, 14, sign);
        /* net's sign as import (> 0) or export (< 0), for sites without
         * import/export counters */
        int64_t net = r->has & IHAS_NET ? r->v[1] : 0;
        sqlite3_bind_int64(s, 15, net > 0 ? sign * net : 0);
        sqlite3_bind_int64(s, 16, net < 0 ? -sign * net : 0);
        int rc = step_done(st, s, "updating totals");
        if (rc)
            return rc;
    }
    return 0;
}

static void bind_wh(sqlite3_stmt *s, int col, const struct dwh_row *r, int i)
{
    if (r->has & has_bit[i])
        sqlite3_bind_double(s, col, (double)r->v[i] / 10.0);
    else
        sqlite3_bind_null(s, col);
}

static void column_dwh(sqlite3_stmt *s, int col, struct dwh_row *r, int i)
{
    if (sqlite3_column_type(s, col) != SQLITE_NULL) {
        r->has |= has_bit[i];
        r->v[i] = llround(sqlite3_column_double(s, col) * 10.0);
    }
}

int store_upsert_interval(struct store *st, const struct interval_row *row,
                          const char *const *sinks, size_t n_sinks, int64_t now_s)
{
    if (!st->stmt[S_PUT_INTERVAL])
        return store_db_fail(st, SQLITE_READONLY, "storing an interval");
    struct dwh_row nw, old = {0};
    dwh_from_row(row, &nw);
    bool exists = nw.has || nw.flags;

    sqlite3_stmt *g = st->stmt[S_GET_INTERVAL];
    sqlite3_bind_text(g, 1, row->series, -1, SQLITE_STATIC);
    sqlite3_bind_int64(g, 2, row->interval_end);
    int rc = sqlite3_step(g);
    bool had = rc == SQLITE_ROW;
    int64_t revision = 0;
    if (had) {
        for (int i = 0; i < 5; i++)
            column_dwh(g, i, &old, i);
        const char *f = (const char *)sqlite3_column_text(g, 5);
        if (f && engine_flags_parse(f, &old.flags))
            old.flags = 0; /* unknown text: treat as changed below */
        revision = sqlite3_column_int64(g, 6);
    }
    sqlite3_reset(g);
    sqlite3_clear_bindings(g);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_db_fail(st, rc, "reading an interval");
    if (!exists && !had)
        return 0;
    if (exists && had && dwh_equal(&nw, &old))
        return 0; /* printed the same: no revision, nothing to send again */

    if (had && (rc = totals_apply(st, row->series, row->interval_end, &old, -1)))
        return rc;
    if (!exists) {
        sqlite3_stmt *d = st->stmt[S_DEL_INTERVAL];
        sqlite3_bind_text(d, 1, row->series, -1, SQLITE_STATIC);
        sqlite3_bind_int64(d, 2, row->interval_end);
        return step_done(st, d, "deleting an interval");
    }
    sqlite3_stmt *p = st->stmt[S_PUT_INTERVAL];
    char flags[64];
    engine_flags_format(nw.flags, flags, sizeof flags);
    sqlite3_bind_text(p, 1, row->series, -1, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, row->interval_end);
    for (int i = 0; i < 5; i++)
        bind_wh(p, 3 + i, &nw, i);
    sqlite3_bind_text(p, 8, flags, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(p, 9, revision + 1);
    sqlite3_bind_int64(p, 10, now_s);
    if ((rc = step_done(st, p, "storing an interval")))
        return rc;
    if ((rc = totals_apply(st, row->series, row->interval_end, &nw, +1)))
        return rc;
    sqlite3_stmt *q = st->stmt[S_ENQUEUE];
    for (size_t i = 0; i < n_sinks; i++) {
        sqlite3_bind_text(q, 1, sinks[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, row->series, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, row->interval_end);
        sqlite3_bind_int64(q, 4, revision + 1);
        sqlite3_bind_int64(q, 5, now_s);
        if ((rc = step_done(st, q, "enqueueing an interval")))
            return rc;
    }
    return 0;
}

int store_query_intervals(struct store *st, const char *series, int64_t from_s, int64_t to_s,
                          store_interval_cb cb, void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "SELECT series, interval_end, production_wh, net_wh, consumption_wh,"
                     " import_wh, export_wh, flags, revision, updated_at FROM intervals"
                     " WHERE interval_end >= ?1 AND interval_end < ?2"
                     " AND (?3 IS NULL OR series = ?3) ORDER BY interval_end, series",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_int64(s, 1, from_s);
    sqlite3_bind_int64(s, 2, to_s);
    if (series)
        sqlite3_bind_text(s, 3, series, -1, SQLITE_STATIC);
    int stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_interval iv = {0};
        struct dwh_row d = {0};
        for (int i = 0; i < 5; i++)
            column_dwh(s, 2 + i, &d, i);
        double *wh[5] = {&iv.row.production_wh, &iv.row.net_wh, &iv.row.consumption_wh,
                         &iv.row.import_wh, &iv.row.export_wh};
        for (int i = 0; i < 5; i++)
            *wh[i] = (double)d.v[i] / 10.0;
        iv.row.has = d.has;
        const char *f = (const char *)sqlite3_column_text(s, 7);
        if (f && engine_flags_parse(f, &iv.row.flags))
            log_msg(LOGL_WARNING, "store", "%s: unknown interval flags '%s'", st->path, f);
        iv.row.series = (const char *)sqlite3_column_text(s, 0);
        iv.row.interval_end = sqlite3_column_int64(s, 1);
        iv.revision = sqlite3_column_int64(s, 8);
        iv.updated_at = sqlite3_column_int64(s, 9);
        if (!iv.row.series)
            continue;
        stop = cb(ctx, &iv);
    }
    if (stop)
        rc = stop;
    else
        rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading intervals");
    sqlite3_finalize(s);
    return rc;
}

int store_list_series(struct store *st, int (*cb)(void *ctx, const char *series), void *ctx)
{
    sqlite3_stmt *s;
    /* the year totals name every series with far fewer rows to scan */
    int rc = prepare(st,
                     "SELECT DISTINCT series FROM totals WHERE kind = 'year' AND intervals > 0"
                     " ORDER BY series",
                     &s);
    if (rc)
        return rc;
    int stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        if (name)
            stop = cb(ctx, name);
    }
    rc = stop ? stop : rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "listing series");
    sqlite3_finalize(s);
    return rc;
}

/* Steps a totals query whose columns are (period, production_dwh,
 * n_production, net_dwh, n_net, consumption_dwh, n_consumption, import_dwh,
 * n_import, export_dwh, n_export, intervals, dimport_dwh, dexport_dwh) into
 * cb; finalizes s. */
static int step_totals(struct store *st, sqlite3_stmt *s, store_total_cb cb, void *ctx)
{
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_total t = {0};
        t.period = (const char *)sqlite3_column_text(s, 0);
        double *wh[5] = {&t.production_wh, &t.net_wh, &t.consumption_wh, &t.import_wh,
                         &t.export_wh};
        for (int i = 0; i < 5; i++) {
            if (sqlite3_column_int64(s, 2 + 2 * i) > 0) {
                t.has |= has_bit[i];
                *wh[i] = (double)sqlite3_column_int64(s, 1 + 2 * i) / 10.0;
            }
        }
        t.intervals = sqlite3_column_int64(s, 11);
        if (t.has & IHAS_NET) {
            t.net_import_wh = (double)sqlite3_column_int64(s, 12) / 10.0;
            t.net_export_wh = (double)sqlite3_column_int64(s, 13) / 10.0;
        }
        if (t.period)
            stop = cb(ctx, &t);
    }
    rc = stop ? stop : rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading totals");
    sqlite3_finalize(s);
    return rc;
}

int store_query_totals(struct store *st, const char *series, enum store_period kind,
                       const char *from_period, const char *to_period, store_total_cb cb, void *ctx)
{
    if ((int)kind < STORE_DAY || kind > STORE_YEAR)
        return PVTAP_EINVAL;
    sqlite3_stmt *s;
    int rc =
        prepare(st,
                "SELECT period, production_dwh, n_production, net_dwh, n_net,"
                " consumption_dwh, n_consumption, import_dwh, n_import, export_dwh, n_export,"
                " intervals, dimport_dwh, dexport_dwh FROM totals WHERE series = ?1 AND kind = ?2"
                " AND (?3 IS NULL OR period >= ?3) AND (?4 IS NULL OR period < ?4)"
                " AND intervals > 0 ORDER BY period",
                &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, period_kind_name[kind], -1, SQLITE_STATIC);
    if (from_period)
        sqlite3_bind_text(s, 3, from_period, -1, SQLITE_STATIC);
    if (to_period)
        sqlite3_bind_text(s, 4, to_period, -1, SQLITE_STATIC);
    return step_totals(st, s, cb, ctx);
}

int store_query_totals_of_days(struct store *st, const char *series, enum store_period kind,
                               const char *from_day, const char *to_day, store_total_cb cb,
                               void *ctx)
{
    static const int period_len[] = {[STORE_DAY] = 10, [STORE_MONTH] = 7, [STORE_YEAR] = 4};
    if ((int)kind < STORE_DAY || kind > STORE_YEAR)
        return PVTAP_EINVAL;
    sqlite3_stmt *s;
    /* The day rows are exact sums of their intervals' deci-Wh, so their
     * sums are the same numbers a month or year row holds. */
    int rc = prepare(st,
                     "SELECT substr(period, 1, ?5) AS p, SUM(production_dwh), SUM(n_production),"
                     " SUM(net_dwh), SUM(n_net), SUM(consumption_dwh), SUM(n_consumption),"
                     " SUM(import_dwh), SUM(n_import), SUM(export_dwh), SUM(n_export),"
                     " SUM(intervals), SUM(dimport_dwh), SUM(dexport_dwh) FROM totals"
                     " WHERE series = ?1 AND kind = ?2"
                     " AND (?3 IS NULL OR period >= ?3) AND (?4 IS NULL OR period < ?4)"
                     " AND intervals > 0 GROUP BY p ORDER BY p",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, period_kind_name[STORE_DAY], -1, SQLITE_STATIC);
    if (from_day)
        sqlite3_bind_text(s, 3, from_day, -1, SQLITE_STATIC);
    if (to_day)
        sqlite3_bind_text(s, 4, to_day, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, period_len[kind]);
    return step_totals(st, s, cb, ctx);
}

int store_rebuild_totals(struct store *st)
{
    int rc = exec(st, "DELETE FROM totals");
    if (rc)
        return rc;
    sqlite3_stmt *s;
    rc = prepare(st,
                 "SELECT series, interval_end, production_wh, net_wh, consumption_wh,"
                 " import_wh, export_wh, flags FROM intervals ORDER BY series, interval_end",
                 &s);
    if (rc)
        return rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct dwh_row d = {0};
        for (int i = 0; i < 5; i++)
            column_dwh(s, 2 + i, &d, i);
        const char *series = (const char *)sqlite3_column_text(s, 0);
        if (!series)
            continue;
        int e = totals_apply(st, series, sqlite3_column_int64(s, 1), &d, +1);
        if (e) {
            sqlite3_finalize(s);
            return e;
        }
    }
    rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "rebuilding totals");
    sqlite3_finalize(s);
    return rc;
}

/* ---- outbox ------------------------------------------------------------- */

static const char *const outbox_state_name[] = {"pending", "delivered", "undeliverable"};

int store_outbox_pending(struct store *st, const char *sink, size_t limit, store_outbox_cb cb,
                         void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "SELECT sink, series, interval_end, revision, attempts FROM outbox"
                     " WHERE sink = ?1 AND state = 'pending' ORDER BY interval_end, series"
                     " LIMIT ?2",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    int stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct outbox_entry e = {
            .sink = (const char *)sqlite3_column_text(s, 0),
            .series = (const char *)sqlite3_column_text(s, 1),
            .interval_end = sqlite3_column_int64(s, 2),
            .revision = sqlite3_column_int64(s, 3),
            .attempts = sqlite3_column_int64(s, 4),
        };
        if (e.sink && e.series)
            stop = cb(ctx, &e);
    }
    rc = stop ? stop : rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading the outbox");
    sqlite3_finalize(s);
    return rc;
}

int store_outbox_mark(struct store *st, const char *sink, const char *series, int64_t interval_end,
                      int64_t revision, enum outbox_state state, const char *error, int64_t now_s)
{
    if ((int)state < OUTBOX_PENDING || state > OUTBOX_UNDELIVERABLE)
        return PVTAP_EINVAL;
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "UPDATE outbox SET state = ?1, attempts = attempts + 1, last_error = ?2,"
                     " updated_at = ?3 WHERE sink = ?4 AND series = ?5 AND interval_end = ?6"
                     " AND revision = ?7",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, outbox_state_name[state], -1, SQLITE_STATIC);
    if (error)
        sqlite3_bind_text(s, 2, error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    sqlite3_bind_int64(s, 3, now_s);
    sqlite3_bind_text(s, 4, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, series, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, interval_end);
    sqlite3_bind_int64(s, 7, revision);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        rc = sqlite3_changes(st->db) > 0 ? 0 : PVTAP_ENOTFOUND;
    else
        rc = store_db_fail(st, rc, "marking an outbox entry");
    sqlite3_finalize(s);
    return rc;
}

int store_outbox_count(struct store *st, const char *sink, enum outbox_state state, int64_t *count)
{
    if ((int)state < OUTBOX_PENDING || state > OUTBOX_UNDELIVERABLE)
        return PVTAP_EINVAL;
    sqlite3_stmt *s;
    /* (v4) kept by triggers on the outbox: no scan of its entries */
    int rc = prepare(st, "SELECT n FROM outbox_counts WHERE sink = ?1 AND state = ?2", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, outbox_state_name[state], -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        rc = 0;
    } else {
        rc = store_db_fail(st, rc, "counting the outbox");
    }
    sqlite3_finalize(s);
    return rc;
}

int store_outbox_drop_other_series(struct store *st, const char *sink, const char *keep_series,
                                   int64_t *dropped)
{
    sqlite3_stmt *s;
    int rc = prepare(st, "DELETE FROM outbox WHERE sink = ?1 AND series <> ?2", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, keep_series, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) {
        if (dropped)
            *dropped = sqlite3_changes(st->db);
        rc = 0;
    } else {
        rc = store_db_fail(st, rc, "pruning the outbox");
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- a sink's own durable state ------------------------------------------ */

int store_sink_get(struct store *st, const char *sink, const char *key, char *out, size_t out_size,
                   bool *found)
{
    *found = false;
    if (out_size)
        out[0] = '\0';
    sqlite3_stmt *s;
    int rc = prepare(st, "SELECT value FROM sink_kv WHERE sink = ?1 AND key = ?2", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        snprintf(out, out_size, "%s", v ? (const char *)v : "");
        *found = true;
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading a sink's state");
    }
    sqlite3_finalize(s);
    return rc;
}

int store_sink_set(struct store *st, const char *sink, const char *key, const char *value)
{
    sqlite3_stmt *s;
    int rc =
        value
            ? prepare(st, "INSERT OR REPLACE INTO sink_kv(sink, key, value) VALUES(?1, ?2, ?3)", &s)
            : prepare(st, "DELETE FROM sink_kv WHERE sink = ?1 AND key = ?2", &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(s, 3, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "writing a sink's state");
    sqlite3_finalize(s);
    return rc;
}

static const char *const sent_state_name[] = {"delivered", "rejected"};

int store_sent_get(struct store *st, const char *sink, const char *series, const char *slot,
                   char *text, size_t text_size, enum store_sent_state *state, bool *found)
{
    *found = false;
    if (text_size)
        text[0] = '\0';
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "SELECT text, state FROM sink_sent WHERE sink = ?1 AND series = ?2"
                     " AND slot = ?3",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, slot, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        const unsigned char *w = sqlite3_column_text(s, 1);
        snprintf(text, text_size, "%s", v ? (const char *)v : "");
        *state = w && strcmp((const char *)w, "rejected") == 0 ? STORE_SENT_REJECTED
                                                               : STORE_SENT_DELIVERED;
        *found = true;
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading what a sink sent");
    }
    sqlite3_finalize(s);
    return rc;
}

int store_sent_put(struct store *st, const char *sink, const char *series, const char *slot,
                   const char *text, enum store_sent_state state, int64_t now_s)
{
    if ((int)state < STORE_SENT_DELIVERED || state > STORE_SENT_REJECTED)
        return PVTAP_EINVAL;
    sqlite3_stmt *s;
    int rc = prepare(st,
                     "INSERT OR REPLACE INTO sink_sent(sink, series, slot, text, state,"
                     " updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                     &s);
    if (rc)
        return rc;
    sqlite3_bind_text(s, 1, sink, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, slot, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, sent_state_name[state], -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, now_s);
    rc = sqlite3_step(s);
    rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "recording what a sink sent");
    sqlite3_finalize(s);
    return rc;
}

/* ---- site facts (the meta table) ---------------------------------------- */

int store_meta_get(struct store *st, const char *key, char *out, size_t out_size, bool *found)
{
    out[0] = '\0';
    return meta_get(st, key, out, out_size, found);
}

int store_meta_set(struct store *st, const char *key, const char *value)
{
    return meta_set(st, key, value);
}
