/* The daemon's private state, shared by its files (loop, source runner, status file). */
#ifndef PVTAP_DAEMON_DAEMON_INTERNAL_H
#define PVTAP_DAEMON_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/alerts.h"
#include "daemon/daemon.h"
#include "daemon/reading_queue.h"
#include "engine/engine.h"
#include "sinks/sink.h"
#include "sources/source.h"
#include "store/site_kind.h"
#include "util/log.h"
#include "util/timeutil.h"

enum src_state {
    SRC_CLOSED, /* not open: opens at next_open_ms */
    SRC_OPEN,
    SRC_EXHAUSTED, /* a file source that has given all it has */
};

/* One configured source as the daemon runs it. Fields below `lock` are
 * written by the source's thread and read by the loop for the status. */
struct src_rt {
    struct source *src;
    struct daemon *d;
    int port_group;       /* index into d->ports, or -1 when it runs on the loop */
    int64_t next_open_ms; /* monotonic */
    int64_t backoff_ms;
    int64_t next_due_ms;
    struct complaint complaint;
    pthread_mutex_t *lock; /* d->status_lock */
    enum src_state state;
    uint64_t readings;
    uint64_t failures;
    int64_t last_reading_s; /* UTC of the newest reading's own time */
    int64_t last_seen_s;    /* wall clock when it last emitted */
    int64_t opened_s;       /* wall clock of its last successful open */
    char last_error[200];
    const config_setting_t *section; /* its config section, to compare on reload */
};

/* A thread serving every blocking source on one serial port in turn. */
struct port_group {
    char port[256];
    pthread_t thread;
    bool started;
    size_t n;
    struct src_rt **members;
};

enum sink_state { SINK_STOPPED, SINK_RUNNING };
enum { SINK_BACKOFF_FIRST_MS = 1000 };

struct sink_rt {
    struct sink *sink;
    const config_setting_t *section; /* its config group, to compare on reload */
    enum sink_state state;
    int64_t next_start_ms, backoff_ms;
    struct complaint complaint;
    char last_error[200];
};

/* A device seen in the readings, for the "device silent" alerts. */
struct seen_device {
    char key[80];       /* series + "/" + device */
    const char *source; /* the source instance's name (stable) */
    enum device_kind kind;
    int64_t last_seen_s; /* wall clock */
    /* a meter's last counter and power: both exactly 0 means no CTs */
    double last_counter_kWh, last_power_W;
    bool have_counter, have_power;
};

/* A store key whose interval changed but is not committed yet. */
struct dirty_key {
    const char *series; /* borrowed from the engine (stable for its life) */
    int64_t interval_end;
};

struct daemon {
    struct pvtap_config *cfg; /* the newest accepted configuration */
    /* Configurations loaded on SIGHUP (the first one is the caller's): an
     * older one lives on while a source or sink created from it runs, and
     * until the readings taken before the reload are committed. */
    struct pvtap_config **configs;
    size_t n_configs, cap_configs;
    bool configs_unused;              /* a reload may have left one unused */
    struct pvtap_config *restart_cfg; /* a reload that must restart everything */
    struct engine_params ep; /* the engine's, with the site's interpretation */
    struct site_kind kind;   /* in force, and where it came from */
    bool kind_changed;       /* a pvs-api source reported another kind: rebuild */
    const struct daemon_options *opt;
    struct tz *tz;
    struct engine *engine;
    /* The engine holds a window (engine_window.c): intervals from horizon_s
     * on; a counter reading before accept_from_s is "late" and is folded
     * in by a bounded rebuild from the store's records instead. */
    int64_t horizon_s;     /* 0: not bounded yet (an empty store) */
    int64_t accept_from_s; /* horizon_s + how far back a new point reaches */
    int64_t newest_data_s; /* newest counter time taken (at most a day ahead of the clock) */
    bool late_waiting;     /* late readings committed or pending, not yet rebuilt */
    bool late_clear;       /* rebuilt: the next commit clears the store's note */
    int64_t late_from_s;   /* the oldest of them */
    uint64_t late_readings, late_rebuilds;
    struct store *store;
    char store_path[1024];
    struct reading_queue queue;
    pthread_mutex_t status_lock;
    volatile int stopping; /* read by port threads */
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;

    size_t n_src;
    struct src_rt **srcs; /* each on its own: a reload keeps running ones in place */
    size_t n_ports;
    struct port_group *ports;
    size_t n_sinks;
    struct sink_rt *sinks;
    const char **outbox_sinks; /* names of the sinks that use the outbox */
    size_t n_outbox_sinks;

    /* Counter readings folded into the engine but not yet in the store. */
    struct reading *pending;
    size_t n_pending, cap_pending;
    struct dirty_key *dirty;
    size_t n_dirty, cap_dirty;
    int64_t first_pending_ms; /* monotonic ms when the pending batch is due; 0: none */
    int64_t flush_ms;         /* a record waits this long before its commit */
    int64_t max_poll_gap_s;   /* the engine's: polls further from a boundary are not stored */
    struct complaint clock_complaint;
    struct complaint store_complaint;
    uint64_t commits, commit_failures, rows_written;
    int64_t last_commit_s;
    /* A failing store is retried with back-off, not at every loop pass. */
    int64_t store_retry_ms;    /* monotonic: no commit before this; 0: none waiting */
    int64_t store_backoff_ms;  /* the next wait after a failure */
    uint64_t readings_dropped; /* counter readings refused: PENDING_MAX were waiting */
    /* The store's file deleted or replaced under it (see store_recover.c). */
    bool store_file_lost;       /* lost and not yet re-created */
    int64_t store_recreated_s;  /* UTC of the last re-creation; 0: never */
    uint64_t store_recreations; /* for the status */
    int64_t recreate_retry_ms;  /* monotonic: next re-creation attempt */
    int64_t recreate_backoff_ms;

