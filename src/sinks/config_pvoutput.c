/* The pvoutput group: validation into struct pvoutput_config (the uploader uses it). */
#include <stdlib.h>
#include <string.h>

#include "pvtap_build.h"
#include "sinks/pvo_sink.h"
#include "sinks/sink.h"
#include "sinks/sink_config.h"
#include "util/err.h"
#include "util/url_redact.h"

const struct pvoutput_config *pvoutput_config_of(const struct sink *sink)
{
    const struct pvo_priv *p = sink->priv;
    return p ? &p->cfg : NULL;
}

static int pvoutput_create(struct sink *sink, const config_setting_t *g)
{
    static const char *const keys[] = {"api_key",    "system_id",   "source",      "url",
                                       "donation",   "retry_min_s", "retry_max_s", "ca_file",
                                       "cumulative", "timeout_s",   NULL};
    struct pvo_priv *priv = calloc(1, sizeof *priv);
    if (!priv)
        return PVTAP_ENOMEM;
    struct pvoutput_config *c = &priv->cfg;
    snprintf(c->series, sizeof c->series, "sniff");
    snprintf(c->url, sizeof c->url, "https://pvoutput.org/service/r2/");
    c->retry_min_s = 2;
    c->retry_max_s = 300;
    c->timeout_s = 30;
    int rc = cfg_check_keys(g, keys);
    rc |= cfg_string(g, "api_key", true, c->api_key, sizeof c->api_key);
    rc |= cfg_int(g, "system_id", true, 1, 100000000, &c->system_id);
    rc |= cfg_string(g, "source", false, c->series, sizeof c->series);
    rc |= cfg_string(g, "url", false, c->url, sizeof c->url);
    rc |= cfg_bool(g, "donation", false, &c->donation);
    rc |= cfg_int(g, "retry_min_s", false, 1, 86400, &c->retry_min_s);
    rc |= cfg_int(g, "retry_max_s", false, 1, 86400, &c->retry_max_s);
    rc |= cfg_string(g, "ca_file", false, c->ca_file, sizeof c->ca_file);
    rc |= cfg_bool(g, "cumulative", false, &c->cumulative);
    rc |= cfg_int(g, "timeout_s", false, 1, 600, &c->timeout_s);
    if (rc == 0 && strncmp(c->url, "https://", 8) != 0 && strncmp(c->url, "http://", 7) != 0) {
        cfg_error(config_setting_get_member(g, "url"), NULL,
                  "must start with https:// (or http:// for a local test server)");
        rc = PVTAP_ECONFIG;
    }
    if (rc == 0 && c->retry_max_s < c->retry_min_s) {
        cfg_error(config_setting_get_member(g, "retry_max_s"), NULL,
                  "must be at least retry_min_s (%lld)", c->retry_min_s);
        rc = PVTAP_ECONFIG;
    }
#if !PVTAP_HAVE_CURL
    if (rc == 0) {
        cfg_error(g, NULL, "this pvtap was built without libcurl: it cannot upload to PVOutput");
        rc = PVTAP_ECONFIG;
    }
#endif
    if (rc != 0) {
        free(priv);
        return PVTAP_ECONFIG;
    }
    sink->priv = priv;
    return 0;
}

static void pvoutput_dump(const struct sink *sink, FILE *out)
{
    const struct pvoutput_config *c = pvoutput_config_of(sink);
    char url[URL_SHOWN_SIZE];
    url_redact(c->url, url, sizeof url);
    fprintf(out,
            "  api_key = \"<redacted>\";\n  system_id = %lld;\n  source = \"%s\";\n"
            "  url = \"%s\";\n  donation = %s;\n  retry_min_s = %lld;\n  retry_max_s = %lld;\n",
            c->system_id, c->series, url, c->donation ? "true" : "false", c->retry_min_s,
            c->retry_max_s);
    if (c->ca_file[0])
        fprintf(out, "  ca_file = \"%s\";\n", c->ca_file);
    fprintf(out, "  cumulative = %s;\n  timeout_s = %lld;\n", c->cumulative ? "true" : "false",
            c->timeout_s);
}

static void pvoutput_destroy(struct sink *sink)
{
    struct pvo_priv *p = sink->priv;
    if (p)
        memset(p->cfg.api_key, 0, sizeof p->cfg.api_key); /* keep the key out of core dumps */
    free(p);
    sink->priv = NULL;
}

const struct sink_ops pvoutput_sink_ops = {
    .name = "pvoutput",
    .create = pvoutput_create,
    .dump = pvoutput_dump,
    .destroy = pvoutput_destroy,
#if PVTAP_HAVE_CURL
    .uses_outbox = true,
    .start = pvo_sink_start,
    .pollfds = pvo_sink_pollfds,
    .step = pvo_sink_step,
    .live = pvo_sink_live,
    .idle = pvo_sink_idle,
    .stop = pvo_sink_stop,
#endif
};
