/* The daemon's event loop: sources -> engine -> one store transaction per batch -> sinks. */
#include "daemon/daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "daemon/notify.h"
#include "daemon/preflight.h"
#include "daemon/privdrop.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"
#include "util/grow.h"

static const char *const MOD = "daemon";

/* meta key: the oldest late reading committed whose intervals are not
 * recomputed yet ("" or absent: none). It commits with the records, so a
 * kill between the two commits cannot leave stale intervals behind. */
static const char LATE_KEY[] = "late_rebuild_from";

enum {
    FLUSH_DEFAULT_MS = 2000,
    PENDING_FLUSH_NOW = 20000,      /* readings: commit at once past this */
    STOP_WAIT_MS = 1200,            /* of the 2 s SIGTERM budget */
    PLAUSIBLE_SINCE_S = 1577836800, /* 2020-01-01: earlier poll clocks are unset clocks */
    PENDING_MAX = 2000000,          /* readings held while the store fails */
    STATUS_EVERY_MS = 5000,
    SINK_BACKOFF_MAX_MS = 300000,
    MAX_POLLFDS = 64,
};

/* ---- readings into the engine ------------------------------------------ */

static int push_pending(struct daemon *d, const struct reading *r)
{
    if (GROW(&d->pending, &d->cap_pending, d->n_pending, 1024) < 0)
        return PVTAP_ENOMEM;
    d->pending[d->n_pending++] = *r;
    return 0;
}

static void live_to_sinks(struct daemon *d, const struct reading *r)
{
    /* The sinks add powers by kind: on a gross site the 'c' meter's power
     * is the house's, as a consumption meter's is. */
    struct reading as_site = *r;
    if (r->kind == DEVICE_NET_METER && d->ep.consumption_meter == ENGINE_CONSUMPTION_GROSS)
        as_site.kind = DEVICE_CONSUMPTION_METER;
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        if (s->state == SINK_RUNNING && s->sink->ops->live)
            s->sink->ops->live(s->sink, &as_site);
    }
}

/* site.consumption_meter "auto": a pvs-api source says which kind the 'c'
 * meter is (its subtype); remember it so a sniff-only restart keeps it. */
static void learn_kind(struct daemon *d, const struct reading *r)
{
    if (d->cfg->env.site.consumption_meter != SITE_CM_AUTO || !r->source ||
        strcmp(r->source, "pvs-api") != 0 ||
        (r->kind != DEVICE_NET_METER && r->kind != DEVICE_CONSUMPTION_METER))
        return;
    enum engine_consumption k =
        r->kind == DEVICE_CONSUMPTION_METER ? ENGINE_CONSUMPTION_GROSS : ENGINE_CONSUMPTION_NET;
    bool changed = false;
    if (k == d->ep.consumption_meter && strcmp(d->kind.origin, "default") != 0)
        return;
    if (site_kind_learn(d->store, k, time_now_s(), &changed) < 0)
        return; /* the store complains; the next reading tries again */
    site_kind_resolve(&d->cfg->env.site, d->store, &d->kind);
    if (k != d->ep.consumption_meter) {
        log_msg(LOGL_NOTICE, MOD,
                "the supervisor reports a %s consumption meter: recomputing the intervals",
                site_kind_consumption_name(k));
        d->kind_changed = true;
    }
}

