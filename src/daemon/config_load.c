/* Loads the whole configuration: common keys here, each source's and sink's section to its
 * create(). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/sink.h"
#include "sources/source.h"
#include "util/config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

static const char *const top_keys[] = {"site", "store", "sources", "pvoutput", "mqtt",
                                       "http", "run",   "log",     "board",    NULL};

void pvtap_config_defaults(struct pvtap_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    config_init(&cfg->lc);
    if (gethostname(cfg->env.site.name, sizeof cfg->env.site.name) != 0 || !cfg->env.site.name[0])
        snprintf(cfg->env.site.name, sizeof cfg->env.site.name, "pvtap");
    cfg->env.site.name[sizeof cfg->env.site.name - 1] = '\0';
    snprintf(cfg->env.site.timezone, sizeof cfg->env.site.timezone, "UTC");
    cfg->env.site.max_power_kW = 100.0;
    snprintf(cfg->store_path, sizeof cfg->store_path, "%s", PVTAP_DEFAULT_DB);
    snprintf(cfg->run_user, sizeof cfg->run_user, "pvtap");
    cfg->log_level = LOGL_INFO;
}

static int load_site(struct pvtap_config *cfg, const config_setting_t *site)
{
    static const char *const keys[] = {"timezone",          "max_power_kW", "name",
                                       "consumption_meter", "production",   NULL};
    int rc = cfg_check_keys(site, keys);
    int cm = (int)cfg->env.site.consumption_meter, prod = (int)cfg->env.site.production;
    rc |= cfg_choice(site, "consumption_meter", false, site_consumption_meter_names, &cm);
    rc |= cfg_choice(site, "production", false, site_production_names, &prod);
    cfg->env.site.consumption_meter = (enum site_consumption_meter)cm;
    cfg->env.site.production = (enum site_production)prod;
    rc |=
        cfg_string(site, "timezone", false, cfg->env.site.timezone, sizeof cfg->env.site.timezone);
    rc |= cfg_double(site, "max_power_kW", false, 0.001, 100000.0, &cfg->env.site.max_power_kW);
    rc |= cfg_string(site, "name", false, cfg->env.site.name, sizeof cfg->env.site.name);
    if (rc == 0) {
        struct tz *tz = NULL;
        int err = tz_load(cfg->env.site.timezone, &tz);
        if (err < 0) {
            cfg_error(config_setting_get_member(site, "timezone"), NULL,
                      "unknown time zone \"%s\" (%s): use a name like \"America/Los_Angeles\"",
                      cfg->env.site.timezone, pvtap_strerror(err));
            rc = PVTAP_ECONFIG;
        }
        tz_free(tz);
    }
    return rc ? PVTAP_ECONFIG : 0;
}

static int load_board(struct pvtap_config *cfg, const config_setting_t *board)
{
    static const char *const keys[] = {"name", "mirror", "rs485", NULL};
    struct board_config *b = &cfg->env.board;
    int rc = cfg_check_keys(board, keys);
    rc |= cfg_string(board, "name", true, b->name, sizeof b->name);
    rc |= cfg_string(board, "mirror", false, b->mirror, sizeof b->mirror);
    const config_setting_t *ports = config_setting_get_member(board, "rs485");
    if (ports) {
        if (!config_setting_is_group(ports)) {
            cfg_error(ports, NULL, "must be a group: rs485 = { meter = \"/dev/...\"; }");
            return PVTAP_ECONFIG;
        }
        int n = config_setting_length(ports);
        for (int i = 0; i < n; i++) {
            const config_setting_t *p = config_setting_get_elem(ports, (unsigned)i);
            if (b->n_ports >= BOARD_MAX_PORTS) {
                cfg_error(p, NULL, "too many ports (at most %d)", BOARD_MAX_PORTS);
                return PVTAP_ECONFIG;
            }
            const char *role = config_setting_name(p);
            if (strlen(role) >= sizeof b->ports[0].role) {
                cfg_error(p, NULL, "port name too long");
                rc = PVTAP_ECONFIG;
                continue;
            }
            int r = cfg_string(ports, role, true, b->ports[b->n_ports].device,
                               sizeof b->ports[0].device);
            if (r < 0) {
                rc = r;
                continue;
            }
            memcpy(b->ports[b->n_ports].role, role, strlen(role) + 1);
            b->n_ports++;
        }
    }
    return rc ? PVTAP_ECONFIG : 0;
}

static int load_misc(struct pvtap_config *cfg)
{
    const config_setting_t *root = config_root_setting(&cfg->lc);
    int rc = 0;
    const config_setting_t *g;
    if ((g = config_setting_get_member(root, "store"))) {
        static const char *const keys[] = {"path", NULL};
        rc |= cfg_check_keys(g, keys);
        rc |= cfg_string(g, "path", false, cfg->store_path, sizeof cfg->store_path);
    }
    if ((g = config_setting_get_member(root, "run"))) {
        static const char *const keys[] = {"user", NULL};
        rc |= cfg_check_keys(g, keys);
        rc |= cfg_string(g, "user", false, cfg->run_user, sizeof cfg->run_user);
    }
    if ((g = config_setting_get_member(root, "log"))) {
        static const char *const keys[] = {"level", NULL};
        static const char *const levels[] = {"error", "warning", "notice", "info", "debug", NULL};
        int idx = -1;
        rc |= cfg_check_keys(g, keys);
        rc |= cfg_choice(g, "level", false, levels, &idx);
        if (idx >= 0)
            cfg->log_level = log_level_parse(levels[idx]);
    }
    return rc ? PVTAP_ECONFIG : 0;
}

static int check_groups(const config_setting_t *root)
{
    int rc = cfg_check_keys(root, top_keys);
    for (size_t i = 0; top_keys[i]; i++) {
        const config_setting_t *g = config_setting_get_member(root, top_keys[i]);
        if (!g)
            continue;
        bool want_list = strcmp(top_keys[i], "sources") == 0;
        if (want_list ? !config_setting_is_list(g) : !config_setting_is_group(g)) {
            cfg_error(g, NULL, "must be %s",
                      want_list ? "a list: ( { type = ...; }, ... )" : "a group: { ... }");
            rc = PVTAP_ECONFIG;
        }
    }
    return rc;
}

static int create_source(struct pvtap_config *cfg, const config_setting_t *sec, size_t idx)
{
    struct source *src = &cfg->sources[idx];
    if (!config_setting_is_group(sec)) {
        cfg_error(sec, NULL, "must be a group: { type = \"...\"; ... }");
        return PVTAP_ECONFIG;
    }
    char type[32] = "";
    if (cfg_string(sec, "type", true, type, sizeof type) < 0)
        return PVTAP_ECONFIG;
    const struct source_ops *ops = source_backend_find(type);
    if (!ops) {
        char known[256];
        size_t n = 0;
        known[0] = '\0';
        for (size_t i = 0; source_backends[i] && n < sizeof known; i++) {
            int w = snprintf(known + n, sizeof known - n, "%s%s", i ? ", " : "",
                             source_backends[i]->name);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        cfg_error(config_setting_get_member(sec, "type"), NULL,
                  "unknown source type \"%s\" (this build knows: %s)", type,
                  known[0] ? known : "none");
        return PVTAP_ECONFIG;
    }
    src->ops = ops;
    src->env = &cfg->env;
    src->config_file = cfg_file(sec);
    src->config_line = cfg_line(sec);
    snprintf(src->series, sizeof src->series, "%s", ops->default_series);
    int rc = cfg_string(sec, "series", false, src->series, sizeof src->series);
    if (config_setting_get_member(sec, "name"))
        rc |= cfg_string(sec, "name", true, src->name, sizeof src->name);
    else
        snprintf(src->name, sizeof src->name, "%s#%zu", type, idx + 1);
    int r = ops->create(src, sec);
    if (r < 0) {
        src->ops = NULL; /* create() cleaned up after itself */
        return PVTAP_ECONFIG;
    }
    return rc ? PVTAP_ECONFIG : 0;
}

