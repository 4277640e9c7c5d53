/* The store: SQLite (WAL, versioned schema) holding raw records, intervals, local-time totals and
 * sink outboxes. */
#ifndef PVTAP_STORE_STORE_H
#define PVTAP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "sources/reading.h"

struct tz;
struct store;

enum store_open_flags {
    STORE_RDONLY = 1u << 0, /* queries only; the file must exist (intervals, compare, status) */
};

/* The schema version this build writes (PRAGMA user_version). */
enum { STORE_SCHEMA_VERSION = 4 };

/* Open (creating it unless STORE_RDONLY) the database at path, ":memory:"
 * for a private in-memory one; migrate its schema to STORE_SCHEMA_VERSION.
 * tz (borrowed, must outlive the store; NULL = UTC) decides the local
 * dates of the totals; when it differs from the zone the totals were built
 * with, they are rebuilt. Problems are logged naming the path: a missing
 * file or directory, no permission, read-only or full disk give PVTAP_EIO,
 * a file that is not a pvtap database or is from a newer pvtap PVTAP_EDB.
 * *out is NULL on failure; close with store_close(). */
int store_open(const char *path, const struct tz *tz, unsigned flags, struct store **out);
void store_close(struct store *st);
const char *store_path(const struct store *st);

/* Quiet: failures are logged at debug level only, for an owner that says
 * them itself (rate-limited); store_last_error() tells what the last one
 * was about ("" before any). */
void store_set_quiet(struct store *st, bool quiet);
const char *store_last_error(const struct store *st);

/* Is the open database still the file at its path? 0 yes; 1 when the path
 * is missing or names another file (deleted or replaced while open: SQLite
 * keeps writing into the unlinked file, which vanishes at close). */
int store_file_moved(struct store *st);
/* After store_file_moved(): write everything the open database holds into
 * a new file at the path (SQLite's backup API, into PATH.recover, renamed
 * into place; a foreign file found at the path is kept as
 * PATH.displaced-EPOCH) and continue on it. On failure the old database
 * stays open and in use: nothing is lost while the process runs. */
int store_recreate(struct store *st);

/* One transaction per batch of changes: nothing is visible (or durable)
 * before store_commit(). store_rollback() is safe after a failure. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Keep one raw counter reading, so intervals can be recomputed (live
 * values are not stored: returns 0 without writing). A repeat keeps the
 * larger value, as the engine does. */
int store_put_reading(struct store *st, const struct reading *r);

/* Feed every stored record (of one series, or all when series is NULL) to
 * sink, ordered by series, device, quantity, time. */
int store_load_readings(struct store *st, const char *series, const struct reading_sink *sink);

/* What an engine that holds only [from_s, ...) needs (store_window.c): per
 * counter (series, device, quantity), its last record before from_s (the
 * base) and every record at or after it, ordered by series, device,
 * quantity, time. Each step is a seek in the records' primary key, so the
 * cost follows the window, not the years of history. */
int store_load_readings_since(struct store *st, int64_t from_s, const struct reading_sink *sink);

/* Does the store hold this counter reading already, with this value or a
 * larger one (so storing it again changes nothing)? One key lookup. */
int store_reading_known(struct store *st, const struct reading *r, bool *known);

/* The newest record's time over every counter (*found false when none). */
int store_newest_record(struct store *st, int64_t *time_s, bool *found);

/* The newest interval_end of a series (*found false when it has none): one
 * seek in the intervals' primary key. */
int store_newest_interval(struct store *st, const char *series, int64_t *end_s, bool *found);

/* Write one changed row from engine_collect(). Energies are stored rounded
 * as printed (0.1 Wh); when the printed row is unchanged nothing happens.
 * Otherwise the revision goes up by one, the day/month/year totals follow,
 * and the interval is (re-)enqueued for each of the n_sinks sinks named.
 * A row with no data and no flag deletes the interval. now_s stamps it. */
int store_upsert_interval(struct store *st, const struct interval_row *row,
                          const char *const *sinks, size_t n_sinks, int64_t now_s);

struct store_interval {
    struct interval_row row; /* rounded energies; row.series borrowed for the callback */
    int64_t revision;        /* 1 for the first version, +1 per change */
    int64_t updated_at;
};

/* Intervals with from_s <= interval_end < to_s (series NULL: every series),
 * sorted by interval_end then series. cb returns nonzero to stop (that
 * value is returned). */
typedef int (*store_interval_cb)(void *ctx, const struct store_interval *iv);
int store_query_intervals(struct store *st, const char *series, int64_t from_s, int64_t to_s,
                          store_interval_cb cb, void *ctx);

