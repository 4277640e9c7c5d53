/* The virtual SunSpec inverter's register image. */
#include "modbus_sunspec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "modbus_values.h"

void sunspec_init(struct sunspec *s)
{
    memset(s, 0, sizeof *s);
    s->base = 40000;
    s->model = 101;
    s->unit = 126;
    memcpy(s->mn, "SMA", 4);
    memcpy(s->md, "SB5000TL-US-22", 15);
    memcpy(s->vr, "2.5.6.R", 8);
    memcpy(s->sn, "1913012345", 11);
    s->power_W = 3456.0;
    s->energy_Wh = 23456789.0;
    s->voltage_V = 240.1;
    s->freq_Hz = 60.0;
    s->dc_voltage_V = 385.2;
    s->temp_C = 41.5;
    s->status = 4;
    s->a_sf = -2;
    s->v_sf = -1;
    s->w_sf = 0;
    s->hz_sf = -2;
    s->wh_sf = 0;
    s->dca_sf = -2;
    s->dcv_sf = -1;
    s->dcw_sf = 0;
    s->tmp_sf = -1;
    sunspec_build(s);
}

static const struct {
    const char *name;
    unsigned bit;
} points[] = {
    {"A", SS_A},     {"PhVphA", SS_PHVPHA}, {"W", SS_W},     {"Hz", SS_HZ},         {"WH", SS_WH},
    {"DCA", SS_DCA}, {"DCV", SS_DCV},       {"DCW", SS_DCW}, {"TmpCab", SS_TMPCAB}, {"St", SS_ST},
};

static int parse_unimpl(const char *v, unsigned *out)
{
    unsigned bits = 0;
    while (*v) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        int found = 0;
        for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
            if (strlen(points[i].name) == len && strncmp(points[i].name, v, len) == 0) {
                bits |= points[i].bit;
                found = 1;
            }
        }
        if (!found && len > 0)
            return -1;
        v += len + (comma ? 1 : 0);
    }
    *out = bits;
    return 0;
}

static int set_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

int sunspec_set(void *ctx, const char *key, const char *value)
{
    struct sunspec *s = ctx;
    double d;
    unsigned long u;
    if (strcmp(key, "mn") == 0)
        return set_str(s->mn, sizeof s->mn, value);
    if (strcmp(key, "md") == 0)
        return set_str(s->md, sizeof s->md, value);
    if (strcmp(key, "sn") == 0)
        return set_str(s->sn, sizeof s->sn, value);
    if (strcmp(key, "vr") == 0)
        return set_str(s->vr, sizeof s->vr, value);
    if (strcmp(key, "unimpl") == 0)
        return parse_unimpl(value, &s->unimpl);
    if (strcmp(key, "model") == 0) {
        if (values_u32(value, &u, 103) != 0 || u < 101)
            return -1;
        s->model = (uint16_t)u;
        return 0;
    }
    if (strcmp(key, "base") == 0 || strcmp(key, "unit") == 0 || strcmp(key, "status") == 0) {
        unsigned long max = key[0] == 'b' ? 0xFFFFul - SUNSPEC_MAX_REGS : key[0] == 'u' ? 247 : 0xFFFE;
        if (values_u32(value, &u, max) != 0)
            return -1;
        if (key[0] == 'b')
            s->base = (uint16_t)u;
        else if (key[0] == 'u')
            s->unit = (uint16_t)u;
        else
            s->status = (uint16_t)u;
        return 0;
    }
    if (values_double(value, &d) != 0)
        return -1;
    if (strcmp(key, "w-sf") == 0 || strcmp(key, "wh-sf") == 0) {
        if (d != floor(d) || d < -10 || d > 10)
            return -1;
        if (key[1] == '-')
            s->w_sf = (int)d;
        else
            s->wh_sf = (int)d;
        return 0;
    }
    if (strcmp(key, "power-w") == 0)
        s->power_W = d;
    else if (strcmp(key, "energy-kwh") == 0 && d >= 0)
        s->energy_Wh = d * 1000.0;
    else if (strcmp(key, "voltage") == 0)
        s->voltage_V = d;
    else if (strcmp(key, "freq") == 0)
        s->freq_Hz = d;
    else if (strcmp(key, "dc-voltage") == 0)
        s->dc_voltage_V = d;
    else if (strcmp(key, "temp") == 0)
        s->temp_C = d;
    else
        return -1;
    return 0;
}

