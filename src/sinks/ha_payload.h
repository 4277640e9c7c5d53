/* MQTT payloads of the mqtt sink (site/device state, live, alerts, Home Assistant discovery): pure, no I/O. */
#ifndef PVTAP_SINKS_HA_PAYLOAD_H
#define PVTAP_SINKS_HA_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "sources/reading.h"

/* Every string returned by a ha_*_json() function: caller frees with ha_free(). */
void ha_free(char *s);

/* ---- energy sums ---------------------------------------------------------
 * Kept in deci-Wh (the store's 0.1 Wh rounding), so that adding a day of
 * intervals gives exactly what summing the printed CSV gives. */
struct ha_sums {
    int64_t production_dwh, net_dwh, consumption_dwh, import_dwh, export_dwh;
    unsigned has;      /* IHAS_* bits: a quantity no interval had is absent */
    int64_t intervals; /* rows added */
};

/* Add one interval. Import and export come from the row's meter counters
 * (IHAS_IMPORT/IHAS_EXPORT) where it has them, else from the sign of its
 * net energy: positive net is import, negative net is export (both
 * non-negative), so that import - export = net. */
void ha_sums_add_row(struct ha_sums *s, const struct interval_row *row);
void ha_sums_add(struct ha_sums *dst, const struct ha_sums *src);
/* Raise each quantity of s to at least floor's (a total never goes down
 * from one state to the next), then set floor to the result. Quantities
 * absent from s but present in floor are kept from floor. net is left
 * alone: it may legitimately fall. */
void ha_sums_floor(struct ha_sums *s, struct ha_sums *floor);

/* ---- site/state ----------------------------------------------------------
 * {"interval_end":"...Z","series":"sniff","production_wh":..,"net_wh":..,
 *  "consumption_wh":..,"import_wh":..,"export_wh":..,"flags":"gap",
 *  "production_today_kWh":..,... "production_total_kWh":..,...}
 * The interval's own energies in Wh as printed; today/total in kWh. A
 * quantity with no data is left out; "flags" only when the row has some. */
struct ha_site_state {
    struct interval_row row; /* the newest interval of the series */
    struct ha_sums today;    /* its local date, through it */
    struct ha_sums total;    /* every interval of the series */
};
char *ha_site_state_json(const struct ha_site_state *st);

/* One interval as published on <topic>/site/interval (every committed
 * revision, QoS 1, not retained), with its revision number. */
char *ha_interval_json(const struct interval_row *row, int64_t revision);

/* ---- devices -------------------------------------------------------------
 * The latest record of one device, built from its readings. */
struct ha_device {
    char serial[32];
    char series[ENGINE_SERIES_MAX]; /* of its latest reading */
    enum device_kind kind;
    int msg;              /* supervisor message number, 0 when polled */
    int64_t time;         /* of the record held */
    int64_t seen_mono_ms; /* set by the caller: when it last changed */
    double value[Q_COUNT_];
    uint32_t has;         /* 1u << quantity */
    uint32_t announced;   /* quantities already sent to Home Assistant (caller's) */
    bool dirty;           /* changed since last published (caller clears) */
};
/* Fold a reading of this device in: a newer record starts afresh, an older
 * one is ignored (returns false), one of the same time adds its value. */
bool ha_device_update(struct ha_device *d, const struct reading *r);
/* {"serial":..,"kind":"inverter","msg":130,"time":"...Z","power_W":..,...} */
char *ha_device_state_json(const struct ha_device *d);

/* ---- site/live -------------------------------------------------------------
 * Power now: inverters' power_W summed (production meters when no inverter
 * reports), net meters' power_W as net (negative = export); consumption =
 * production + net when both are known. A device counts only while its
 * record is at most HA_LIVE_STALE_S older than the newest one. */
enum { HA_LIVE_STALE_S = 900 };
struct ha_live {
    int64_t time;
    double production_W, net_W, consumption_W;
    unsigned has; /* IHAS_PRODUCTION, IHAS_NET, IHAS_CONSUMPTION */
};
/* Only devices of series (NULL: all), so that two series measuring the
 * same site are never added. Returns false when no device has power yet. */
bool ha_live_compute(const struct ha_device *devs, size_t n, const char *series,
                     struct ha_live *out);
char *ha_live_json(const struct ha_live *l);

/* ---- alerts ---------------------------------------------------------------- */
struct ha_alert {
    char id[64];     /* stable: "gap", "counter_reset", "silent:<serial>" */
    char text[160];
    int64_t since;   /* UTC seconds */
};
/* Device silence beyond this behind the newest device record is an alert
 * (microinverters that sleep together at night raise none). */
enum { HA_SILENT_S = 1800 };
/* The active alerts from the newest interval (NULL: none yet) and the
 * devices; at most max written, the count is returned. */
size_t ha_alerts_compute(const struct interval_row *newest, const struct ha_device *devs,
                         size_t n, struct ha_alert *out, size_t max);
char *ha_alerts_json(const struct ha_alert *a, size_t n); /* a JSON array, [] when none */

/* True when json is an object with that top-level key (announce a sensor
 * only once its state topic carries the key its value_template reads). */
bool ha_json_has_key(const char *json, const char *key);

/* ---- Home Assistant discovery -------------------------------------------- */

/* One sensor Home Assistant is told about. */
struct ha_sensor {
    const char *key;          /* the key in the state topic's JSON */
    const char *name;
    const char *device_class; /* NULL: none */
    const char *unit;         /* NULL: none */
    const char *state_class;  /* "total_increasing", "total", "measurement" or NULL */
};

/* The site's sensors on <topic>/site/state and on <topic>/site/live. */
extern const struct ha_sensor ha_site_state_sensors[];
extern const size_t ha_n_site_state_sensors;
extern const struct ha_sensor ha_site_live_sensors[];
extern const size_t ha_n_site_live_sensors;
/* The sensor of a device quantity (NULL for one not announced). */
const struct ha_sensor *ha_quantity_sensor(enum quantity q);

/* What discovery needs to know of the gateway. */
struct ha_context {
    const char *topic;            /* mqtt.topic */
    const char *discovery_prefix; /* mqtt.discovery_prefix */
    const char *site;             /* site.name */
    const char *version;          /* pvtap's */
};

/* s reduced to what an MQTT discovery object id allows ([a-zA-Z0-9_-]):
 * other bytes become '_', letters are lower-cased. */
void ha_object_id_part(const char *s, char *out, size_t out_size);

/* One discovery message: its topic and retained JSON config. device NULL
 * for a site sensor (on the gateway device); state_topic is the topic the
 * sensor's value_template reads. Returns 0, PVTAP_ENOMEM, or PVTAP_ELIMIT
 * when the topic does not fit. *payload: caller frees (ha_free). */
int ha_discovery(const struct ha_context *ctx, const struct ha_sensor *sensor,
                 const struct ha_device *device, const char *state_topic, char *topic,
                 size_t topic_size, char **payload);

#endif
