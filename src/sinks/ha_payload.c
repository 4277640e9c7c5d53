/* MQTT payloads of the mqtt sink and Home Assistant discovery configs: pure, no I/O. */
#include "sinks/ha_payload.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/timeutil.h"

void ha_free(char *s)
{
    cJSON_free(s);
}

/* ---- sums ------------------------------------------------------------------ */

static int64_t to_dwh(double wh)
{
    return llround(engine_round_wh(wh) * 10.0);
}

void ha_sums_add_row(struct ha_sums *s, const struct interval_row *row)
{
    if (row->has & IHAS_PRODUCTION) {
        s->production_dwh += to_dwh(row->production_wh);
        s->has |= IHAS_PRODUCTION;
    }
    if (row->has & IHAS_CONSUMPTION) {
        s->consumption_dwh += to_dwh(row->consumption_wh);
        s->has |= IHAS_CONSUMPTION;
    }
    int64_t net = 0;
    if (row->has & IHAS_NET) {
        net = to_dwh(row->net_wh);
        s->net_dwh += net;
        s->has |= IHAS_NET;
    }
    /* Counters where the meter has them, else the sign of net. */
    if (row->has & IHAS_IMPORT) {
        s->import_dwh += to_dwh(row->import_wh);
        s->has |= IHAS_IMPORT;
    } else if (row->has & IHAS_NET) {
        s->import_dwh += net > 0 ? net : 0;
        s->has |= IHAS_IMPORT;
    }
    if (row->has & IHAS_EXPORT) {
        s->export_dwh += to_dwh(row->export_wh);
        s->has |= IHAS_EXPORT;
    } else if (row->has & IHAS_NET) {
        s->export_dwh += net < 0 ? -net : 0;
        s->has |= IHAS_EXPORT;
    }
    s->intervals++;
}

void ha_sums_add(struct ha_sums *dst, const struct ha_sums *src)
{
    dst->production_dwh += src->production_dwh;
    dst->net_dwh += src->net_dwh;
    dst->consumption_dwh += src->consumption_dwh;
    dst->import_dwh += src->import_dwh;
    dst->export_dwh += src->export_dwh;
    dst->has |= src->has;
    dst->intervals += src->intervals;
}

static void floor_one(int64_t *v, int64_t *fl, unsigned bit, unsigned *has, unsigned *fhas)
{
    if (*fhas & bit) {
        if (!(*has & bit) || *v < *fl)
            *v = *fl;
        *has |= bit;
    }
    if (*has & bit) {
        *fl = *v;
        *fhas |= bit;
    }
}

void ha_sums_floor(struct ha_sums *s, struct ha_sums *fl)
{
    floor_one(&s->production_dwh, &fl->production_dwh, IHAS_PRODUCTION, &s->has, &fl->has);
    floor_one(&s->consumption_dwh, &fl->consumption_dwh, IHAS_CONSUMPTION, &s->has, &fl->has);
    floor_one(&s->import_dwh, &fl->import_dwh, IHAS_IMPORT, &s->has, &fl->has);
    floor_one(&s->export_dwh, &fl->export_dwh, IHAS_EXPORT, &s->has, &fl->has);
    if (s->has & IHAS_NET) {
        fl->net_dwh = s->net_dwh;
        fl->has |= IHAS_NET;
    }
}

/* ---- JSON helpers ------------------------------------------------------------ */

static char *print_free(cJSON *root)
{
    char *out = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return out;
}

/* cJSON_Add*ToObject returns NULL when out of memory; collected in *ok. */
static void add_num(cJSON *o, const char *key, double v, bool *ok)
{
    if (!cJSON_AddNumberToObject(o, key, v))
        *ok = false;
}

static void add_str(cJSON *o, const char *key, const char *v, bool *ok)
{
    if (!cJSON_AddStringToObject(o, key, v))
        *ok = false;
}

static void add_time(cJSON *o, const char *key, int64_t t, bool *ok)
{
    char iso[32];
    time_format_iso_utc(t, iso, sizeof iso);
    add_str(o, key, iso, ok);
}

