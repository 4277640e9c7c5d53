/* Bounded reads of a long history: the records an engine window needs, the newest record and
 * the newest interval, each by seeks in a primary key. */
#include "store/store.h"

#include "store/store_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

bool store_row_reading(sqlite3_stmt *s, struct reading *r)
{
    memset(r, 0, sizeof *r);
    r->source = "store";
    r->series = (const char *)sqlite3_column_text(s, 0);
    const char *dev = (const char *)sqlite3_column_text(s, 1);
    const char *kind = (const char *)sqlite3_column_text(s, 2);
    const char *q = (const char *)sqlite3_column_text(s, 3);
    if (!r->series || !dev || !kind || !q)
        return false;
    snprintf(r->device, sizeof r->device, "%s", dev);
    r->kind = device_kind_from_name(kind);
    r->q = quantity_from_name(q);
    r->clock = (enum reading_clock)sqlite3_column_int(s, 4);
    r->time = sqlite3_column_int64(s, 5);
    r->value = sqlite3_column_double(s, 6);
    r->msg = sqlite3_column_int(s, 7);
    return r->kind && r->q;
}

/* One counter key: (series, device, quantity). */
struct counter_key {
    char series[ENGINE_SERIES_MAX];
    char device[sizeof((struct reading *)0)->device];
    char quantity[64];
};

enum { KEYS_MAX = 65536 }; /* far above any site (the engine allows 4096 keys) */

/* The key after k in primary-key order (k all "" for the first), by three
 * prefix seeks: the next quantity of the same device, else the next
 * device of the series, else the next series. (One row-value comparison
 * (series, device, quantity) > (...) walks every record of the current
 * key instead: years of them.) */
static const char *const NEXT_KEY_SQL[3] = {
    "SELECT series, device, quantity FROM records WHERE series = ?1 AND device = ?2"
    " AND quantity > ?3 ORDER BY quantity LIMIT 1",
    "SELECT series, device, quantity FROM records WHERE series = ?1 AND device > ?2"
    " ORDER BY device, quantity LIMIT 1",
    "SELECT series, device, quantity FROM records WHERE series > ?1"
    " ORDER BY series, device, quantity LIMIT 1",
};

struct key_walk {
    sqlite3_stmt *s[3];
};

static int key_walk_open(struct store *st, struct key_walk *w)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < 3; i++) {
        int e = sqlite3_prepare_v2(st->db, NEXT_KEY_SQL[i], -1, &w->s[i], NULL);
        if (e != SQLITE_OK)
            return store_db_fail(st, e, "prepare");
    }
    return 0;
}

static void key_walk_close(struct key_walk *w)
{
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(w->s[i]);
}

/* 1 found (k is the next key), 0 none, 2 a key pvtap never writes (too
 * long: k moves past it and the caller skips it), < 0 an error. */
