/* The web server's guard: a deadline for each request's headers, enforced by a watchdog thread,
 * and the rate-limited log of what clients did wrong. */
#ifndef PVTAP_SINKS_HTTP_GUARD_H
#define PVTAP_SINKS_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdarg.h>
#include <stddef.h>

struct http_guard;

/* Room for max_conns connections; a request whose headers are not all in
 * header_ms after the connection opened (or after the previous answer on
 * it) has its socket shut down. *out: free with http_guard_stop(). */
int http_guard_start(unsigned max_conns, unsigned header_ms, struct http_guard **out);
/* Joins the watchdog; after MHD_stop_daemon (no connection left). */
void http_guard_stop(struct http_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, cls = the guard. */
void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe);
/* MHD_OPTION_NOTIFY_COMPLETED's callback, cls = the guard: the answer is
 * out, the next request's clock starts. */
void http_guard_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);
/* The request's headers are all in: its clock stops. */
void http_guard_headers_in(struct MHD_Connection *conn);

/* A warning a client can cause at will: at most LOG_BURST_MAX a minute,
 * then one line with the count (util/log.h). Thread-safe. */
void http_guard_log(struct http_guard *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void http_guard_vlog(struct http_guard *g, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
