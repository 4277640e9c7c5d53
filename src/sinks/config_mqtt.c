/* The mqtt group: validation into struct mqtt_config. */
#include <stdlib.h>
#include <string.h>

#include "sinks/mqtt_sink.h"
#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/url_redact.h"

/* mqtt.series defaults to the series PVOutput uploads, so both report the
 * same numbers; without a pvoutput group (or its source), "sniff". */
static void default_series(const config_setting_t *g, char *out, size_t out_size)
{
    const char *s = NULL;
    const config_setting_t *root = config_root_setting(g->config);
    const config_setting_t *pv = root ? config_setting_get_member(root, "pvoutput") : NULL;
    if (pv && config_setting_is_group(pv) &&
        config_setting_lookup_string(pv, "source", &s) == CONFIG_TRUE && s && s[0])
        snprintf(out, out_size, "%s", s);
    else
        snprintf(out, out_size, "sniff");
}

static int mqtt_create(struct sink *sink, const config_setting_t *g)
{
    static const char *const keys[] = {"host",   "port",     "topic",    "discovery_prefix",
                                       "series", "username", "password", "tls_ca",
                                       NULL};
    struct mqtt_sink_priv *p = calloc(1, sizeof *p);
    if (!p)
        return PVTAP_ENOMEM;
    struct mqtt_config *c = &p->cfg;
    snprintf(c->host, sizeof c->host, "localhost");
    c->port = 1883;
    snprintf(c->topic, sizeof c->topic, "pvtap");
    snprintf(c->discovery_prefix, sizeof c->discovery_prefix, "homeassistant");
    int rc = cfg_check_keys(g, keys);
    rc |= cfg_string(g, "host", false, c->host, sizeof c->host);
    rc |= cfg_int(g, "port", false, 1, 65535, &c->port);
    rc |= cfg_string(g, "topic", false, c->topic, sizeof c->topic);
    rc |= cfg_string(g, "discovery_prefix", false, c->discovery_prefix, sizeof c->discovery_prefix);
    rc |= cfg_string(g, "series", false, c->series, sizeof c->series);
    rc |= cfg_string(g, "username", false, c->username, sizeof c->username);
    rc |= cfg_string(g, "password", false, c->password, sizeof c->password);
    rc |= cfg_string(g, "tls_ca", false, c->tls_ca, sizeof c->tls_ca);
    if (rc == 0 && (!c->topic[0] || strpbrk(c->topic, "+#"))) {
        cfg_error(config_setting_get_member(g, "topic"), NULL,
                  "must be a non-empty topic without the wildcards + and #");
        rc = PVTAP_ECONFIG;
    }
    if (rc == 0 && strpbrk(c->discovery_prefix, "+#")) {
        cfg_error(config_setting_get_member(g, "discovery_prefix"), NULL,
                  "must be a topic without the wildcards + and #");
        rc = PVTAP_ECONFIG;
    }
    if (rc != 0) {
        memset(c->password, 0, sizeof c->password);
        free(p);
        return PVTAP_ECONFIG;
    }
    if (!c->series[0])
        default_series(g, c->series, sizeof c->series);
    sink->priv = p;
    return 0;
}

static void mqtt_dump(const struct sink *sink, FILE *out)
{
    const struct mqtt_sink_priv *p = sink->priv;
    const struct mqtt_config *c = &p->cfg;
    char host[URL_SHOWN_SIZE];
    url_redact(c->host, host, sizeof host);
    fprintf(out,
            "  host = \"%s\";\n  port = %lld;\n  topic = \"%s\";\n  discovery_prefix = \"%s\";\n",
            host, c->port, c->topic, c->discovery_prefix);
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
    struct mqtt_sink_priv *p = sink->priv;
#if PVTAP_HAVE_MOSQUITTO
    if (p && p->conn)
        mqtt_sink_stop(sink);
#endif
    if (p)
        memset(p->cfg.password, 0, sizeof p->cfg.password);
    free(p);
    sink->priv = NULL;
}

#if !PVTAP_HAVE_MOSQUITTO
/* Built without libmosquitto: the group validates (config check works) but
 * the sink cannot run; the daemon reports it as not running. */
static int mqtt_unavailable_start(struct sink *sink, const struct sink_runtime *rt)
{
    (void)sink;
    (void)rt;
    log_msg(LOGL_ERR, "mqtt",
            "this pvtap was built without libmosquitto: the mqtt sink cannot run");
    return PVTAP_EUNSUPPORTED;
}
#endif

const struct sink_ops mqtt_sink_ops = {
    .name = "mqtt",
    .create = mqtt_create,
    .dump = mqtt_dump,
    .destroy = mqtt_destroy,
    /* only when it can run: otherwise entries would pile up for no one */
    .uses_outbox = PVTAP_HAVE_MOSQUITTO,
#if PVTAP_HAVE_MOSQUITTO
    .start = mqtt_sink_start,
    .pollfds = mqtt_sink_pollfds,
    .step = mqtt_sink_step,
    .live = mqtt_sink_live,
    .alerts = mqtt_sink_alerts,
    .idle = mqtt_sink_idle,
    .stop = mqtt_sink_stop,
#else
    .start = mqtt_unavailable_start,
#endif
};
