/* The simulated PV Supervisor: what it uploads, when, and how outages, lost replies and backlogs change that. */
#ifndef PVSIM_SITE_SUPERVISOR_H
#define PVSIM_SITE_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "site_model.h"

enum { SIM_REC_MAX_FIELDS = 16, SIM_REC_FIELD_LEN = 48 };

/* One body line: the message number and the fields after it, as sent. */
struct sim_record {
    int msg;
    int nf;
    char f[SIM_REC_MAX_FIELDS][SIM_REC_FIELD_LEN];
};

/* One HTTP request of the supervisor. */
struct sim_request {
    bool command;      /* POST /Command/ (100 + 102 only) instead of /Data/ */
    int64_t send_us;   /* when the supervisor starts sending, UTC microseconds */
    bool lost_reply;   /* the collector never answers: the same body is sent again later */
    bool resend;       /* this is such a repeat */
    struct sim_record *recs;
    size_t n, cap;
};

struct supervisor_options {
    int64_t outage_start_s, outage_end_s; /* no uploads in [start, end); -1: none */
    double missing;                       /* probability a device's record is never sent */
    double lost_reply;                    /* probability a request gets no reply */
    int backlog_chunk;                    /* intervals per backlog body */
    bool crlf;                            /* body lines end with CRLF */
};

void supervisor_options_defaults(struct supervisor_options *o);

struct site_supervisor;

/* The model is borrowed and must outlive the supervisor. Caller frees. */
struct site_supervisor *site_supervisor_new(struct site_model *model, const struct supervisor_options *o);
void site_supervisor_free(struct site_supervisor *s);
/* Plan only n_slots 5-minute slots from the model's start (default: its days). */
void site_supervisor_limit(struct site_supervisor *s, int64_t n_slots);

/* The next request in send order: 1 and *out (borrowed until the next call),
 * 0 at the end of the run, negative when out of memory. */
int site_supervisor_next(struct site_supervisor *s, const struct sim_request **out);

/* The request's body (caller frees), lines ended by LF or CRLF. NULL when out of memory. */
char *sim_request_body(const struct sim_request *r, bool crlf, size_t *len);
const char *sim_request_path(const struct sim_request *r);

/* Canonical decimal text of v with at most `decimals` decimals: no trailing
 * zeros, no "-0" (what the supervisor prints and a JSON number can echo). */
void sim_format_decimal(char *out, size_t size, double v, int decimals);
/* "YYYYmmddHHMMSS" */
void sim_format_compact(char *out, size_t size, int64_t t_s);

#endif