    struct alert_set alerts;
    uint64_t alerts_published; /* alerts.version last offered to the sinks */
    int64_t next_health_ms;
    struct seen_device *devices;
    size_t n_devices, cap_devices;
    size_t finite_failures;
    bool threads_stuck; /* a port thread outlived the stop deadline */ /* file sources that failed:
                                                                          --until-idle exits 1 */
    int64_t started_s;
    char status_path[1024];
    struct complaint status_complaint;
    int64_t next_status_ms;
    bool ready_sent;
};

/* source_runner.c */
int daemon_sources_prepare(struct daemon *d);
void daemon_sources_open_all(struct daemon *d);
int daemon_sources_start_threads(struct daemon *d);
/* Stop and join the port threads (wait_ms < 0: as long as it takes), then
 * close the sources. false when a thread is still busy after wait_ms: the
 * sources and the queue must then be left alone until the process exits. */
bool daemon_sources_stop(struct daemon *d, int64_t wait_ms);
void daemon_sources_free(struct daemon *d);
/* Loop sources: fill pollfds (index map into rt_of) and the earliest due. */
size_t daemon_sources_pollfds(struct daemon *d, struct pollfd *fds, struct src_rt **rt_of,
                              size_t max, int64_t *next_due_ms);
/* Steps a loop source that is readable or due (or retries its open). */
void daemon_source_service(struct daemon *d, struct src_rt *rt, bool readable);
bool daemon_sources_exhausted(struct daemon *d);
/* For a reload: a runtime for one created source (closed, opens at once);
 * the port threads stopped and joined (their sources closed, to re-open);
 * the port groups rebuilt from d->srcs (threads not started). */
struct src_rt *daemon_source_rt_new(struct daemon *d, struct source *src,
                                    const config_setting_t *section);
void daemon_ports_stop(struct daemon *d);
int daemon_ports_build(struct daemon *d);
bool daemon_sources_need_net_raw(const struct daemon *d);

/* reload.c: SIGHUP. The new file is loaded and validated into a fresh
 * configuration first: rejected, nothing changes (RELOAD_KEPT); changed
 * site/board/store/run settings need everything restarted (RELOAD_RESTART,
 * d->restart_cfg); else only sources and sinks whose sections changed are
 * stopped and replaced, the rest keep running (RELOAD_APPLIED). */
enum reload_result { RELOAD_KEPT, RELOAD_APPLIED, RELOAD_RESTART };
enum reload_result daemon_reload(struct daemon *d);
/* Free loaded configurations nothing runs from (all: every one). Only when
 * no uncommitted reading may point into them. */
void daemon_configs_release(struct daemon *d, bool all);

/* engine_window.c: how much history the engine holds. A week: the PV
 * Supervisor re-sends what it could not upload when its link returns, and
 * outages of hours to a few days are the common ones; those backlogs land
 * inside the window and cost nothing extra. The engine then holds about
 * 7 x 288 points per counter and 2016 rows per series (a few MB for a
 * 20-inverter site) whatever the years of history in the store. Anything
 * older is still right: it is recomputed from the store's records. */
enum { ENGINE_WINDOW_S = 7 * 86400 };
/* A new point changes at most the 12 intervals before its own (an even
 * split) and its own: a reading is taken by the engine only when all of
 * them are inside its window. */
enum { ENGINE_REACH_S = 13 * INTERVAL_S };
/* The horizon the engine should have now: the newest data less the
 * window, on the interval grid; 0 when nothing is known yet. */
int64_t daemon_window_target(const struct daemon *d);
/* A fresh engine holding the window ending at the store's newest record
 * (each counter's base before it and its records from it), bounded at its
 * horizon; sets horizon_s, accept_from_s and newest_data_s. */
int daemon_window_engine(struct daemon *d, struct engine **out);
/* A fresh engine whose rows from from_s on are exact: the store's records
 * from far enough before (store_load_readings_since), then bounded there. */
int daemon_engine_since(struct daemon *d, int64_t from_s, struct engine **out);
/* After a successful commit (nothing dirty): move the horizon up to the
 * window's target and let the engine forget what lies before it. */
void daemon_window_advance(struct daemon *d);
/* Is this counter reading before what the engine may take? */
bool daemon_reading_late(struct daemon *d, const struct reading *r);
/* A late reading to be stored: its intervals are recomputed after the
 * commit (counted, and said once per rebuild). */
void daemon_late_note(struct daemon *d, const struct reading *r);

/* daemon.c: the loop's reading sink (counter readings to the engine). */
void daemon_take_reading(struct daemon *d, const struct reading *r);
/* daemon.c: stop every running sink; the loop starts them again (a sink's
 * own store connection then opens the re-created file). */
void daemon_restart_sinks(struct daemon *d);

/* store_recover.c: before a commit, notice a store file deleted or
 * replaced under the daemon and re-create it (with back-off). */
void daemon_store_check_file(struct daemon *d);
/* store_recover.c: a failed commit, retried with back-off (1 s doubling to
 * 60 s); a good one resets it. */
void daemon_store_backoff(struct daemon *d, bool failed);

/* health.c: device tracking and the alert checks */
/* The device's entry (NULL when the table is full). */
const struct seen_device *daemon_note_device(struct daemon *d, const struct reading *r);
void daemon_check_health(struct daemon *d);
/* A meter whose counter and power both read exactly 0: what is missing
 * ("consumption CTs not installed or not wired"), else NULL. */
const char *daemon_meter_not_installed(const struct seen_device *sd);

/* status_file.c */
int daemon_status_write(struct daemon *d);
uint64_t daemon_bytes_written(void);

#endif
