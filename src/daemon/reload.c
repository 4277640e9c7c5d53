/* SIGHUP: the new configuration is loaded and checked first; only what changed is restarted. */
#include <stdlib.h>
#include <string.h>

#include "daemon/config_same.h"
#include "daemon/daemon_internal.h"
#include "engine/engine.h"
#include "util/err.h"
#include "util/grow.h"

static const char *const MOD = "daemon";

/* Settings every source and sink (or the engine, the store, the privilege
 * drop) depends on: when one changes, everything restarts. */
static const char *const global_sections[] = {"site", "board", "store", "run", NULL};

static int effective_poll_gap(const struct pvtap_config *cfg)
{
    struct engine_params ep;
    engine_params_default(&ep);
    int gap = 0;
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (cfg->sources[i].max_poll_gap_s > gap)
            gap = cfg->sources[i].max_poll_gap_s;
    return gap > 0 ? gap : (int)ep.max_poll_gap_s;
}

/* NULL when none changed, else what did (for the log). */
static const char *global_change(const struct daemon *d, const struct pvtap_config *next)
{
    for (size_t i = 0; global_sections[i]; i++)
        if (!config_member_same(&d->cfg->lc, &next->lc, global_sections[i]))
            return global_sections[i];
    if (effective_poll_gap(next) != d->max_poll_gap_s)
        return "the engine's poll gap (the largest max_poll_gap_s)";
    return NULL;
}

/* A sink also reads another sink's section: mqtt's series defaults to
 * pvoutput.source. */
static bool sink_inputs_same(const struct daemon *d, const struct pvtap_config *next,
                             const struct sink_rt *old, const config_setting_t *sec)
{
    if (!config_setting_same(old->section, sec))
        return false;
    if (strcmp(old->sink->ops->name, "mqtt") == 0)
        return config_member_same(&d->cfg->lc, &next->lc, "pvoutput");
    return true;
}

static void source_destroy(struct source *src)
{
    if (src->ops && src->ops->destroy)
        src->ops->destroy(src);
    src->ops = NULL; /* pvtap_config_free() skips it */
}

static void sink_destroy(struct sink *s)
{
    if (s->ops && s->ops->destroy)
        s->ops->destroy(s);
    s->ops = NULL;
}

/* The new source list: running runtimes for unchanged sections (same name
 * too), fresh ones for the rest. Returns how many are new or changed. */
static int swap_sources(struct daemon *d, struct pvtap_config *next, size_t *restarted)
{
    size_t n = next->n_sources;
    struct src_rt **srcs = calloc(n ? n : 1, sizeof *srcs);
    bool *kept = calloc(d->n_src ? d->n_src : 1, sizeof *kept);
    bool *fresh = calloc(n ? n : 1, sizeof *fresh);
    if (!srcs || !kept || !fresh)
        goto nomem;
    const config_setting_t *list = config_lookup(&next->lc, "sources");
    bool ports_change = false;
    /* Everything that can fail first, before anything is touched. */
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *sec = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        struct source *src = &next->sources[i];
        for (size_t j = 0; j < d->n_src && !srcs[i]; j++)
            if (!kept[j] && strcmp(d->srcs[j]->src->name, src->name) == 0 &&
                config_setting_same(d->srcs[j]->section, sec)) {
                kept[j] = true;
                srcs[i] = d->srcs[j];
            }
        if (srcs[i])
            continue;
        srcs[i] = daemon_source_rt_new(d, src, sec);
        if (!srcs[i])
            goto nomem;
        fresh[i] = true;
        ports_change |= src->ops->blocking;
    }
    for (size_t j = 0; j < d->n_src; j++)
        if (!kept[j] && d->srcs[j]->src->ops->blocking)
            ports_change = true;
    /* Serial sources share a thread per port: when that set changes the
     * threads stop (their sources close) and start again over the new set. */
    if (ports_change)
        daemon_ports_stop(d);
    for (size_t j = 0; j < d->n_src; j++) {
        struct src_rt *rt = d->srcs[j];
        if (kept[j])
            continue;
        if (rt->port_group < 0 && rt->state == SRC_OPEN)
            rt->src->ops->close(rt->src);
        log_msg(LOGL_INFO, MOD, "source %s (%s) stopped: changed or removed", rt->src->name,
                rt->src->ops->name);
        source_destroy(rt->src);
        free(rt);
    }
    for (size_t i = 0; i < n; i++) {
        if (!fresh[i]) {
            srcs[i]->section = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
            source_destroy(&next->sources[i]); /* the running one goes on */
        } else {
            (*restarted)++;
        }
    }
    pthread_mutex_lock(&d->status_lock);
    free(d->srcs);
    d->srcs = srcs;
    d->n_src = n;
    pthread_mutex_unlock(&d->status_lock);
    free(kept);
    free(fresh);
    if (ports_change) {
        int rc = daemon_ports_build(d);
        if (rc == 0)
            rc = daemon_sources_start_threads(d);
        return rc;
    }
    return 0;
nomem:
    for (size_t i = 0; srcs && fresh && i < n; i++)
        if (fresh[i])
            free(srcs[i]);
    free(srcs);
    free(kept);
    free(fresh);
    return PVTAP_ENOMEM;
}

