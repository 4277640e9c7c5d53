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
#include "daemon/daemon.h"
#include "sinks/sink.h"
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

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

struct newest_ctx {
    cJSON *arr;
    struct store *st;
};

static int newest_cb(void *ctx, const struct store_interval *iv)
{
    int64_t *t = ctx;
    *t = iv->row.interval_end;
    return 0;
}

static int series_cb(void *ctx, const char *series)
{
    struct newest_ctx *c = ctx;
    int64_t newest = 0;
    /* The last day is enough to find the newest row quickly. */
    store_query_intervals(c->st, series, 0, INT64_MAX, newest_cb, &newest);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "series", series);
    char iso[32];
    if (newest) {
        time_format_iso_utc(newest, iso, sizeof iso);
        cJSON_AddStringToObject(o, "newest_interval", iso);
    } else
        cJSON_AddNullToObject(o, "newest_interval");
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

static cJSON *durable_state(const char *db_path, const struct pvtap_config *cfg, char *err,
                            size_t err_size)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", db_path);
    struct stat sb;
    if (stat(db_path, &sb) != 0) {
        snprintf(err, err_size, "store %s: %s", db_path, strerror(errno));
        cJSON_AddStringToObject(o, "error", err);
        return o;
    }
    cJSON_AddNumberToObject(o, "size_bytes", (double)sb.st_size);
    struct store *st = NULL;
    int rc = store_open(db_path, NULL, STORE_RDONLY, &st);
    if (rc < 0) {
        snprintf(err, err_size, "store %s: %s", db_path, pvtap_strerror(rc));
        cJSON_AddStringToObject(o, "error", err);
        return o;
    }
    struct newest_ctx nc = {cJSON_AddArrayToObject(o, "series"), st};
    store_list_series(st, series_cb, &nc);
    cJSON *ob = cJSON_AddObjectToObject(o, "outbox");
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const struct sink *s = &cfg->sinks[i];
        if (!s->ops->uses_outbox)
            continue;
        int64_t pending = 0, delivered = 0, undeliverable = 0;
        store_outbox_count(st, s->ops->name, OUTBOX_PENDING, &pending);
        store_outbox_count(st, s->ops->name, OUTBOX_DELIVERED, &delivered);
        store_outbox_count(st, s->ops->name, OUTBOX_UNDELIVERABLE, &undeliverable);
        cJSON *so = cJSON_AddObjectToObject(ob, s->ops->name);
        cJSON_AddNumberToObject(so, "pending", (double)pending);
        cJSON_AddNumberToObject(so, "delivered", (double)delivered);
        cJSON_AddNumberToObject(so, "undeliverable", (double)undeliverable);
    }
    store_close(st);
    return o;
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

static void print_table(const cJSON *root)
{
    const cJSON *daemon = cJSON_GetObjectItemCaseSensitive(root, "daemon");
    const cJSON *live = cJSON_GetObjectItemCaseSensitive(root, "live");
    printf("daemon    %s", str_or(daemon, "state", "?"));
    if (cJSON_IsObject(live))
        printf(" (pid %.0f, since %s, updated %s)", num_or(live, "pid", 0),
               str_or(live, "started", "?"), str_or(live, "updated", "?"));
    putchar('\n');
    const cJSON *srcs = cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, "sources")
                                             : NULL;
    if (cJSON_GetArraySize(srcs) > 0) {
        printf("\n%-16s %-9s %-8s %-6s %-21s %s\n", "source", "type", "series", "state",
               "last record", "readings");
        const cJSON *s;
        cJSON_ArrayForEach(s, srcs)
        {
            printf("%-16.16s %-9.9s %-8.8s %-6.6s %-21.21s %.0f\n", str_or(s, "name", ""),
                   str_or(s, "type", ""), str_or(s, "series", ""), str_or(s, "state", ""),
                   str_or(s, "last_record", "-"), num_or(s, "readings", 0));
            if (str_or(s, "last_error", NULL))
                printf("  last error: %s\n", str_or(s, "last_error", ""));
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
               str_or(s, "newest_interval", "-"));
    const cJSON *ob = cJSON_GetObjectItemCaseSensitive(store, "outbox");
    cJSON_ArrayForEach(s, ob)
        printf("  %-9s pending %.0f, delivered %.0f, undeliverable %.0f\n", s->string,
               num_or(s, "pending", 0), num_or(s, "delivered", 0),
               num_or(s, "undeliverable", 0));
    const cJSON *alerts = cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, "alerts")
                                               : NULL;
    printf("\nalerts    %d\n", cJSON_GetArraySize(alerts));
    cJSON_ArrayForEach(s, alerts) printf("  %s\n", str_or(s, "text", "?"));
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
        case 'c': path = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_FORMAT: format = optarg; break;
        case OPT_RUNDIR: rundir = optarg; break;
        case 'h': usage(stdout); return EXIT_OK;
        default: return cli_usage_error("status", "unknown option");
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
    cJSON *root = cJSON_CreateObject();
    char status_path[1100];
    daemon_status_path(rundir, status_path, sizeof status_path);
    char *text = read_text(status_path);
    cJSON *live = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *dstate = cJSON_AddObjectToObject(root, "daemon");
    const char *state = "not running";
    if (live) {
        pid_t pid = (pid_t)num_or(live, "pid", 0);
        state = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) ? "running" : "not running";
        cJSON_AddItemToObject(root, "live", live);
    }
    cJSON_AddStringToObject(dstate, "state", state);
    cJSON_AddStringToObject(dstate, "status_file", status_path);
    char err[512] = "";
    cJSON_AddItemToObject(root, "store",
                          durable_state(db ? db : cfg.store_path, &cfg, err, sizeof err));
    int exit_code = err[0] ? EXIT_RUNTIME : EXIT_OK;
    if (strcmp(format, "json") == 0) {
        char *out = cJSON_Print(root);
        if (out)
            puts(out);
        free(out);
    } else
        print_table(root);
    cJSON_Delete(root);
    pvtap_config_free(&cfg);
    return exit_code;
}
