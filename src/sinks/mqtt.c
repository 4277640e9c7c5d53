/* The mqtt sink: libmosquitto driven from the daemon's loop, intervals from the store's outbox (QoS 1, delivered on PUBACK), Home Assistant discovery. */
#include <errno.h>
#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/ha_payload.h"
#include "sinks/mqtt_sink.h"
#include "store/store.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/grow.h"
#include "util/url_redact.h"

static const char *const MOD = "mqtt";

enum {
    BACKOFF_FIRST_MS = 500,
    BACKOFF_MAX_MS = 60000,
    CONNECT_TIMEOUT_MS = 10000,
    KEEPALIVE_S = 60,
    /* idle() calls the broker unreachable after this many failed connects in
     * a row (0.5 + 1 + 2 s of back-off): --until-idle then exits 1. */
    UNREACHABLE_AFTER = 3,
    BATCH_MAX = 500,       /* outbox entries per batch */
    PUBLISH_EVERY_MS = 1000, /* live and device states: at most this often */
    DEVICES_MAX = 1024,
    ALERTS_MAX = 32,
    STOP_WAIT_MS = 1000,   /* for the PUBACK of "offline" in stop() */
    TOPIC_MAX = 512,
};

enum conn_state { CS_DOWN, CS_CONNECTING, CS_UP };

/* The sums of one local date (YYYYMMDD) and its newest interval. */
struct day_sum {
    int date;
    struct ha_sums sums;
    struct interval_row last;
    bool has_last;
};

struct batch_entry {
    char series[ENGINE_SERIES_MAX];
    int64_t interval_end, revision;
};

struct int_vec {
    int *v;
    size_t n, cap;
};

struct mqtt_conn {
    struct mqtt_config *cfg;
    char shown_host[URL_SHOWN_SIZE]; /* cfg->host as logs and status show it */
    const struct pvtap_env *env;
    struct sink_runtime rt;
    struct ha_context ha;
    struct mosquitto *mosq;
    enum conn_state state;
    int64_t next_connect_ms, backoff_ms, connect_started_ms;
    unsigned failures; /* connects that did not reach CONNACK, in a row */
    bool refused;      /* the broker said no (credentials): logged, retried slowly */
    bool lost;         /* set by the disconnect callback, handled in step() */
    bool just_up;      /* set by the connect callback, handled in step() */
    char last_error[192];
    struct complaint complaint;

    struct int_vec mids;  /* QoS 1 publications not yet acknowledged */
    struct int_vec acked; /* PUBACKs seen by the callback, not yet handled */

    /* The outbox batch in flight: its entries are marked delivered once
     * every one of its publications is acknowledged. */
    struct batch_entry *batch;
    size_t n_batch;
    struct int_vec batch_mids;
    bool batch_active;

    struct day_sum *days; /* sorted by date */
    size_t n_days, cap_days;
    struct ha_sums total_floor, today_floor;
    int today_floor_date;
    char *state_json; /* the last site/state, re-published on (re)connect */

    struct ha_device *devs;
    size_t n_devs;
    bool devs_dirty, live_dirty;
    int64_t next_publish_ms;
    int64_t next_misc_ms; /* next keep-alive/time-out check */
    char *alerts_json; /* the last published alerts */
    char *daemon_alerts; /* the daemon's alert set (JSON array), or NULL */

    bool discovery_due; /* (re-)announce everything present */
    uint32_t site_announced, live_announced;
};

/* ---- small helpers ---------------------------------------------------------- */

static int vec_push(struct int_vec *v, int x)
{
    if (GROW(&v->v, &v->cap, v->n, 64) < 0)
        return PVTAP_ENOMEM;
    v->v[v->n++] = x;
    return 0;
}

static bool vec_remove(struct int_vec *v, int x)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] == x) {
            v->v[i] = v->v[--v->n];
            return true;
        }
    return false;
}

static void vec_free(struct int_vec *v)
{
    free(v->v);
    memset(v, 0, sizeof *v);
}

static struct mqtt_conn *conn_of(struct sink *sink)
{
    struct mqtt_sink_priv *p = sink->priv;
    return p->conn;
}