void daemon_take_reading(struct daemon *d, const struct reading *r)
{
    const struct seen_device *sd = daemon_note_device(d, r);
    learn_kind(d, r);
    /* Every reading as it arrives (device states, power now); counters
     * also go on to the engine and, batched, to the store. The power of a
     * meter that measures nothing (no CTs, or consumption_meter "none") is
     * no "0 W" the sinks should add up. */
    bool unused_meter = d->ep.consumption_meter == ENGINE_CONSUMPTION_NONE &&
                        (r->kind == DEVICE_NET_METER || r->kind == DEVICE_CONSUMPTION_METER);
    if (!(r->q == Q_POWER_W && (unused_meter || (sd && daemon_meter_not_installed(sd)))))
        live_to_sinks(d, r);
    if (r->q == Q_POWER_W) {
        /* a meter's power tells a counter at exactly 0 from missing CTs */
        engine_add(d->engine, r);
        return;
    }
    if (!quantity_is_counter(r->q))
        return;
    if (d->n_pending >= PENDING_MAX) {
        /* The bound on memory: past it a reading is refused whole (not fed
         * to the engine either), so what is stored stays consistent. */
        d->readings_dropped++;
        complain(&d->store_complaint, time_now_s(), LOGL_ERR, MOD,
                 "%zu readings wait for the store: dropping new ones until it recovers",
                 d->n_pending);
        return;
    }
    /* A Pi without a real-time clock starts near 1970 until NTP: a poll
     * stamped then would land on a day that never happened. */
    if (r->clock == CLOCK_POLL && r->time < PLAUSIBLE_SINCE_S) {
        complain(&d->clock_complaint, time_now_s(), LOGL_WARNING, MOD,
                 "the clock reads %lld, before 2020: polled readings are dropped until it is "
                 "set (no NTP yet?)",
                 (long long)r->time);
        return;
    }
    /* Older than the engine's window: stored, and its intervals are
     * recomputed from the store's records after the commit (rebuild_late);
     * unless the store has it already (a body sent twice, a re-read
     * capture): then nothing can change. */
    if (daemon_reading_late(d, r)) {
        bool known = false;
        if (store_reading_known(d->store, r, &known) == 0 && known)
            return;
        daemon_late_note(d, r);
    } else {
        int rc = engine_add(d->engine, r);
        if (rc < 0) {
            log_msg(LOGL_DEBUG, MOD, "reading of %s at %lld not used: %s", r->device,
                    (long long)r->time, pvtap_strerror(rc));
            return;
        }
        if (r->time > d->newest_data_s)
            d->newest_data_s = r->time;
    }
    /* Only polls near a boundary can ever give it a value: the others feed
     * the engine but are not written to the SD card. */
    int64_t gap = d->max_poll_gap_s;
    int64_t off = ((r->time % INTERVAL_S) + INTERVAL_S) % INTERVAL_S;
    if (r->clock == CLOCK_POLL && off > gap && INTERVAL_S - off > gap)
        return;
    if (push_pending(d, r) < 0) {
        log_msg(LOGL_ERR, MOD, "out of memory holding a reading of %s", r->device);
        return;
    }
    /* When to commit: a record at once (after flush_ms); a poll once the
     * window around its boundary has closed, so one commit covers it. */
    int64_t now_ms = time_mono_ms();
    int64_t due = now_ms + d->flush_ms;
    if (r->clock == CLOCK_POLL) {
        int64_t window_end = off <= gap ? r->time - off + gap : r->time - off + INTERVAL_S + gap;
        int64_t wait_s = window_end - time_now_s();
        due = now_ms + (wait_s > 0 ? wait_s * 1000 : 0) + d->flush_ms;
    }
    if (!d->first_pending_ms || due < d->first_pending_ms)
        d->first_pending_ms = due;
}

static void drain_queue(struct daemon *d)
{
    struct reading batch[256];
    size_t n;
    while ((n = reading_queue_pop(&d->queue, batch, 256)) > 0)
        for (size_t i = 0; i < n; i++)
            daemon_take_reading(d, &batch[i]);
}

/* ---- the durable point ------------------------------------------------- */

static int add_dirty(struct daemon *d, const char *series, int64_t end)
{
    for (size_t i = d->n_dirty; i > 0 && i + 64 > d->n_dirty; i--)
        if (d->dirty[i - 1].interval_end == end && strcmp(d->dirty[i - 1].series, series) == 0)
            return 0;
    if (GROW(&d->dirty, &d->cap_dirty, d->n_dirty, 256) < 0)
        return PVTAP_ENOMEM;
    d->dirty[d->n_dirty].series = series;
    d->dirty[d->n_dirty].interval_end = end;
    d->n_dirty++;
    return 0;
}

/* The engine's current row for a key (a row with nothing when it is gone). */
static struct interval_row current_row(struct daemon *d, const struct dirty_key *k)
{
    const struct interval_row *rows;
    size_t n, lo = 0;
    engine_rows(d->engine, k->series, &rows, &n);
    size_t hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].interval_end < k->interval_end)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && rows[lo].interval_end == k->interval_end)
        return rows[lo];
    struct interval_row gone;
    memset(&gone, 0, sizeof gone);
    gone.series = k->series;
    gone.interval_end = k->interval_end;
    return gone;
}

/* Raw records and every changed interval in one transaction. On failure
 * nothing is lost: the readings and the changed keys stay queued and the
 * next flush tries again (a full or read-only disk is said once, and once
 * when it recovers). */
