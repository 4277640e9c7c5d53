/* PVOutput's pure rules: statuses from intervals, request bodies, replies, rate limits, back-off.
 */
#ifndef PVTAP_SINKS_PVO_STATUS_H
#define PVTAP_SINKS_PVO_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz;

/* PVOutput's limits (docs/protocol.md section 5). */
enum {
    PVO_BATCH_MAX = 30, /* statuses per addbatchstatus request */
    PVO_BATCH_MAX_DONATION = 100,
    PVO_BACKLOAD_DAYS = 14, /* how far back a status may be dated */
    PVO_BACKLOAD_DAYS_DONATION = 90,
    PVO_STATUS_TEXT_MAX = 96, /* "yyyymmdd,hh:mm,v1,v2,v3,v4,v5,v6" with room */
};

/* One stored interval of the uploaded series, as the status builder needs it. */
struct pvo_interval {
    int64_t interval_end; /* UTC */
    double production_wh, net_wh, consumption_wh;
    unsigned has;     /* IHAS_* bits (engine.h) */
    int64_t revision; /* the store's revision, carried to mark the outbox */
    double voltage_V; /* average inverter AC voltage; NAN when unknown */
};

enum pvo_field {
    PVO_V1 = 1u << 0, /* energy generated Wh */
    PVO_V2 = 1u << 1, /* power generated W (net mode: exported W) */
    PVO_V3 = 1u << 2, /* energy consumed Wh */
    PVO_V4 = 1u << 3, /* power consumed W (net mode: imported W) */
    PVO_V6 = 1u << 5, /* voltage V */
};

/* One status: one local (date, time) slot. Two intervals share a slot in
 * the fall-back repeated hour; they are sent as one. */
struct pvo_status {
    int date;         /* local yyyymmdd */
    int minute;       /* local minutes after midnight, 0..1435 */
    size_t n_iv;      /* 1, or 2 in the repeated hour */
    int64_t end_s[2]; /* the intervals' ends (UTC), ascending */
    int64_t revision[2];
    bool net;        /* net mode: the batch carries n=1 */
    unsigned fields; /* PVO_* bits present */
    long long v1_Wh, v2_W, v3_Wh, v4_W;
    double v6_V;
};

/* Statuses of one local date, sorted by local time. iv: every interval the
 * store has whose local date (tz_local_date) is date, in any order; a row
 * with no energy (a gap) gives no status and the running totals carry on.
 * v1/v3 are the day's running sums through each slot (plus base_*_wh when
 * cumulative: lifetime totals before that day). Net mode (only net data)
 * sends v2 = exported W, v4 = imported W and no energies. out holds at
 * least n entries. Returns the number of statuses. */
size_t pvo_day_statuses(const struct tz *tz, int date, const struct pvo_interval *iv, size_t n,
                        bool cumulative, double base_production_wh, double base_consumption_wh,
                        struct pvo_status *out);

/* "yyyymmdd,hh:mm,v1,v2,v3,v4[,,v6]" (empty fields for absent values,
 * trailing empties dropped) into out. with_v6 = false leaves the voltage out
 * (the comparison text: voltage is not stored, so it never triggers a
 * re-send). Returns the length, or 0 when it does not fit. */
size_t pvo_status_format(const struct pvo_status *s, bool with_v6, char *out, size_t out_size);

/* The local date (yyyymmdd) and minute of an interval's end. */
void pvo_slot_of(const struct tz *tz, int64_t interval_end, int *date, int *minute);

/* A status dated date is within the backload window at now_s: its local
 * date is not before the local date of (now - days + 1 h margin). */
bool pvo_within_backload(const struct tz *tz, int date, int64_t now_s, int days);

/* ---- daily totals (addoutput.jsp) --------------------------------------- */

enum pvo_output_field {
    PVO_OUT_G = 1u << 0, /* energy generated Wh */
    PVO_OUT_C = 1u << 1, /* energy consumed Wh */
    PVO_OUT_E = 1u << 2, /* energy exported Wh (the meter's export counter) */
};

enum { PVO_OUTPUT_TEXT_MAX = 96 }; /* "d=yyyymmdd&g=..&c=..&e=.." with room */

