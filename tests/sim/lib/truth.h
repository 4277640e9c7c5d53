/* Ground truth: the records a correct sniffer prints and the intervals docs/design.md's rules give, computed independently of pvtap. */
#ifndef PVSIM_TRUTH_H
#define PVSIM_TRUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "site_supervisor.h"

enum { TRUTH_INTERVAL_S = 300, TRUTH_MAX_K = 12 };
enum truth_flag { TRUTH_INTERPOLATED = 1, TRUTH_GAP = 2, TRUTH_COUNTER_RESET = 4 };
/* What a counter measures: an inverter's production, a net meter, a gross
 * (whole-house) consumption meter, a production meter. */
enum truth_quantity { TRUTH_PRODUCTION, TRUTH_NET, TRUTH_CONSUMPTION, TRUTH_PRODUCTION_METER };

/* The site settings the truth assumes (pvtap's site.consumption_meter and site.production). */
enum truth_cmeter { TRUTH_CMETER_NET, TRUTH_CMETER_GROSS, TRUTH_CMETER_NONE };
enum truth_production { TRUTH_PROD_INVERTERS, TRUTH_PROD_METER, TRUTH_PROD_AUTO };
struct truth_topology {
    enum truth_cmeter cmeter;
    enum truth_production production;
};

/* ---- the interval oracle of one series ---------------------------------- */

struct truth_row {
    int64_t end_s;
    bool has_prod, has_net, has_cons;
    double prod_Wh, net_Wh, cons_Wh; /* unrounded sums; cons_Wh from gross meters only */
    unsigned flags;
};

struct truth_series;

/* Caller frees. NULL when out of memory. */
struct truth_series *truth_series_new(const char *name, double max_power_kW);
void truth_series_free(struct truth_series *s);
const char *truth_series_name(const struct truth_series *s);
/* Default: net consumption meters, production from the inverters (the truth before topologies). */
void truth_series_set_topology(struct truth_series *s, const struct truth_topology *t);
const struct truth_topology *truth_series_topology(const struct truth_series *s);
/* One lifetime-counter value of a device at a boundary (t_s multiple of 300).
 * monotonic: inverter lifetime, import, export; not the net counter. */
int truth_series_add(struct truth_series *s, const char *device, enum truth_quantity q, bool monotonic,
                     int64_t t_s, double value_kWh);
/* Apply the interval rules; *rows (caller frees) sorted by end_s. Production
 * comes from the inverters or the production meters as the topology says
 * (auto: the meters when the series has any, i.e. a non-zero one was added). */
int truth_series_rows(struct truth_series *s, struct truth_row **rows, size_t *n);
/* Repeats with a different value seen so far (after truth_series_rows). */
size_t truth_series_conflicts(const struct truth_series *s);

/* Boundary values of polled samples (t_s ascending): linear between the
 * polls around each boundary when both are within max_gap_s. Calls add for
 * every boundary with a value. */
typedef int (*truth_boundary_fn)(void *ctx, int64_t b_s, double value);
int truth_poll_boundaries(const int64_t *t_s, const double *v, size_t n, int64_t max_gap_s, truth_boundary_fn add,
                          void *ctx);

/* An energy cell: snap to micro-Wh, round half away from zero to 0.1 Wh, "%.1f", never "-0.0". */
void truth_format_wh(char *out, size_t size, double wh);
/* "interval_end,source,production_wh,net_wh,consumption_wh,flags" rows of
 * several series, merged by interval_end then series name. Net meters:
 * consumption = production + net; gross meters: net = consumption - production;
 * either only when both have a contribution. */
int truth_write_csv(FILE *fp, struct truth_series **series, size_t n_series);

/* ---- records ----------------------------------------------------------- */

/* One request's records as `pvtap sniff --format jsonl` prints them. */
int truth_write_records(FILE *fp, const struct sim_request *r);
/* Feed a request's 130 and 140 records to the sniff series, as its topology
 * says: the `c` meter as net or gross consumption (none: not at all), the `p`
 * meter as a production meter. A 140 whose lifetime and power are both 0 is a
 * meter without CTs and enters nothing. */
int truth_add_request(struct truth_series *sniff, const struct sim_request *r);
/* The 140 fields (lifetime, power) of a meter without CTs: both exactly 0. */
bool truth_meter_not_installed(double lifetime_kWh, double power);

void truth_format_iso(char *out, size_t size, int64_t t_s);

#endif
