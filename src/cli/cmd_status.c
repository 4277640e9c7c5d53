/* `pvtap status`: the running daemon's live state (status.json) plus the store's durable state. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/status_build.h"
#include "daemon/daemon.h"
#include "sinks/sink.h"
#include "store/site_kind.h"
#include "store/store.h"
#include "util/config.h"
#include "util/err.h"
#include "util/timeutil.h"

static void usage(FILE *out)
{
    fputs("usage: pvtap status [-c FILE] [--db PATH] [--format table|json] [--runtime-dir D]\n"
          "\n"
          "What the daemon sees: each source's state and last record, the readings not\n"
          "yet committed, each sink's queue (the store's outbox) and last error, the\n"
          "alerts, and the store's size and newest interval per series. Live state\n"
          "comes from the running daemon's status.json, durable state from the store.\n"
          "\n"
          "  -c, --config FILE   the configuration (default /etc/pvtap/pvtap.conf)\n"
          "      --db PATH       the store (overrides store.path)\n"
          "      --format F      table (default on a terminal) or json\n"
          "      --runtime-dir D where the daemon writes status.json\n"
          "  -h, --help          this text\n",
          out);
}

static const char *str_or(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static double num_or(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* A status time (UTC ISO 8601 in the JSON) as site-local time for the
 * table; anything else (absent, "-") as it is. */
static const char *local_of(const struct tz *tz, const char *iso, char *buf, size_t size)
{
    int64_t t;
    if (!iso || time_parse_iso_utc(iso, &t) < 0)
        return iso ? iso : "-";
    time_format_local(tz, t, buf, size);
    return buf;
}

static void print_table(const cJSON *root, const struct tz *tz)
{
    char t1[40], t2[40];
    const cJSON *daemon = cJSON_GetObjectItemCaseSensitive(root, "daemon");
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(root, "live");
    printf("daemon    %s", str_or(daemon, "state", "?"));
    if (cJSON_IsObject(live))
        printf(" (pid %.0f, since %s, updated %s)", num_or(live, "pid", 0),
               local_of(tz, str_or(live, "started", NULL), t1, sizeof t1),
               local_of(tz, str_or(live, "updated", NULL), t2, sizeof t2));
    putchar('\n');
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(root, "site");
    printf("site      consumption meter read as %s (%s), production: %s\n",
           str_or(site, "consumption_meter", "?"), str_or(site, "consumption_meter_from", "?"),
           str_or(site, "production", "?"));
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(site, "meters_not_installed"))
        printf("  %s: %s\n", str_or(m, "device", "?"), str_or(m, "text", "?"));
    const cJSON *srcs =
        cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, "sources") : NULL;
    if (cJSON_GetArraySize(srcs) > 0) {
        printf("\n%-16s %-9s %-8s %-6s %-21s %s\n", "source", "type", "series", "state",
               "last record", "readings");
        const cJSON *s;
        cJSON_ArrayForEach(s, srcs)
        {
            printf("%-16.16s %-9.9s %-8.8s %-6.6s %-21.21s %.0f\n", str_or(s, "name", ""),
                   str_or(s, "type", ""), str_or(s, "series", ""), str_or(s, "state", ""),
                   local_of(tz, str_or(s, "last_record", NULL), t1, sizeof t1),
                   num_or(s, "readings", 0));
            if (str_or(s, "last_error", NULL))
                printf("  last error: %s\n", str_or(s, "last_error", ""));
            if (str_or(s, "note", NULL))
                printf("  note: %s\n", str_or(s, "note", ""));
        }
    }
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(root, "store");
    printf("\nstore     %s", str_or(store, "path", "?"));
    if (str_or(store, "error", NULL))
        printf(": %s\n", str_or(store, "error", ""));
    else
        printf(" (%.1f MiB)\n", num_or(store, "size_bytes", 0) / 1048576.0);
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(store, "series"))
        printf("  series %-10s newest interval %s\n", str_or(s, "series", ""),
               local_of(tz, str_or(s, "newest_interval", NULL), t1, sizeof t1));
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(store, "outbox");
    cJSON_ArrayForEach(s, ob)
        printf("  %-9s pending %.0f, delivered %.0f, undeliverable %.0f\n", s->string,
               num_or(s, "pending", 0), num_or(s, "delivered", 0), num_or(s, "undeliverable", 0));
    const cJSON *alerts =
        cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, "alerts") : NULL;
    printf("\nalerts    %d\n", cJSON_GetArraySize(alerts));
    cJSON_ArrayForEach(s, alerts) printf("  %s\n", str_or(s, "text", "?"));
}

