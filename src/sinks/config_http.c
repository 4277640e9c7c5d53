/* The http group: validation of the listen address into struct http_config. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/err.h"

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
    static const char *const keys[] = {"listen", NULL};
    struct http_config *c = calloc(1, sizeof *c);
    if (!c)
        return PVTAP_ENOMEM;
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    int rc = cfg_check_keys(g, keys);
    rc |= cfg_string(g, "listen", false, c->listen, sizeof c->listen);
    if (rc == 0 && http_listen_parse(c->listen, c->host, sizeof c->host, &c->port) < 0) {
        cfg_error(config_setting_get_member(g, "listen"), NULL,
                  "\"%s\" is not ADDRESS:PORT (e.g. \"127.0.0.1:8080\", \"[::1]:8080\", "
                  "\"0.0.0.0:8080\")",
                  c->listen);
        rc = PVTAP_ECONFIG;
    }
    if (rc != 0) {
        free(c);
        return PVTAP_ECONFIG;
    }
    sink->priv = c;
    return 0;
}

static void http_dump(const struct sink *sink, FILE *out)
{
    const struct http_config *c = sink->priv;
    fprintf(out, "  listen = \"%s\";\n", c->listen);
}

static void http_destroy(struct sink *sink)
{
    free(sink->priv);
    sink->priv = NULL;
}

const struct sink_ops http_sink_ops = {
    .name = "http",
    .create = http_create,
    .dump = http_dump,
    .destroy = http_destroy,
};
