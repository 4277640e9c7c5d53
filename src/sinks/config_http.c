/* The http sink: its config group (the listen address) and its run-time hooks around the web
 * server. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/url_redact.h"

#include "pvtap_build.h"
#if PVTAP_HAVE_MICROHTTPD
#include "sinks/http_server.h"
#endif

/* sink->priv: the settings, then the server while it runs. The settings
 * come first so the config dump can read them as a struct http_config. */
struct http_sink {
    struct http_config c;
    struct http_server *srv;
};

int http_listen_parse(const char *text, char *host, size_t host_size, uint16_t *port)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return PVTAP_EINVAL;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || strchr(text, ':') != colon)
            return PVTAP_EINVAL;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= host_size)
        return PVTAP_EINVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
        return PVTAP_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p < 1 || p > 65535)
        return PVTAP_EINVAL;
    *port = (uint16_t)p;
    return 0;
}

static int http_create(struct sink *sink, const config_setting_t *g)
{
    static const char *const keys[] = {"listen", "header_timeout", NULL};
    struct http_sink *hs = calloc(1, sizeof *hs);
    if (!hs)
        return PVTAP_ENOMEM;
    struct http_config *c = &hs->c;
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    int rc = cfg_check_keys(g, keys);
    rc |= cfg_string(g, "listen", false, c->listen, sizeof c->listen);
    long long ht = HTTP_HEADER_TIMEOUT_S;
    rc |= cfg_int(g, "header_timeout", false, 1, 300, &ht);
    c->header_timeout_s = (unsigned)ht;
    if (rc == 0 && http_listen_parse(c->listen, c->host, sizeof c->host, &c->port) < 0) {
        char shown[URL_SHOWN_SIZE];
        url_redact(c->listen, shown, sizeof shown);
        cfg_error(config_setting_get_member(g, "listen"), NULL,
                  "\"%s\" is not ADDRESS:PORT (e.g. \"127.0.0.1:8080\", \"[::1]:8080\", "
                  "\"0.0.0.0:8080\")",
                  shown);
        rc = PVTAP_ECONFIG;
    }
    if (rc != 0) {
        free(hs);
        return PVTAP_ECONFIG;
    }
    sink->priv = hs;
    return 0;
}

static void http_dump(const struct sink *sink, FILE *out)
{
    const struct http_config *c = &((const struct http_sink *)sink->priv)->c;
    char shown[URL_SHOWN_SIZE];
    url_redact(c->listen, shown, sizeof shown);
    fprintf(out, "  listen = \"%s\";\n  header_timeout = %u;\n", shown, c->header_timeout_s);
}

#if PVTAP_HAVE_MICROHTTPD
static int http_start(struct sink *sink, const struct sink_runtime *rt)
{
    struct http_sink *hs = sink->priv;
    if (hs->srv)
        return 0;
    return http_server_start(&hs->c, rt, sink->env ? sink->env->site.name : "", &hs->srv);
}

static void http_live(struct sink *sink, const struct reading *r)
{
    struct http_sink *hs = sink->priv;
    if (hs->srv)
        http_server_live(hs->srv, r);
}

static void http_stop(struct sink *sink)
{
    struct http_sink *hs = sink->priv;
    http_server_stop(hs->srv);
    hs->srv = NULL;
}
#else
static int http_start(struct sink *sink, const struct sink_runtime *rt)
{
    (void)sink;
    (void)rt;
    log_msg(LOGL_ERR, "http", "this pvtap was built without libmicrohttpd: no web page");
    return PVTAP_EUNSUPPORTED;
}
#endif

static void http_destroy(struct sink *sink)
{
#if PVTAP_HAVE_MICROHTTPD
    http_stop(sink);
#endif
    free(sink->priv);
    sink->priv = NULL;
}

const struct sink_ops http_sink_ops = {
    .name = "http",
    .create = http_create,
    .dump = http_dump,
    .destroy = http_destroy,
    .start = http_start,
#if PVTAP_HAVE_MICROHTTPD
    .live = http_live,
    .stop = http_stop,
#endif
};