/* "site": the kind in force (the running daemon's, else config + store) and
 * the meters that measure nothing (the daemon's). */
static void add_site(cJSON *root, const struct pvtap_config *cfg, const char *db_path)
{
    if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "site")))
        return; /* the running daemon's */
    struct store *st = NULL;
    struct site_kind k;
    if (store_open(db_path, NULL, STORE_RDONLY, &st) < 0)
        st = NULL;
    site_kind_resolve(&cfg->env.site, st, &k);
    if (st)
        store_close(st);
    cJSON *o = cJSON_AddObjectToObject(root, "site");
    cJSON_AddStringToObject(o, "consumption_meter",
                            site_kind_consumption_name(k.consumption_meter));
    cJSON_AddStringToObject(o, "consumption_meter_from", k.origin);
    cJSON_AddStringToObject(o, "production", site_kind_production_name(k.production));
}

int cmd_status_main(int argc, char **argv)
{
    enum { OPT_DB = 256, OPT_FORMAT, OPT_RUNDIR };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, OPT_DB},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"runtime-dir", required_argument, NULL, OPT_RUNDIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *db = NULL, *format = NULL, *rundir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case OPT_DB:
            db = optarg;
            break;
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_RUNDIR:
            rundir = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            return cli_usage_error("status", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("status", "unexpected argument '%s'", argv[optind]);
    if (!format)
        format = cli_stdout_is_tty() ? "table" : "json";
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error("status", "--format must be table or json, not '%s'", format);
    path = cli_config_path(path);
    struct pvtap_config cfg;
    int rc = path ? pvtap_config_load(path, &cfg) : (pvtap_config_defaults(&cfg), 0);
    if (rc < 0) {
        pvtap_config_free(&cfg);
        return EXIT_USAGE;
    }
    char status_path[1100];
    daemon_status_path(rundir, status_path, sizeof status_path);
    const char *outbox[64];
    size_t n_outbox = 0;
    for (size_t i = 0; i < cfg.n_sinks && n_outbox < 64; i++)
        if (cfg.sinks[i].ops->uses_outbox)
            outbox[n_outbox++] = cfg.sinks[i].ops->name;
    char err[512] = "";
    cJSON *root =
        status_build(status_path, db ? db : cfg.store_path, outbox, n_outbox, err, sizeof err);
    if (!root) {
        pvtap_config_free(&cfg);
        fprintf(stderr, "pvtap status: %s\n", pvtap_strerror(PVTAP_ENOMEM));
        return EXIT_RUNTIME;
    }
    add_site(root, &cfg, db ? db : cfg.store_path);
    int exit_code = err[0] ? EXIT_RUNTIME : EXIT_OK;
    if (strcmp(format, "json") == 0) {
        char *out = cJSON_Print(root);
        if (out)
            puts(out);
        free(out);
    } else {
        struct tz *tz = NULL;
        /* the table reads in the site's time; an unknown zone falls back to UTC */
        if (tz_load(cfg.env.site.timezone, &tz) < 0)
            tz = NULL;
        print_table(root, tz);
        tz_free(tz);
    }
    cJSON_Delete(root);
    pvtap_config_free(&cfg);
    return exit_code;
}
