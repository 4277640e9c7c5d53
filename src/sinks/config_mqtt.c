/* The mqtt group: validation into struct mqtt_config. */
#include <stdlib.h>
#include <string.h>

#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/err.h"

static int mqtt_create(struct sink *sink, const config_setting_t *g)
{
    static const char *const keys[] = {"host",     "port",     "topic",  "discovery_prefix",
                                       "series",   "username", "password", "tls_ca", NULL};
    struct mqtt_config *c = calloc(1, sizeof *c);
    if (!c)
        return PVTAP_ENOMEM;
    snprintf(c->host, sizeof c->host, "localhost");
    c->port = 1883;
    snprintf(c->topic, sizeof c->topic, "pvtap");
    snprintf(c->discovery_prefix, sizeof c->discovery_prefix, "homeassistant");
    int rc = cfg_check_keys(g, keys);
    rc |= cfg_string(g, "host", false, c->host, sizeof c->host);
    rc |= cfg_int(g, "port", false, 1, 65535, &c->port);
    rc |= cfg_string(g, "topic", false, c->topic, sizeof c->topic);
    rc |= cfg_string(g, "discovery_prefix", false, c->discovery_prefix,
                     sizeof c->discovery_prefix);
    rc |= cfg_string(g, "series", false, c->series, sizeof c->series);
    rc |= cfg_string(g, "username", false, c->username, sizeof c->username);
    rc |= cfg_string(g, "password", false, c->password, sizeof c->password);
    rc |= cfg_string(g, "tls_ca", false, c->tls_ca, sizeof c->tls_ca);
    if (rc == 0 && (!c->topic[0] || strpbrk(c->topic, "+#"))) {
        cfg_error(config_setting_get_member(g, "topic"), NULL,
                  "must be a non-empty topic without the wildcards + and #");
        rc = PVTAP_ECONFIG;
    }
    if (rc != 0) {
        free(c);
        return PVTAP_ECONFIG;
    }
    sink->priv = c;
    return 0;
}

static void mqtt_dump(const struct sink *sink, FILE *out)
{
    const struct mqtt_config *c = sink->priv;
    fprintf(out, "  host = \"%s\";\n  port = %lld;\n  topic = \"%s\";\n  discovery_prefix = \"%s\";\n",
            c->host, c->port, c->topic, c->discovery_prefix);
    if (c->series[0])
        fprintf(out, "  series = \"%s\";\n", c->series);
    if (c->username[0])
        fprintf(out, "  username = \"%s\";\n", c->username);
    if (c->password[0])
        fputs("  password = \"<redacted>\";\n", out);
    if (c->tls_ca[0])
        fprintf(out, "  tls_ca = \"%s\";\n", c->tls_ca);
}

static void mqtt_destroy(struct sink *sink)
{
    struct mqtt_config *c = sink->priv;
    if (c)
        memset(c->password, 0, sizeof c->password);
    free(c);
    sink->priv = NULL;
}

const struct sink_ops mqtt_sink_ops = {
    .name = "mqtt",
    .create = mqtt_create,
    .dump = mqtt_dump,
    .destroy = mqtt_destroy,
};
