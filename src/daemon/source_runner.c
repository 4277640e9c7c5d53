/* Runs sources for the daemon: opening with back-off, stepping, one thread per serial port. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/daemon_internal.h"
#include "util/err.h"
#include "util/timeutil.h"

static const char *const MOD = "daemon";

enum { BACKOFF_FIRST_MS = 1000, BACKOFF_MAX_MS = 60000 };

/* The sink a source emits into: counts per source, then hands on (to the
 * engine on the loop, or to the queue from a port thread). */
struct rt_sink_ctx {
    struct src_rt *rt;
    struct reading_sink next;
};

static void rt_emit(void *ctx, const struct reading *r)
{
    struct rt_sink_ctx *c = ctx;
    pthread_mutex_lock(c->rt->lock);
    c->rt->readings++;
    if (r->time > c->rt->last_reading_s)
        c->rt->last_reading_s = r->time;
    c->rt->last_seen_s = time_now_s();
    pthread_mutex_unlock(c->rt->lock);
    reading_emit(&c->next, r);
}

static void loop_emit(void *ctx, const struct reading *r)
{
    daemon_take_reading(ctx, r);
}

struct src_rt *daemon_source_rt_new(struct daemon *d, struct source *src,
                                    const config_setting_t *section)
{
    struct src_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->src = src;
    rt->d = d;
    rt->lock = &d->status_lock;
    rt->port_group = -1;
    rt->state = SRC_CLOSED;
    rt->backoff_ms = BACKOFF_FIRST_MS;
    rt->section = section;
    return rt;
}

static void ports_free(struct daemon *d)
{
    for (size_t g = 0; g < d->n_ports; g++)
        free(d->ports[g].members);
    free(d->ports);
    d->ports = NULL;
    d->n_ports = 0;
}

int daemon_ports_build(struct daemon *d)
{
    ports_free(d);
    d->ports = calloc(d->n_src ? d->n_src : 1, sizeof *d->ports);
    if (!d->ports)
        return PVTAP_ENOMEM;
    for (size_t i = 0; i < d->n_src; i++) {
        struct src_rt *rt = d->srcs[i];
        rt->port_group = -1;
        if (!rt->src->ops->blocking)
            continue;
        /* Sources on one port share its thread; a port-less blocking source
         * (Modbus TCP) gets a thread of its own. */
        size_t g = d->n_ports;
        for (size_t k = 0; rt->src->port[0] && k < d->n_ports; k++)
            if (strcmp(d->ports[k].port, rt->src->port) == 0)
                g = k;
        struct port_group *pg = &d->ports[g];
        if (g == d->n_ports) {
            snprintf(pg->port, sizeof pg->port, "%s", rt->src->port);
            pg->members = calloc(d->n_src, sizeof *pg->members);
            if (!pg->members)
                return PVTAP_ENOMEM;
            d->n_ports++;
        }
        pg->members[pg->n++] = rt;
        rt->port_group = (int)g;
    }
    return 0;
}

int daemon_sources_prepare(struct daemon *d)
{
    d->n_src = d->cfg->n_sources;
    d->srcs = calloc(d->n_src ? d->n_src : 1, sizeof *d->srcs);
    if (!d->srcs)
        return PVTAP_ENOMEM;
    const config_setting_t *list = config_lookup(&d->cfg->lc, "sources");
    for (size_t i = 0; i < d->n_src; i++) {
        const config_setting_t *sec = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        d->srcs[i] = daemon_source_rt_new(d, &d->cfg->sources[i], sec);
        if (!d->srcs[i])
            return PVTAP_ENOMEM;
    }
    return daemon_ports_build(d);
}

static void note_failure(struct src_rt *rt, const char *what, int err)
{
    int64_t now_ms = time_mono_ms();
    pthread_mutex_lock(rt->lock);
    rt->failures++;
    snprintf(rt->last_error, sizeof rt->last_error, "%s: %s", what, pvtap_strerror(err));
    pthread_mutex_unlock(rt->lock);
    complain(&rt->complaint, time_now_s(), LOGL_WARNING, MOD, "source %s (%s): %s failed: %s",
             rt->src->name, rt->src->ops->name, what, pvtap_strerror(err));
    rt->next_open_ms = now_ms + rt->backoff_ms;
    rt->backoff_ms = rt->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : rt->backoff_ms * 2;
}