static int commit_batch(struct daemon *d)
{
    const struct interval_row *rows;
    size_t n_rows;
    if (engine_collect(d->engine, &rows, &n_rows) < 0)
        return PVTAP_ENOMEM;
    for (size_t i = 0; i < n_rows; i++)
        if (add_dirty(d, rows[i].series, rows[i].interval_end) < 0)
            return PVTAP_ENOMEM;
    if (d->n_pending == 0 && d->n_dirty == 0) {
        d->first_pending_ms = 0;
        return 0;
    }
    int64_t now = time_now_s();
    daemon_store_check_file(d);
    /* A failing commit is said here, once, with back-off: not by the store
     * at every retried statement. */
    store_set_quiet(d->store, true);
    int rc = store_begin(d->store);
    for (size_t i = 0; rc == 0 && i < d->n_pending; i++)
        rc = store_put_reading(d->store, &d->pending[i]);
    for (size_t i = 0; rc == 0 && i < d->n_dirty; i++) {
        struct interval_row row = current_row(d, &d->dirty[i]);
        rc = store_upsert_interval(d->store, &row, d->outbox_sinks, d->n_outbox_sinks, now);
    }
    if (rc == 0 && (d->late_waiting || d->late_clear)) {
        char from[24] = "";
        if (d->late_waiting)
            snprintf(from, sizeof from, "%lld", (long long)d->late_from_s);
        rc = store_meta_set(d->store, LATE_KEY, from);
    }
    if (rc == 0)
        rc = store_commit(d->store);
    store_set_quiet(d->store, false);
    if (rc < 0) {
        store_rollback(d->store);
        d->commit_failures++;
        daemon_store_backoff(d, true);
        if (!d->store_complaint.failing)
            d->next_health_ms = 0; /* raise the alert now, not at the next round */
        complain(&d->store_complaint, now, LOGL_ERR, MOD,
                 "cannot write the store %s: %s (%s); %zu readings and %zu intervals kept in "
                 "memory, retried with back-off",
                 d->store_path, pvtap_strerror(rc), store_last_error(d->store), d->n_pending,
                 d->n_dirty);
        return rc;
    }
    d->late_clear = false;
    daemon_store_backoff(d, false);
    if (complain_clear(&d->store_complaint, MOD, "the store %s is writable again", d->store_path))
        d->next_health_ms = 0;
    d->commits++;
    d->rows_written += d->n_dirty;
    d->last_commit_s = now;
    d->n_pending = 0;
    d->n_dirty = 0;
    d->first_pending_ms = 0;
    /* Now, and only now, the sinks may see what was committed. */
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        if (s->state == SINK_RUNNING && s->sink->ops->step)
            s->sink->ops->step(s->sink);
    }
    return 0;
}

static void engine_feed(void *ctx, const struct reading *r)
{
    engine_add(ctx, r);
}

static int add_stored_rows(struct daemon *d, int64_t from_s);

/* Readings older than the engine's window were committed: recompute every
 * interval they can change from the store's records (the span from them
 * to now, not the history), so the store ends as a full replay would leave
 * it. The rebuilt engine holds that span until the next commit bounds it
 * again. */
static int rebuild_late(struct daemon *d)
{
    int64_t from = interval_end(d->late_from_s - d->max_poll_gap_s) - ENGINE_REACH_S;
    if (from < INTERVAL_S)
        from = INTERVAL_S;
    struct engine *e;
    int rc = daemon_engine_since(d, from, &e);
    if (rc < 0)
        return rc;
    engine_free(d->engine);
    d->engine = e;
    d->horizon_s = from;
    d->accept_from_s = from; /* the span is whole: nothing in it is late now */
    log_msg(LOGL_NOTICE, MOD,
            "%llu readings older than the engine's window: intervals from %lld recomputed from "
            "the store's records",
            (unsigned long long)d->late_readings, (long long)from);
    d->late_waiting = false;
    d->late_clear = true; /* with the recomputed rows */
    d->late_rebuilds++;
    rc = add_stored_rows(d, from);
    return rc < 0 ? rc : commit_batch(d);
}

/* Commit; then fold late readings in, and bound the engine again. */
static int flush(struct daemon *d)
{
    int rc = commit_batch(d);
    if (rc == 0 && d->late_waiting && d->n_pending == 0)
        rc = rebuild_late(d);
    if (rc == 0 && d->n_dirty == 0)
        daemon_window_advance(d);
    return rc;
}

/* meta key: the interpretation the store's intervals were computed with;
 * a store from before site.consumption_meter / site.production has none and
 * was computed as "net/inverters" (production meters were ignored). */
static const char INTERVALS_KIND_KEY[] = "intervals_kind";

static void kind_text(const struct engine_params *ep, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", site_kind_consumption_name(ep->consumption_meter),
             site_kind_production_name(ep->production));
}

struct rewrite_ctx {
    struct daemon *d;
    int rc;
};

static int rewrite_cb(void *ctx, const struct store_interval *iv)
{
    struct rewrite_ctx *c = ctx;
    /* the engine's own name (stable), so a row it no longer has is deleted */
    for (size_t i = 0; i < engine_series_count(c->d->engine); i++) {
        const char *name = engine_series_name(c->d->engine, i);
        if (strcmp(name, iv->row.series) == 0) {
            c->rc = add_dirty(c->d, name, iv->row.interval_end);
            return c->rc;
        }
    }
    return 0;
}

/* Every interval from from_s on as the engine now reads the records
 * queued for writing: its rows, and the store's rows it no longer has
 * (deleted at the commit). */
static int add_stored_rows(struct daemon *d, int64_t from_s)
{
    for (size_t i = 0; i < engine_series_count(d->engine); i++) {
        const struct interval_row *rows;
        size_t n;
        engine_rows(d->engine, engine_series_name(d->engine, i), &rows, &n);
        for (size_t j = 0; j < n; j++)
            if (rows[j].interval_end >= from_s &&
                add_dirty(d, rows[j].series, rows[j].interval_end) < 0)
                return PVTAP_ENOMEM;
    }
    struct rewrite_ctx c = {d, 0};
    int rc = store_query_intervals(d->store, NULL, from_s, INT64_MAX, rewrite_cb, &c);
    return rc == 0 ? c.rc : rc;
}

/* Every interval as the engine now reads the records (it holds them all);
 * then the kind is remembered. */