void sunspec_advance(struct sunspec *s, double dt_s)
{
    if (dt_s > 0 && s->power_W > 0)
        s->energy_Wh += s->power_W * dt_s / 3600.0;
}

/* value / 10^sf, rounded and clamped into [lo, hi]. */
static long scaled(double v, int sf, long lo, long hi)
{
    double r = round(v / pow(10.0, sf));
    if (r < (double)lo)
        return lo;
    if (r > (double)hi)
        return hi;
    return (long)r;
}

static void put_str(uint16_t *r, const char *str, size_t nregs)
{
    /* Two characters per register, first in the high byte, NUL padded. */
    size_t len = strlen(str);
    for (size_t i = 0; i < nregs; i++) {
        uint8_t hi = 2 * i < len ? (uint8_t)str[2 * i] : 0;
        uint8_t lo = 2 * i + 1 < len ? (uint8_t)str[2 * i + 1] : 0;
        r[i] = (uint16_t)(hi << 8 | lo);
    }
}

/* The image, as SunSpec Information Model Reference (models 1, 101-103):
 *   +0  "SunS" 0x5375 0x6E53
 *   +2  model 1: ID 1, L 66: Mn[16] Md[16] Opt[8] Vr[8] SN[16] DA Pad
 *   +70 model 10x: ID, L 50, then offsets from the first point:
 *        0 A  1-3 AphA..C  4 A_SF  5-7 PPVphAB..CA  8-10 PhVphA..C  11 V_SF
 *       12 W  13 W_SF  14 Hz  15 Hz_SF  16 VA 17 VA_SF  18 VAr 19 VAr_SF
 *       20 PF 21 PF_SF  22-23 WH acc32 (high word first)  24 WH_SF
 *       25 DCA 26 DCA_SF  27 DCV 28 DCV_SF  29 DCW 30 DCW_SF
 *       31 TmpCab 32 TmpSnk 33 TmpTrns 34 TmpOt 35 Tmp_SF  36 St 37 StVnd
 *       38-49 Evt1, Evt2, EvtVnd1..4 (bitfield32)
 *   +122 end: 0xFFFF, L 0
 * Not implemented: int16 and sunssf 0x8000, uint16/enum16 0xFFFF, acc32 0,
 * bitfield32 0xFFFFFFFF, strings all NUL. */
