/* The reading model: what every source (sniff, poll, listen, ...) hands on. */
#ifndef PVTAP_SOURCES_READING_H
#define PVTAP_SOURCES_READING_H

#include <stdint.h>

enum device_kind {
    DEVICE_INVERTER = 1,
    DEVICE_NET_METER,        /* sniffed serial suffix 'c', or a polled meter with role "net" */
    DEVICE_PRODUCTION_METER, /* sniffed suffix 'p', or role "production" */
    DEVICE_SUPERVISOR,
    /* A meter whose CTs measure the whole house (the supervisor's subtype
     * GROSS_CONSUMPTION_LINESIDE): its net counter never goes down and is the
     * site's consumption. A sniffed 'c' meter carries no subtype and stays
     * DEVICE_NET_METER; site.consumption_meter says how to read it. */
    DEVICE_CONSUMPTION_METER,
};

/* One quantity of one device. Units are in the names. Energies are lifetime
 * counters; the engine turns their differences into interval energy. */
enum quantity {
    Q_ENERGY_LIFETIME_KWH = 1,    /* inverter production counter (monotonic) */
    Q_ENERGY_NET_LIFETIME_KWH,    /* meter net counter: goes down while exporting */
    Q_ENERGY_IMPORT_LIFETIME_KWH, /* meter import counter (monotonic) */
    Q_ENERGY_EXPORT_LIFETIME_KWH, /* meter export counter (monotonic) */
    Q_POWER_W,                    /* AC power; on a net meter negative = export */
    Q_VOLTAGE_V,
    Q_CURRENT_A,
    Q_FREQUENCY_HZ,
    Q_DC_POWER_W,
    Q_DC_VOLTAGE_V,
    Q_DC_CURRENT_A,
    Q_TEMPERATURE_C,
    Q_STATUS, /* the device's own status code */
    Q_REACTIVE_VAR,
    Q_APPARENT_VA,
    Q_POWER_FACTOR,
    Q_COUNT_ /* one past the last */
};

/* How the time of a reading relates to the 5-minute grid. */
enum reading_clock {
    CLOCK_RECORD = 1, /* a record stamped on a 5-minute boundary (sniffed) */
    CLOCK_POLL,       /* a sample at the poll clock: the engine interpolates boundaries */
};

/* One value of one device at one instant. Passed by pointer to a
 * reading_sink; every string is borrowed for the duration of the call only:
 * a consumer that keeps a reading copies what it needs. */
struct reading {
    const char *source; /* backend name: "sniff", "wattnode", "listen", ... */
    const char *series; /* the series it belongs to: "sniff", "poll", ... */
    char device[32];    /* serial, or "wattnode@1" when the serial is unknown */
    enum device_kind kind;
    int64_t time; /* UTC seconds: record time (sniffed) or poll time */
    enum reading_clock clock;
    int msg; /* supervisor message number (130, 140) or 0 */
    enum quantity q;
    double value;
};

/* Where a source puts its readings. emit() is called on the source's thread;
 * the daemon's sink queues, the CLI's prints, the tests' collect. */
struct reading_sink {
    void (*emit)(void *ctx, const struct reading *r);
    void *ctx;
};

static inline void reading_emit(const struct reading_sink *sink, const struct reading *r)
{
    sink->emit(sink->ctx, r);
}

/* Names for JSON/CSV output and the store, e.g. "energy_lifetime_kWh". */
const char *quantity_name(enum quantity q);
/* Inverse of quantity_name; 0 when unknown. */
enum quantity quantity_from_name(const char *name);
const char *device_kind_name(enum device_kind k);         /* "inverter", "net_meter", ... */
enum device_kind device_kind_from_name(const char *name); /* 0 when unknown */
/* True for the lifetime energy counters the engine folds into intervals. */
int quantity_is_counter(enum quantity q);

#endif