/* A topic level from a serial: '/', '+' and '#' would change the topic's shape. */
static void topic_level(const char *s, char *out, size_t out_size)
{
    snprintf(out, out_size, "%s", s);
    for (char *c = out; *c; c++)
        if (*c == '/' || *c == '+' || *c == '#')
            *c = '_';
}

/* ---- sums by local date ------------------------------------------------------ */

static struct day_sum *day_get(struct mqtt_conn *c, int date)
{
    size_t lo = 0, hi = c->n_days;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->days[mid].date < date)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_days && c->days[lo].date == date)
        return &c->days[lo];
    if (c->n_days == c->cap_days) {
        size_t cap = c->cap_days ? c->cap_days * 2 : 64;
        struct day_sum *p = realloc(c->days, cap * sizeof *p);
        if (!p)
            return NULL;
        c->days = p;
        c->cap_days = cap;
    }
    memmove(&c->days[lo + 1], &c->days[lo], (c->n_days - lo) * sizeof *c->days);
    c->n_days++;
    memset(&c->days[lo], 0, sizeof c->days[lo]);
    c->days[lo].date = date;
    return &c->days[lo];
}

static void day_add(struct day_sum *d, const struct interval_row *row, const char *series)
{
    ha_sums_add_row(&d->sums, row);
    if (!d->has_last || row->interval_end >= d->last.interval_end) {
        d->last = *row;
        d->last.series = series;
        d->has_last = true;
    }
}

struct scan_ctx {
    struct mqtt_conn *c;
    int only_date; /* 0: every date */
    int rc;
};

static int scan_cb(void *ctx, const struct store_interval *iv)
{
    struct scan_ctx *s = ctx;
    int date = tz_local_date(s->c->rt.tz, iv->row.interval_end);
    if (s->only_date && date != s->only_date)
        return 0;
    struct day_sum *d = day_get(s->c, date);
    if (!d) {
        s->rc = PVTAP_ENOMEM;
        return 1;
    }
    day_add(d, &iv->row, s->c->cfg->series);
    return 0;
}

static int scan_all(struct mqtt_conn *c)
{
    struct scan_ctx s = {c, 0, 0};
    int rc = store_query_intervals(c->rt.store, c->cfg->series, INT64_MIN / 2, INT64_MAX / 2,
                                   scan_cb, &s);
    return s.rc ? s.rc : rc;
}

/* Recompute one local date from the store (after revisions of it). */
static int rescan_day(struct mqtt_conn *c, int date)
{
    struct day_sum *d = day_get(c, date);
    if (!d)
        return PVTAP_ENOMEM;
    memset(&d->sums, 0, sizeof d->sums);
    d->has_last = false;
    int64_t start = tz_from_local(c->rt.tz, date / 10000, date / 100 % 100, date % 100, 0, 0, 0);
    struct scan_ctx s = {c, date, 0};
    /* A local day is 23 to 25 hours long: query 26 h and keep its date's. */
    int rc = store_query_intervals(c->rt.store, c->cfg->series, start, start + 26 * 3600, scan_cb,
                                   &s);
    return s.rc ? s.rc : rc;
}

/* The state of the newest interval, or false when the series has none. */
static bool site_state(struct mqtt_conn *c, struct ha_site_state *st)
{
    memset(st, 0, sizeof *st);
    const struct day_sum *newest = NULL;
    for (size_t i = c->n_days; i > 0; i--)
        if (c->days[i - 1].has_last) {
            newest = &c->days[i - 1];
            break;
        }
    if (!newest)
        return false;
    st->row = newest->last;
    st->today = newest->sums;
    for (size_t i = 0; i < c->n_days; i++)
        ha_sums_add(&st->total, &c->days[i].sums);
    /* Published values never go down (a revision may lower a sum). */
    ha_sums_floor(&st->total, &c->total_floor);
    if (c->today_floor_date != newest->date) {
        memset(&c->today_floor, 0, sizeof c->today_floor);
        c->today_floor_date = newest->date;
    }
    ha_sums_floor(&st->today, &c->today_floor);
    return true;
}

/* ---- publishing ---------------------------------------------------------------- */

static void conn_lost(struct mqtt_conn *c, const char *why);

