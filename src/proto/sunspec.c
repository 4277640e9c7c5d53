/* SunSpec model-chain walk and decoders for models 1 and 101-103 (pure). */
#include "proto/sunspec.h"

#include <math.h>
#include <string.h>

#include "proto/modbus_rtu.h"
#include "util/err.h"

const uint16_t sunspec_base_candidates[] = {40000, 40001, 50000, 0};
const size_t sunspec_n_base_candidates =
    sizeof sunspec_base_candidates / sizeof sunspec_base_candidates[0];

int sunspec_chain_start(struct sunspec_chain *c, uint16_t base, const uint16_t marker[2])
{
    memset(c, 0, sizeof *c);
    if (marker[0] != 0x5375 || marker[1] != 0x6E53) /* "Su" "nS" */
        return PVTAP_ENOTMINE;
    if (base > 0xFFFF - 4)
        return PVTAP_ECORRUPT;
    c->base = base;
    c->next_addr = (uint16_t)(base + 2);
    return 0;
}

int sunspec_chain_feed(struct sunspec_chain *c, const uint16_t header[2])
{
    if (c->done)
        return 1;
    uint16_t id = header[0], len = header[1];
    if (id == SUNSPEC_END_ID) {
        c->done = true;
        return 1;
    }
    /* ID 0 with L 0 is erased memory, not a model: following it would spin. */
    if (id == 0 && len == 0)
        return PVTAP_ECORRUPT;
    size_t body = (size_t)c->next_addr + 2;
    if (body + len + 2 > 0x10000)
        return PVTAP_ECORRUPT;
    if (c->n >= SUNSPEC_MAX_MODELS)
        return PVTAP_ELIMIT;
    c->models[c->n++] = (struct sunspec_model_ref){id, len, (uint16_t)body};
    c->next_addr = (uint16_t)(body + len);
    return 0;
}

const struct sunspec_model_ref *sunspec_chain_find(const struct sunspec_chain *c, uint16_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->models[i].id == id)
            return &c->models[i];
    return NULL;
}

const struct sunspec_model_ref *sunspec_chain_inverter(const struct sunspec_chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->models[i].id >= 101 && c->models[i].id <= 103)
            return &c->models[i];
    return NULL;
}

/* Two characters per register, high byte first; out has room for 2*nregs+1. */
static void get_string(const uint16_t *regs, size_t nregs, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < nregs; i++) {
        out[n++] = (char)(regs[i] >> 8);
        out[n++] = (char)(regs[i] & 0xFF);
    }
    out[n] = '\0';
    size_t len = strlen(out); /* NUL padding ends the string */
    while (len > 0 && out[len - 1] == ' ')
        out[--len] = '\0';
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7E)
            out[i] = '?';
}

int sunspec_decode_common(const uint16_t *body, size_t n, struct sunspec_common *out)
{
    memset(out, 0, sizeof *out);
    if (n < SUNSPEC_COMMON_LEN)
        return PVTAP_ETRUNC;
    get_string(body + 0, 16, out->manufacturer);
    get_string(body + 16, 16, out->model);
    get_string(body + 32, 8, out->options);
    get_string(body + 40, 8, out->version);
    get_string(body + 48, 16, out->serial);
    out->device_address = body[64] == 0xFFFF ? 0 : body[64];
    return 0;
}

double sunspec_scale(double raw, int sf)
{
    /* Dividing by an exact power of ten rounds once, so 24903 x 10^-2 is the
     * double nearest 249.03 (multiplying by 0.01 would not be). */
    if (sf < 0)
        return raw / pow(10.0, -sf);
    return raw * pow(10.0, sf);
}

enum { NI_INT16 = 0x8000, NI_UINT16 = 0xFFFF };

/* A scale factor register: -10..10, anything else (0x8000 included) is none. */
static bool get_sf(const uint16_t *body, size_t off, int *sf)
{
    int16_t v = (int16_t)body[off];
    if (body[off] == NI_INT16 || v < -10 || v > 10)
        return false;
    *sf = v;
    return true;
}

/* A scaled point: absent when the value or its scale factor is not
 * implemented; counted and absent when outside [min, max]. */