/* The new sink list: a sink with the same group keeps running. */
static int swap_sinks(struct daemon *d, struct pvtap_config *next, size_t *restarted)
{
    size_t n = next->n_sinks;
    struct sink_rt *sinks = calloc(n ? n : 1, sizeof *sinks);
    const char **outbox = calloc(n ? n : 1, sizeof *outbox);
    bool *kept = calloc(d->n_sinks ? d->n_sinks : 1, sizeof *kept);
    if (!sinks || !outbox || !kept) {
        free(sinks);
        free(outbox);
        free(kept);
        return PVTAP_ENOMEM;
    }
    const config_setting_t *root = config_root_setting(&next->lc);
    size_t n_outbox = 0;
    for (size_t i = 0; i < n; i++) {
        struct sink *s = &next->sinks[i];
        const config_setting_t *sec = config_setting_get_member(root, s->ops->name);
        bool found = false;
        for (size_t j = 0; j < d->n_sinks && !found; j++)
            if (!kept[j] && d->sinks[j].sink->ops == s->ops &&
                sink_inputs_same(d, next, &d->sinks[j], sec)) {
                kept[j] = found = true;
                sinks[i] = d->sinks[j];
            }
        if (found) {
            sink_destroy(s); /* the running one goes on */
        } else {
            sinks[i].sink = s;
            sinks[i].backoff_ms = SINK_BACKOFF_FIRST_MS;
            sinks[i].state = SINK_STOPPED; /* the loop starts it */
            (*restarted)++;
        }
        sinks[i].section = sec;
        if (sinks[i].sink->ops->uses_outbox)
            outbox[n_outbox++] = sinks[i].sink->ops->name;
    }
    for (size_t j = 0; j < d->n_sinks; j++) {
        struct sink_rt *s = &d->sinks[j];
        if (kept[j])
            continue;
        if (s->state == SINK_RUNNING && s->sink->ops->stop)
            s->sink->ops->stop(s->sink);
        log_msg(LOGL_INFO, MOD, "sink %s stopped: changed or removed", s->sink->ops->name);
        sink_destroy(s->sink);
    }
    free(d->sinks);
    free(d->outbox_sinks);
    free(kept);
    d->sinks = sinks;
    d->n_sinks = n;
    d->outbox_sinks = outbox;
    d->n_outbox_sinks = n_outbox;
    d->alerts_published = UINT64_MAX; /* offer the alerts to the new ones */
    return 0;
}

static bool config_in_use(const struct daemon *d, const struct pvtap_config *cfg)
{
    for (size_t i = 0; i < d->n_src; i++) {
        const struct source *s = d->srcs[i]->src;
        if (s >= cfg->sources && s < cfg->sources + cfg->n_sources)
            return true;
    }
    for (size_t i = 0; i < d->n_sinks; i++) {
        const struct sink *s = d->sinks[i].sink;
        if (s >= cfg->sinks && s < cfg->sinks + cfg->n_sinks)
            return true;
    }
    return false;
}

void daemon_configs_release(struct daemon *d, bool all)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n_configs; i++) {
        struct pvtap_config *c = d->configs[i];
        if (all || (c != d->cfg && !config_in_use(d, c))) {
            pvtap_config_free(c);
            free(c);
        } else {
            d->configs[k++] = c;
        }
    }
    d->n_configs = k;
    d->configs_unused = false;
}

enum reload_result daemon_reload(struct daemon *d)
{
    const char *path = d->opt->config_path;
    if (!path) {
        log_msg(LOGL_NOTICE, MOD, "SIGHUP: no configuration file to re-read");
        return RELOAD_KEPT;
    }
    log_msg(LOGL_NOTICE, MOD, "SIGHUP: re-reading %s", path);
    /* Loaded beside the running one: nothing changes until it is valid. */
    struct pvtap_config *next = malloc(sizeof *next);
    int rc = next ? pvtap_config_load(path, next) : PVTAP_ENOMEM;
    if (rc == 0 && GROW(&d->configs, &d->cap_configs, d->n_configs, 4) < 0)
        rc = PVTAP_ENOMEM;
    if (rc < 0) {
        if (next) {
            pvtap_config_free(next);
            free(next);
        }
        log_msg(LOGL_ERR, MOD,
                "the new configuration is not used (%s, see above): keeping the old one, "
                "every source and sink runs on",
                pvtap_strerror(rc));
        return RELOAD_KEPT;
    }
    d->configs[d->n_configs++] = next;
    log_set_level((enum log_level)next->log_level);
    const char *global = global_change(d, next);
    if (global) {
        log_msg(LOGL_NOTICE, MOD, "%s changed: restarting every source and sink", global);
        d->restart_cfg = next;
        return RELOAD_RESTART;
    }
    size_t src_new = 0, sink_new = 0;
    rc = swap_sources(d, next, &src_new);
    if (rc == 0)
        rc = swap_sinks(d, next, &sink_new);
    if (rc < 0) {
        /* Half-swapped: only a full restart on the new one is sound. */
        log_msg(LOGL_ERR, MOD, "reload: %s: restarting everything", pvtap_strerror(rc));
        d->restart_cfg = next;
        return RELOAD_RESTART;
    }
    d->cfg = next;
    d->configs_unused = true;
    log_msg(LOGL_NOTICE, MOD,
            "configuration reloaded: %zu of %zu sources and %zu of %zu sinks new or changed "
            "(the rest run on untouched)",
            src_new, d->n_src, sink_new, d->n_sinks);
    return RELOAD_APPLIED;
}