/* QoS 1 publications are tracked (mid_out, when not NULL, gets the mid). */
static int publish(struct mqtt_conn *c, const char *topic, const char *payload, int qos,
                   bool retain, int *mid_out)
{
    if (!c->mosq || c->state != CS_UP)
        return PVTAP_EAGAIN;
    int mid = 0;
    int rc = mosquitto_publish(c->mosq, &mid, topic, (int)strlen(payload), payload, qos, retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[160];
        snprintf(why, sizeof why, "publish to %s: %s", topic, mosquitto_strerror(rc));
        if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO) {
            conn_lost(c, why);
        } else {
            log_msg(LOGL_WARNING, MOD, "%s", why);
        }
        return PVTAP_EIO;
    }
    if (qos > 0 && vec_push(&c->mids, mid) < 0)
        return PVTAP_ENOMEM;
    if (mid_out)
        *mid_out = mid;
    return 0;
}

static int publish_owned(struct mqtt_conn *c, const char *topic, char *payload, int qos,
                         bool retain, int *mid_out)
{
    if (!payload)
        return PVTAP_ENOMEM;
    int rc = publish(c, topic, payload, qos, retain, mid_out);
    ha_free(payload);
    return rc;
}

static void announce(struct mqtt_conn *c, const struct ha_sensor *sensor,
                     const struct ha_device *dev, const char *state_topic)
{
    char topic[TOPIC_MAX];
    char *payload = NULL;
    int rc = ha_discovery(&c->ha, sensor, dev, state_topic, topic, sizeof topic, &payload);
    if (rc < 0) {
        log_msg(LOGL_WARNING, MOD, "discovery of %s: %s", sensor->key, pvtap_strerror(rc));
        return;
    }
    publish_owned(c, topic, payload, 1, true, NULL);
}

/* Announce the sensors of a state whose JSON now has their key. */
static void announce_present(struct mqtt_conn *c, const struct ha_sensor *sensors, size_t n,
                             uint32_t *announced, const char *json, const char *state_topic)
{
    for (size_t i = 0; i < n && i < 32; i++)
        if (!(*announced & (1u << i)) && ha_json_has_key(json, sensors[i].key)) {
            announce(c, &sensors[i], NULL, state_topic);
            if (c->state == CS_UP)
                *announced |= 1u << i;
        }
}

static void publish_state(struct mqtt_conn *c, int *mid_out)
{
    struct ha_site_state st;
    if (!site_state(c, &st))
        return;
    char *json = ha_site_state_json(&st);
    if (!json) {
        log_msg(LOGL_ERR, MOD, "out of memory building site/state");
        return;
    }
    ha_free(c->state_json);
    c->state_json = json;
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/site/state", c->cfg->topic);
    announce_present(c, ha_site_state_sensors, ha_n_site_state_sensors, &c->site_announced, json,
                     topic);
    publish(c, topic, json, 1, true, mid_out);
}

/* ---- the outbox ---------------------------------------------------------------- */

static int batch_cb(void *ctx, const struct outbox_entry *e)
{
    struct mqtt_conn *c = ctx;
    if (c->n_batch >= BATCH_MAX)
        return 1;
    struct batch_entry *b = &c->batch[c->n_batch++];
    snprintf(b->series, sizeof b->series, "%s", e->series);
    b->interval_end = e->interval_end;
    b->revision = e->revision;
    return 0;
}

struct one_row {
    struct interval_row row;
    bool found;
};

static int one_row_cb(void *ctx, const struct store_interval *iv)
{
    struct one_row *o = ctx;
    o->row = iv->row;
    o->found = true;
    return 1;
}

enum mark_which { MARK_OTHERS, MARK_OURS, MARK_ALL };

static void mark_batch(struct mqtt_conn *c, enum mark_which which)
{
    struct store *st = c->rt.store;
    if (store_begin(st) < 0)
        return; /* stays pending: delivered again later (at least once) */
    int64_t now = c->rt.now_s();
    for (size_t i = 0; i < c->n_batch; i++) {
        const struct batch_entry *b = &c->batch[i];
        bool ours = strcmp(b->series, c->cfg->series) == 0;
        if ((which == MARK_OURS && !ours) || (which == MARK_OTHERS && ours))
            continue;
        int rc = store_outbox_mark(st, "mqtt", b->series, b->interval_end, b->revision,
                                   OUTBOX_DELIVERED, ours ? NULL : "not the mqtt series", now);
        /* ENOTFOUND: revised meanwhile, the newer revision stays pending */
        if (rc < 0 && rc != PVTAP_ENOTFOUND) {
            store_rollback(st);
            return;
        }
    }
    if (store_commit(st) < 0)
        store_rollback(st);
}

