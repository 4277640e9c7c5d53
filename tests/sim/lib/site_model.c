/* The simulated site: clear-sky sun, seeded clouds, a household load, and counters integrated from them. */
#include "site_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Power curves are sampled on a 10 s grid and linear in between, so every
 * counter is an exact integral that any consumer (capture, poll, truth) can
 * read at any second and get the same value. */
enum { KNOT_S = 10 };

struct counters {
    double unit_h;    /* integral of the unit production curve (0..1), hours */
    double load_Wh;   /* household */
    double import_Wh; /* integral of max(net, 0) */
    double export_Wh; /* integral of max(-net, 0) */
};

struct site_model {
    struct site_config cfg;
    int n_inv;
    double peak_W[SITE_MAX_INVERTERS];
    double life0_kWh[SITE_MAX_INVERTERS];
    char inv_serial[SITE_MAX_INVERTERS][24];
    double total_peak_W;
    double net0_kWh, import0_kWh, export0_kWh, prodmeter0_kWh, load0_kWh;
    char sup_serial[24], meter_c[24], meter_p[24];
    uint32_t wattnode_serial;
    /* integration cursor: counters at knot k */
    int64_t k;
    struct counters at_k;
    int64_t last_sun_s; /* last knot time with production > 0, for "awake" */
    /* counters at the meter reset instant */
    struct counters at_reset;
    /* last site_model_at() */
    int64_t t_s;
    double unit_now;
    struct counters now;
    double volt_V, freq_Hz;
};

