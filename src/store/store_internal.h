/* The store's private state, shared by store.c and store_recreate.c. */
#ifndef PVTAP_STORE_STORE_INTERNAL_H
#define PVTAP_STORE_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store/store.h"

enum stmt_id {
    S_PUT_RECORD,
    S_GET_INTERVAL,
    S_PUT_INTERVAL,
    S_DEL_INTERVAL,
    S_ADD_TOTAL,
    S_ENQUEUE,
    S_GET_RECORD,
    S_COUNT_
};

struct store {
    sqlite3 *db;
    char path[1024];
    const struct tz *tz;
    bool in_tx;
    bool quiet;           /* failures logged at debug level only (see store_set_quiet) */
    char last_error[300]; /* what the last failure was about */
    sqlite3_stmt *stmt[S_COUNT_];
};

/* Open st->path into st->db (pragmas, migrations, statements); on failure
 * the caller closes. */
int store_db_open(struct store *st, bool rdonly);
/* Finalize the statements and close st->db (st itself stays). */
void store_db_close(struct store *st);
/* A records row (series, device, kind, quantity, clock, time, value, msg)
 * as a reading (strings borrowed from s until its next step); false when
 * pvtap does not understand it. */
bool store_row_reading(sqlite3_stmt *s, struct reading *r);
/* Log (unless quiet) and remember a SQLite failure; returns a PVTAP_E*. */
int store_db_fail(struct store *st, int rc, const char *what);

#endif