void sunspec_build(struct sunspec *s)
{
    uint16_t *r = s->regs;
    memset(r, 0, sizeof s->regs);
    r[0] = 0x5375;
    r[1] = 0x6E53;
    r[2] = 1;
    r[3] = 66;
    put_str(r + 4, s->mn, 16);
    put_str(r + 20, s->md, 16);
    put_str(r + 36, s->opt, 8);
    put_str(r + 44, s->vr, 8);
    put_str(r + 52, s->sn, 16);
    r[68] = s->unit;
    r[69] = 0x8000; /* Pad */
    uint16_t *m = r + 70;
    m[0] = s->model;
    m[1] = 50;
    uint16_t *p = m + 2;
    for (int i = 0; i < 50; i++)
        p[i] = 0xFFFF;                      /* uint16 not implemented */
    const int int16_points[] = {12, 16, 18, 20, 29, 31, 32, 33, 34};
    for (size_t i = 0; i < sizeof int16_points / sizeof int16_points[0]; i++)
        p[int16_points[i]] = 0x8000;
    const int sf_points[] = {4, 11, 13, 15, 17, 19, 21, 24, 26, 28, 30, 35};
    for (size_t i = 0; i < sizeof sf_points / sizeof sf_points[0]; i++)
        p[sf_points[i]] = 0x8000;
    p[22] = p[23] = 0;                      /* acc32 not implemented is 0 */

    unsigned phases = s->model == 103 ? 3 : s->model == 102 ? 2 : 1;
    double amps = s->voltage_V > 0 ? s->power_W / s->voltage_V : 0.0;
    double dcw = s->power_W > 0 ? s->power_W / 0.965 : 0.0; /* ~96.5 % efficient */
    double dca = s->dc_voltage_V > 0 ? dcw / s->dc_voltage_V : 0.0;

    p[4] = (uint16_t)(int16_t)s->a_sf;
    if (!(s->unimpl & SS_A))
        p[0] = (uint16_t)scaled(amps, s->a_sf, 0, 0xFFFE);
    for (unsigned ph = 0; ph < phases; ph++)
        p[1 + ph] = (uint16_t)scaled(amps / phases, s->a_sf, 0, 0xFFFE);
    p[11] = (uint16_t)(int16_t)s->v_sf;
    if (!(s->unimpl & SS_PHVPHA))
        p[8] = (uint16_t)scaled(s->voltage_V, s->v_sf, 0, 0xFFFE);
    for (unsigned ph = 1; ph < phases; ph++)
        p[8 + ph] = (uint16_t)scaled(s->voltage_V, s->v_sf, 0, 0xFFFE);
    p[13] = (uint16_t)(int16_t)s->w_sf;
    if (!(s->unimpl & SS_W))
        p[12] = (uint16_t)(int16_t)scaled(s->power_W, s->w_sf, -32767, 32767);
    p[15] = (uint16_t)(int16_t)s->hz_sf;
    if (!(s->unimpl & SS_HZ))
        p[14] = (uint16_t)scaled(s->freq_Hz, s->hz_sf, 0, 0xFFFE);
    p[24] = (uint16_t)(int16_t)s->wh_sf;
    if (!(s->unimpl & SS_WH)) {
        /* acc32 wraps (a real counter rolls over); 0 would read as "not implemented" */
        uint32_t wh = (uint32_t)(unsigned long long)llround(s->energy_Wh / pow(10.0, s->wh_sf));
        p[22] = (uint16_t)(wh >> 16);
        p[23] = (uint16_t)wh;
    }
    p[26] = (uint16_t)(int16_t)s->dca_sf;
    if (!(s->unimpl & SS_DCA))
        p[25] = (uint16_t)scaled(dca, s->dca_sf, 0, 0xFFFE);
    p[28] = (uint16_t)(int16_t)s->dcv_sf;
    if (!(s->unimpl & SS_DCV))
        p[27] = (uint16_t)scaled(s->dc_voltage_V, s->dcv_sf, 0, 0xFFFE);
    p[30] = (uint16_t)(int16_t)s->dcw_sf;
    if (!(s->unimpl & SS_DCW))
        p[29] = (uint16_t)(int16_t)scaled(dcw, s->dcw_sf, -32767, 32767);
    p[35] = (uint16_t)(int16_t)s->tmp_sf;
    if (!(s->unimpl & SS_TMPCAB))
        p[31] = (uint16_t)(int16_t)scaled(s->temp_C, s->tmp_sf, -32767, 32767);
    if (!(s->unimpl & SS_ST))
        p[36] = s->status;
    r[122] = 0xFFFF;
    r[123] = 0;
    s->nregs = 124;
}

int sunspec_read_reg(void *ctx, uint16_t wire_addr, uint16_t *value)
{
    const struct sunspec *s = ctx;
    if (wire_addr < s->base || (size_t)(wire_addr - s->base) >= s->nregs)
        return -1;
    *value = s->regs[wire_addr - s->base];
    return 0;
}
