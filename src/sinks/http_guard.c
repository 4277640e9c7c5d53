/* The web server's guard: per-request header deadlines (a watchdog thread shuts slow sockets
 * down) and the rate-limited log of bad requests. */
#include "sinks/http_guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *const MOD = "http";

/* When half the connections are taken, a request gets only BUSY_HEADER_MS
 * for its headers (and an idle keep-alive as long): slow clients from many
 * addresses then cycle through in a second instead of holding every slot
 * for the whole header_timeout, so others still get in. */
enum { WATCH_TICK_MS = 250, BUSY_HEADER_MS = 1000 };

/* One open connection: its socket and when its current request began. */
struct guard_slot {
    struct http_guard *g;
    bool used;
    bool waiting; /* the current request's headers are not all in yet */
    int fd;
    int64_t since_ms;
};

struct http_guard {
    pthread_mutex_t lock; /* slots, stopping, burst */
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    unsigned header_ms;
    size_t n;
    struct guard_slot *slots;
    struct log_burst burst;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_guard_vlog(struct http_guard *g, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    pthread_mutex_lock(&g->lock);
    log_burst(&g->burst, time_now_s(), LOGL_WARNING, MOD, "%s", msg);
    pthread_mutex_unlock(&g->lock);
}

void http_guard_log(struct http_guard *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    http_guard_vlog(g, fmt, ap);
    va_end(ap);
}

/* Every tick: shut down the sockets past their header deadline (libmicrohttpd
 * then sees the end of the stream and closes the connection on its own
 * thread), and say how many bad requests the log left out. A slot is freed
 * under the lock before libmicrohttpd closes its socket, so the fd shut
 * down here is always still that connection's. */
static void *watch(void *arg)
{
    struct http_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCH_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        int64_t now = mono_ms();
        unsigned expired = 0;
        size_t used = 0;
        for (size_t i = 0; i < g->n; i++)
            used += g->slots[i].used;
        int64_t deadline_ms = g->header_ms;
        if (used * 2 >= g->n && deadline_ms > BUSY_HEADER_MS)
            deadline_ms = BUSY_HEADER_MS;
        for (size_t i = 0; i < g->n; i++) {
            struct guard_slot *s = &g->slots[i];
            if (s->used && s->waiting && now - s->since_ms > deadline_ms) {
                shutdown(s->fd, SHUT_RDWR);
                s->waiting = false;
                expired++;
            }
        }
        if (expired)
            log_burst(&g->burst, time_now_s(), LOGL_WARNING, MOD,
                      "closed %u connection(s) whose request headers took over %lld ms", expired,
                      (long long)deadline_ms);
        log_burst_flush(&g->burst, time_now_s(), LOGL_WARNING, MOD);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int http_guard_start(unsigned max_conns, unsigned header_ms, struct http_guard **out)
{
    *out = NULL;
    struct http_guard *g = calloc(1, sizeof *g);
    if (!g)
        return PVTAP_ENOMEM;
    g->slots = calloc(max_conns, sizeof *g->slots);
    g->n = max_conns;
    g->header_ms = header_ms;
    if (!g->slots || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g->slots);
        free(g);
        return PVTAP_ENOMEM;
    }
    if (pthread_cond_init(&g->wake, NULL) != 0) {
        pthread_mutex_destroy(&g->lock);
        free(g->slots);
        free(g);
        return PVTAP_ENOMEM;
    }
    if (pthread_create(&g->thread, NULL, watch, g) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g->slots);
        free(g);
        return PVTAP_ENOMEM;
    }
    *out = g;
    return 0;
}

void http_guard_stop(struct http_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g->slots);
    free(g);
}

static struct guard_slot *slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Start (waiting) or stop the clock of the connection's current request. */
static void set_waiting(struct MHD_Connection *conn, bool waiting)
{
    struct guard_slot *s = slot_of(conn);
    if (!s)
        return;
    pthread_mutex_lock(&s->g->lock);
    s->waiting = waiting;
    s->since_ms = mono_ms();
    pthread_mutex_unlock(&s->g->lock);
}

void http_guard_headers_in(struct MHD_Connection *conn)
{
    set_waiting(conn, false);
}

void http_guard_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con_cls;
    (void)toe;
    set_waiting(conn, true);
}

void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    struct http_guard *g = cls;
    pthread_mutex_lock(&g->lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        for (size_t i = 0; ci && i < g->n; i++)
            if (!g->slots[i].used) {
                g->slots[i] = (struct guard_slot){g, true, true, ci->connect_fd, mono_ms()};
                *socket_context = &g->slots[i];
                break;
            }
    } else if (*socket_context) {
        struct guard_slot *s = *socket_context;
        s->used = false;
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&g->lock);
}