static void add_row_energies(cJSON *o, const struct interval_row *row, bool *ok)
{
    static const struct {
        const char *key;
        unsigned bit;
        size_t off;
    } e[] = {
        {"production_wh", IHAS_PRODUCTION, offsetof(struct interval_row, production_wh)},
        {"net_wh", IHAS_NET, offsetof(struct interval_row, net_wh)},
        {"consumption_wh", IHAS_CONSUMPTION, offsetof(struct interval_row, consumption_wh)},
        {"import_wh", IHAS_IMPORT, offsetof(struct interval_row, import_wh)},
        {"export_wh", IHAS_EXPORT, offsetof(struct interval_row, export_wh)},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++)
        if (row->has & e[i].bit) {
            double wh;
            memcpy(&wh, (const char *)row + e[i].off, sizeof wh);
            add_num(o, e[i].key, engine_round_wh(wh), ok);
        }
    if (row->flags) {
        char flags[64];
        engine_flags_format(row->flags, flags, sizeof flags);
        add_str(o, "flags", flags, ok);
    }
}

/* deci-Wh -> kWh, exact to the 0.1 Wh kept */
static double dwh_to_kwh(int64_t dwh)
{
    return (double)dwh / 10000.0;
}

static void add_sums(cJSON *o, const struct ha_sums *s, const char *period, bool *ok)
{
    const struct {
        const char *name;
        unsigned bit;
        int64_t v;
    } q[] = {
        {"production", IHAS_PRODUCTION, s->production_dwh},
        {"consumption", IHAS_CONSUMPTION, s->consumption_dwh},
        {"import", IHAS_IMPORT, s->import_dwh},
        {"export", IHAS_EXPORT, s->export_dwh},
        {"net", IHAS_NET, s->net_dwh},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (s->has & q[i].bit) {
            char key[48];
            snprintf(key, sizeof key, "%s_%s_kWh", q[i].name, period);
            add_num(o, key, dwh_to_kwh(q[i].v), ok);
        }
}

char *ha_site_state_json(const struct ha_site_state *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = true;
    add_time(o, "interval_end", st->row.interval_end, &ok);
    add_str(o, "series", st->row.series ? st->row.series : "", &ok);
    add_row_energies(o, &st->row, &ok);
    add_sums(o, &st->today, "today", &ok);
    add_sums(o, &st->total, "total", &ok);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

char *ha_interval_json(const struct interval_row *row, int64_t revision)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = true;
    add_time(o, "interval_end", row->interval_end, &ok);
    add_str(o, "series", row->series ? row->series : "", &ok);
    add_row_energies(o, row, &ok);
    add_num(o, "revision", (double)revision, &ok);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

/* ---- devices ----------------------------------------------------------------- */

bool ha_device_update(struct ha_device *d, const struct reading *r)
{
    if (r->q <= 0 || r->q >= Q_COUNT_ || !isfinite(r->value))
        return false;
    if (d->has && r->time < d->time)
        return false;
    if (!d->has || r->time > d->time) {
        d->has = 0;
        d->time = r->time;
    }
    snprintf(d->serial, sizeof d->serial, "%s", r->device);
    snprintf(d->series, sizeof d->series, "%s", r->series ? r->series : "");
    d->kind = r->kind;
    d->msg = r->msg;
    d->value[r->q] = r->value;
    d->has |= 1u << r->q;
    d->dirty = true;
    return true;
}

char *ha_device_state_json(const struct ha_device *d)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = true;
    add_str(o, "serial", d->serial, &ok);
    add_str(o, "kind", device_kind_name(d->kind), &ok);
    if (d->msg)
        add_num(o, "msg", d->msg, &ok);
    add_time(o, "time", d->time, &ok);
    for (int q = 1; q < Q_COUNT_; q++)
        if (d->has & (1u << q))
            add_num(o, quantity_name((enum quantity)q), d->value[q], &ok);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

/* ---- live ------------------------------------------------------------------------ */

static bool has_power(const struct ha_device *d)
{
    return (d->has & (1u << Q_POWER_W)) != 0;
}

static bool in_series(const struct ha_device *d, const char *series)
{
    return !series || strcmp(d->series, series) == 0;
}

bool ha_live_compute(const struct ha_device *devs, size_t n, const char *series,
                     struct ha_live *out)
{
    memset(out, 0, sizeof *out);
    int64_t newest = INT64_MIN;
    bool any_inverter = false;
    for (size_t i = 0; i < n; i++)
        if (has_power(&devs[i]) && in_series(&devs[i], series)) {
            if (devs[i].time > newest)
                newest = devs[i].time;
            if (devs[i].kind == DEVICE_INVERTER)
                any_inverter = true;
        }
    if (newest == INT64_MIN)
        return false;
    out->time = newest;
    for (size_t i = 0; i < n; i++) {
        const struct ha_device *d = &devs[i];
        if (!has_power(d) || !in_series(d, series) || newest - d->time > HA_LIVE_STALE_S)
            continue;
        /* Production meters stand in only where no inverter reports, so the
         * same energy is never counted twice. */
        if (d->kind == DEVICE_INVERTER ||
            (d->kind == DEVICE_PRODUCTION_METER && !any_inverter)) {
            out->production_W += d->value[Q_POWER_W];
            out->has |= IHAS_PRODUCTION;
        } else if (d->kind == DEVICE_NET_METER) {
            out->net_W += d->value[Q_POWER_W];
            out->has |= IHAS_NET;
        } else if (d->kind == DEVICE_CONSUMPTION_METER) {
            /* a gross meter (the daemon marks a 'c' meter so on a gross site) */
            out->consumption_W += d->value[Q_POWER_W];
            out->has |= IHAS_CONSUMPTION;
        }
    }
    if (out->has & IHAS_CONSUMPTION) {
        if ((out->has & IHAS_PRODUCTION) && !(out->has & IHAS_NET)) {
            out->net_W = out->consumption_W - out->production_W;
            out->has |= IHAS_NET;
        }
    } else if ((out->has & IHAS_PRODUCTION) && (out->has & IHAS_NET)) {
        out->consumption_W = out->production_W + out->net_W;
        out->has |= IHAS_CONSUMPTION;
    }
    return out->has != 0;
}

char *ha_live_json(const struct ha_live *l)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = true;
    add_time(o, "time", l->time, &ok);
    /* 0.1 W, as the devices give it: a sum must not print float noise */
    if (l->has & IHAS_PRODUCTION)
        add_num(o, "production_W", engine_round_wh(l->production_W), &ok);
    if (l->has & IHAS_CONSUMPTION)
        add_num(o, "consumption_W", engine_round_wh(l->consumption_W), &ok);
    if (l->has & IHAS_NET)
        add_num(o, "net_W", engine_round_wh(l->net_W), &ok);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return print_free(o);
}

/* ---- alerts ---------------------------------------------------------------------- */

size_t ha_alerts_compute(const struct interval_row *newest, const struct ha_device *devs,
                         size_t n, struct ha_alert *out, size_t max)
{
    size_t k = 0;
    char when[32];
    if (newest && (newest->flags & IFLAG_GAP) && k < max) {
        time_format_iso_utc(newest->interval_end, when, sizeof when);
        snprintf(out[k].id, sizeof out[k].id, "gap");
        snprintf(out[k].text, sizeof out[k].text,
                 "series %s: records missing before %s (energy not attributed)",
                 newest->series ? newest->series : "?", when);
        out[k].since = newest->interval_end;
        k++;
    }
    if (newest && (newest->flags & IFLAG_COUNTER_RESET) && k < max) {
        time_format_iso_utc(newest->interval_end, when, sizeof when);
        snprintf(out[k].id, sizeof out[k].id, "counter_reset");
        snprintf(out[k].text, sizeof out[k].text, "series %s: a counter reset at %s",
                 newest->series ? newest->series : "?", when);
        out[k].since = newest->interval_end;
        k++;
    }
    int64_t latest = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        if (devs[i].has && devs[i].time > latest)
            latest = devs[i].time;
    for (size_t i = 0; i < n && k < max; i++) {
        if (!devs[i].has || latest - devs[i].time <= HA_SILENT_S)
            continue;
        time_format_iso_utc(devs[i].time, when, sizeof when);
        snprintf(out[k].id, sizeof out[k].id, "silent:%s", devs[i].serial);
        snprintf(out[k].text, sizeof out[k].text, "%s %s: no record since %s",
                 device_kind_name(devs[i].kind), devs[i].serial, when);
        out[k].since = devs[i].time;
        k++;
    }
    return k;
}

char *ha_alerts_json(const struct ha_alert *a, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            ok = false;
            break;
        }
        add_str(o, "id", a[i].id, &ok);
        add_str(o, "text", a[i].text, &ok);
        add_time(o, "since", a[i].since, &ok);
    }
    if (!ok) {
        cJSON_Delete(arr);
        return NULL;
    }
    return print_free(arr);
}

