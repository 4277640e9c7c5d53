/* The http sink's server: libmicrohttpd in its own thread, answering through web_api.c over a read-only store. */
#include "sinks/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "sinks/web_api.h"
#include "store/store.h"
#include "store/store_devices.h"
#include "util/err.h"
#include "util/log.h"

static const char *const MOD = "http";

enum {
    CONNECTION_LIMIT = 64,
    CONNECTION_TIMEOUT_S = 15,
};

struct http_server {
    struct MHD_Daemon *mhd;
    struct web_api api;
    struct web_live live;
    struct store *st;
    struct store_devices *devs;
    char status_path[1100];
};

/* libmicrohttpd hands its own format strings here. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_msg(LOGL_WARNING, MOD, "%s", msg);
}

static const char *query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static void free_body(void *p)
{
    free(p);
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
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct http_server *s = cls;
    /* Any body (a POST's) is ignored: the answer is 405 before it is read. */
    *upload_data_size = 0;
    struct web_request req = {method, url, query_arg, conn};
    struct web_response w;
    web_handle(&s->api, &req, &w);
    struct MHD_Response *r;
    if (w.owned) {
        r = MHD_create_response_from_buffer_with_free_callback(w.len, (void *)w.body, free_body);
        if (!r)
            web_response_free(&w);
    } else {
        r = MHD_create_response_from_buffer(w.len, (void *)w.body, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    common_headers(r, &w);
    enum MHD_Result ret = MHD_queue_response(conn, w.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void server_free(struct http_server *s)
{
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
    /* the logger first, so libmicrohttpd never prints on its own */
    s->mhd = MHD_start_daemon(flags, c->port, NULL, NULL, on_request, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                              MHD_OPTION_END);
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