static void try_open(struct src_rt *rt)
{
    int rc = rt->src->ops->open(rt->src);
    if (rc < 0) {
        note_failure(rt, "open", rc);
        if (rt->src->finite) {
            /* A file that cannot be read will not become readable by
             * waiting: it is done, and counted as a failure. */
            pthread_mutex_lock(rt->lock);
            rt->state = SRC_EXHAUSTED;
            pthread_mutex_unlock(rt->lock);
        }
        return;
    }
    pthread_mutex_lock(rt->lock);
    rt->state = SRC_OPEN;
    rt->opened_s = time_now_s();
    rt->last_error[0] = '\0';
    pthread_mutex_unlock(rt->lock);
    rt->next_due_ms = 0;
    /* Open is not yet working: the complaint clears on the first good step. */
    if (!rt->complaint.failing)
        log_msg(LOGL_INFO, MOD, "source %s (%s) open, series %s", rt->src->name, rt->src->ops->name,
                rt->src->series);
}

/* One step; on failure close and schedule a re-open with back-off. */
static void do_step(struct src_rt *rt, const struct reading_sink *sink)
{
    int rc = rt->src->ops->step(rt->src, sink);
    if (rc == PVTAP_ENOTFOUND) {
        log_msg(LOGL_INFO, MOD, "source %s: input exhausted", rt->src->name);
        rt->src->ops->close(rt->src);
        pthread_mutex_lock(rt->lock);
        rt->state = SRC_EXHAUSTED;
        pthread_mutex_unlock(rt->lock);
        return;
    }
    if (rc < 0 && rc != PVTAP_EAGAIN) {
        rt->src->ops->close(rt->src);
        pthread_mutex_lock(rt->lock);
        rt->state = SRC_CLOSED;
        pthread_mutex_unlock(rt->lock);
        note_failure(rt, "read", rc);
        return;
    }
    if (rc >= 0) {
        rt->backoff_ms = BACKOFF_FIRST_MS;
        complain_clear(&rt->complaint, MOD, "source %s (%s) works again", rt->src->name,
                       rt->src->ops->name);
    }
    int64_t due = INT64_MAX;
    rt->src->ops->fd(rt->src, &due);
    rt->next_due_ms = due;
}

void daemon_sources_open_all(struct daemon *d)
{
    for (size_t i = 0; i < d->n_src; i++)
        try_open(d->srcs[i]);
}

bool daemon_sources_need_net_raw(const struct daemon *d)
{
    for (size_t i = 0; i < d->n_src; i++)
        if (d->srcs[i]->src->needs_net_raw)
            return true;
    return false;
}

static void *port_thread(void *arg)
{
    struct port_group *pg = arg;
    struct daemon *d = pg->members[0]->d;
    struct reading_sink qsink = reading_queue_sink(&d->queue);
    struct rt_sink_ctx *ctx = calloc(pg->n, sizeof *ctx);
    if (!ctx) {
        log_msg(LOGL_ERR, MOD, "port %s: out of memory", pg->port);
        return NULL;
    }
    for (size_t i = 0; i < pg->n; i++) {
        ctx[i].rt = pg->members[i];
        ctx[i].next = qsink;
    }
    while (!d->stopping) {
        int64_t now = time_mono_ms();
        int64_t next = now + 1000;
        /* Members take turns: the bus carries one transaction at a time. */
        for (size_t i = 0; i < pg->n && !d->stopping; i++) {
            struct src_rt *rt = pg->members[i];
            struct reading_sink s = {rt_emit, &ctx[i]};
            if (rt->state == SRC_CLOSED && now >= rt->next_open_ms)
                try_open(rt);
            if (rt->state == SRC_OPEN && time_mono_ms() >= rt->next_due_ms)
                do_step(rt, &s);
            int64_t want = rt->state == SRC_OPEN     ? rt->next_due_ms
                           : rt->state == SRC_CLOSED ? rt->next_open_ms
                                                     : INT64_MAX;
            if (want < next)
                next = want;
        }
        pthread_mutex_lock(&d->wake_lock);
        int64_t wait_ms = next - time_mono_ms();
        if (wait_ms > 0 && !d->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&d->wake, &d->wake_lock, &ts);
        }
        pthread_mutex_unlock(&d->wake_lock);
    }
    for (size_t i = 0; i < pg->n; i++)
        if (pg->members[i]->state == SRC_OPEN)
            pg->members[i]->src->ops->close(pg->members[i]->src);
    free(ctx);
    return NULL;
}

