/* The daemon's health checks: silent supervisor, silent devices, failing sinks and store,
 * disagreeing series. */
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon_internal.h"
#include "store/store.h"
#include "util/timeutil.h"
#include "util/grow.h"

enum {
    SUPERVISOR_SILENT_S = 15 * 60, /* INTERFACES: no record for 15 minutes */
    SOURCE_SILENT_S = 10 * 60,
    METER_SILENT_S = 15 * 60,
    INVERTER_SILENT_S = 30 * 60,
    PEER_RECENT_S = 10 * 60, /* "its neighbours still report" */
    SINK_FAILING_S = 5 * 60,
    STORE_RECREATED_SHOWN_S = 3600,
    HEALTH_EVERY_MS = 10000,
    DISAGREE_MIN_INTERVALS = 24, /* two hours in both series before judging a day */
};
/* Sniffed and polled production over a day may differ by this share before
 * it is worth a person's attention (both read the same meters). */
static const double DISAGREE_SHARE = 0.10;

const struct seen_device *daemon_note_device(struct daemon *d, const struct reading *r)
{
    char key[sizeof d->devices[0].key];
    snprintf(key, sizeof key, "%s/%s", r->series ? r->series : "?", r->device);
    int64_t now = time_now_s();
    struct seen_device *sd = NULL;
    for (size_t i = 0; i < d->n_devices && !sd; i++)
        if (strcmp(d->devices[i].key, key) == 0)
            sd = &d->devices[i];
    if (!sd) {
        /* A bound: alerts are for a site's handful of devices. */
        if (d->n_devices >= 4096 || GROW(&d->devices, &d->cap_devices, d->n_devices, 32) < 0)
            return NULL;
        sd = &d->devices[d->n_devices++];
        memset(sd, 0, sizeof *sd);
        snprintf(sd->key, sizeof sd->key, "%s", key);
        sd->source = r->source;
        sd->kind = r->kind;
    }
    sd->last_seen_s = now;
    if (r->q == Q_ENERGY_NET_LIFETIME_KWH) {
        sd->last_counter_kWh = r->value;
        sd->have_counter = true;
    } else if (r->q == Q_POWER_W) {
        sd->last_power_W = r->value;
        sd->have_power = true;
    }
    return sd;
}

const char *daemon_meter_not_installed(const struct seen_device *sd)
{
    bool meter = sd->kind == DEVICE_NET_METER || sd->kind == DEVICE_CONSUMPTION_METER ||
                 sd->kind == DEVICE_PRODUCTION_METER;
    if (!meter || !sd->have_counter || sd->last_counter_kWh != 0.0 ||
        (sd->have_power && sd->last_power_W != 0.0))
        return NULL;
    return sd->kind == DEVICE_PRODUCTION_METER ? "production CTs not installed"
                                               : "consumption CTs not installed or not wired";
}

/* Has another device of the same series and kind been heard recently? */
static bool peer_recent(const struct daemon *d, const struct seen_device *me, int64_t now)
{
    size_t series_len = strcspn(me->key, "/");
    for (size_t i = 0; i < d->n_devices; i++) {
        const struct seen_device *o = &d->devices[i];
        if (o == me || strncmp(o->key, me->key, series_len + 1) != 0)
            continue;
        if (now - o->last_seen_s <= PEER_RECENT_S)
            return true;
    }
    return false;
}

static void check_sources(struct daemon *d, int64_t now)
{
    pthread_mutex_lock(&d->status_lock);
    for (size_t i = 0; i < d->n_src; i++) {
        const struct src_rt *rt = d->srcs[i];
        char id[96];
        if (strcmp(rt->src->ops->name, "sniff") == 0) {
            snprintf(id, sizeof id, "supervisor_silent:%s", rt->src->name);
            bool silent = !rt->src->finite && rt->last_seen_s > 0 &&
                          now - rt->last_seen_s > SUPERVISOR_SILENT_S;
            alerts_update(&d->alerts, id, silent, now,
                          "%s: no supervisor record for %lld minutes (it uploaded before): "
                          "is the supervisor up, or has its firmware moved to TLS?",
                          rt->src->name, (long long)(now - rt->last_seen_s) / 60);
            continue;
        }
        snprintf(id, sizeof id, "source_silent:%s", rt->src->name);
        int64_t since = rt->last_seen_s ? rt->last_seen_s : d->started_s;
        bool silent = rt->state != SRC_EXHAUSTED && now - since > SOURCE_SILENT_S;
        alerts_update(&d->alerts, id, silent, now, "%s (%s): no reading for %lld minutes%s%s",
                      rt->src->name, rt->src->ops->name, (long long)(now - since) / 60,
                      rt->last_error[0] ? ": " : "", rt->last_error);
    }
    pthread_mutex_unlock(&d->status_lock);
}