static int rewrite_intervals(struct daemon *d)
{
    int rc = add_stored_rows(d, INT64_MIN);
    if (rc == 0)
        rc = flush(d);
    char kind[32];
    kind_text(&d->ep, kind, sizeof kind);
    if (rc == 0)
        rc = store_meta_set(d->store, INTERVALS_KIND_KEY, kind);
    return rc;
}

/* After recomputing everything (the engine then holds all history):
 * replace it by a fresh one holding the window, which frees the rest. */
static int rebound_engine(struct daemon *d)
{
    if (d->n_dirty || d->n_pending)
        return 0; /* the store fails: the next start bounds it */
    struct engine *e;
    int rc = daemon_window_engine(d, &e);
    if (rc < 0)
        return rc;
    engine_free(d->engine);
    d->engine = e;
    return 0;
}

/* The kind in force changed: commit what is pending, then recompute every
 * interval from the store's raw records (all of them: this is rare) and
 * rewrite them; then hold only the window again. */
static int rebuild_engine(struct daemon *d)
{
    int rc = flush(d);
    if (rc < 0 || d->n_pending || d->n_dirty)
        return rc < 0 ? rc : PVTAP_EIO; /* the store fails: try again later */
    struct engine_params ep = d->ep;
    site_kind_engine_params(&d->kind, &ep);
    struct engine *e = engine_new(&ep);
    if (!e)
        return PVTAP_ENOMEM;
    struct reading_sink s = {engine_feed, e};
    const struct interval_row *rows;
    size_t n;
    rc = store_load_readings(d->store, NULL, &s);
    if (rc == 0)
        rc = engine_collect(e, &rows, &n);
    if (rc < 0) {
        engine_free(e);
        return rc;
    }
    engine_free(d->engine);
    d->engine = e;
    d->ep = ep;
    d->kind_changed = false;
    rc = rewrite_intervals(d);
    return rc < 0 ? rc : rebound_engine(d);
}

/* ---- sinks -------------------------------------------------------------- */

static int prepare_sinks(struct daemon *d)
{
    d->n_sinks = d->cfg->n_sinks;
    d->sinks = calloc(d->n_sinks ? d->n_sinks : 1, sizeof *d->sinks);
    d->outbox_sinks = calloc(d->n_sinks ? d->n_sinks : 1, sizeof *d->outbox_sinks);
    if (!d->sinks || !d->outbox_sinks)
        return PVTAP_ENOMEM;
    const config_setting_t *root = config_root_setting(&d->cfg->lc);
    for (size_t i = 0; i < d->n_sinks; i++) {
        d->sinks[i].sink = &d->cfg->sinks[i];
        d->sinks[i].section = config_setting_get_member(root, d->cfg->sinks[i].ops->name);
        d->sinks[i].backoff_ms = SINK_BACKOFF_FIRST_MS;
        if (d->sinks[i].sink->ops->uses_outbox)
            d->outbox_sinks[d->n_outbox_sinks++] = d->sinks[i].sink->ops->name;
    }
    return 0;
}

static void start_sinks(struct daemon *d, const struct sink_runtime *rt)
{
    int64_t now = time_mono_ms();
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        if (s->state == SINK_RUNNING || now < s->next_start_ms)
            continue;
        if (!s->sink->ops->start) {
            s->state = SINK_RUNNING;
            continue;
        }
        int rc = s->sink->ops->start(s->sink, rt);
        if (rc < 0) {
            snprintf(s->last_error, sizeof s->last_error, "start: %s", pvtap_strerror(rc));
            complain(&s->complaint, time_now_s(), LOGL_WARNING, MOD, "sink %s: cannot start: %s",
                     s->sink->ops->name, pvtap_strerror(rc));
            s->next_start_ms = now + s->backoff_ms;
            s->backoff_ms =
                s->backoff_ms * 2 > SINK_BACKOFF_MAX_MS ? SINK_BACKOFF_MAX_MS : s->backoff_ms * 2;
            continue;
        }
        complain_clear(&s->complaint, MOD, "sink %s started", s->sink->ops->name);
        s->state = SINK_RUNNING;
        d->alerts_published = UINT64_MAX; /* offer it the current alerts */
        s->last_error[0] = '\0';
        if (s->sink->ops->step)
            s->sink->ops->step(s->sink);
    }
}

static void stop_sinks(struct daemon *d)
{
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        if (s->state == SINK_RUNNING && s->sink->ops->stop)
            s->sink->ops->stop(s->sink);
        s->state = SINK_STOPPED;
    }
    free(d->sinks);
    free(d->outbox_sinks);
    d->sinks = NULL;
    d->outbox_sinks = NULL;
    d->n_sinks = d->n_outbox_sinks = 0;
}

void daemon_restart_sinks(struct daemon *d)
{
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        if (s->state != SINK_RUNNING)
            continue;
        if (s->sink->ops->stop)
            s->sink->ops->stop(s->sink);
        s->state = SINK_STOPPED;
        s->next_start_ms = 0;
        s->backoff_ms = SINK_BACKOFF_FIRST_MS;
    }
}

