/* The http sink's server: libmicrohttpd in its own thread, answering through web_api.c over a
 * read-only store. */
#include "sinks/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sinks/http_guard.h"
#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "sinks/web_api.h"
#include "sinks/web_stream.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "util/err.h"
#include "util/log.h"

static const char *const MOD = "http";

/* 128 connections, at most 8 from one address (a browser opens about 6):
 * one client cannot take them all, and past half of them the header
 * deadline shortens (http_guard.c) so many slow ones cannot either. A request is refused before its
 * arguments are parsed when its URI is longer than URI_MAX or has more than ARGS_MAX arguments (the
 * page sends 5): libmicrohttpd keeps every argument in the connection's memory pool and, once that
 * is full, cannot even answer. */
enum {
    CONNECTION_LIMIT = 128,
    PER_ADDRESS_LIMIT = 8,
    CONNECTION_TIMEOUT_S = 15,
    CONNECTION_MEMORY = 64 * 1024,
    URI_MAX = 2048,
    ARGS_MAX = 32,
    /* A request's header lines (cookies included) may total this much; past
     * it 431 goes out on the socket directly: headers that nearly fill the
     * connection's memory leave libmicrohttpd none to build an answer in,
     * and it would drop the connection unanswered. */
    HEADERS_MAX = 16 * 1024,
};

/* Answers built whole (all but /api/intervals, which streams) stay in
 * memory until the client has read them: their total is capped, beyond it
 * a request answers 503 with Retry-After. One answer is built at a time
 * (one server thread), so the server's memory for answers stays under
 * this, the streams' pieces and one answer being built. */
#define BODY_BUDGET ((size_t)32 * 1024 * 1024)
enum { STREAM_BLOCK = 32 * 1024 };

struct http_server {
    struct MHD_Daemon *mhd;
    struct http_guard *guard;
    struct web_api api;
    struct web_live live;
    struct store *st;
    struct store_devices *devs;
    char status_path[1100];
    atomic_size_t body_bytes; /* held by queued whole answers */
};

/* libmicrohttpd hands its own format strings here. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Nearly all of what it says is about one client's bad request: rate-limited. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    http_guard_log(cls, "%s", msg);
}

/* The answer to a request refused before libmicrohttpd parsed it: written
 * on the socket directly, then the socket is shut down (libmicrohttpd then
 * drops the connection). It is short and the first bytes the connection
 * sends, so the socket buffer always takes it whole. */
static void answer_raw(struct MHD_Connection *conn, unsigned status, const char *reason,
                       const char *msg)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    char body[160], head[512];
    int bn = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg);
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                      "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                      status, reason, bn, body);
    if (hn > 0 && (size_t)hn < sizeof head) {
        ssize_t w = send(ci->connect_fd, head, (size_t)hn, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    shutdown(ci->connect_fd, SHUT_RDWR);
}

/* What on_uri returns for a refused request: libmicrohttpd hands it to
 * on_request as *con_cls, which then drops the request unanswered (the
 * answer is out already). */
static char refused;

/* Called with the raw request line's URI before libmicrohttpd splits its
 * arguments: a URI too long or with too many arguments is refused here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    size_t len = strlen(uri);
    const char *q = strchr(uri, '?');
    size_t args = 0;
    if (q)
        for (const char *p = q; *p; p++)
            args += *p == '&' || *p == '?' || *p == ';';
    if (len > URI_MAX) {
        http_guard_log(s->guard, "refused a request: URI of %zu bytes (at most %d)", len,
                       (int)URI_MAX);
        answer_raw(conn, 414, "URI Too Long", "the URI is too long");
        return &refused;
    }
    if (args > ARGS_MAX) {
        http_guard_log(s->guard, "refused a request: %zu query arguments (at most %d)", args,
                       (int)ARGS_MAX);
        answer_raw(conn, 400, "Bad Request", "too many query arguments");
        return &refused;
    }
    /* The path is decoded into a C string: "%00" would cut it silently
     * ("/api/status%00.html" would be /api/status). Control bytes have no
     * place in a URI either. */
    size_t path_len = q ? (size_t)(q - uri) : len;
    for (size_t i = 0; i < path_len; i++) {
        unsigned c = (unsigned char)uri[i];
        bool encoded = c == '%' && i + 2 < path_len && isxdigit((unsigned char)uri[i + 1]) &&
                       isxdigit((unsigned char)uri[i + 2]);
        if (encoded) {
            char hex[3] = {uri[i + 1], uri[i + 2], '\0'};
            c = (unsigned)strtoul(hex, NULL, 16);
        }
        if (c < 0x20 || c == 0x7f) {
            http_guard_log(s->guard, "refused a request: %s in the path",
                           c == 0 ? "a NUL byte" : "a control byte");
            answer_raw(conn, 400, "Bad Request", "the path holds a NUL or control byte");
            return &refused;
        }
    }
    return NULL;
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)key;
    (void)value;
    *(size_t *)cls += key_size + value_size + 4; /* ": " and CRLF */
    return MHD_YES;
}