/* Read the next batch from the outbox and publish it: one site/interval
 * per entry of our series, then one site/state describing the newest
 * interval with the sums that include them. Entries of other series carry
 * nothing to publish and are marked at once. */
static void start_batch(struct mqtt_conn *c)
{
    c->n_batch = 0;
    c->batch_mids.n = 0;
    if (store_outbox_pending(c->rt.store, "mqtt", BATCH_MAX, batch_cb, c) < 0 || !c->n_batch)
        return;
    bool any = false;
    int dates[BATCH_MAX];
    size_t n_dates = 0;
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/site/interval", c->cfg->topic);
    for (size_t i = 0; i < c->n_batch && c->state == CS_UP; i++) {
        const struct batch_entry *b = &c->batch[i];
        if (strcmp(b->series, c->cfg->series) != 0)
            continue;
        any = true;
        int date = tz_local_date(c->rt.tz, b->interval_end);
        bool seen = false;
        for (size_t k = 0; k < n_dates; k++)
            seen |= dates[k] == date;
        if (!seen)
            dates[n_dates++] = date;
        struct one_row o = {.found = false};
        store_query_intervals(c->rt.store, b->series, b->interval_end, b->interval_end + 1,
                              one_row_cb, &o);
        if (!o.found)
            continue; /* deleted since: nothing to say but the new sums */
        o.row.series = c->cfg->series;
        int mid;
        if (publish_owned(c, topic, ha_interval_json(&o.row, b->revision), 1, false, &mid) == 0)
            vec_push(&c->batch_mids, mid);
    }
    if (c->state != CS_UP)
        return; /* lost while publishing: the entries stay pending */
    if (!any) {
        mark_batch(c, MARK_ALL);
        return;
    }
    for (size_t k = 0; k < n_dates; k++)
        if (rescan_day(c, dates[k]) < 0)
            log_msg(LOGL_ERR, MOD, "cannot re-read the intervals of %d", dates[k]);
    int mid = -1;
    publish_state(c, &mid);
    if (mid >= 0)
        vec_push(&c->batch_mids, mid);
    mark_batch(c, MARK_OTHERS); /* at once; ours once acknowledged */
    c->batch_active = true;
}

static void handle_acks(struct mqtt_conn *c)
{
    for (size_t i = 0; i < c->acked.n; i++) {
        int mid = c->acked.v[i];
        vec_remove(&c->mids, mid);
        if (c->batch_active)
            vec_remove(&c->batch_mids, mid);
    }
    c->acked.n = 0;
    if (c->batch_active && c->batch_mids.n == 0) {
        mark_batch(c, MARK_OURS);
        c->batch_active = false;
        c->n_batch = 0;
    }
}

/* ---- devices, live, alerts ------------------------------------------------------ */

static void publish_devices(struct mqtt_conn *c)
{
    for (size_t i = 0; i < c->n_devs && c->state == CS_UP; i++) {
        struct ha_device *d = &c->devs[i];
        if (!d->dirty)
            continue;
        char level[64], topic[TOPIC_MAX];
        topic_level(d->serial, level, sizeof level);
        snprintf(topic, sizeof topic, "%s/device/%s/state", c->cfg->topic, level);
        for (int q = 1; q < Q_COUNT_; q++) {
            const struct ha_sensor *s = ha_quantity_sensor((enum quantity)q);
            uint32_t bit = 1u << q;
            if (s && (d->has & bit) && !(d->announced & bit)) {
                announce(c, s, d, topic);
                d->announced |= bit;
            }
        }
        if (publish_owned(c, topic, ha_device_state_json(d), 1, true, NULL) == 0)
            d->dirty = false;
    }
    c->devs_dirty = false;
    for (size_t i = 0; i < c->n_devs; i++)
        c->devs_dirty |= c->devs[i].dirty;
}