/* Names must be unique (status and metrics key on them); `listen` must not
 * share a port with a transmitting source: two masters corrupt both. */
static int check_sources_together(const struct pvtap_config *cfg, const config_setting_t *list)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct source *a = &cfg->sources[i];
        if (!a->ops)
            continue;
        for (size_t j = 0; j < i; j++) {
            const struct source *b = &cfg->sources[j];
            if (!b->ops)
                continue;
            const config_setting_t *sec = config_setting_get_elem(list, (unsigned)i);
            if (strcmp(a->name, b->name) == 0) {
                cfg_error(sec, "name", "\"%s\" is used by another source too", a->name);
                rc = PVTAP_ECONFIG;
            }
            if (a->port[0] && strcmp(a->port, b->port) == 0 && a->transmits != b->transmits) {
                cfg_error(sec, "port",
                          "%s is used by a listen-only source and by a transmitting one (%s, "
                          "line %d): a listener must be alone with the other master",
                          a->port, b->name, b->config_line);
                rc = PVTAP_ECONFIG;
            }
        }
    }
    return rc;
}

static int load_sources(struct pvtap_config *cfg)
{
    const config_setting_t *list = config_lookup(&cfg->lc, "sources");
    if (!list || !config_setting_is_list(list))
        return 0;
    int n = config_setting_length(list);
    if (n == 0)
        return 0;
    if (n > PVTAP_MAX_SOURCES) {
        cfg_error(list, NULL, "%d sources: at most %d", n, PVTAP_MAX_SOURCES);
        return PVTAP_ECONFIG;
    }
    cfg->sources = calloc((size_t)n, sizeof *cfg->sources);
    if (!cfg->sources)
        return PVTAP_ENOMEM;
    cfg->n_sources = (size_t)n;
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (create_source(cfg, config_setting_get_elem(list, (unsigned)i), (size_t)i) < 0)
            rc = PVTAP_ECONFIG;
    if (check_sources_together(cfg, list) < 0)
        rc = PVTAP_ECONFIG;
    return rc;
}

