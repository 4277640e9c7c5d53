/* The hardware abstraction layer: every way of getting readings is a source. */
#ifndef PVTAP_SOURCES_SOURCE_H
#define PVTAP_SOURCES_SOURCE_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "sources/reading.h"
#include "util/config.h"

struct source;

/* What a source can say about itself beyond its readings (zeroed by the
 * caller; fill what applies). */
struct source_health {
    char note[200]; /* empty when all is well */
    bool capture;   /* the capture counters below mean something */
    uint64_t capture_packets;
    uint64_t kernel_drops;
    uint64_t tcp_holes;
};

/* One const table per backend, one backend per file, registered in
 * sources/sources.def. Return values: 0 ok, negative PVTAP_E*. */
struct source_ops {
    const char *name;           /* the config's `type` */
    const char *default_series; /* series when the config names none */
    /* True when step() blocks on device transactions (Modbus, SMA-Net):
     * the daemon runs such sources on one thread per port (several sources
     * on one port are stepped in turn) and hands their readings to the loop
     * through a queue; the others run on the loop itself. */
    bool blocking;
    /* Validate the backend's own keys (errors name file:line through
     * cfg_error), fill the private data. No I/O. The common keys type,
     * name and series are already checked and set on the source. */
    int (*create)(struct source *src, const config_setting_t *section);
    /* Touch the device: open the port, the capture, the socket. */
    int (*open)(struct source *src);
    /* A descriptor to poll() for input, or -1 when the source runs on a
     * timer; *next_due_ms (monotonic ms) says when step() wants to run next
     * (INT64_MAX: only when the fd is readable). */
    int (*fd)(struct source *src, int64_t *next_due_ms);
    /* Do the ready work and emit readings; never blocks longer than one
     * device transaction. Returns PVTAP_EAGAIN when idle, PVTAP_ENOTFOUND
     * when a file source is exhausted, other negatives on failure (the
     * daemon closes, backs off and re-opens). */
    int (*step)(struct source *src, const struct reading_sink *sink);
    /* Optional: counters and a one-line note for `pvtap status` and
     * /metrics (e.g. "supervisor traffic seen, but it is TLS"). Called on
     * the thread that steps the source, between steps. */
    void (*health)(struct source *src, struct source_health *out);
    /* Release the device; the source may be opened again. */
    void (*close)(struct source *src);
    /* Free what create() allocated. */
    void (*destroy)(struct source *src);
};

/* The keys the config module handles for every source; a backend's
 * cfg_check_keys() list starts with them: { SOURCE_COMMON_KEYS, "port", ..., NULL }. */
#define SOURCE_COMMON_KEYS "type", "name", "series"

/* Common handle; each backend keeps its own state behind priv. */
struct source {
    const struct source_ops *ops;
    /* Set by create() of serial backends: the device path, and whether the
     * backend ever transmits on it (the config refuses `listen` on a port
     * another source transmits on). Empty for non-serial sources. */
    char port[256];
    int transmits;
    /* Set by create() when the input ends (a capture file): the daemon's
     * --until-idle waits for every finite source to be exhausted. */
    bool finite;
    /* Set by create() when the source needs CAP_NET_RAW after the privilege
     * drop (live capture re-opens its interface); a capture file does not. */
    bool needs_net_raw;
    /* Set by create() of polling sources: how far from a 5-minute boundary
     * a poll may be and still give it a value (max_poll_gap_s; 0: the
     * default 60). The engine uses the largest of all sources. */
    int max_poll_gap_s;
    char name[64];               /* `name` key, else "<type>" or "<type>#<n>" */
    char series[32];             /* `series` key, else ops->default_series */
    const struct pvtap_env *env; /* site, board: borrowed from the config */
    const char *config_file;     /* where its section is, for messages */
    int config_line;
    void *priv;
};

/* The registered backends, in sources.def order; NULL-terminated. */
extern const struct source_ops *const source_backends[];

/* The backend for a config `type`, or NULL. */
const struct source_ops *source_backend_find(const char *type);

#endif