static void publish_live(struct mqtt_conn *c)
{
    struct ha_live l;
    c->live_dirty = false;
    if (!ha_live_compute(c->devs, c->n_devs, c->cfg->series, &l))
        return;
    char *json = ha_live_json(&l);
    if (!json)
        return;
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/site/live", c->cfg->topic);
    announce_present(c, ha_site_live_sensors, ha_n_site_live_sensors, &c->live_announced, json,
                     topic);
    /* Power now is stale in seconds: QoS 0, not retained. */
    publish_owned(c, topic, json, 0, false, NULL);
}

static void publish_alerts(struct mqtt_conn *c)
{
    struct ha_alert alerts[ALERTS_MAX];
    struct ha_site_state st;
    bool have = site_state(c, &st);
    size_t n = ha_alerts_compute(have ? &st.row : NULL, c->devs, c->n_devs, alerts, ALERTS_MAX);
    char *json = ha_alerts_json(alerts, n);
    if (!json)
        return;
    if (c->daemon_alerts) {
        /* One list for Home Assistant: the daemon's alerts (silent
         * supervisor, store, uploads...) then the sink's own. */
        cJSON *all = cJSON_Parse(c->daemon_alerts);
        cJSON *own = cJSON_Parse(json);
        cJSON *item;
        if (cJSON_IsArray(all) && cJSON_IsArray(own)) {
            while ((item = cJSON_DetachItemFromArray(own, 0)) != NULL)
                cJSON_AddItemToArray(all, item);
            char *merged = cJSON_PrintUnformatted(all);
            if (merged) {
                ha_free(json);
                json = strdup(merged);
                cJSON_free(merged);
            }
        }
        cJSON_Delete(all);
        cJSON_Delete(own);
        if (!json)
            return;
    }
    if (c->alerts_json && strcmp(c->alerts_json, json) == 0) {
        ha_free(json);
        return;
    }
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/alerts", c->cfg->topic);
    if (publish(c, topic, json, 1, true, NULL) == 0) {
        ha_free(c->alerts_json);
        c->alerts_json = json;
    } else {
        ha_free(json);
    }
}

/* ---- the connection ---------------------------------------------------------------- */

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    struct mqtt_conn *c = obj;
    (void)m;
    if (rc == 0) {
        c->just_up = true;
        return;
    }
    c->refused = true;
    snprintf(c->last_error, sizeof c->last_error, "broker refused the connection: %s",
             mosquitto_connack_string(rc));
    c->lost = true;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    struct mqtt_conn *c = obj;
    (void)m;
    if (rc != 0)
        c->lost = true;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    struct mqtt_conn *c = obj;
    (void)m;
    if (vec_push(&c->acked, mid) < 0)
        log_msg(LOGL_ERR, MOD, "out of memory noting an acknowledgement");
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    struct mqtt_conn *c = obj;
    (void)m;
    /* Home Assistant restarted: it forgot non-retained discovery, and a
     * retained one may have been cleared: announce everything again. */
    if (msg->payloadlen == 6 && memcmp(msg->payload, "online", 6) == 0)
        c->discovery_due = true;
}

static void conn_lost(struct mqtt_conn *c, const char *why)
{
    if (why && why[0] && !c->refused)
        snprintf(c->last_error, sizeof c->last_error, "%s", why);
    bool was_up = c->state == CS_UP;
    if (c->mosq) {
        mosquitto_destroy(c->mosq); /* its queue goes too: the outbox is the queue */
        c->mosq = NULL;
    }
    c->state = CS_DOWN;
    c->lost = false;
    c->just_up = false;
    c->mids.n = c->acked.n = c->batch_mids.n = 0;
    c->batch_active = false;
    c->n_batch = 0;
    if (was_up)
        c->failures = 0;
    c->failures++;
    int64_t now = time_mono_ms();
    /* A refusal will not change in a second: wait as long as allowed. */
    int64_t wait = c->refused ? BACKOFF_MAX_MS : c->backoff_ms;
    c->next_connect_ms = now + wait;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    complain(&c->complaint, c->rt.now_s(), LOGL_WARNING, MOD, "broker %s:%lld: %s (retry in %lld ms)",
             c->shown_host, c->cfg->port, c->last_error, (long long)wait);
}

static int errno_or(int rc)
{
    return rc == MOSQ_ERR_ERRNO ? errno : 0;
}

