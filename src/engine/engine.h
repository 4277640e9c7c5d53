/* The interval engine: lifetime-counter readings in, 5-minute interval rows out (pure). */
#ifndef PVTAP_ENGINE_ENGINE_H
#define PVTAP_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/reading.h"

/* Flags of a row, printed in this (fixed) order. */
enum interval_flag {
    IFLAG_INTERPOLATED = 1u << 0,
    IFLAG_GAP = 1u << 1,
    IFLAG_COUNTER_RESET = 1u << 2,
};

/* Which energies of a row have data (an absent one is an empty cell). */
enum interval_has {
    IHAS_PRODUCTION = 1u << 0,
    IHAS_NET = 1u << 1,
    IHAS_CONSUMPTION = 1u << 2, /* net meter: with production and net; gross: the meter */
    IHAS_IMPORT = 1u << 3,      /* meter import counter (extra field, not in the CSV) */
    IHAS_EXPORT = 1u << 4,      /* meter export counter (extra field, not in the CSV) */
};

enum { ENGINE_SERIES_MAX = 32 }; /* bytes, NUL included */

/* One interval of one series. Energies are unrounded Wh (round with
 * engine_round_wh() for output); a field is meaningful only when its IHAS_
 * bit is set. A row with has == 0 and flags == 0 means "no longer exists". */
struct interval_row {
    int64_t interval_end; /* UTC seconds, a multiple of 300 */
    const char *series;   /* borrowed: valid as long as its owner (engine or caller) */
    double production_wh;
    double net_wh;
    double consumption_wh;
    double import_wh;
    double export_wh;
    unsigned has;   /* enum interval_has bits */
    unsigned flags; /* enum interval_flag bits */
};

/* How a net meter's (DEVICE_NET_METER) counter is read (site.consumption_meter,
 * "auto" resolved by the daemon). A DEVICE_CONSUMPTION_METER is always gross. */
enum engine_consumption {
    ENGINE_CONSUMPTION_NET = 0, /* the grid flow: consumption = production + net */
    ENGINE_CONSUMPTION_GROSS,   /* the whole house: consumption = counter deltas, net = c - p */
    ENGINE_CONSUMPTION_NONE,    /* not used: net and consumption stay empty */
};

/* Where a row's production comes from (site.production). */
enum engine_production {
    ENGINE_PRODUCTION_AUTO = 0,  /* the production meter where it has a non-zero counter,
                                    else the inverters (per interval) */
    ENGINE_PRODUCTION_METER,     /* production meters only */
    ENGINE_PRODUCTION_INVERTERS, /* the sum of the inverters only */
};

struct engine_params {
    double max_power_kW; /* site.max_power_kW: bound for counter-jump detection */
    int max_poll_gap_s;  /* polls further than this from a boundary give it no value */
    size_t max_keys;     /* distinct (series, device, quantity): a hard limit (0: 4096) */
    enum engine_consumption consumption_meter;
    enum engine_production production;
};

/* Fills in the README's defaults (100 kW, 60 s). */
void engine_params_default(struct engine_params *p);

struct engine_stats {
    uint64_t readings;  /* counter readings accepted */
    uint64_t ignored;   /* live (non-counter) readings and counters no role uses */
    uint64_t held_zero; /* meter counters of exactly 0 with no power: "not installed" */
    uint64_t repeats;   /* same (device, time) again with the same value */
    uint64_t conflicts; /* same (device, time) again with a different value: larger kept */
    uint64_t too_old;   /* readings before the forget horizon, refused */
    size_t keys;
    size_t points;  /* record points and boundary values held */
    size_t samples; /* poll samples held */
    size_t rows;
};

struct engine;

/* Caller frees with engine_free(). NULL when out of memory. params may be
 * NULL for the defaults. */
struct engine *engine_new(const struct engine_params *params);
void engine_free(struct engine *e);

/* Fold one reading in. Live quantities (power, voltage...) and counters no
 * role uses (production meters under ENGINE_PRODUCTION_INVERTERS, every
 * meter under ENGINE_CONSUMPTION_NONE...) are ignored (0). A meter's
 * counter of exactly 0 enters no interval unless the same device reports a
 * non-zero power at the same time: a meter whose CTs are not installed
 * reads 0 and 0, and "0 Wh" would be a number nobody measured. Returns PVTAP_EINVAL for an unusable
 * reading (no series or device, a value that is not finite, a time outside
 * 1970..2100, a device whose clock changes), PVTAP_ELIMIT when too many keys
 * or the reading is older than the forget horizon, PVTAP_ENOMEM. The engine
 * is unchanged on error. */
int engine_add(struct engine *e, const struct reading *r);

/* Recompute every interval touched since the last call and return those
 * whose content changed, sorted by (series, interval_end). *rows is borrowed
 * until the next engine_* call. Returns 0 or PVTAP_ENOMEM. */
int engine_collect(struct engine *e, const struct interval_row **rows, size_t *n);

/* Every row the engine holds for a series, sorted by interval_end (borrowed
 * until the next engine_add/engine_collect/engine_forget). Rows reflect the
 * last engine_collect(). Unknown series: 0 rows. */
void engine_rows(const struct engine *e, const char *series, const struct interval_row **rows,
                 size_t *n);

/* Names of the series seen, in first-seen order (borrowed). */
size_t engine_series_count(const struct engine *e);
const char *engine_series_name(const struct engine *e, size_t i);

/* Bound a long-running daemon's memory: drop what is older than before_s
 * (the store has it durably), keeping each counter's last point before it
 * as the base of what follows. Later readings older than before_s are then
 * refused (PVTAP_ELIMIT; the daemon rebuilds from the store's records).
 * Call after engine_collect(). */
void engine_forget(struct engine *e, int64_t before_s);

void engine_get_stats(const struct engine *e, struct engine_stats *out);

/* R1 output rounding: snap float noise to micro-Wh, then round half away
 * from zero to 0.1 Wh; never returns -0.0. */
double engine_round_wh(double wh);

/* "interpolated;gap;counter_reset" (the set in that order) into out. */
void engine_flags_format(unsigned flags, char *out, size_t out_size);
/* Inverse of engine_flags_format; PVTAP_EINVAL on an unknown flag. */
int engine_flags_parse(const char *s, unsigned *flags);

#endif
