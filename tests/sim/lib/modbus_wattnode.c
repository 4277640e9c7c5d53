/* The virtual WattNode: values, live integration and the register map. */
#include "modbus_wattnode.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "modbus_values.h"

void wattnode_init(struct wattnode *w)
{
    memset(w, 0, sizeof *w);
    w->energy_pos_sum_nr_kWh = 12345.6;
    w->energy_neg_sum_nr_kWh = 2345.6;
    w->power_W = 1500.0;
    w->voltage_V = 120.5;
    w->freq_Hz = 60.0;
    w->serial = 123456;
    w->model = 201;
    w->version = 31;
    wattnode_finish(w);
}

int wattnode_set(void *ctx, const char *key, const char *value)
{
    struct wattnode *w = ctx;
    double d;
    unsigned long u;
    if (strcmp(key, "serial") == 0 || strcmp(key, "model") == 0 || strcmp(key, "version") == 0) {
        unsigned long max = key[0] == 's' ? 0xFFFFFFFFul : 0xFFFFul;
        if (values_u32(value, &u, max) != 0)
            return -1;
        if (key[0] == 's')
            w->serial = (uint32_t)u;
        else if (key[0] == 'm')
            w->model = (uint16_t)u;
        else
            w->version = (uint16_t)u;
        return 0;
    }
    if (values_double(value, &d) != 0)
        return -1;
    if (strcmp(key, "power-w") == 0)
        w->power_W = d;
    else if (strcmp(key, "energy-net-kwh") == 0) {
        w->energy_sum_nr_kWh = d;
        w->net_set = 1;
    } else if (strcmp(key, "import-kwh") == 0 && d >= 0)
        w->energy_pos_sum_nr_kWh = d;
    else if (strcmp(key, "export-kwh") == 0 && d >= 0)
        w->energy_neg_sum_nr_kWh = d;
    else if (strcmp(key, "resettable-net-kwh") == 0)
        w->energy_sum_kWh = d;
    else if (strcmp(key, "resettable-import-kwh") == 0 && d >= 0)
        w->energy_pos_sum_kWh = d;
    else if (strcmp(key, "resettable-export-kwh") == 0 && d >= 0)
        w->energy_neg_sum_kWh = d;
    else if (strcmp(key, "voltage") == 0)
        w->voltage_V = d;
    else if (strcmp(key, "freq") == 0)
        w->freq_Hz = d;
    else
        return -1;
    return 0;
}

void wattnode_finish(struct wattnode *w)
{
    if (!w->net_set)
        w->energy_sum_nr_kWh = w->energy_pos_sum_nr_kWh - w->energy_neg_sum_nr_kWh;
}

void wattnode_advance(struct wattnode *w, double dt_s)
{
    if (dt_s <= 0)
        return;
    double e_kWh = w->power_W * dt_s / 3.6e6;
    w->energy_sum_nr_kWh += e_kWh;
    w->energy_sum_kWh += e_kWh;
    if (e_kWh >= 0) {
        w->energy_pos_sum_nr_kWh += e_kWh;
        w->energy_pos_sum_kWh += e_kWh;
    } else {
        w->energy_neg_sum_nr_kWh -= e_kWh;
        w->energy_neg_sum_kWh -= e_kWh;
    }
    w->uptime_s += dt_s;
    w->total_s += dt_s;
}

double wattnode_wire_float(double v)
{
    return (double)(float)v;
}

static uint32_t float_bits(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* CDAB: the register at the lower address holds the low 16 bits. */
static uint16_t cdab_word(uint32_t v, unsigned reg_in_pair)
{
    return reg_in_pair == 0 ? (uint16_t)(v & 0xFFFF) : (uint16_t)(v >> 16);
}

static int32_t tenths(double kWh)
{
    double t = round(kWh * 10.0);
    if (t > 2147483647.0)
        t = 2147483647.0;
    if (t < -2147483648.0)
        t = -2147483648.0;
    return (int32_t)t;
}

int wattnode_read_reg(void *ctx, uint16_t wire_addr, uint16_t *value)
{
    const struct wattnode *w = ctx;
    unsigned reg = (unsigned)wire_addr + 1; /* documented, 1-based */
    if (reg >= 1001 && reg <= 1034) {
        double half = w->power_W / 2.0, v = w->voltage_V;
        const double f[17] = {
            w->energy_sum_kWh, w->energy_pos_sum_kWh, w->energy_sum_nr_kWh, w->energy_pos_sum_nr_kWh,
            w->power_W, half, half, 0.0,    /* PowerSum, A, B, C */
            v, v, v, 0.0,                   /* VoltAvgLN, A, B, C */
            2.0 * v, 2.0 * v, 0.0, 0.0,     /* VoltAvgLL, AB, BC, AC (split phase: only AB) */
            w->freq_Hz,
        };
        unsigned i = (reg - 1001) / 2;
        *value = cdab_word(float_bits(f[i]), (reg - 1001) % 2);
        return 0;
    }
    if (reg >= 1113 && reg <= 1116) {
        double v = reg < 1115 ? w->energy_neg_sum_kWh : w->energy_neg_sum_nr_kWh;
        *value = cdab_word(float_bits(v), (reg - 1113) % 2);
        return 0;
    }
    if (reg >= 1201 && reg <= 1208) {
        const double e[4] = {w->energy_sum_kWh, w->energy_pos_sum_kWh, w->energy_sum_nr_kWh,
                             w->energy_pos_sum_nr_kWh};
        *value = cdab_word((uint32_t)tenths(e[(reg - 1201) / 2]), (reg - 1201) % 2);
        return 0;
    }
    if (reg >= 1701 && reg <= 1715) {
        switch (reg) {
        case 1701: case 1702: *value = cdab_word(w->serial, reg - 1701); break;
        case 1703: case 1704: *value = cdab_word((uint32_t)w->uptime_s, reg - 1703); break;
        case 1705: case 1706: *value = cdab_word((uint32_t)w->total_s, reg - 1705); break;
        case 1707: *value = w->model; break;
        case 1708: *value = w->version; break;
        case 1712: *value = w->crc_errors; break;
        case 1713: *value = w->frame_errors; break;
        case 1714: *value = w->packet_errors; break;
        case 1715: *value = w->overruns; break;
        default: *value = 0; break;
        }
        return 0;
    }
    return -1;
}

void wattnode_truth_json(const struct wattnode *w, FILE *out, unsigned address, long long unix_s,
                         const char *extra)
{
    char when[32];
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* %.17g prints the float32 value exactly (as a double), so a reader can
     * compare what it decoded with ==. */
    fprintf(out,
            "{\"device\":\"wattnode\",\"address\":%u,\"time\":\"%s\",\"serial\":\"%lu\","
            "\"power_W\":%.17g,\"energy_net_lifetime_kWh\":%.17g,\"energy_import_lifetime_kWh\":%.17g,"
            "\"energy_export_lifetime_kWh\":%.17g,\"voltage_V\":%.17g,\"frequency_Hz\":%.17g%s%s}",
            address, when, (unsigned long)w->serial, wattnode_wire_float(w->power_W),
            wattnode_wire_float(w->energy_sum_nr_kWh), wattnode_wire_float(w->energy_pos_sum_nr_kWh),
            wattnode_wire_float(w->energy_neg_sum_nr_kWh), wattnode_wire_float(w->voltage_V),
            wattnode_wire_float(w->freq_Hz), extra ? "," : "", extra ? extra : "");
}