/* 1: every sink delivered all it can; -1: some of it cannot be delivered. */
static int sinks_idle(struct daemon *d, bool report)
{
    int result = 1;
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        char why[256] = "";
        int r;
        if (s->state != SINK_RUNNING)
            r = -1, snprintf(why, sizeof why, "not running (%s)", s->last_error);
        else
            r = s->sink->ops->idle ? s->sink->ops->idle(s->sink, why, sizeof why) : 1;
        if (r == 0)
            return 0;
        if (r < 0) {
            result = -1;
            if (report)
                fprintf(stderr, "pvtap run: %s: undelivered: %s\n", s->sink->ops->name, why);
        }
    }
    return result;
}

/* ---- set-up and the loop ----------------------------------------------- */

void daemon_status_path(const char *runtime_dir, char *out, size_t out_size)
{
    const char *dir = runtime_dir;
    if (!dir)
        dir = getenv("PVTAP_RUNTIME_DIR");
    if (!dir) {
        /* systemd's RuntimeDirectory= may list several: take the first. */
        const char *rd = getenv("RUNTIME_DIRECTORY");
        if (rd && rd[0]) {
            size_t len = strcspn(rd, ":");
            snprintf(out, out_size, "%.*s/status.json", (int)len, rd);
            return;
        }
        dir = "/run/pvtap";
    }
    snprintf(out, out_size, "%s/status.json", dir);
}

static int64_t wall_now(void)
{
    return time_now_s();
}

