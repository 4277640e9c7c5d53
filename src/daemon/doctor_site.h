/* `pvtap doctor`: does a day of the store's records look like the metering kind configured? */
#ifndef PVTAP_DAEMON_DOCTOR_SITE_H
#define PVTAP_DAEMON_DOCTOR_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/doctor.h"
#include "engine/engine.h"

struct store;

enum { DOCTOR_DAY_SLOTS = 288 }; /* one day of 5-minute intervals */

/* One series' last day, per interval: the 'c' meter's counter difference,
 * the inverters' and the production meter's energy (NAN: no data). */
struct doctor_site_day {
    char series[ENGINE_SERIES_MAX];
    double c_wh[DOCTOR_DAY_SLOTS];
    double inverters_wh[DOCTOR_DAY_SLOTS];
    double pmeter_wh[DOCTOR_DAY_SLOTS];
    /* meter records of the day reading exactly 0 kWh, and the others */
    unsigned c_zero, c_live, p_zero, p_live;
};

/* Pure: the hints for one day under the kind in force, into out (at most
 * max); returns how many. No hint: one DOCTOR_OK result saying so. */
size_t doctor_site_hints(const struct doctor_site_day *day, enum engine_consumption kind,
                         struct doctor_result *out, size_t max);

/* The last day (before the newest record) of each series from the store's
 * records, at most max series. Returns how many, or a PVTAP_E* error. */
int doctor_site_days(struct store *st, struct doctor_site_day *out, size_t max);

#endif