bool ha_json_has_key(const char *json, const char *key)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    bool has = cJSON_IsObject(o) && cJSON_HasObjectItem(o, key);
    cJSON_Delete(o);
    return has;
}

/* ---- discovery --------------------------------------------------------------------- */

/* Totals that only rise are total_increasing: HA's Energy dashboard takes
 * them and reads a drop as a meter reset. "today" values fall once a day,
 * at local midnight, which is exactly such a reset. Net may fall at any
 * time (exporting): "total". */
const struct ha_sensor ha_site_state_sensors[] = {
    {"production_total_kWh", "Production total", "energy", "kWh", "total_increasing"},
    {"consumption_total_kWh", "Consumption total", "energy", "kWh", "total_increasing"},
    {"import_total_kWh", "Grid import total", "energy", "kWh", "total_increasing"},
    {"export_total_kWh", "Grid export total", "energy", "kWh", "total_increasing"},
    {"net_total_kWh", "Grid net total", "energy", "kWh", "total"},
    {"production_today_kWh", "Production today", "energy", "kWh", "total_increasing"},
    {"consumption_today_kWh", "Consumption today", "energy", "kWh", "total_increasing"},
    {"import_today_kWh", "Grid import today", "energy", "kWh", "total_increasing"},
    {"export_today_kWh", "Grid export today", "energy", "kWh", "total_increasing"},
};
const size_t ha_n_site_state_sensors = sizeof ha_site_state_sensors / sizeof ha_site_state_sensors[0];