static int load_sinks(struct pvtap_config *cfg)
{
    const config_setting_t *root = config_root_setting(&cfg->lc);
    size_t n = 0;
    for (size_t i = 0; sink_backends[i]; i++)
        n++;
    if (n == 0)
        return 0;
    cfg->sinks = calloc(n, sizeof *cfg->sinks);
    if (!cfg->sinks)
        return PVTAP_ENOMEM;
    int rc = 0;
    for (size_t i = 0; sink_backends[i]; i++) {
        const config_setting_t *g = config_setting_get_member(root, sink_backends[i]->name);
        if (!g || !config_setting_is_group(g))
            continue; /* a sink runs only when its group is present */
        struct sink *s = &cfg->sinks[cfg->n_sinks];
        s->ops = sink_backends[i];
        s->env = &cfg->env;
        if (s->ops->create(s, g) < 0) {
            s->ops = NULL;
            rc = PVTAP_ECONFIG;
            continue;
        }
        cfg->n_sinks++;
    }
    return rc;
}

int pvtap_config_load(const char *path, struct pvtap_config *cfg)
{
    pvtap_config_defaults(cfg);
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    /* The includes are expanded by cfg_text_load(), not by libconfig (which
     * resolves them from the working directory and reads a FIFO forever):
     * libconfig parses one text, and the line map gives FILE:LINE back. */
    int rc = cfg_text_load(path, &cfg->text);
    if (rc < 0)
        return rc;
    int read_ok = config_read_string(&cfg->lc, cfg->text.text);
    free(cfg->text.text); /* the tree holds its own copies */
    cfg->text.text = NULL;
    cfg->text.len = cfg->text.cap = 0;
    if (read_ok != CONFIG_TRUE) {
        const char *file = path;
        int line = config_error_line(&cfg->lc);
        cfg_text_origin(&cfg->text.map, (unsigned)line, &file, &line);
        fprintf(stderr, "%s:%d: syntax: %s\n", file, line, config_error_text(&cfg->lc));
        return PVTAP_ECONFIG;
    }
    config_setting_set_hook(config_root_setting(&cfg->lc), &cfg->text.map);
    const config_setting_t *root = config_root_setting(&cfg->lc);
    rc = check_groups(root);
    const config_setting_t *g;
    /* The board comes first: sources resolve "@meter" through it. Every
     * section is checked even after an error, so one run shows them all;
     * only a broken board skips the sources (they would only echo it). */
    int board_rc = 0;
    if ((g = config_setting_get_member(root, "board")) && config_setting_is_group(g))
        board_rc = load_board(cfg, g);
    if ((g = config_setting_get_member(root, "site")) && config_setting_is_group(g))
        rc |= load_site(cfg, g);
    rc |= load_misc(cfg);
    int r = board_rc < 0 ? PVTAP_ECONFIG : load_sources(cfg);
    int s = load_sinks(cfg);
    if (r == PVTAP_ENOMEM || s == PVTAP_ENOMEM)
        return PVTAP_ENOMEM;
    return (rc != 0 || r < 0 || s < 0) ? PVTAP_ECONFIG : 0;
}

void pvtap_config_free(struct pvtap_config *cfg)
{
    for (size_t i = 0; i < cfg->n_sources; i++) {
        struct source *src = &cfg->sources[i];
        if (src->ops && src->ops->destroy)
            src->ops->destroy(src);
    }
    free(cfg->sources);
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        struct sink *s = &cfg->sinks[i];
        if (s->ops && s->ops->destroy)
            s->ops->destroy(s);
    }
    free(cfg->sinks);
    config_destroy(&cfg->lc);
    cfg_text_free(&cfg->text);
    cfg->sources = NULL;
    cfg->sinks = NULL;
    cfg->n_sources = cfg->n_sinks = 0;
}
