/* The simulated SunPower site: sun, clouds, household load and every device's counters. */
#ifndef PVSIM_SITE_MODEL_H
#define PVSIM_SITE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

enum { SITE_MAX_INVERTERS = 64 };

/* Where the consumption meter's (`...c`, the WattNode's) CTs sit. */
enum site_ct {
    SITE_CT_NET,   /* on the grid connection: import positive, export negative */
    SITE_CT_GROSS, /* around the house's loads (solar tapped on the line side): never negative */
    SITE_CT_NONE,  /* never fitted: the meter reads 0 counter and 0 power */
};

struct site_config {
    uint64_t seed;
    int64_t start_s;          /* UTC epoch of the first simulated instant (a day's 00:00) */
    int days;                 /* length of the run */
    double latitude_deg;      /* north positive */
    double longitude_deg;     /* east positive (California is negative) */
    int inverters;            /* microinverters (ignored with string_inverter) */
    bool string_inverter;     /* one string inverter instead of microinverters */
    double micro_peak_W;      /* nameplate of one microinverter (~300 W) */
    double string_peak_W;     /* nameplate of the string inverter */
    int64_t meter_reset_s;    /* the consumption meter's counters restart at 0 here; -1: never */
    enum site_ct consumption_ct;
    /* the production meter reads this x the inverters; 0: no CTs (it reads 0) */
    double production_ct_factor;
};

void site_config_defaults(struct site_config *cfg);

/* One inverter at one instant. */
struct site_inverter {
    char serial[24];
    char model[24];
    bool awake;               /* a microinverter sleeps (sends nothing) in the dark */
    double energy_lifetime_kWh;
    double power_W;           /* instantaneous AC */
    double voltage_V, current_A;
    double dc_power_W, dc_voltage_V, dc_current_A;
    double temperature_C, frequency_Hz;
};

/* The site at one instant. */
struct site_snapshot {
    int64_t time_s;
    double production_W;          /* sum of the inverters' AC power */
    double load_W;                /* the household */
    double net_W;                 /* load - production: negative while exporting */
    /* The net (consumption) meter: the WattNode the supervisor reports as `...c`. */
    double net_lifetime_kWh;      /* import - export: goes down while exporting */
    double import_lifetime_kWh;
    double export_lifetime_kWh;
    double load_lifetime_kWh; /* the house's own consumption counter */
    /* The consumption meter `...c` (the WattNode) as its CTs see the site:
     * net (= the net_* above), gross (the house) or none (all 0). */
    double cmeter_W, cmeter_lifetime_kWh, cmeter_import_kWh, cmeter_export_kWh;
    /* The production meter `...p`: its own (slightly different) reading of production. */
    double prod_meter_lifetime_kWh;
    double prod_meter_W;
    double voltage_V, frequency_Hz;
};

struct site_model;

/* Caller frees with site_model_free(); NULL when out of memory. */
struct site_model *site_model_new(const struct site_config *cfg);
void site_model_free(struct site_model *m);
const struct site_config *site_model_config(const struct site_model *m);

/* Number of inverters (1 for a string inverter). */
int site_model_inverter_count(const struct site_model *m);
/* Fixed identities (borrowed for the model's lifetime). */
const char *site_model_supervisor_serial(const struct site_model *m);
const char *site_model_meter_serial(const struct site_model *m, char suffix /* 'c' or 'p' */);
uint32_t site_model_wattnode_serial(const struct site_model *m);

/* The site at time t (UTC seconds, any value >= start_s). Counters are the
 * exact integrals of the power curves (piecewise linear between 10 s knots).
 * Cheap for non-decreasing t; an earlier t restarts the integration. */
void site_model_at(struct site_model *m, int64_t t_s, struct site_snapshot *out);
/* Inverter i at the same t as the last site_model_at() call. */
void site_model_inverter(struct site_model *m, int i, struct site_inverter *out);

/* Deterministic noise helpers, shared by the other simulator parts. */
uint64_t site_hash64(uint64_t x);
double site_unit(uint64_t seed, uint64_t a, uint64_t b); /* uniform in [0, 1) */

#endif