const struct ha_sensor ha_site_live_sensors[] = {
    {"production_W", "Production power", "power", "W", "measurement"},
    {"consumption_W", "Consumption power", "power", "W", "measurement"},
    {"net_W", "Grid power", "power", "W", "measurement"},
};
const size_t ha_n_site_live_sensors = sizeof ha_site_live_sensors / sizeof ha_site_live_sensors[0];

static const struct ha_sensor quantity_sensors[Q_COUNT_] = {
    [Q_ENERGY_LIFETIME_KWH] = {"energy_lifetime_kWh", "Lifetime energy", "energy", "kWh",
                               "total_increasing"},
    [Q_ENERGY_NET_LIFETIME_KWH] = {"energy_net_lifetime_kWh", "Net lifetime energy", "energy",
                                   "kWh", "total"},
    [Q_ENERGY_IMPORT_LIFETIME_KWH] = {"energy_import_lifetime_kWh", "Import lifetime energy",
                                      "energy", "kWh", "total_increasing"},
    [Q_ENERGY_EXPORT_LIFETIME_KWH] = {"energy_export_lifetime_kWh", "Export lifetime energy",
                                      "energy", "kWh", "total_increasing"},
    [Q_POWER_W] = {"power_W", "Power", "power", "W", "measurement"},
    [Q_VOLTAGE_V] = {"voltage_V", "Voltage", "voltage", "V", "measurement"},
    [Q_CURRENT_A] = {"current_A", "Current", "current", "A", "measurement"},
    [Q_FREQUENCY_HZ] = {"frequency_Hz", "Frequency", "frequency", "Hz", "measurement"},
    [Q_DC_POWER_W] = {"dc_power_W", "DC power", "power", "W", "measurement"},
    [Q_DC_VOLTAGE_V] = {"dc_voltage_V", "DC voltage", "voltage", "V", "measurement"},
    [Q_DC_CURRENT_A] = {"dc_current_A", "DC current", "current", "A", "measurement"},
    [Q_TEMPERATURE_C] = {"temperature_C", "Temperature", "temperature", "\u00b0C", "measurement"},
    [Q_STATUS] = {"status", "Status code", NULL, NULL, NULL},
    [Q_REACTIVE_VAR] = {"reactive_var", "Reactive power", "reactive_power", "var",
                        "measurement"},
    [Q_APPARENT_VA] = {"apparent_VA", "Apparent power", "apparent_power", "VA", "measurement"},
    /* HA's power_factor class is unitless or %: the device gives -1..1 */
    [Q_POWER_FACTOR] = {"power_factor", "Power factor", "power_factor", NULL, "measurement"},
};

const struct ha_sensor *ha_quantity_sensor(enum quantity q)
{
    if (q <= 0 || q >= Q_COUNT_ || !quantity_sensors[q].key)
        return NULL;
    return &quantity_sensors[q];
}

void ha_object_id_part(const char *s, char *out, size_t out_size)
{
    if (!out_size)
        return;
    size_t i = 0;
    for (; s[i] && i + 1 < out_size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            c = '_';
        out[i] = (char)c;
    }
    out[i] = '\0';
}