int daemon_sources_start_threads(struct daemon *d)
{
    for (size_t g = 0; g < d->n_ports; g++) {
        int rc = pthread_create(&d->ports[g].thread, NULL, port_thread, &d->ports[g]);
        if (rc != 0) {
            log_msg(LOGL_ERR, MOD, "cannot start the thread for %s: %s", d->ports[g].port,
                    strerror(rc));
            return PVTAP_EIO;
        }
        d->ports[g].started = true;
    }
    return 0;
}

bool daemon_sources_stop(struct daemon *d, int64_t wait_ms)
{
    d->stopping = 1;
    pthread_mutex_lock(&d->wake_lock);
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->wake_lock);
    bool all = true;
    for (size_t g = 0; g < d->n_ports; g++) {
        if (!d->ports[g].started)
            continue;
        if (wait_ms < 0) {
            pthread_join(d->ports[g].thread, NULL);
        } else {
            /* A device transaction in flight (an HTTP request to a slow
             * supervisor, a 1200-baud SMA answer) may outlast the stop
             * deadline: then the thread is left to the process's exit. */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_timedjoin_np(d->ports[g].thread, NULL, &ts) != 0) {
                log_msg(LOGL_WARNING, MOD, "port %s: a transaction is still running at stop",
                        d->ports[g].port[0] ? d->ports[g].port : "(network)");
                all = false;
                continue;
            }
        }
        d->ports[g].started = false;
    }
    if (!all)
        return false;
    for (size_t i = 0; i < d->n_src; i++) {
        struct src_rt *rt = d->srcs[i];
        if (rt->port_group < 0 && rt->state == SRC_OPEN)
            rt->src->ops->close(rt->src);
        if (rt->state == SRC_OPEN)
            rt->state = SRC_CLOSED;
    }
    return true;
}

void daemon_sources_free(struct daemon *d)
{
    ports_free(d);
    for (size_t i = 0; d->srcs && i < d->n_src; i++)
        free(d->srcs[i]);
    free(d->srcs);
    d->srcs = NULL;
    d->n_src = 0;
}

void daemon_ports_stop(struct daemon *d)
{
    d->stopping = 1;
    pthread_mutex_lock(&d->wake_lock);
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->wake_lock);
    for (size_t g = 0; g < d->n_ports; g++) {
        if (!d->ports[g].started)
            continue;
        pthread_join(d->ports[g].thread, NULL);
        d->ports[g].started = false;
        /* The thread closed its open members on the way out. */
        for (size_t i = 0; i < d->ports[g].n; i++) {
            struct src_rt *rt = d->ports[g].members[i];
            pthread_mutex_lock(rt->lock);
            if (rt->state == SRC_OPEN)
                rt->state = SRC_CLOSED;
            pthread_mutex_unlock(rt->lock);
            rt->next_open_ms = 0;
        }
    }
    d->stopping = 0;
}

size_t daemon_sources_pollfds(struct daemon *d, struct pollfd *fds, struct src_rt **rt_of,
                              size_t max, int64_t *next_due_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_src; i++) {
        struct src_rt *rt = d->srcs[i];
        if (rt->port_group >= 0)
            continue;
        if (rt->state == SRC_CLOSED) {
            if (rt->next_open_ms < *next_due_ms)
                *next_due_ms = rt->next_open_ms;
            continue;
        }
        if (rt->state != SRC_OPEN)
            continue;
        int64_t due = INT64_MAX;
        int fd = rt->src->ops->fd(rt->src, &due);
        rt->next_due_ms = due;
        if (due < *next_due_ms)
            *next_due_ms = due;
        if (fd >= 0 && n < max) {
            fds[n].fd = fd;
            fds[n].events = POLLIN;
            fds[n].revents = 0;
            rt_of[n] = rt;
            n++;
        }
    }
    return n;
}

void daemon_source_service(struct daemon *d, struct src_rt *rt, bool readable)
{
    int64_t now = time_mono_ms();
    if (rt->state == SRC_CLOSED) {
        if (now >= rt->next_open_ms)
            try_open(rt);
        return;
    }
    if (rt->state != SRC_OPEN || (!readable && now < rt->next_due_ms))
        return;
    struct rt_sink_ctx ctx = {rt, {loop_emit, d}};
    struct reading_sink s = {rt_emit, &ctx};
    do_step(rt, &s);
}

bool daemon_sources_exhausted(struct daemon *d)
{
    bool done = true;
    pthread_mutex_lock(&d->status_lock);
    for (size_t i = 0; i < d->n_src; i++)
        if (d->srcs[i]->src->finite && d->srcs[i]->state != SRC_EXHAUSTED)
            done = false;
    pthread_mutex_unlock(&d->status_lock);
    return done;
}