/* A query argument whose decoded key or value holds a NUL byte ("%00"):
 * as C strings they would be cut there silently. */
static enum MHD_Result find_nul(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    bool *nul = cls;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        *nul = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static const char *query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* A whole answer handed to libmicrohttpd: freed, and taken off the budget,
 * once sent (or the connection dropped). */
struct held_body {
    struct http_server *s;
    char *body;
    size_t len;
};

static ssize_t read_held(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct held_body *h = cls;
    if (pos >= h->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = h->len - (size_t)pos < max ? h->len - (size_t)pos : max;
    memcpy(buf, h->body + pos, n);
    return (ssize_t)n;
}

static void free_held(void *cls)
{
    struct held_body *h = cls;
    atomic_fetch_sub(&h->s->body_bytes, h->len);
    free(h->body);
    free(h);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    ssize_t n = web_stream_read(cls, buf, max);
    if (n > 0)
        return n;
    /* a store error mid-way: the client sees the answer cut off */
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void free_stream(void *cls)
{
    web_stream_free(cls);
}

/* The libmicrohttpd response for w (which it then owns); NULL when out of
 * memory. A whole answer over the budget becomes a 503 (w changes). */
static struct MHD_Response *make_response(struct http_server *s, struct web_response *w)
{
    if (w->stream) {
        struct MHD_Response *r = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, STREAM_BLOCK, read_stream, w->stream, free_stream);
        if (r)
            w->stream = NULL;
        return r;
    }
    if (!w->owned)
        return MHD_create_response_from_buffer(w->len, (void *)w->body, MHD_RESPMEM_PERSISTENT);
    if (atomic_load(&s->body_bytes) + w->len > BODY_BUDGET) {
        http_guard_log(s->guard, "busy: %zu bytes of answers wait for their clients",
                       atomic_load(&s->body_bytes));
        web_response_free(w);
        web_busy(w);
    }
    struct held_body *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    *h = (struct held_body){s, (char *)w->body, w->len};
    struct MHD_Response *r =
        MHD_create_response_from_callback(w->len, STREAM_BLOCK, read_held, h, free_held);
    if (!r) {
        free(h);
        return NULL;
    }
    atomic_fetch_add(&s->body_bytes, w->len);
    w->owned = false; /* h has it */
    w->body = NULL;
    return r;
}

/* Headers every answer carries: nothing may frame, sniff or leak the page. */
static void common_headers(struct MHD_Response *r, const struct web_response *w)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, w->content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, w->cache_control);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (strncmp(w->content_type, "text/html", 9) == 0)
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if (w->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, w->allow);
    if (w->retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%u", w->retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct http_server *s = cls;
    http_guard_headers_in(conn);
    if (*con_cls == &refused)
        return MHD_NO;
    size_t header_bytes = 0;
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND | MHD_COOKIE_KIND, add_header_size,
                                &header_bytes);
    if (header_bytes > HEADERS_MAX) {
        http_guard_log(s->guard, "refused a request: %zu bytes of headers (at most %d)",
                       header_bytes, (int)HEADERS_MAX);
        answer_raw(conn, 431, "Request Header Fields Too Large", "the headers are too large");
        return MHD_NO;
    }
    /* Any body (a POST's) is ignored: the answer is 405 before it is read. */
    *upload_data_size = 0;
    struct web_request req = {method, url, query_arg, conn};
    struct web_response w;
    bool nul = false;
    MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, find_nul, &nul);
    if (nul) {
        http_guard_log(s->guard, "refused a request: a query argument holds a NUL byte");
        web_bad_request(&w, "a query argument holds a NUL byte (%00)");
    } else {
        web_handle(&s->api, &req, &w);
    }
    struct MHD_Response *r = make_response(s, &w);
    if (!r) {
        web_response_free(&w);
        return MHD_NO;
    }
    common_headers(r, &w);
    enum MHD_Result ret = MHD_queue_response(conn, w.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void server_free(struct http_server *s)
{
    http_guard_stop(s->guard);
    store_devices_close(s->devs);
    store_close(s->st);
    web_live_destroy(&s->live);
    free(s);
}

int http_server_start(const struct http_config *c, const struct sink_runtime *rt,
                      const char *site_name, struct http_server **out)
{
    *out = NULL;
    struct http_server *s = calloc(1, sizeof *s);
    if (!s)
        return PVTAP_ENOMEM;
    if (web_live_init(&s->live) < 0) {
        free(s);
        return PVTAP_ENOMEM;
    }
    unsigned header_s = c->header_timeout_s ? c->header_timeout_s : HTTP_HEADER_TIMEOUT_S;
    if (http_guard_start(CONNECTION_LIMIT, header_s * 1000u, &s->guard) < 0) {
        server_free(s);
        return PVTAP_ENOMEM;
    }
    /* A connection of the server thread's own: WAL lets it read beside the
     * daemon's writer without blocking it. */
    int rc = store_open(rt->store_path, rt->tz, STORE_RDONLY, &s->st);
    if (rc == 0)
        rc = store_devices_open(rt->store_path, &s->devs);
    if (rc < 0) {
        server_free(s);
        return rc;
    }
    snprintf(s->status_path, sizeof s->status_path, "%s", rt->status_path ? rt->status_path : "");
    s->api = (struct web_api){
        .st = s->st,
        .devs = s->devs,
        .tz = rt->tz,
        .now_s = rt->now_s,
        .status_path = s->status_path,
        .store_path = rt->store_path,
        .site_name = site_name,
        .live = &s->live,
    };

    /* Bind exactly the configured address, never a wildcard it did not name. */
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, c->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(c->port);
    } else if (inet_pton(AF_INET6, c->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(c->port);
        flags |= MHD_USE_IPv6;
    } else {
        server_free(s);
        return PVTAP_EINVAL;
    }
    /* the logger first, so libmicrohttpd never prints on its own; one
     * option and its values a line */
    /* clang-format off */
    s->mhd = MHD_start_daemon(flags, c->port, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s->guard,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS_LIMIT,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                              MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify, s->guard,
                              MHD_OPTION_NOTIFY_COMPLETED, http_guard_completed, s->guard,
                              MHD_OPTION_END);
    /* clang-format on */
    if (!s->mhd) {
        log_msg(LOGL_ERR, MOD, "cannot listen on %s: %s", c->listen,
                errno ? strerror(errno) : "libmicrohttpd refused");
        server_free(s);
        return PVTAP_EIO;
    }
    log_msg(LOGL_INFO, MOD, "serving http://%s/", c->listen);
    *out = s;
    return 0;
}

void http_server_live(struct http_server *s, const struct reading *r)
{
    web_live_add(&s->live, r);
}

void http_server_stop(struct http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->mhd);
    server_free(s);
}
