/* The PVOutput outbox planner: which statuses go in the next batch, and what a reply settles (store
 * only, no network). */
#ifndef PVTAP_SINKS_PVO_PLAN_H
#define PVTAP_SINKS_PVO_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sinks/pvo_status.h"

struct store;
struct tz;

#define PVO_SINK_NAME "pvoutput"

struct pvo_plan {
    struct store *store; /* borrowed */
    const struct tz *tz; /* borrowed; NULL = UTC */
    const char *series;  /* borrowed: the uploaded series */
    bool cumulative;     /* c1: v1/v3 lifetime */
    int backload_days;   /* 14, or 90 with donation */
    /* Average inverter voltage of an interval, NAN when unknown; may be NULL. */
    double (*voltage)(void *ctx, int64_t interval_end);
    void *voltage_ctx;
};

/* What the planner settled without sending, for the counts. */
struct pvo_plan_stats {
    int64_t too_old;        /* outbox entries recorded undeliverable: past the window */
    int64_t unchanged;      /* entries delivered because PVOutput already has these values */
    int64_t no_status;      /* entries with no energy (a gap): nothing to send */
    int64_t still_rejected; /* entries whose values PVOutput rejected before, unchanged */
    int64_t rejected;       /* statuses PVOutput refused (flag 0 or a 400 alone) */
    int64_t other_series;   /* entries of series this sink does not upload, dropped */
};

struct pvo_batch {
    size_t n;
    bool net; /* n=1 */
    struct pvo_status st[PVO_BATCH_MAX_DONATION];
    char text[PVO_BATCH_MAX_DONATION][PVO_STATUS_TEXT_MAX];    /* as sent (v6 included) */
    char compare[PVO_BATCH_MAX_DONATION][PVO_STATUS_TEXT_MAX]; /* as recorded (no v6) */
};

/* The next batch of at most cap statuses, oldest first, all of one mode
 * (gross or net). Entries settled without sending (too old, unchanged, gaps,
 * other series) are marked in the store on the way: call inside a store
 * transaction. now_s decides the backload window. b->n == 0: nothing to send. */
int pvo_plan_next(struct pvo_plan *p, int64_t now_s, size_t cap, struct pvo_batch *b,
                  struct pvo_plan_stats *stats);

/* Settle a batch by PVOutput's per-status reply flags (items as parsed):
 * 1 delivered, 0 rejected; a status missing from the reply stays pending.
 * Call inside a store transaction. *missing (may be NULL) counts those. */
int pvo_plan_apply(struct pvo_plan *p, const struct pvo_batch *b,
                   const struct pvo_reply_item *items, size_t n_items, int64_t now_s,
                   struct pvo_plan_stats *stats, size_t *missing);

/* Settle the batch's status i as refused with reason (a 400 on it alone):
 * recorded, so the same values are never sent again. In a transaction. */
int pvo_plan_reject(struct pvo_plan *p, const struct pvo_batch *b, size_t i, const char *reason,
                    int64_t now_s, struct pvo_plan_stats *stats);

/* ---- daily totals (addoutput.jsp) ----------------------------------------- */

struct pvo_output_req {
    struct pvo_output o;
    char body[PVO_OUTPUT_TEXT_MAX]; /* the form body, also what is remembered as sent */
};

/* The oldest local date whose totals are due at addoutput.jsp: none of the
 * sink's statuses is pending (the day went as statuses first), the date is
 * complete (pvo_day_complete), inside the backload window, and its totals
 * differ from what PVOutput last got (or refused) for it. *found false:
 * nothing due. Reads only; call inside a store transaction for a stable view. */
int pvo_plan_output(struct pvo_plan *p, int64_t now_s, struct pvo_output_req *o, bool *found);

/* Remember what was sent for o's date: ok, or refused (these totals are not
 * tried again; new totals after a revision are). In a transaction. */
int pvo_plan_output_done(struct pvo_plan *p, const struct pvo_output_req *o, bool ok,
                         int64_t now_s);

/* --dry-run: print every addoutput request that would follow the statuses
 * (URL, headers with the key redacted, body) to out, marking each as sent
 * in the store; the caller rolls the transaction back. *n counts them. */
int pvo_plan_dry_outputs(struct pvo_plan *p, int64_t now_s, const char *base_url,
                         long long system_id, FILE *out, size_t *n);

/* The form body "data=...[&c1=1][&n=1]" of a batch into out; the length, or
 * 0 when it does not fit. */
size_t pvo_batch_body(const struct pvo_batch *b, bool cumulative, char *out, size_t out_size);

/* base + endpoint, adding the '/' a base without one lacks. */
void pvo_request_url(const char *base, const char *endpoint, char *out, size_t out_size);

/* Pause state kept in the store across restarts (store_sink_* keys). */
int pvo_pause_load(struct store *st, int64_t *until_s);
int pvo_pause_save(struct store *st, int64_t until_s); /* 0 clears */

/* The uploader's wall clock: rt_now plus PVTAP_FAKE_NOW_OFFSET_S (test-only:
 * tests shift pvtap's clock to a recorded day; never set it on a site). */
int64_t pvo_clock_offset_s(void);

#endif