uint64_t site_hash64(uint64_t x)
{
    /* splitmix64 finaliser: cheap, well mixed, the same on every platform */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

double site_unit(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t h = site_hash64(seed ^ site_hash64(a * 0x100000001B3ull ^ site_hash64(b + 0x51ED27ull)));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

void site_config_defaults(struct site_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->seed = 1;
    cfg->start_s = 1496793600; /* 2017-06-07T00:00:00Z */
    cfg->days = 1;
    cfg->latitude_deg = 37.39;
    cfg->longitude_deg = -122.03;
    cfg->inverters = 12;
    cfg->micro_peak_W = 300.0;
    cfg->string_peak_W = 5000.0;
    cfg->meter_reset_s = -1;
    cfg->consumption_ct = SITE_CT_NET;
    cfg->production_ct_factor = 0.98;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Solar elevation sine (NOAA-style low-precision formulas: good to a fraction
 * of a degree, plenty for a plausible day). */
static double sun_sin_elevation(const struct site_config *c, int64_t t_s)
{
    double days = (double)t_s / 86400.0;
    double doy = fmod(days - 10957.0 + 1.0, 365.2422); /* days since 2000-01-01 */
    double decl = 23.44 * M_PI / 180.0 * sin(2.0 * M_PI * (284.0 + doy) / 365.0);
    double b = 2.0 * M_PI * (doy - 81.0) / 364.0;
    double eot_min = 9.87 * sin(2.0 * b) - 7.53 * cos(b) - 1.5 * sin(b);
    double utc_h = fmod((double)t_s, 86400.0) / 3600.0;
    double solar_h = utc_h + c->longitude_deg / 15.0 + eot_min / 60.0;
    double ha = (solar_h - 12.0) * 15.0 * M_PI / 180.0;
    double lat = c->latitude_deg * M_PI / 180.0;
    return sin(lat) * sin(decl) + cos(lat) * cos(decl) * cos(ha);
}

/* Local solar hour 0..24, for the household's rhythm. */
static double solar_hour(const struct site_config *c, int64_t t_s)
{
    double h = fmod((double)t_s, 86400.0) / 3600.0 + c->longitude_deg / 15.0;
    h = fmod(h, 24.0);
    return h < 0 ? h + 24.0 : h;
}

/* Smooth noise in [0,1): linear between seeded values every period_s. */
static double value_noise(uint64_t seed, uint64_t salt, int64_t t_s, int64_t period_s)
{
    int64_t b = t_s / period_s;
    double f = (double)(t_s - b * period_s) / (double)period_s;
    double a = site_unit(seed, (uint64_t)b, salt), z = site_unit(seed, (uint64_t)(b + 1), salt);
    return a + (z - a) * f;
}

/* Production of a 1 W-peak module, 0..1. */
static double unit_power(const struct site_model *m, int64_t t_s)
{
    double s = sun_sin_elevation(&m->cfg, t_s);
    if (s <= 0.01)
        return 0.0;
    double clear = pow((s - 0.01) / 0.99, 1.2) * 0.93;
    uint64_t day = (uint64_t)(t_s / 86400);
    double cloudiness = 0.8 * pow(site_unit(m->cfg.seed, day, 7), 1.5);
    double x = 0.55 * value_noise(m->cfg.seed, 11, t_s, 1800) +
               0.45 * value_noise(m->cfg.seed, 13, t_s, 180);
    double factor = 1.0;
    if (x < cloudiness)
        factor = 1.0 - 0.7 * clampd((cloudiness - x) / 0.15, 0.0, 1.0);
    return clear * factor;
}

static double household_W(const struct site_model *m, int64_t t_s)
{
    uint64_t seed = m->cfg.seed;
    double h = solar_hour(&m->cfg, t_s);
    double w = 160.0 + 40.0 * value_noise(seed, 21, t_s, 900);
    /* fridge: 45 min cycle, ~35 % duty, phase from the seed */
    int64_t phase = (int64_t)(site_unit(seed, 1, 23) * 2700.0);
    if ((t_s + phase) % 2700 < 950)
        w += 125.0;
    /* morning and evening peaks */
    w += 700.0 * exp(-0.5 * pow((h - 7.2) / 0.7, 2.0));
    w += 1400.0 * exp(-0.5 * pow((h - 19.0) / 1.4, 2.0));
    /* appliances: a few minutes of kettle/oven/dryer at seeded times */
    int64_t slot = t_s / 600;
    double u = site_unit(seed, (uint64_t)slot, 29);
    if (h > 6.0 && h < 23.0 && u < 0.06) {
        int64_t len_s = 120 + (int64_t)(site_unit(seed, (uint64_t)slot, 31) * 400.0);
        if (t_s - slot * 600 < len_s)
            w += 1200.0 + 1500.0 * site_unit(seed, (uint64_t)slot, 37);
    }
    return w;
}

/* Integral over a linear segment a->b lasting dt_h hours, split by sign. */
static void integrate_net(double a, double b, double dt_h, double *imp, double *exp_)
{
    if (a >= 0 && b >= 0) {
        *imp += (a + b) / 2.0 * dt_h;
    } else if (a <= 0 && b <= 0) {
        *exp_ -= (a + b) / 2.0 * dt_h;
    } else {
        double f = a / (a - b); /* zero crossing, fraction of the segment */
        double p1 = a * f * dt_h / 2.0, p2 = b * (1.0 - f) * dt_h / 2.0;
        if (a > 0) {
            *imp += p1;
            *exp_ -= p2;
        } else {
            *exp_ -= p1;
            *imp += p2;
        }
    }
}

/* Add the integral from knot time t0 over len_s seconds of the segment t0..t0+KNOT_S. */
static void integrate_segment(const struct site_model *m, int64_t t0, double len_s, struct counters *c,
                              double *unit_end)
{
    double u0 = unit_power(m, t0), u1 = unit_power(m, t0 + KNOT_S);
    double l0 = household_W(m, t0), l1 = household_W(m, t0 + KNOT_S);
    double f = len_s / KNOT_S;
    double ue = u0 + (u1 - u0) * f, le = l0 + (l1 - l0) * f;
    double dt_h = len_s / 3600.0;
    c->unit_h += (u0 + ue) / 2.0 * dt_h;
    c->load_Wh += (l0 + le) / 2.0 * dt_h;
    integrate_net(l0 - u0 * m->total_peak_W, le - ue * m->total_peak_W, dt_h, &c->import_Wh,
                  &c->export_Wh);
    if (unit_end)
        *unit_end = ue;
}

/* Counters at t (and the unit power there), advancing the cursor. */
static void counters_at(struct site_model *m, int64_t t_s, struct counters *out, double *unit)
{
    int64_t start = m->cfg.start_s;
    if (t_s < start)
        t_s = start;
    int64_t kt = (t_s - start) / KNOT_S;
    if (kt < m->k) {
        m->k = 0;
        memset(&m->at_k, 0, sizeof(m->at_k));
        m->last_sun_s = INT64_MIN / 2;
    }
    while (m->k < kt) {
        int64_t t0 = start + m->k * KNOT_S;
        double ue;
        integrate_segment(m, t0, KNOT_S, &m->at_k, &ue);
        if (ue > 0 || unit_power(m, t0) > 0)
            m->last_sun_s = t0 + KNOT_S;
        m->k++;
    }
    *out = m->at_k;
    int64_t t0 = start + m->k * KNOT_S;
    double rem = (double)(t_s - t0);
    double ue = unit_power(m, t0);
    if (rem > 0)
        integrate_segment(m, t0, rem, out, &ue);
    *unit = ue;
}

struct site_model *site_model_new(const struct site_config *cfg)
{
    struct site_model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->cfg = *cfg;
    uint64_t s = cfg->seed;
    m->n_inv = cfg->string_inverter ? 1 : cfg->inverters;
    if (m->n_inv < 1)
        m->n_inv = 1;
    if (m->n_inv > SITE_MAX_INVERTERS)
        m->n_inv = SITE_MAX_INVERTERS;
    for (int i = 0; i < m->n_inv; i++) {
        if (cfg->string_inverter) {
            m->peak_W[i] = cfg->string_peak_W;
            m->life0_kWh[i] = 20000.0 + 15000.0 * site_unit(s, (uint64_t)i, 41);
            snprintf(m->inv_serial[i], sizeof(m->inv_serial[i]), "19%08u",
                     (unsigned)(site_unit(s, (uint64_t)i, 43) * 1e8));
        } else {
            /* orientation and shading make modules differ a little */
            m->peak_W[i] = cfg->micro_peak_W * (0.88 + 0.12 * site_unit(s, (uint64_t)i, 47));
            m->life0_kWh[i] = 900.0 + 1800.0 * site_unit(s, (uint64_t)i, 41);
            snprintf(m->inv_serial[i], sizeof(m->inv_serial[i]), "4140517080%05u",
                     (unsigned)(100 + i * 37 + (unsigned)(site_unit(s, 0, 43) * 50000.0)) % 100000u);
        }
        m->total_peak_W += m->peak_W[i];
    }
    m->import0_kWh = 8000.0 + 6000.0 * site_unit(s, 1, 53);
    m->export0_kWh = 3000.0 + 4000.0 * site_unit(s, 2, 53);
    m->net0_kWh = m->import0_kWh - m->export0_kWh;
    double sum0 = 0;
    for (int i = 0; i < m->n_inv; i++)
        sum0 += m->life0_kWh[i];
    m->prodmeter0_kWh = sum0 * cfg->production_ct_factor;
    m->load0_kWh = 12000.0 + 9000.0 * site_unit(s, 6, 53);
    unsigned sv = (unsigned)(site_unit(s, 3, 59) * 1e6);
    snprintf(m->sup_serial, sizeof(m->sup_serial), "ZT1702850%06uC0308", sv);
    unsigned ms = (unsigned)(site_unit(s, 4, 59) * 1e6);
    snprintf(m->meter_c, sizeof(m->meter_c), "PVS5M%06uc", ms);
    snprintf(m->meter_p, sizeof(m->meter_p), "PVS5M%06up", ms);
    m->wattnode_serial = 100000u + (uint32_t)(site_unit(s, 5, 59) * 800000.0);
    m->k = 0;
    m->last_sun_s = INT64_MIN / 2;
    if (cfg->meter_reset_s >= 0) {
        double u;
        counters_at(m, cfg->meter_reset_s, &m->at_reset, &u);
    }
    return m;
}

void site_model_free(struct site_model *m)
{
    free(m);
}

const struct site_config *site_model_config(const struct site_model *m)
{
    return &m->cfg;
}

int site_model_inverter_count(const struct site_model *m)
{
    return m->n_inv;
}

const char *site_model_supervisor_serial(const struct site_model *m)
{
    return m->sup_serial;
}

const char *site_model_meter_serial(const struct site_model *m, char suffix)
{
    return suffix == 'p' ? m->meter_p : m->meter_c;
}

uint32_t site_model_wattnode_serial(const struct site_model *m)
{
    return m->wattnode_serial;
}

void site_model_at(struct site_model *m, int64_t t_s, struct site_snapshot *out)
{
    counters_at(m, t_s, &m->now, &m->unit_now);
    m->t_s = t_s;
    const struct counters *c = &m->now;
    memset(out, 0, sizeof(*out));
    out->time_s = t_s;
    out->production_W = m->unit_now * m->total_peak_W;
    out->load_W = household_W(m, t_s - t_s % KNOT_S) +
                  (household_W(m, t_s - t_s % KNOT_S + KNOT_S) - household_W(m, t_s - t_s % KNOT_S)) *
                      (double)(t_s % KNOT_S) / KNOT_S;
    out->net_W = out->load_W - out->production_W;
    double imp = c->import_Wh, exp_ = c->export_Wh, load = c->load_Wh;
    double i0 = m->import0_kWh, e0 = m->export0_kWh, l0 = m->load0_kWh;
    if (m->cfg.meter_reset_s >= 0 && t_s >= m->cfg.meter_reset_s) {
        /* a replaced or reset meter starts again from zero */
        imp -= m->at_reset.import_Wh;
        exp_ -= m->at_reset.export_Wh;
        load -= m->at_reset.load_Wh;
        i0 = e0 = l0 = 0.0;
    }
    out->import_lifetime_kWh = i0 + imp / 1000.0;
    out->export_lifetime_kWh = e0 + exp_ / 1000.0;
    out->net_lifetime_kWh = out->import_lifetime_kWh - out->export_lifetime_kWh;
    out->load_lifetime_kWh = l0 + load / 1000.0;
    double factor = m->cfg.production_ct_factor;
    out->prod_meter_lifetime_kWh =
        m->prodmeter0_kWh + factor * c->unit_h * m->total_peak_W / 1000.0;
    out->prod_meter_W = out->production_W * factor;
    switch (m->cfg.consumption_ct) {
    case SITE_CT_NET:
        out->cmeter_W = out->net_W;
        out->cmeter_lifetime_kWh = out->net_lifetime_kWh;
        out->cmeter_import_kWh = out->import_lifetime_kWh;
        out->cmeter_export_kWh = out->export_lifetime_kWh;
        break;
    case SITE_CT_GROSS: /* the house only: nothing ever flows out through these CTs */
        out->cmeter_W = out->load_W;
        out->cmeter_lifetime_kWh = out->cmeter_import_kWh = out->load_lifetime_kWh;
        out->cmeter_export_kWh = 0.0;
        break;
    case SITE_CT_NONE:
        break; /* memset above: 0 counter, 0 power */
    }
    m->volt_V = 240.0 + 3.0 * (value_noise(m->cfg.seed, 61, t_s, 600) - 0.5) -
                2.0 * out->load_W / 5000.0 + 1.5 * out->production_W / 5000.0;
    m->freq_Hz = 60.0 + 0.02 * (value_noise(m->cfg.seed, 67, t_s, 60) - 0.5);
    out->voltage_V = m->volt_V;
    out->frequency_Hz = m->freq_Hz;
}

void site_model_inverter(struct site_model *m, int i, struct site_inverter *out)
{
    memset(out, 0, sizeof(*out));
    if (i < 0 || i >= m->n_inv)
        return;
    bool micro = !m->cfg.string_inverter;
    snprintf(out->serial, sizeof(out->serial), "%s", m->inv_serial[i]);
    snprintf(out->model, sizeof(out->model), "%s", micro ? "AC_Module_Type_C" : "SPR-5000m");
    double p = m->unit_now * m->peak_W[i];
    /* a microinverter stays awake through the interval in which it last produced */
    out->awake = !micro || p > 0 || m->t_s - m->last_sun_s < 300;
    out->energy_lifetime_kWh = m->life0_kWh[i] + m->peak_W[i] * m->now.unit_h / 1000.0;
    out->power_W = p;
    out->voltage_V = m->volt_V + 0.8 * (site_unit(m->cfg.seed, (uint64_t)i, 71) - 0.5);
    out->current_A = p / out->voltage_V;
    out->dc_power_W = p > 0 ? p / 0.965 + 0.8 : 0.0;
    double vmp = micro ? 56.0 : 385.0;
    out->dc_voltage_V = p > 0 ? vmp * (0.95 + 0.05 * value_noise(m->cfg.seed, 73, m->t_s, 300)) : 0.0;
    out->dc_current_A = out->dc_voltage_V > 0 ? out->dc_power_W / out->dc_voltage_V : 0.0;
    out->temperature_C = 18.0 + 30.0 * m->unit_now + 2.0 * site_unit(m->cfg.seed, (uint64_t)i, 79);
    out->frequency_Hz = m->freq_Hz;
}