static int signal_fd_open(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    /* Blocked before any thread starts, so every thread inherits it and
     * only the loop sees the signals, through the fd. */
    if (pthread_sigmask(SIG_BLOCK, &set, old) != 0)
        return -1;
    sigdelset(&set, SIGPIPE);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void send_status_line(struct daemon *d)
{
    size_t up = 0;
    int64_t last = 0;
    pthread_mutex_lock(&d->status_lock);
    for (size_t i = 0; i < d->n_src; i++) {
        if (d->srcs[i]->state == SRC_OPEN)
            up++;
        if (d->srcs[i]->last_reading_s > last)
            last = d->srcs[i]->last_reading_s;
    }
    pthread_mutex_unlock(&d->status_lock);
    char when[32] = "none";
    if (last)
        time_format_iso_utc(last, when, sizeof when);
    char msg[256];
    snprintf(msg, sizeof msg, "STATUS=sources %zu/%zu up, last record %s, %zu readings queued", up,
             d->n_src, when, d->n_pending);
    notify_send(msg);
}

enum loop_end { LOOP_STOP, LOOP_RELOAD, LOOP_IDLE };

static enum loop_end loop(struct daemon *d, int sig_fd, const struct sink_runtime *srt)
{
    int64_t watchdog_ms = notify_watchdog_ms();
    int64_t next_watchdog = 0;
    bool first_pass_done = false;
    for (;;) {
        struct pollfd fds[MAX_POLLFDS];
        struct src_rt *rt_of[MAX_POLLFDS];
        size_t nfds = 0;
        int64_t now = time_mono_ms();
        int64_t due = now + 1000;
        fds[nfds++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        fds[nfds++] = (struct pollfd){.fd = reading_queue_fd(&d->queue), .events = POLLIN};
        size_t src_base = nfds;
        nfds += daemon_sources_pollfds(d, fds + nfds, rt_of, MAX_POLLFDS / 2, &due);
        size_t sink_base = nfds;
        struct sink_rt *sink_of[MAX_POLLFDS];
        for (size_t i = 0; i < d->n_sinks; i++) {
            struct sink_rt *s = &d->sinks[i];
            if (s->state != SINK_RUNNING) {
                if (s->next_start_ms < due)
                    due = s->next_start_ms;
                continue;
            }
            if (!s->sink->ops->pollfds)
                continue;
            int64_t sdue = INT64_MAX;
            size_t k = s->sink->ops->pollfds(s->sink, fds + nfds, MAX_POLLFDS - nfds, &sdue);
            for (size_t j = 0; j < k; j++)
                sink_of[nfds - sink_base + j] = s;
            nfds += k;
            if (sdue < due)
                due = sdue;
        }
        /* A failing store is not retried before its back-off ends. */
        int64_t commit_due = d->first_pending_ms;
        if (commit_due && d->store_retry_ms > commit_due)
            commit_due = d->store_retry_ms;
        if (commit_due && commit_due < due)
            due = commit_due;
        if (watchdog_ms && next_watchdog < due)
            due = next_watchdog;
        if (d->next_status_ms < due)
            due = d->next_status_ms;
        int64_t timeout = due - now;
        if (timeout < 0)
            timeout = 0;
        if (timeout > 1000)
            timeout = 1000;
        /* With --until-idle nothing waits on a clock that has no reason to. */
        if (d->opt->until_idle && first_pass_done && d->first_pending_ms && !d->store_retry_ms)
            timeout = 0;
        int n = poll(fds, nfds, (int)timeout);
        if (n < 0 && errno != EINTR) {
            log_msg(LOGL_ERR, MOD, "poll: %s", strerror(errno));
            return LOOP_STOP;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            bool reloaded = false;
            while (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo != SIGHUP) {
                    log_msg(LOGL_NOTICE, MOD, "signal %u: stopping", si.ssi_signo);
                    return LOOP_STOP;
                }
                notify_send("RELOADING=1");
                /* What was read so far is committed before sources change hands. */
                drain_queue(d);
                flush(d);
                enum reload_result r = daemon_reload(d);
                if (r == RELOAD_RESTART)
                    return LOOP_RELOAD;
                notify_send("READY=1");
                reloaded = true;
            }
            /* The poll set names sources and sinks a reload may have freed. */
            if (reloaded)
                continue;
        }
        for (size_t i = src_base; i < sink_base; i++)
            daemon_source_service(d, rt_of[i - src_base], fds[i].revents != 0);
        /* Timer-driven loop sources and closed ones waiting to re-open. */
        for (size_t i = 0; i < d->n_src; i++) {
            struct src_rt *rt = d->srcs[i];
            if (rt->port_group >= 0)
                continue;
            bool has_fd = false;
            for (size_t j = src_base; j < sink_base; j++)
                if (rt_of[j - src_base] == rt)
                    has_fd = true;
            if (!has_fd)
                daemon_source_service(d, rt, false);
        }
        drain_queue(d);
        if (d->kind_changed)
            rebuild_engine(d);
        for (size_t i = sink_base; i < nfds; i++)
            if (fds[i].revents && sink_of[i - sink_base]->sink->ops->step)
                sink_of[i - sink_base]->sink->ops->step(sink_of[i - sink_base]->sink);
        now = time_mono_ms();
        for (size_t i = 0; i < d->n_sinks; i++) {
            struct sink_rt *s = &d->sinks[i];
            if (s->state == SINK_RUNNING && s->sink->ops->step && s->sink->ops->pollfds) {
                int64_t sdue = INT64_MAX;
                struct pollfd dummy[8];
                s->sink->ops->pollfds(s->sink, dummy, 8, &sdue);
                if (sdue <= now)
                    s->sink->ops->step(s->sink);
            }
        }
        start_sinks(d, srt);
        bool commit_now = (d->first_pending_ms && now >= d->first_pending_ms) ||
                          d->n_pending >= PENDING_FLUSH_NOW ||
                          (d->opt->until_idle && d->first_pending_ms);
        if (commit_now && now >= d->store_retry_ms)
            flush(d);
        if (!d->ready_sent) {
            notify_send("READY=1");
            d->ready_sent = true;
        }
        if (watchdog_ms && now >= next_watchdog) {
            notify_send("WATCHDOG=1");
            next_watchdog = now + watchdog_ms / 2;
        }
        if (now >= d->next_status_ms) {
            /* a store deleted while nothing new arrives is noticed too */
            daemon_store_check_file(d);
            daemon_status_write(d);
            send_status_line(d);
            d->next_status_ms = now + STATUS_EVERY_MS;
        }
        if (d->configs_unused && d->n_pending == 0)
            daemon_configs_release(d, false);
        daemon_check_health(d);
        first_pass_done = true;
        if (d->opt->until_idle && daemon_sources_exhausted(d) && d->n_pending == 0 &&
            d->n_dirty == 0 && sinks_idle(d, false) != 0)
            return LOOP_IDLE;
    }
}

static int open_store(struct daemon *d)
{
    const char *path = d->opt->db_path ? d->opt->db_path : d->cfg->store_path;
    snprintf(d->store_path, sizeof d->store_path, "%s", path);
    return store_open(d->store_path, d->tz, 0, &d->store);
}

/* The engine needs each device's last values as bases: feed it what the
 * store holds (the durable point) for its window, read as the site's kind
 * says; all of it when the stored intervals were computed as another kind. */
static int load_engine(struct daemon *d)
{
    int rc = site_kind_resolve(&d->cfg->env.site, d->store, &d->kind);
    if (rc < 0)
        return rc;
    site_kind_engine_params(&d->kind, &d->ep);
    log_msg(LOGL_INFO, MOD, "consumption meter read as %s (%s), production: %s",
            site_kind_consumption_name(d->kind.consumption_meter), d->kind.origin,
            site_kind_production_name(d->kind.production));
    char have[32], want[32];
    bool found = false;
    rc = store_meta_get(d->store, INTERVALS_KIND_KEY, have, sizeof have, &found);
    if (rc < 0)
        return rc;
    if (!found)
        snprintf(have, sizeof have, "net/inverters");
    kind_text(&d->ep, want, sizeof want);
    engine_free(d->engine);
    d->engine = NULL;
    /* What the store already has is not new: the loads take it out of
     * "changed" (engine_collect). */
    if (strcmp(have, want) == 0) {
        rc = daemon_window_engine(d, &d->engine);
        /* late readings committed by a run that stopped before their
         * intervals were recomputed */
        if (rc == 0)
            rc = store_meta_get(d->store, LATE_KEY, have, sizeof have, &found);
        if (rc == 0 && found && have[0]) {
            d->late_waiting = true;
            d->late_from_s = strtoll(have, NULL, 10);
            if ((rc = flush(d)) < 0)
                log_msg(LOGL_WARNING, MOD, "recomputing late intervals: %s", pvtap_strerror(rc));
            rc = 0;
        }
        return rc;
    }
    rc = daemon_window_engine(d, &d->engine); /* horizon and newest data */
    engine_free(d->engine);
    d->engine = NULL;
    if (rc == 0)
        rc = daemon_engine_since(d, 0, &d->engine);
    if (rc < 0)
        return rc;
    size_t n = 0;
    for (size_t i = 0; i < engine_series_count(d->engine); i++) {
        const struct interval_row *rows;
        size_t k;
        engine_rows(d->engine, engine_series_name(d->engine, i), &rows, &k);
        n += k;
    }
    /* the configuration (or what the supervisor said) changed since the
     * intervals were computed: recompute them all from the records */
    if (n > 0 || found)
        log_msg(LOGL_NOTICE, MOD, "the stored intervals were computed as %s: recomputing as %s",
                have, want);
    /* a store that fails now keeps the rows queued: the loop retries them,
     * and the next start recomputes again */
    if ((rc = rewrite_intervals(d)) < 0)
        log_msg(LOGL_WARNING, MOD, "recomputing the intervals: %s", pvtap_strerror(rc));
    else if ((rc = rebound_engine(d)) < 0)
        return rc;
    return 0;
}

static int run_once(struct daemon *d, sigset_t *old_mask, int sig_fd, enum loop_end *end)
{
    struct pvtap_config *cfg = d->cfg;
    struct engine_params ep;
    engine_params_default(&ep);
    ep.max_power_kW = cfg->env.site.max_power_kW;
    int gap = 0;
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (cfg->sources[i].max_poll_gap_s > gap)
            gap = cfg->sources[i].max_poll_gap_s;
    if (gap > 0)
        ep.max_poll_gap_s = gap;
    d->max_poll_gap_s = ep.max_poll_gap_s;
    d->ep = ep;
    d->flush_ms = d->opt->flush_ms > 0 ? d->opt->flush_ms : FLUSH_DEFAULT_MS;
    int rc = tz_load(cfg->env.site.timezone, &d->tz);
    if (rc < 0) {
        log_msg(LOGL_ERR, MOD, "time zone %s: %s", cfg->env.site.timezone, pvtap_strerror(rc));
        return rc;
    }
    d->engine = engine_new(&ep);
    if (!d->engine || reading_queue_init(&d->queue, 65536) < 0)
        return PVTAP_ENOMEM;
    d->stopping = 0;
    if ((rc = daemon_sources_prepare(d)) < 0 || (rc = prepare_sinks(d)) < 0)
        return rc;
    /* Devices first, as root; then the drop; then the store and the sinks,
     * which never run as root. */
    daemon_sources_open_all(d);
    if (d->opt->drop_privileges && geteuid() == 0 &&
        (rc = privdrop_to_user(cfg->run_user, daemon_sources_need_net_raw(d))) < 0)
        return rc;
    if ((rc = open_store(d)) < 0)
        return rc;
    if ((rc = load_engine(d)) < 0) {
        log_msg(LOGL_ERR, MOD, "cannot load the store's records: %s", pvtap_strerror(rc));
        return rc;
    }
    daemon_status_path(d->opt->runtime_dir, d->status_path, sizeof d->status_path);
    struct sink_runtime srt = {d->store, d->store_path, d->tz, wall_now, d->status_path};
    start_sinks(d, &srt);
    if ((rc = daemon_sources_start_threads(d)) < 0)
        return rc;
    (void)old_mask;
    *end = loop(d, sig_fd, &srt);
    if (*end != LOOP_RELOAD)
        notify_send("STOPPING=1");
    for (size_t i = 0; i < d->n_src; i++)
        if (d->srcs[i]->src->finite && d->srcs[i]->failures > 0) {
            fprintf(stderr, "pvtap run: source %s: %s\n", d->srcs[i]->src->name,
                    d->srcs[i]->last_error);
            d->finite_failures++;
        }
    /* SIGTERM must end within 2 s; a reload may wait for the threads. */
    d->threads_stuck = !daemon_sources_stop(d, *end == LOOP_RELOAD ? -1 : STOP_WAIT_MS);
    drain_queue(d);
    flush(d);
    /* A store lost or unwritable at the stop: one last try, then say what
     * is lost and stop non-zero (systemd restarts the unit). */
    d->recreate_retry_ms = 0;
    daemon_store_check_file(d);
    if (d->store_file_lost || d->n_pending || d->n_dirty) {
        log_msg(LOGL_ERR, MOD,
                "stopping with data not in the store %s: %s%zu readings and %zu intervals "
                "not written are lost",
                d->store_path,
                d->store_file_lost ? "the file was deleted and cannot be re-created, so what "
                                     "it held since is lost with the open copy; "
                                   : "",
                d->n_pending, d->n_dirty);
        daemon_status_write(d);
        return PVTAP_EIO;
    }
    if (*end == LOOP_IDLE) {
        /* Sinks get a last chance to deliver what the final flush added. */
        int64_t until = time_mono_ms() + 30000;
        while (sinks_idle(d, false) == 0 && time_mono_ms() < until) {
            for (size_t i = 0; i < d->n_sinks; i++)
                if (d->sinks[i].state == SINK_RUNNING && d->sinks[i].sink->ops->step)
                    d->sinks[i].sink->ops->step(d->sinks[i].sink);
            usleep(10000);
        }
    }
    daemon_status_write(d);
    return 0;
}

static void teardown(struct daemon *d)
{
    if (d->threads_stuck) {
        /* A thread still uses its sources and the queue: leave them to the
         * process's exit, which follows (a stop, not a reload). */
        stop_sinks(d);
        if (d->store)
            store_close(d->store);
        d->store = NULL;
        return;
    }
    if (d->srcs) {
        daemon_sources_stop(d, -1);
        daemon_sources_free(d);
    }
    stop_sinks(d);
    if (d->store)
        store_close(d->store);
    d->store = NULL;
    engine_free(d->engine);
    d->engine = NULL;
    reading_queue_destroy(&d->queue);
    tz_free(d->tz);
    d->tz = NULL;
    free(d->pending);
    free(d->dirty);
    free(d->devices);
    d->devices = NULL;
    d->n_devices = d->cap_devices = 0;
    d->pending = NULL;
    d->dirty = NULL;
    d->n_pending = d->cap_pending = d->n_dirty = d->cap_dirty = 0;
    d->first_pending_ms = 0;
    d->finite_failures = 0;
}

int daemon_run(struct pvtap_config *cfg, const struct daemon_options *opt)
{
    struct daemon d;
    memset(&d, 0, sizeof d);
    d.opt = opt;
    d.started_s = time_now_s();
    if (opt->drop_privileges && geteuid() == 0) {
        /* First contact: every reason the drop would fail, in one message,
         * before anything is opened. */
        char run_dir[1024], msg[2048];
        daemon_status_path(opt->runtime_dir, run_dir, sizeof run_dir);
        char *slash = strrchr(run_dir, '/');
        if (slash)
            *slash = '\0';
        if (preflight_run_user(cfg->run_user, opt->db_path ? opt->db_path : cfg->store_path,
                               run_dir, opt->config_path, msg, sizeof msg) < 0) {
            log_msg(LOGL_ERR, MOD, "%s", msg);
            return 2;
        }
    }
    pthread_mutex_init(&d.status_lock, NULL);
    pthread_mutex_init(&d.wake_lock, NULL);
    pthread_cond_init(&d.wake, NULL);
    /* A file-size limit (or a full quota) must fail the write, which the
     * store reports and survives, not kill the daemon. */
    signal(SIGXFSZ, SIG_IGN);
    sigset_t old;
    int sig_fd = signal_fd_open(&old);
    if (sig_fd < 0) {
        log_msg(LOGL_ERR, MOD, "signalfd: %s", strerror(errno));
        return 1;
    }
    int status = 0;
    for (;;) {
        d.cfg = cfg;
        enum loop_end end = LOOP_STOP;
        int rc = run_once(&d, &old, sig_fd, &end);
        int undelivered = 0;
        if (rc == 0 && end == LOOP_IDLE) {
            undelivered = sinks_idle(&d, true) < 0 || d.finite_failures > 0;
        }
        bool stuck = d.threads_stuck;
        teardown(&d);
        if (stuck) {
            /* The store is committed and closed, the sinks stopped; a port
             * thread still inside a device call owns its source: exit
             * without freeing what it uses. */
            log_msg(LOGL_NOTICE, MOD, "stopped (a device call was still running)");
            fflush(NULL);
            _exit(rc < 0 ? 1 : 0);
        }
        if (rc < 0) {
            status = 1;
            break;
        }
        if (end != LOOP_RELOAD) {
            status = undelivered ? 1 : 0;
            break;
        }
        /* Everything stopped: start again on the new configuration and
         * free the older ones (nothing points into them any more). */
        cfg = d.restart_cfg;
        d.restart_cfg = NULL;
        d.ready_sent = false; /* systemd waits for READY=1 after RELOADING=1 */
        for (size_t i = 0; i < d.n_configs; i++)
            if (d.configs[i] == cfg) {
                d.configs[i] = d.configs[--d.n_configs];
                break;
            }
        daemon_configs_release(&d, true);
        d.configs[d.n_configs++] = cfg; /* there is room: it was in the list */
        log_msg(LOGL_NOTICE, MOD, "configuration reloaded: every source and sink restarted");
    }
    daemon_configs_release(&d, true);
    free(d.configs);
    log_msg(LOGL_INFO, MOD, "stopped after %lld s; %llu bytes written to storage",
            (long long)(time_now_s() - d.started_s), (unsigned long long)daemon_bytes_written());
    close(sig_fd);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_cond_destroy(&d.wake);
    pthread_mutex_destroy(&d.wake_lock);
    pthread_mutex_destroy(&d.status_lock);
    return status;
}