static void conn_start(struct mqtt_conn *c)
{
    char id[96], site[64];
    ha_object_id_part(c->env->site.name[0] ? c->env->site.name : "site", site, sizeof site);
    /* Unique per process: two gateways with one site name must not keep
     * kicking each other off the broker. */
    snprintf(id, sizeof id, "pvtap_%s_%ld", site, (long)getpid());
    c->refused = false;
    c->mosq = mosquitto_new(id, true, c);
    if (!c->mosq) {
        conn_lost(c, "out of memory creating the client");
        return;
    }
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    mosquitto_message_callback_set(c->mosq, on_message);
    char will[TOPIC_MAX];
    snprintf(will, sizeof will, "%s/status", c->cfg->topic);
    int rc = mosquitto_will_set(c->mosq, will, 7, "offline", 1, true);
    if (rc == MOSQ_ERR_SUCCESS && c->cfg->username[0])
        rc = mosquitto_username_pw_set(c->mosq, c->cfg->username,
                                       c->cfg->password[0] ? c->cfg->password : NULL);
    if (rc == MOSQ_ERR_SUCCESS && c->cfg->tls_ca[0])
        rc = mosquitto_tls_set(c->mosq, c->cfg->tls_ca, NULL, NULL, NULL, NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[192];
        snprintf(why, sizeof why, "client set-up: %s", mosquitto_strerror(rc));
        conn_lost(c, why);
        return;
    }
    c->state = CS_CONNECTING;
    c->connect_started_ms = time_mono_ms();
    /* The name is resolved here (blocking, as getaddrinfo is); the TCP
     * connect itself proceeds in the loop. */
    rc = mosquitto_connect_async(c->mosq, c->cfg->host, (int)c->cfg->port, KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[192];
        int e = errno_or(rc);
        snprintf(why, sizeof why, "connect: %s", e ? strerror(e) : mosquitto_strerror(rc));
        conn_lost(c, why);
    }
}

static void conn_up(struct mqtt_conn *c)
{
    c->state = CS_UP;
    c->just_up = false;
    c->failures = 0;
    c->backoff_ms = BACKOFF_FIRST_MS;
    c->last_error[0] = '\0';
    complain_clear(&c->complaint, MOD, "connected to %s:%lld", c->shown_host, c->cfg->port);
    log_msg(LOGL_INFO, MOD, "connected to %s:%lld", c->shown_host, c->cfg->port);
    char topic[TOPIC_MAX];
    snprintf(topic, sizeof topic, "%s/status", c->cfg->topic);
    publish(c, topic, "online", 1, true, NULL);
    snprintf(topic, sizeof topic, "%s/status", c->cfg->discovery_prefix);
    mosquitto_subscribe(c->mosq, NULL, topic, 1);
    /* A broker that lost its retained messages gets them all back. */
    c->discovery_due = true;
    for (size_t i = 0; i < c->n_devs; i++)
        c->devs[i].dirty = c->devs[i].has != 0;
    c->devs_dirty = c->live_dirty = true;
    ha_free(c->alerts_json);
    c->alerts_json = NULL;
}

/* Read, write and keep alive whatever the socket allows now. */
static void service_socket(struct mqtt_conn *c)
{
    if (!c->mosq)
        return;
    int fd = mosquitto_socket(c->mosq);
    if (fd < 0) {
        if (c->state != CS_DOWN)
            conn_lost(c, "connection closed");
        return;
    }
    struct pollfd p = {.fd = fd, .events = POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0)};
    if (poll(&p, 1, 0) < 0)
        return;
    int rc = MOSQ_ERR_SUCCESS;
    if (p.revents & (POLLIN | POLLERR | POLLHUP))
        rc = mosquitto_loop_read(c->mosq, 64);
    if (rc == MOSQ_ERR_SUCCESS && c->mosq && (p.revents & POLLOUT))
        rc = mosquitto_loop_write(c->mosq, 64);
    if (rc == MOSQ_ERR_SUCCESS && c->mosq)
        rc = mosquitto_loop_misc(c->mosq);
    if (rc != MOSQ_ERR_SUCCESS || c->lost) {
        char why[192];
        int e = errno_or(rc);
        if (c->refused)
            why[0] = '\0';
        else if (rc == MOSQ_ERR_SUCCESS)
            snprintf(why, sizeof why, "disconnected");
        else
            snprintf(why, sizeof why, "%s", e ? strerror(e) : mosquitto_strerror(rc));
        conn_lost(c, why);
        return;
    }
    if (c->just_up)
        conn_up(c);
    if (c->state == CS_CONNECTING &&
        time_mono_ms() - c->connect_started_ms > CONNECT_TIMEOUT_MS)
        conn_lost(c, "no answer to CONNECT in time");
}

