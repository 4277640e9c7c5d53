/* The web sink's endpoints without a socket: request in, response out (page, JSON/CSV API, /metrics, live snapshot). */
#ifndef PVTAP_SINKS_WEB_API_H
#define PVTAP_SINKS_WEB_API_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_devices;
struct web_stream;
struct tz;
struct reading;

/* Live values (power now) and record counts, fed by the sink's live() hook
 * on the daemon's loop thread and read by the web thread: every access
 * holds lock. */
enum { WEB_LIVE_DEVICES = 512, WEB_LIVE_COUNTS = 64 };
struct web_live {
    pthread_mutex_t lock;
    size_t n_dev;
    struct web_live_dev {
        char series[32];
        char device[32];
        int kind;          /* enum device_kind */
        double power_W;
        int64_t power_time; /* UTC of the power reading; 0: none yet */
        int64_t last_record; /* time of the last record counted */
    } dev[WEB_LIVE_DEVICES];
    size_t n_counts;
    struct web_live_count {
        char source[32];
        int msg;
        uint64_t records;
    } counts[WEB_LIVE_COUNTS];
};

int web_live_init(struct web_live *l);
void web_live_destroy(struct web_live *l);
/* One live reading (any quantity): keeps the power, counts a record once
 * per (device, time). Thread-safe. */
void web_live_add(struct web_live *l, const struct reading *r);

/* Per-series power now: inverters' power readings no older than
 * WEB_LIVE_FRESH_S before the series' newest one are summed. */
enum { WEB_LIVE_FRESH_S = 900 };
struct web_power {
    char series[32];
    int64_t time;
    double production_W, net_W, consumption_W;
    bool has_production, has_net, has_consumption;
};
/* Up to max series into out; returns how many. Thread-safe. */
size_t web_live_power(struct web_live *l, struct web_power *out, size_t max);

/* What the handlers read; everything borrowed, used from one thread only
 * (the web server's), except live which locks. */
struct web_api {
    struct store *st;            /* read-only connection of the web thread */
    struct store_devices *devs;  /* idem, for per-inverter energy; may be NULL */
    const struct tz *tz;         /* site time; NULL: UTC */
    int64_t (*now_s)(void);
    const char *status_path;     /* the daemon's status.json */
    const char *store_path;
    const char *site_name;
    struct web_live *live;       /* may be NULL */
    /* /api/intervals streams an answer of more than stream_rows rows (0:
     * WEB_STREAM_ROWS), at most WEB_STREAMS_MAX at once (503 beyond). */
    size_t stream_rows;
    unsigned streams_open;
};

enum { WEB_STREAM_ROWS = 512, WEB_STREAMS_MAX = 16, WEB_RETRY_AFTER_S = 5 };
/* /api/compare builds its answer whole (the summary needs every row): at
 * most this range a request. */
enum { WEB_COMPARE_RANGE_S = 31 * 86400 };

/* The request as the server saw it. arg() returns a query argument's value
 * (NULL when absent). */
struct web_request {
    const char *method;
    const char *path; /* without the query string */
    const char *(*arg)(void *ctx, const char *key);
    void *arg_ctx;
};

struct web_response {
    unsigned status;
    const char *content_type;  /* static */
    const char *cache_control; /* static */
    const char *allow;         /* for 405, else NULL */
    const char *body;          /* owned when owned is true (free), else static */
    size_t len;
    bool owned;
    struct web_stream *stream; /* else: the body is read from it (web_stream.h), owned */
    unsigned retry_after_s;    /* for 503: Retry-After */
};

/* Route and answer one request. Never fails: errors are 4xx/5xx responses
 * with a short text. Free with web_response_free(). */
void web_handle(struct web_api *api, const struct web_request *req, struct web_response *resp);
void web_response_free(struct web_response *resp);
/* 503 with Retry-After: the server is busy, come back later. */
void web_busy(struct web_response *resp);
/* A 400 answer with msg (names what is wrong, never echoes a value). */
void web_bad_request(struct web_response *resp, const char *msg);

/* Query arguments: "2017-06-07", "2017-06", "2017" or a CLI time
 * ("2017-06-07T16:20", "...Z", "-1d"), truncated to a period of kind len
 * (4, 7 or 10 characters) into out (>= 11 bytes). PVTAP_EINVAL otherwise. */
int web_period_arg(const char *s, size_t len, const struct tz *tz, int64_t now_s, char *out,
                   size_t out_size);

#endif
