/* The `pvtap status --format json` document (status.json + the store's durable state), shared by the CLI and /api/status. */
#include "cli/status_build.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

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

static int series_cb(void *ctx, const char *series)
{
    struct newest_ctx *c = ctx;
    int64_t newest = 0;
    bool found = false;
    /* one seek, whatever the years of intervals behind it */
    store_newest_interval(c->st, series, &newest, &found);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "series", series);
    char iso[32];
    if (found) {
        time_format_iso_utc(newest, iso, sizeof iso);
        cJSON_AddStringToObject(o, "newest_interval", iso);
    } else
        cJSON_AddNullToObject(o, "newest_interval");
    cJSON_AddItemToArray(c->arr, o);
    return 0;
}

static cJSON *durable_state(const char *db_path, const char *const *outbox_sinks,
                            size_t n_outbox, char *err, size_t err_size)
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
    for (size_t i = 0; i < n_outbox; i++) {
        int64_t pending = 0, delivered = 0, undeliverable = 0;
        store_outbox_count(st, outbox_sinks[i], OUTBOX_PENDING, &pending);
        store_outbox_count(st, outbox_sinks[i], OUTBOX_DELIVERED, &delivered);
        store_outbox_count(st, outbox_sinks[i], OUTBOX_UNDELIVERABLE, &undeliverable);
        cJSON *so = cJSON_AddObjectToObject(ob, outbox_sinks[i]);
        cJSON_AddNumberToObject(so, "pending", (double)pending);
        cJSON_AddNumberToObject(so, "delivered", (double)delivered);
        cJSON_AddNumberToObject(so, "undeliverable", (double)undeliverable);
    }
    store_close(st);
    return o;
}

cJSON *status_build(const char *status_path, const char *db_path,
                    const char *const *outbox_sinks, size_t n_outbox, char *err, size_t err_size)
{
    err[0] = '\0';
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    char *text = read_text(status_path);
    cJSON *live = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *dstate = cJSON_AddObjectToObject(root, "daemon");
    const char *state = "not running";
    if (live) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(live, "pid");
        pid_t pid = cJSON_IsNumber(p) ? (pid_t)p->valuedouble : 0;
        state = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) ? "running" : "not running";
        cJSON_AddItemToObject(root, "live", live);
        /* how the running daemon reads the meters (pvtap status, /api/status) */
        const cJSON *site = cJSON_GetObjectItemCaseSensitive(live, "site");
        if (cJSON_IsObject(site))
            cJSON_AddItemToObject(root, "site", cJSON_Duplicate(site, true));
    }
    cJSON_AddStringToObject(dstate, "state", state);
    cJSON_AddStringToObject(dstate, "status_file", status_path);
    cJSON_AddItemToObject(root, "store",
                          durable_state(db_path, outbox_sinks, n_outbox, err, err_size));
    return root;
}