static bool point(const uint16_t *body, size_t off, bool is_signed, size_t sf_off, double min,
                  double max, double *out, unsigned *bad)
{
    int sf;
    double raw;
    if (is_signed) {
        if (body[off] == NI_INT16)
            return false;
        raw = (int16_t)body[off];
    } else {
        if (body[off] == NI_UINT16)
            return false;
        raw = body[off];
    }
    if (!get_sf(body, sf_off, &sf))
        return false;
    double v = sunspec_scale(raw, sf);
    if (!(v >= min && v <= max)) {
        (*bad)++;
        return false;
    }
    *out = v;
    return true;
}

int sunspec_decode_inverter(uint16_t model_id, const uint16_t *body, size_t n,
                            struct sunspec_inverter *out)
{
    memset(out, 0, sizeof *out);
    if (model_id < 101 || model_id > 103)
        return PVTAP_ENOTMINE;
    if (n < SUNSPEC_INVERTER_LEN)
        return PVTAP_ETRUNC;
    out->model_id = model_id;
    unsigned *bad = &out->out_of_range;

    out->has_current_A = point(body, 0, false, 4, 0, 1e4, &out->current_A, bad);

    /* The voltage a reader compares with the meter: line to neutral on a
     * single-phase unit, line to line on a split-phase (240 V) one, the mean
     * of the implemented phases on a three-phase one. */
    double v;
    if (model_id == 102 && point(body, 5, false, 11, 0, 1000, &v, bad)) {
        out->voltage_V = v;
        out->has_voltage_V = true;
    } else if (model_id == 103) {
        double sum = 0;
        int k = 0;
        for (size_t off = 8; off <= 10; off++)
            if (point(body, off, false, 11, 0, 1000, &v, bad)) {
                sum += v;
                k++;
            }
        if (k) {
            out->voltage_V = sum / k;
            out->has_voltage_V = true;
        }
    } else {
        out->has_voltage_V = point(body, 8, false, 11, 0, 1000, &out->voltage_V, bad);
    }

    out->has_power_W = point(body, 12, true, 13, -1e6, 1e7, &out->power_W, bad);
    out->has_frequency_Hz = point(body, 14, false, 15, 0, 100, &out->frequency_Hz, bad);

    /* WH is acc32, high word first; 0 means not implemented. */
    uint32_t wh = modbus_uint32_abcd(body + 22);
    int sf;
    if (wh != 0 && get_sf(body, 24, &sf)) {
        double kwh = sunspec_scale((double)wh, sf) / 1000.0;
        if (kwh >= 0 && kwh <= 1e9) {
            out->energy_kWh = kwh;
            out->has_energy_kWh = true;
        } else {
            (*bad)++;
        }
    }

    out->has_dc_current_A = point(body, 25, false, 26, 0, 1e4, &out->dc_current_A, bad);
    out->has_dc_voltage_V = point(body, 27, false, 28, 0, 1500, &out->dc_voltage_V, bad);
    out->has_dc_power_W = point(body, 29, true, 30, -1e6, 1e7, &out->dc_power_W, bad);
    if (!out->has_dc_power_W && out->has_dc_voltage_V && out->has_dc_current_A) {
        out->dc_power_W = out->dc_voltage_V * out->dc_current_A;
        out->has_dc_power_W = true;
        out->dc_power_derived = true;
    }

    /* Heat-sink temperature, as the supervisor reports; else the cabinet's. */
    out->has_temperature_C = point(body, 32, true, 35, -60, 150, &out->temperature_C, bad) ||
                             point(body, 31, true, 35, -60, 150, &out->temperature_C, bad);

    if (body[36] != NI_UINT16) {
        out->status = body[36];
        out->has_status = true;
    }
    return 0;
}

const char *sunspec_state_name(unsigned st)
{
    static const char *const names[] = {NULL,        "OFF",       "SLEEPING",
                                        "STARTING",  "MPPT",      "THROTTLED",
                                        "SHUTTING_DOWN", "FAULT", "STANDBY"};
    if (st >= sizeof names / sizeof names[0])
        return NULL;
    return names[st];
}
