/* Writes the daemon's live state to status.json (atomically) for `pvtap status`. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon_internal.h"
#include "store/store.h"
#include "util/err.h"
#include "util/timeutil.h"

static const char *const MOD = "status";

static void add_time(cJSON *obj, const char *key, int64_t t)
{
    if (t <= 0) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    char iso[32];
    time_format_iso_utc(t, iso, sizeof iso);
    cJSON_AddStringToObject(obj, key, iso);
}

static const char *src_state_name(enum src_state s)
{
    switch (s) {
    case SRC_OPEN:
        return "up";
    case SRC_EXHAUSTED:
        return "done";
    case SRC_CLOSED:
        break;
    }
    return "down";
}

static cJSON *build(struct daemon *d)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddNumberToObject(root, "pid", (double)getpid());
    add_time(root, "started", d->started_s);
    add_time(root, "updated", time_now_s());
    cJSON *srcs = cJSON_AddArrayToObject(root, "sources");
    pthread_mutex_lock(&d->status_lock);
    for (size_t i = 0; i < d->n_src; i++) {
        struct src_rt *rt = d->srcs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", rt->src->name);
        cJSON_AddStringToObject(o, "type", rt->src->ops->name);
        cJSON_AddStringToObject(o, "series", rt->src->series);
        cJSON_AddStringToObject(o, "state", src_state_name(rt->state));
        cJSON_AddNumberToObject(o, "readings", (double)rt->readings);
        cJSON_AddNumberToObject(o, "failures", (double)rt->failures);
        add_time(o, "last_record", rt->last_reading_s);
        add_time(o, "last_seen", rt->last_seen_s);
        add_time(o, "up_since", rt->state == SRC_OPEN ? rt->opened_s : 0);
        if (rt->last_error[0])
            cJSON_AddStringToObject(o, "last_error", rt->last_error);
        /* Loop sources only: a port thread's source is busy on its bus. */
        if (rt->port_group < 0 && rt->state == SRC_OPEN && rt->src->ops->health) {
            struct source_health h;
            memset(&h, 0, sizeof h);
            rt->src->ops->health(rt->src, &h);
            if (h.note[0])
                cJSON_AddStringToObject(o, "note", h.note);
            if (h.capture) {
                cJSON_AddNumberToObject(o, "capture_packets", (double)h.capture_packets);
                cJSON_AddNumberToObject(o, "kernel_drops", (double)h.kernel_drops);
                cJSON_AddNumberToObject(o, "tcp_holes", (double)h.tcp_holes);
            }
        }
        cJSON_AddItemToArray(srcs, o);
    }
    pthread_mutex_unlock(&d->status_lock);
    cJSON *sinks = cJSON_AddArrayToObject(root, "sinks");
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->sink->ops->name);
        cJSON_AddStringToObject(o, "state", s->state == SINK_RUNNING ? "running" : "stopped");
        if (s->last_error[0])
            cJSON_AddStringToObject(o, "last_error", s->last_error);
        cJSON_AddItemToArray(sinks, o);
    }
    cJSON *q = cJSON_AddObjectToObject(root, "queue");
    cJSON_AddNumberToObject(q, "readings_uncommitted", (double)d->n_pending);
    cJSON_AddNumberToObject(q, "intervals_uncommitted", (double)d->n_dirty);
    cJSON_AddNumberToObject(q, "dropped", (double)reading_queue_dropped(&d->queue));
    cJSON_AddNumberToObject(q, "dropped_store_waiting", (double)d->readings_dropped);
    uint64_t written = daemon_bytes_written();
    cJSON_AddNumberToObject(root, "bytes_written", (double)written);
    cJSON *st = cJSON_AddObjectToObject(root, "store");
    cJSON_AddStringToObject(st, "path", d->store_path);
    cJSON_AddNumberToObject(st, "commits", (double)d->commits);
    cJSON_AddNumberToObject(st, "commit_failures", (double)d->commit_failures);
    cJSON_AddNumberToObject(st, "intervals_written", (double)d->rows_written);
    add_time(st, "last_commit", d->last_commit_s);
    cJSON_AddNumberToObject(st, "recreated", (double)d->store_recreations);
    /* what the engine holds: bounded by its window, whatever the history */
    if (d->engine) {
        struct engine_stats es;
        engine_get_stats(d->engine, &es);
        cJSON *eo = cJSON_AddObjectToObject(root, "engine");
        cJSON_AddNumberToObject(eo, "keys", (double)es.keys);
        cJSON_AddNumberToObject(eo, "points", (double)es.points);
        cJSON_AddNumberToObject(eo, "samples", (double)es.samples);
        cJSON_AddNumberToObject(eo, "rows", (double)es.rows);
        add_time(eo, "horizon", d->horizon_s);
        cJSON_AddNumberToObject(eo, "late_readings", (double)d->late_readings);
        cJSON_AddNumberToObject(eo, "late_rebuilds", (double)d->late_rebuilds);
    }
    /* how the meters are read, and meters that measure nothing */
    cJSON *site = cJSON_AddObjectToObject(root, "site");
    cJSON_AddStringToObject(site, "consumption_meter",
                            site_kind_consumption_name(d->kind.consumption_meter));
    cJSON_AddStringToObject(site, "consumption_meter_from", d->kind.origin);
    cJSON_AddStringToObject(site, "production", site_kind_production_name(d->kind.production));
    cJSON *notes = cJSON_AddArrayToObject(site, "meters_not_installed");
    for (size_t i = 0; i < d->n_devices; i++) {
        const char *what = daemon_meter_not_installed(&d->devices[i]);
        if (!what)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", d->devices[i].key);
        cJSON_AddStringToObject(o, "text", what);
        cJSON_AddItemToArray(notes, o);
    }
    cJSON *alerts = cJSON_AddArrayToObject(root, "alerts");
    for (size_t i = 0; i < d->alerts.n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", d->alerts.a[i].id);
        cJSON_AddStringToObject(o, "text", d->alerts.a[i].text);
        add_time(o, "since", d->alerts.a[i].since_s);
        cJSON_AddItemToArray(alerts, o);
    }
    return root;
}

/* Bytes this process has caused to be written to storage (SD-card wear). */
uint64_t daemon_bytes_written(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return 0;
    char line[128];
    unsigned long long v = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %llu", &v) == 1)
            break;
    fclose(f);
    return v;
}

int daemon_status_write(struct daemon *d)
{
    if (!d->status_path[0])
        return 0;
    cJSON *root = build(d);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return PVTAP_ENOMEM;
    /* Write a temporary beside it, then rename: readers never see half. */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->status_path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s", d->status_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            mkdir(dir, 0755);
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        }
    }
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        rename(tmp, d->status_path) != 0) {
        complain(&d->status_complaint, time_now_s(), LOGL_WARNING, MOD, "cannot write %s: %s",
                 d->status_path, strerror(errno));
        rc = PVTAP_EIO;
    }
    if (fd >= 0)
        close(fd);
    free(text);
    return rc;
}