static int next_key(struct store *st, struct key_walk *w, struct counter_key *k)
{
    for (int i = 0; i < 3; i++) {
        sqlite3_stmt *s = w->s[i];
        sqlite3_bind_text(s, 1, k->series, -1, SQLITE_TRANSIENT);
        if (i < 2)
            sqlite3_bind_text(s, 2, k->device, -1, SQLITE_TRANSIENT);
        if (i < 1)
            sqlite3_bind_text(s, 3, k->quantity, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        int out = 0;
        if (rc == SQLITE_ROW) {
            const char *a = (const char *)sqlite3_column_text(s, 0);
            const char *b = (const char *)sqlite3_column_text(s, 1);
            const char *c = (const char *)sqlite3_column_text(s, 2);
            bool fits = a && b && c && strlen(a) < sizeof k->series &&
                        strlen(b) < sizeof k->device && strlen(c) < sizeof k->quantity;
            snprintf(k->series, sizeof k->series, "%s", a ? a : "");
            snprintf(k->device, sizeof k->device, "%s", b ? b : "");
            snprintf(k->quantity, sizeof k->quantity, "%s", c ? c : "");
            out = fits ? 1 : 2;
        } else if (rc != SQLITE_DONE) {
            out = store_db_fail(st, rc, "listing counters");
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (out != 0)
            return out;
    }
    return 0;
}

static void bind_key(sqlite3_stmt *s, const struct counter_key *k)
{
    sqlite3_bind_text(s, 1, k->series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, k->quantity, -1, SQLITE_STATIC);
}

/* Every row of s (bound, records columns) into sink; resets s. */
static int emit_rows(struct store *st, sqlite3_stmt *s, const struct reading_sink *sink,
                     uint64_t *skipped)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct reading r;
        if (store_row_reading(s, &r))
            reading_emit(sink, &r);
        else
            (*skipped)++;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading records");
}

int store_load_readings_since(struct store *st, int64_t from_s, const struct reading_sink *sink)
{
    static const char *const sql[2] = {
        "SELECT series, device, kind, quantity, clock, time, value, msg FROM records"
        " WHERE series = ?1 AND device = ?2 AND quantity = ?3 AND time < ?4"
        " ORDER BY time DESC LIMIT 1",
        "SELECT series, device, kind, quantity, clock, time, value, msg FROM records"
        " WHERE series = ?1 AND device = ?2 AND quantity = ?3 AND time >= ?4 ORDER BY time",
    };
    struct key_walk w;
    sqlite3_stmt *s[2] = {NULL, NULL};
    int rc = key_walk_open(st, &w);
    for (int i = 0; rc == 0 && i < 2; i++) {
        int e = sqlite3_prepare_v2(st->db, sql[i], -1, &s[i], NULL);
        if (e != SQLITE_OK)
            rc = store_db_fail(st, e, "prepare");
    }
    struct counter_key k = {"", "", ""};
    uint64_t skipped = 0;
    for (int n = 0; rc == 0 && n < KEYS_MAX; n++) {
        int got = next_key(st, &w, &k);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (got == 2) {
            skipped++;
            continue;
        }
        for (int i = 0; rc == 0 && i < 2; i++) {
            bind_key(s[i], &k);
            sqlite3_bind_int64(s[i], 4, from_s);
            rc = emit_rows(st, s[i], sink, &skipped);
        }
    }
    key_walk_close(&w);
    for (int i = 0; i < 2; i++)
        sqlite3_finalize(s[i]);
    if (skipped)
        log_msg(LOGL_WARNING, "store", "%s: %llu stored records not understood, skipped", st->path,
                (unsigned long long)skipped);
    return rc;
}

int store_newest_record(struct store *st, int64_t *time_s, bool *found)
{
    *found = false;
    *time_s = 0;
    struct key_walk w;
    sqlite3_stmt *s = NULL;
    int rc = key_walk_open(st, &w);
    if (rc == 0) {
        int e = sqlite3_prepare_v2(st->db,
                                   "SELECT MAX(time) FROM records WHERE series = ?1 AND device = ?2"
                                   " AND quantity = ?3",
                                   -1, &s, NULL);
        if (e != SQLITE_OK)
            rc = store_db_fail(st, e, "prepare");
    }
    struct counter_key k = {"", "", ""};
    for (int n = 0; rc == 0 && n < KEYS_MAX; n++) {
        int got = next_key(st, &w, &k);
        if (got <= 0) {
            rc = got;
            break;
        }
        if (got == 2)
            continue;
        bind_key(s, &k);
        int e = sqlite3_step(s);
        if (e == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
            int64_t t = sqlite3_column_int64(s, 0);
            if (!*found || t > *time_s)
                *time_s = t;
            *found = true;
        } else if (e != SQLITE_ROW && e != SQLITE_DONE) {
            rc = store_db_fail(st, e, "reading records");
        }
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    key_walk_close(&w);
    sqlite3_finalize(s);
    return rc;
}

int store_newest_interval(struct store *st, const char *series, int64_t *end_s, bool *found)
{
    *found = false;
    *end_s = 0;
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT interval_end FROM intervals WHERE series = ?1"
                                " ORDER BY interval_end DESC LIMIT 1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return store_db_fail(st, rc, "prepare");
    sqlite3_bind_text(s, 1, series, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *end_s = sqlite3_column_int64(s, 0);
        *found = true;
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading intervals");
    }
    sqlite3_finalize(s);
    return rc;
}

int store_reading_known(struct store *st, const struct reading *r, bool *known)
{
    *known = false;
    sqlite3_stmt *s = st->stmt[S_GET_RECORD];
    if (!s || !r->series || !quantity_is_counter(r->q))
        return 0;
    sqlite3_bind_text(s, 1, r->series, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, quantity_name(r->q), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, r->time);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *known = sqlite3_column_double(s, 0) >= r->value;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_fail(st, rc, "reading a record");
}