/* One local date's totals as addoutput.jsp takes them. */
struct pvo_output {
    int date;        /* local yyyymmdd */
    unsigned fields; /* PVO_OUT_* present */
    long long g_Wh, c_Wh, e_Wh;
};

/* A day's output from its local-date totals (the sums over the intervals
 * whose interval_end has that local date, as the statuses count them; has:
 * IHAS_* bits of the quantities with data). g from production, c from
 * consumption, e from the export counter, each rounded to whole Wh.
 * Returns false when the day has none of them (nothing to send). */
bool pvo_day_output(int date, double production_wh, double consumption_wh, double export_wh,
                    unsigned has, struct pvo_output *out);

/* The form body "d=yyyymmdd[&g=G][&c=C][&e=E]" into out; the length, or 0
 * when it does not fit. The body is also what is remembered as sent. */
size_t pvo_output_body(const struct pvo_output *o, char *out, size_t out_size);

/* A local date is complete once an interval ending at or after the next
 * date's local 00:00 is stored (latest_end_s: the latest stored interval_end,
 * 0 for none): every interval of the date is then in. */
bool pvo_day_complete(const struct tz *tz, int date, int64_t latest_end_s);

/* Local 00:00 of the date after date (UTC seconds). */
int64_t pvo_next_midnight_s(const struct tz *tz, int date);

/* ---- replies ------------------------------------------------------------ */

struct pvo_reply_item {
    int date, minute;
    int flag; /* 1 accepted, 0 not */
};

/* addbatchstatus's body "yyyymmdd,hh:mm,1;yyyymmdd,hh:mm,0;..." (spaces and
 * a final newline allowed). Returns the number of items (up to max), or
 * PVTAP_ECORRUPT for a body that is not that format. */
int pvo_reply_parse(const char *body, size_t len, struct pvo_reply_item *items, size_t max);

/* The error text of a reply like "Bad request 400: Moon Powered": the part
 * after "NNN: ", trimmed, into out (never the key: PVOutput does not echo it). */
void pvo_reply_reason(const char *body, size_t len, char *out, size_t out_size);

/* ---- rate limits -------------------------------------------------------- */

struct pvo_ratelimit {
    bool have_remaining, have_limit, have_reset;
    long long remaining, limit;
    int64_t reset_s; /* epoch seconds (the server's clock) */
};

/* One header line (as libcurl hands it, CRLF included or not). Fields of
 * X-Rate-Limit-Remaining/-Limit/-Reset, names case-insensitive, fill rl;
 * other lines are ignored. Returns true when the line was one of them. */
bool pvo_ratelimit_header(const char *line, size_t len, struct pvo_ratelimit *rl);

/* When the next request may go, given what the last reply said: now when
 * plenty remain; evenly spread over the time to Reset once Remaining is
 * down to the reserve (a few requests kept for new statuses and --check);
 * the Reset second when none remain. */
int64_t pvo_next_request_s(const struct pvo_ratelimit *rl, int64_t now_s, long long reserve);

/* ---- back-off ----------------------------------------------------------- */

/* The delay before retry number attempt (1 = the first retry): min_s
 * doubled per attempt, capped at max_s, plus up to 20 % jitter from
 * jitter01 in [0, 1) (never past max_s). */
double pvo_backoff_s(int attempt, double min_s, double max_s, double jitter01);

/* ---- isolating a bad status --------------------------------------------- */

/* A 400 on a batch of n > 1 halves the batch until the bad status is alone
 * (then it is recorded as rejected and the cap returns to full). The cap
 * stays down until every status of the failed batch is dealt with. */
struct pvo_bisect {
    size_t full;         /* PVO_BATCH_MAX or PVO_BATCH_MAX_DONATION */
    size_t cap;          /* statuses the next batch may hold */
    int64_t suspect_end; /* last interval_end of the batch that failed; 0: none */
};
void pvo_bisect_init(struct pvo_bisect *b, size_t full);
/* The next batch starts with the status ending first_end: past the suspect
 * range the cap returns to full. */
size_t pvo_bisect_cap(struct pvo_bisect *b, int64_t first_end);
/* A 400 on a batch of n statuses whose last interval ends at last_end.
 * Returns true when the batch was a single status: that one is the bad one. */
bool pvo_bisect_rejected(struct pvo_bisect *b, size_t n, int64_t last_end);

#endif