/* ---- the hooks ---------------------------------------------------------------- */

int mqtt_sink_start(struct sink *sink, const struct sink_runtime *rt)
{
    struct mqtt_sink_priv *p = sink->priv;
    if (p->conn)
        return 0;
    struct mqtt_conn *c = calloc(1, sizeof *c);
    if (!c)
        return PVTAP_ENOMEM;
    c->batch = calloc(BATCH_MAX, sizeof *c->batch);
    c->devs = calloc(DEVICES_MAX, sizeof *c->devs);
    if (!c->batch || !c->devs) {
        free(c->batch);
        free(c->devs);
        free(c);
        return PVTAP_ENOMEM;
    }
    c->cfg = &p->cfg;
    url_redact(c->cfg->host, c->shown_host, sizeof c->shown_host);
    c->env = sink->env;
    c->rt = *rt;
    c->ha.topic = c->cfg->topic;
    c->ha.discovery_prefix = c->cfg->discovery_prefix;
    c->ha.site = c->env && c->env->site.name[0] ? c->env->site.name : "site";
    c->ha.version = PVTAP_VERSION;
    c->backoff_ms = BACKOFF_FIRST_MS;
    int rc = scan_all(c);
    if (rc < 0) {
        free(c->days);
        free(c->batch);
        free(c->devs);
        free(c);
        return rc;
    }
    mosquitto_lib_init();
    p->conn = c;
    c->next_connect_ms = time_mono_ms();
    log_msg(LOGL_INFO, MOD, "publishing series %s to %s:%lld under %s/", c->cfg->series,
            c->shown_host, c->cfg->port, c->cfg->topic);
    return 0;
}

size_t mqtt_sink_pollfds(struct sink *sink, struct pollfd *fds, size_t max, int64_t *next_due_ms)
{
    struct mqtt_conn *c = conn_of(sink);
    int64_t now = time_mono_ms();
    if (!c)
        return 0;
    if (c->state == CS_DOWN) {
        *next_due_ms = c->next_connect_ms;
        return 0;
    }
    /* Keep-alive pings, the connect time-out and throttled publications.
     * Stable times set by step(): "now + x" here would never come due. */
    int64_t due = c->next_misc_ms;
    if ((c->devs_dirty || c->live_dirty) && c->next_publish_ms < due)
        due = c->next_publish_ms;
    *next_due_ms = due;
    (void)now;
    int fd = c->mosq ? mosquitto_socket(c->mosq) : -1;
    if (fd < 0 || max == 0)
        return 0;
    fds[0] = (struct pollfd){.fd = fd, .events = POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0)};
    return 1;
}

int mqtt_sink_step(struct sink *sink)
{
    struct mqtt_conn *c = conn_of(sink);
    if (!c)
        return 0;
    int64_t now = time_mono_ms();
    c->next_misc_ms = now + PUBLISH_EVERY_MS;
    if (c->state == CS_DOWN && now >= c->next_connect_ms)
        conn_start(c);
    service_socket(c);
    if (c->state != CS_UP)
        return 0;
    handle_acks(c);
    if (c->discovery_due) {
        c->discovery_due = false;
        c->site_announced = c->live_announced = 0;
        for (size_t i = 0; i < c->n_devs; i++) {
            c->devs[i].announced = 0;
            c->devs[i].dirty = c->devs[i].has != 0;
        }
        c->devs_dirty = c->live_dirty = true;
        /* the retained state again, which announces its sensors */
        if (!c->batch_active)
            publish_state(c, NULL);
    }
    /* Batches follow one another as fast as the broker acknowledges. */
    for (int i = 0; i < 4 && c->state == CS_UP && !c->batch_active; i++) {
        start_batch(c);
        if (!c->batch_active && c->n_batch == 0)
            break;
        service_socket(c);
        handle_acks(c);
    }
    if (c->state == CS_UP && now >= c->next_publish_ms && (c->devs_dirty || c->live_dirty)) {
        c->next_publish_ms = now + PUBLISH_EVERY_MS;
        if (c->devs_dirty)
            publish_devices(c);
        if (c->live_dirty)
            publish_live(c);
        publish_alerts(c);
    }
    service_socket(c);
    return 0;
}