static void check_devices(struct daemon *d, int64_t now)
{
    for (size_t i = 0; i < d->n_devices; i++) {
        const struct seen_device *sd = &d->devices[i];
        int64_t limit;
        if (sd->kind == DEVICE_NET_METER || sd->kind == DEVICE_PRODUCTION_METER)
            limit = METER_SILENT_S;
        else if (sd->kind == DEVICE_INVERTER)
            limit = INVERTER_SILENT_S; /* asleep at night: only when its peers still report */
        else
            continue;
        char id[128];
        snprintf(id, sizeof id, "device_silent:%s", sd->key);
        bool silent = now - sd->last_seen_s > limit && peer_recent(d, sd, now);
        alerts_update(&d->alerts, id, silent, now,
                      "%s %s: silent for %lld minutes while others report",
                      device_kind_name(sd->kind), sd->key, (long long)(now - sd->last_seen_s) / 60);
    }
}

static void check_sinks_and_store(struct daemon *d, int64_t now)
{
    for (size_t i = 0; i < d->n_sinks; i++) {
        struct sink_rt *s = &d->sinks[i];
        char id[96];
        snprintf(id, sizeof id, "sink:%s", s->sink->ops->name);
        bool failing = s->complaint.failing && now - s->complaint.last_s < 24 * 3600 &&
                       s->complaint.failures > 1;
        char why[200] = "";
        if (!failing && s->state == SINK_RUNNING && s->sink->ops->idle &&
            s->sink->ops->idle(s->sink, why, sizeof why) < 0)
            failing = true;
        alerts_update(&d->alerts, id, failing, now, "%s: uploads failing: %s", s->sink->ops->name,
                      why[0] ? why : s->last_error);
    }
    alerts_update(
        &d->alerts, "store", d->store_complaint.failing, now,
        "the store %s cannot be written (full or read-only?): %zu readings wait in memory",
        d->store_path, d->n_pending);
    /* A re-created store stays said for an hour, so a person sees it. */
    if (!d->store_file_lost && now - d->store_recreated_s > STORE_RECREATED_SHOWN_S)
        alerts_update(&d->alerts, "store_file", false, now, "%s", "");
    alerts_update(&d->alerts, "clock", d->clock_complaint.failing && now < 1577836800 + 86400, now,
                  "the clock is not set (before 2020): polled readings are dropped");
}

struct day_total {
    double production_wh;
    int64_t intervals;
    bool has;
};

static int total_cb(void *ctx, const struct store_total *t)
{
    struct day_total *dt = ctx;
    if (t->has & IHAS_PRODUCTION) {
        dt->production_wh = t->production_wh;
        dt->has = true;
    }
    dt->intervals = t->intervals;
    return 0;
}

/* Sniffed and polled production of the local day so far. */
static void check_disagreement(struct daemon *d, int64_t now)
{
    struct local_time lt;
    tz_to_local(d->tz, now, &lt);
    char today[16], tomorrow[16];
    snprintf(today, sizeof today, "%04d-%02d-%02d", lt.year, lt.month, lt.day);
    /* Any string just above today's works as the exclusive end. */
    snprintf(tomorrow, sizeof tomorrow, "%s~", today);
    struct day_total a = {0}, b = {0};
    if (store_query_totals(d->store, "sniff", STORE_DAY, today, tomorrow, total_cb, &a) < 0 ||
        store_query_totals(d->store, "poll", STORE_DAY, today, tomorrow, total_cb, &b) < 0)
        return;
    bool judged = a.has && b.has && a.intervals >= DISAGREE_MIN_INTERVALS &&
                  b.intervals >= DISAGREE_MIN_INTERVALS;
    double big = a.production_wh > b.production_wh ? a.production_wh : b.production_wh;
    double diff = a.production_wh - b.production_wh;
    if (diff < 0)
        diff = -diff;
    bool off = judged && big > 500.0 && diff > DISAGREE_SHARE * big;
    alerts_update(&d->alerts, "disagree:sniff:poll", off, now,
                  "sniffed and polled production disagree today: %.0f Wh vs %.0f Wh (%.0f%%)",
                  a.production_wh, b.production_wh, big > 0 ? 100.0 * diff / big : 0.0);
}

void daemon_check_health(struct daemon *d)
{
    int64_t now_ms = time_mono_ms();
    if (now_ms < d->next_health_ms)
        return;
    d->next_health_ms = now_ms + HEALTH_EVERY_MS;
    int64_t now = time_now_s();
    check_sources(d, now);
    check_devices(d, now);
    check_sinks_and_store(d, now);
    if (d->store)
        check_disagreement(d, now);
    if (d->alerts.version != d->alerts_published) {
        char *json = alerts_json(&d->alerts);
        for (size_t i = 0; json && i < d->n_sinks; i++) {
            struct sink_rt *s = &d->sinks[i];
            if (s->state == SINK_RUNNING && s->sink->ops->alerts)
                s->sink->ops->alerts(s->sink, json);
        }
        free(json);
        d->alerts_published = d->alerts.version;
    }
}