static cJSON *device_block(const struct ha_context *ctx, const char *site_id,
                           const struct ha_device *dev)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(o, "identifiers");
    if (!o || !ids) {
        cJSON_Delete(o);
        return NULL;
    }
    bool ok = true;
    char id[160], name[160];
    if (!dev) {
        snprintf(id, sizeof id, "pvtap_%s", site_id);
        snprintf(name, sizeof name, "pvtap %s", ctx->site);
        add_str(o, "name", name, &ok);
        add_str(o, "manufacturer", "pvtap", &ok);
        add_str(o, "model", "SunPower site gateway", &ok);
        add_str(o, "sw_version", ctx->version, &ok);
    } else {
        char serial_id[64], via[128];
        ha_object_id_part(dev->serial, serial_id, sizeof serial_id);
        snprintf(id, sizeof id, "pvtap_%s_%s", site_id, serial_id);
        snprintf(via, sizeof via, "pvtap_%s", site_id);
        const char *kind = dev->kind == DEVICE_INVERTER           ? "Inverter"
                           : dev->kind == DEVICE_NET_METER        ? "Net meter"
                           : dev->kind == DEVICE_PRODUCTION_METER ? "Production meter"
                                                                  : "Supervisor";
        snprintf(name, sizeof name, "%s %s", kind, dev->serial);
        add_str(o, "name", name, &ok);
        add_str(o, "model", device_kind_name(dev->kind), &ok);
        add_str(o, "via_device", via, &ok);
    }
    cJSON *s = cJSON_CreateString(id);
    if (!s || !cJSON_AddItemToArray(ids, s)) {
        cJSON_Delete(s);
        ok = false;
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int ha_discovery(const struct ha_context *ctx, const struct ha_sensor *sensor,
                 const struct ha_device *device, const char *state_topic, char *topic,
                 size_t topic_size, char **payload)
{
    *payload = NULL;
    char site_id[96], object_id[256], serial_id[64] = "";
    ha_object_id_part(ctx->site, site_id, sizeof site_id);
    if (device)
        ha_object_id_part(device->serial, serial_id, sizeof serial_id);
    int w = device ? snprintf(object_id, sizeof object_id, "pvtap_%s_%s_%s", site_id, serial_id,
                              sensor->key)
                   : snprintf(object_id, sizeof object_id, "pvtap_%s_%s", site_id, sensor->key);
    if (w < 0 || (size_t)w >= sizeof object_id)
        return PVTAP_ELIMIT;
    /* The key is part of the object id: lower-case it like the rest. */
    ha_object_id_part(object_id, object_id, sizeof object_id);
    w = snprintf(topic, topic_size, "%s/sensor/%s/config", ctx->discovery_prefix, object_id);
    if (w < 0 || (size_t)w >= topic_size)
        return PVTAP_ELIMIT;

    cJSON *o = cJSON_CreateObject();
    if (!o)
        return PVTAP_ENOMEM;
    bool ok = true;
    char availability[256], tmpl[96];
    snprintf(availability, sizeof availability, "%s/status", ctx->topic);
    snprintf(tmpl, sizeof tmpl, "{{ value_json.%s }}", sensor->key);
    /* HA shows it after the device's name: "Inverter 4140... Power" */
    add_str(o, "name", sensor->name, &ok);
    add_str(o, "unique_id", object_id, &ok);
    add_str(o, "state_topic", state_topic, &ok);
    add_str(o, "value_template", tmpl, &ok);
    if (sensor->device_class)
        add_str(o, "device_class", sensor->device_class, &ok);
    if (sensor->unit)
        add_str(o, "unit_of_measurement", sensor->unit, &ok);
    if (sensor->state_class)
        add_str(o, "state_class", sensor->state_class, &ok);
    add_str(o, "availability_topic", availability, &ok);
    add_str(o, "payload_available", "online", &ok);
    add_str(o, "payload_not_available", "offline", &ok);
    cJSON *dev = ok ? device_block(ctx, site_id, device) : NULL;
    if (!dev || !cJSON_AddItemToObject(o, "device", dev)) {
        cJSON_Delete(dev);
        ok = false;
    }
    if (!ok) {
        cJSON_Delete(o);
        return PVTAP_ENOMEM;
    }
    *payload = print_free(o);
    return *payload ? 0 : PVTAP_ENOMEM;
}