void mqtt_sink_live(struct sink *sink, const struct reading *r)
{
    struct mqtt_conn *c = conn_of(sink);
    if (!c || !r->device[0])
        return;
    struct ha_device *d = NULL;
    for (size_t i = 0; i < c->n_devs; i++)
        if (strcmp(c->devs[i].serial, r->device) == 0) {
            d = &c->devs[i];
            break;
        }
    if (!d) {
        if (c->n_devs >= DEVICES_MAX)
            return;
        d = &c->devs[c->n_devs++];
        memset(d, 0, sizeof *d);
    }
    if (ha_device_update(d, r)) {
        d->seen_mono_ms = time_mono_ms();
        c->devs_dirty = true;
        if (r->q == Q_POWER_W)
            c->live_dirty = true;
    }
}

void mqtt_sink_alerts(struct sink *sink, const char *alerts_json)
{
    struct mqtt_conn *c = conn_of(sink);
    if (!c)
        return;
    char *copy = strdup(alerts_json);
    if (!copy)
        return;
    free(c->daemon_alerts);
    c->daemon_alerts = copy;
    publish_alerts(c);
}

int mqtt_sink_idle(struct sink *sink, char *why, size_t why_size)
{
    struct mqtt_conn *c = conn_of(sink);
    if (!c) {
        snprintf(why, why_size, "not started");
        return -1;
    }
    int64_t pending = 0;
    store_outbox_count(c->rt.store, "mqtt", OUTBOX_PENDING, &pending);
    if (c->state != CS_UP) {
        if (c->refused || c->failures >= UNREACHABLE_AFTER) {
            snprintf(why, why_size, "%lld intervals pending: broker %s:%lld: %s",
                     (long long)pending, c->shown_host, c->cfg->port,
                     c->last_error[0] ? c->last_error : "unreachable");
            return -1;
        }
        return 0;
    }
    if (pending > 0 || c->batch_active || c->mids.n > 0 || c->acked.n > 0 || c->devs_dirty ||
        c->live_dirty || c->discovery_due || (c->mosq && mosquitto_want_write(c->mosq)))
        return 0;
    return 1;
}

void mqtt_sink_stop(struct sink *sink)
{
    struct mqtt_sink_priv *p = sink->priv;
    struct mqtt_conn *c = p->conn;
    if (!c)
        return;
    if (c->state == CS_UP && c->mosq) {
        /* "offline" ourselves, then a DISCONNECT: the broker drops the will
         * on a clean disconnect, so without this HA would keep "online". */
        char topic[TOPIC_MAX];
        snprintf(topic, sizeof topic, "%s/status", c->cfg->topic);
        int mid = -1;
        publish(c, topic, "offline", 1, true, &mid);
        int64_t until = time_mono_ms() + STOP_WAIT_MS;
        while (mid >= 0 && c->state == CS_UP && time_mono_ms() < until) {
            bool acked = false;
            for (size_t i = 0; i < c->acked.n; i++)
                acked |= c->acked.v[i] == mid;
            if (acked)
                break;
            int fd = mosquitto_socket(c->mosq);
            struct pollfd pfd = {.fd = fd, .events = POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0)};
            if (fd < 0 || poll(&pfd, 1, 50) < 0)
                break;
            service_socket(c);
        }
        if (c->mosq) {
            mosquitto_disconnect(c->mosq);
            mosquitto_loop_write(c->mosq, 1);
        }
    }
    if (c->mosq)
        mosquitto_destroy(c->mosq);
    mosquitto_lib_cleanup();
    vec_free(&c->mids);
    vec_free(&c->acked);
    vec_free(&c->batch_mids);
    ha_free(c->state_json);
    free(c->daemon_alerts);
    c->daemon_alerts = NULL;
    ha_free(c->alerts_json);
    free(c->days);
    free(c->batch);
    free(c->devs);
    free(c);
    p->conn = NULL;
}
