/* Sinks: where committed intervals and live values go (PVOutput, MQTT, web page). */
#ifndef PVTAP_SINKS_SINK_H
#define PVTAP_SINKS_SINK_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/config.h"

struct sink;

struct store;
struct tz;
struct pollfd;
struct reading;

/* What a running sink may use, borrowed from the daemon for its life. */
struct sink_runtime {
    struct store *store;     /* the loop's connection: only from the loop thread */
    const char *store_path;  /* for a read-only connection of a sink's own thread */
    const struct tz *tz;     /* site.timezone */
    int64_t (*now_s)(void);  /* the wall clock (tests may fake it) */
    const char *status_path; /* the daemon's status.json (for the web page's /api/status) */
};

/* One const table per sink, registered in sinks/sinks.def. A sink runs
 * only when its config group is present. create() validates the group's
 * keys (FILE:LINE) into priv; the run-time hooks may be NULL for a sink
 * that has no such work. All hooks run on the daemon's loop thread. */
struct sink_ops {
    const char *name; /* the config group: "pvoutput", "mqtt", "http" */
    int (*create)(struct sink *sink, const config_setting_t *group);
    /* The effective settings, one "key = value;" per line, secrets redacted. */
    void (*dump)(const struct sink *sink, FILE *out);
    void (*destroy)(struct sink *sink);

    /* Committed intervals are enqueued in the store's outbox under this
     * sink's name (store_upsert_interval): the sink delivers from there. */
    bool uses_outbox;
    /* Connect, bind, read the outbox position. A failure here is reported
     * and retried by the daemon with back-off; other sinks go on. */
    int (*start)(struct sink *sink, const struct sink_runtime *rt);
    /* Descriptors to wait on (up to max) and when step() is due next
     * (monotonic ms; INT64_MAX for "only on events"). Returns how many. */
    size_t (*pollfds)(struct sink *sink, struct pollfd *fds, size_t max, int64_t *next_due_ms);
    /* Do ready work: deliver pending outbox entries, handle replies. Also
     * called right after every commit that enqueued something. */
    int (*step)(struct sink *sink);
    /* Every reading as it arrives, counters included (a device's latest
     * state, power now, voltage): for display, never stored or queued by
     * this call. */
    void (*live)(struct sink *sink, const struct reading *r);
    /* For --until-idle: 1 when everything deliverable is delivered, 0 while
     * still working, negative when what is left cannot be delivered now
     * (why says how many and why). */
    int (*idle)(struct sink *sink, char *why, size_t why_size);
    /* The active alerts changed: a JSON array of {"id","text","since"}
     * (borrowed for the call). Also called once after start(). */
    void (*alerts)(struct sink *sink, const char *alerts_json);
    /* Flush and disconnect (MQTT publishes "offline" first). */
    void (*stop)(struct sink *sink);
};

struct sink {
    const struct sink_ops *ops;
    const struct pvtap_env *env;
    void *priv;
};

extern const struct sink_ops *const sink_backends[];
const struct sink_ops *sink_backend_find(const char *name);

#endif