/* Series names present in the intervals table, sorted; cb as above. */
int store_list_series(struct store *st, int (*cb)(void *ctx, const char *series), void *ctx);

enum store_period { STORE_DAY, STORE_MONTH, STORE_YEAR };

struct store_total {
    const char *period; /* "2017-06-07", "2017-06" or "2017" in site time (borrowed) */
    double production_wh, net_wh, consumption_wh, import_wh, export_wh;
    /* (v3) the intervals' net split by its sign: the import and export of
     * a site without import/export counters (meaningful with IHAS_NET) */
    double net_import_wh, net_export_wh;
    unsigned has;      /* IHAS_* bits: a quantity with no interval is absent */
    int64_t intervals; /* rows counted */
};

/* Totals of one series with from_period <= period < to_period (strings in
 * the period's own format; NULL for unbounded), sorted by period. */
typedef int (*store_total_cb)(void *ctx, const struct store_total *t);
int store_query_totals(struct store *st, const char *series, enum store_period kind,
                       const char *from_period, const char *to_period, store_total_cb cb,
                       void *ctx);

/* Totals of one series by period (day, month or year) over the local days
 * from_day <= day < to_day ("YYYY-MM-DD", or a shorter "YYYY-MM"/"YYYY"
 * bounding by string order; NULL for unbounded): a range inside one month
 * gives that month's row with just those days. Sorted by period. */
int store_query_totals_of_days(struct store *st, const char *series, enum store_period kind,
                               const char *from_day, const char *to_day, store_total_cb cb,
                               void *ctx);

/* Recompute every total from the intervals (after a time zone change). */
int store_rebuild_totals(struct store *st);

/* ---- outboxes: what each sink still has to deliver ----------------------
 * A sink reads its pending entries in interval order, delivers them, and
 * marks each with the revision it delivered: an entry revised meanwhile has
 * a newer revision and stays pending. */
enum outbox_state { OUTBOX_PENDING, OUTBOX_DELIVERED, OUTBOX_UNDELIVERABLE };

struct outbox_entry {
    const char *sink;   /* borrowed for the callback */
    const char *series; /* borrowed for the callback */
    int64_t interval_end;
    int64_t revision;
    int64_t attempts;
};

typedef int (*store_outbox_cb)(void *ctx, const struct outbox_entry *e);
int store_outbox_pending(struct store *st, const char *sink, size_t limit, store_outbox_cb cb,
                         void *ctx);
/* Returns 0 when marked, PVTAP_ENOTFOUND when that revision is no longer
 * the entry's (a newer one is pending). error may be NULL. */
int store_outbox_mark(struct store *st, const char *sink, const char *series, int64_t interval_end,
                      int64_t revision, enum outbox_state state, const char *error, int64_t now_s);
int store_outbox_count(struct store *st, const char *sink, enum outbox_state state, int64_t *count);
/* Forget a sink's entries of every series but keep_series (a sink that
 * uploads one series; *dropped, may be NULL, says how many went). */
int store_outbox_drop_other_series(struct store *st, const char *sink, const char *keep_series,
                                   int64_t *dropped);

/* ---- a sink's own durable state (schema v2) -----------------------------
 * Small key/value pairs a sink must keep across restarts (a rate-limit
 * pause). value NULL deletes. Not found: *found false, out "". */
int store_sink_get(struct store *st, const char *sink, const char *key, char *out, size_t out_size,
                   bool *found);
int store_sink_set(struct store *st, const char *sink, const char *key, const char *value);

/* What a sink last sent for one slot of a series (PVOutput: the status text
 * for "yyyymmdd,hh:mm"), so it re-sends only values that changed, and never
 * again one the far end rejected as it is. */
enum store_sent_state { STORE_SENT_DELIVERED, STORE_SENT_REJECTED };
int store_sent_get(struct store *st, const char *sink, const char *series, const char *slot,
                   char *text, size_t text_size, enum store_sent_state *state, bool *found);
int store_sent_put(struct store *st, const char *sink, const char *series, const char *slot,
                   const char *text, enum store_sent_state state, int64_t now_s);

/* ---- site facts the store remembers (the meta table) --------------------
 * e.g. the consumption meter kind the supervisor reported (store/site_kind.h).
 * Not found: *found false, out "". */
int store_meta_get(struct store *st, const char *key, char *out, size_t out_size, bool *found);
int store_meta_set(struct store *st, const char *key, const char *value);

#endif
