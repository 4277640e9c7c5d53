/* The WattNode WNC register table, its decoder and the read planner (pure). */
#include "proto/wattnode_map.h"

#include <math.h>

#include "proto/modbus_rtu.h"
#include "util/err.h"

/* Continental Control Systems, "WattNode Modbus register list" V18 (WNC
 * series), restated in docs/protocol.md section 2. Registers are documented
 * 1-based; the wire address is one less. 32-bit values are low word first
 * (CDAB): EnergySum = 1.005 kWh reads as A3D7 3F80.
 *
 *   1001 EnergySum        float kWh  net, resettable (never reported)
 *   1003 EnergyPosSum     float kWh  import, resettable
 *   1005 EnergySumNR      float kWh  net, non-resettable (falls while exporting)
 *   1007 EnergyPosSumNR   float kWh  import, non-resettable
 *   1009 PowerSum         float W    (negative = export)
 *   1011/1013/1015 PowerA/B/C float W
 *   1017 VoltAvgLN        float V
 *   1019/1021/1023 VoltA/B/C  float V (line to neutral)
 *   1025 VoltAvgLL, 1027/1029/1031 VoltAB/BC/AC float V
 *   1033 Freq             float Hz
 *   1113/1115 EnergyNegSum / EnergyNegSumNR  float kWh export
 *   1201..1207 the 1001..1007 energies as int32 in 0.1 kWh
 *   1701 SerialNumber uint32, 1703 UptimeSecs uint32, 1705 TotalSecs uint32,
 *   1707 Model, 1708 Version, 1712..1715 CRC/frame/packet errors, overruns
 *
 * 1019-1031 and 1703/1705 come from the register list itself, as the rest;
 * they fill the 1001-1034 block and the identity
 * block so each is one read. The sanity ranges are generous bounds a real
 * service cannot exceed (600 V class meters, 5000 A CTs): a value outside
 * one is a corrupted or misaddressed reply, never a reading. */
#define E_MAX 1e8  /* kWh: floats are coarse above 1e5 kWh, but still sane */
#define P_MAX 5e6  /* W */
#define V_MAX 1000.0
static const struct wn_reg map[] = {
    {WN_ENERGY_SUM, 1001, "EnergySum", WN_FLOAT_CDAB, 1, "kWh", 0, 0, WN_USE_NONE, -E_MAX, E_MAX},
    {WN_ENERGY_POS_SUM, 1003, "EnergyPosSum", WN_FLOAT_CDAB, 1, "kWh", 0, 0, WN_USE_NONE, 0, E_MAX},
    {WN_ENERGY_SUM_NR, 1005, "EnergySumNR", WN_FLOAT_CDAB, 1, "kWh", Q_ENERGY_NET_LIFETIME_KWH, 0,
     WN_USE_POLL, -E_MAX, E_MAX},
    {WN_ENERGY_POS_SUM_NR, 1007, "EnergyPosSumNR", WN_FLOAT_CDAB, 1, "kWh",
     Q_ENERGY_IMPORT_LIFETIME_KWH, 0, WN_USE_POLL, 0, E_MAX},
    {WN_POWER_SUM, 1009, "PowerSum", WN_FLOAT_CDAB, 1, "W", Q_POWER_W, 0, WN_USE_POLL, -P_MAX, P_MAX},
    {WN_POWER_A, 1011, "PowerA", WN_FLOAT_CDAB, 1, "W", Q_POWER_W, 1, WN_USE_POLL, -P_MAX, P_MAX},
    {WN_POWER_B, 1013, "PowerB", WN_FLOAT_CDAB, 1, "W", Q_POWER_W, 2, WN_USE_POLL, -P_MAX, P_MAX},
    {WN_POWER_C, 1015, "PowerC", WN_FLOAT_CDAB, 1, "W", Q_POWER_W, 3, WN_USE_POLL, -P_MAX, P_MAX},
    {WN_VOLT_AVG_LN, 1017, "VoltAvgLN", WN_FLOAT_CDAB, 1, "V", Q_VOLTAGE_V, 0, WN_USE_POLL, 0, V_MAX},
    {WN_VOLT_A, 1019, "VoltA", WN_FLOAT_CDAB, 1, "V", Q_VOLTAGE_V, 1, WN_USE_POLL, 0, V_MAX},
    {WN_VOLT_B, 1021, "VoltB", WN_FLOAT_CDAB, 1, "V", Q_VOLTAGE_V, 2, WN_USE_POLL, 0, V_MAX},
    {WN_VOLT_C, 1023, "VoltC", WN_FLOAT_CDAB, 1, "V", Q_VOLTAGE_V, 3, WN_USE_POLL, 0, V_MAX},
    {WN_VOLT_AVG_LL, 1025, "VoltAvgLL", WN_FLOAT_CDAB, 1, "V", 0, 0, WN_USE_NONE, 0, V_MAX},
    {WN_VOLT_AB, 1027, "VoltAB", WN_FLOAT_CDAB, 1, "V", 0, 0, WN_USE_NONE, 0, V_MAX},
    {WN_VOLT_BC, 1029, "VoltBC", WN_FLOAT_CDAB, 1, "V", 0, 0, WN_USE_NONE, 0, V_MAX},
    {WN_VOLT_AC, 1031, "VoltAC", WN_FLOAT_CDAB, 1, "V", 0, 0, WN_USE_NONE, 0, V_MAX},
    /* 0 Hz is what a meter reports while it cannot measure; it is no reading. */
    {WN_FREQ, 1033, "Freq", WN_FLOAT_CDAB, 1, "Hz", Q_FREQUENCY_HZ, 0, WN_USE_POLL, 40.0, 70.0},
    {WN_ENERGY_NEG_SUM, 1113, "EnergyNegSum", WN_FLOAT_CDAB, 1, "kWh", 0, 0, WN_USE_NONE, 0, E_MAX},
    {WN_ENERGY_NEG_SUM_NR, 1115, "EnergyNegSumNR", WN_FLOAT_CDAB, 1, "kWh",
     Q_ENERGY_EXPORT_LIFETIME_KWH, 0, WN_USE_POLL, 0, E_MAX},
    {WN_ENERGY_SUM_INT, 1201, "EnergySum_Int", WN_INT32_CDAB, 0.1, "kWh", 0, 0, WN_USE_NONE,
     -E_MAX, E_MAX},
    {WN_ENERGY_POS_SUM_INT, 1203, "EnergyPosSum_Int", WN_INT32_CDAB, 0.1, "kWh", 0, 0,
     WN_USE_NONE, 0, E_MAX},
    {WN_ENERGY_SUM_NR_INT, 1205, "EnergySumNR_Int", WN_INT32_CDAB, 0.1, "kWh", 0, 0,
     WN_USE_NONE, -E_MAX, E_MAX},
    {WN_ENERGY_POS_SUM_NR_INT, 1207, "EnergyPosSumNR_Int", WN_INT32_CDAB, 0.1, "kWh", 0, 0,
     WN_USE_NONE, 0, E_MAX},
    {WN_SERIAL, 1701, "SerialNumber", WN_UINT32_CDAB, 1, "", 0, 0, WN_USE_IDENTITY, 0, 4294967295.0},
    {WN_UPTIME, 1703, "UptimeSecs", WN_UINT32_CDAB, 1, "s", 0, 0, WN_USE_NONE, 0,
     4294967295.0},
    {WN_TOTAL_SECS, 1705, "TotalSecs", WN_UINT32_CDAB, 1, "s", 0, 0, WN_USE_NONE,
     0, 4294967295.0},
    {WN_MODEL, 1707, "Model", WN_UINT16, 1, "", 0, 0, WN_USE_IDENTITY, 0, 65535},
    {WN_VERSION, 1708, "Version", WN_UINT16, 1, "", 0, 0, WN_USE_IDENTITY, 0, 65535},
    {WN_CRC_ERRORS, 1712, "CrcErrorCount", WN_UINT16, 1, "", 0, 0, WN_USE_NONE, 0, 65535},
    {WN_FRAME_ERRORS, 1713, "FrameErrorCount", WN_UINT16, 1, "", 0, 0, WN_USE_NONE, 0, 65535},
    {WN_PACKET_ERRORS, 1714, "PacketErrorCount", WN_UINT16, 1, "", 0, 0, WN_USE_NONE, 0, 65535},
    {WN_OVERRUNS, 1715, "OverrunCount", WN_UINT16, 1, "", 0, 0, WN_USE_NONE, 0, 65535},
};
enum { MAP_LEN = sizeof map / sizeof map[0] };

unsigned wn_reg_width(const struct wn_reg *r)
{
    return r->type == WN_UINT16 ? 1 : 2;
}

const struct wn_reg *wattnode_map(size_t *n)
{
    *n = MAP_LEN;
    return map;
}

const struct wn_reg *wattnode_map_field(enum wn_field f)
{
    for (size_t i = 0; i < MAP_LEN; i++)
        if (map[i].field == f)
            return &map[i];
    return NULL;
}

static double decode_raw(const struct wn_reg *r, const uint16_t *p)
{
    switch (r->type) {
    case WN_FLOAT_CDAB:
        return modbus_float_to_double(modbus_float_cdab(p));
    case WN_INT32_CDAB:
        return (double)modbus_int32_cdab(p) * r->scale;
    case WN_UINT32_CDAB:
        return (double)modbus_uint32_cdab(p) * r->scale;
    case WN_UINT16:
        return (double)p[0] * r->scale;
    }
    return NAN;
}

size_t wattnode_decode(const uint16_t *regs, size_t n, uint16_t start, struct wn_values *out)
{
    size_t good = 0;
    for (size_t i = 0; i < MAP_LEN; i++) {
        const struct wn_reg *r = &map[i];
        size_t addr = wn_wire_addr(r->doc_reg);
        if (addr < start || addr + wn_reg_width(r) > (size_t)start + n)
            continue;
        double v = decode_raw(r, regs + (addr - start));
        /* !(a <= b) also catches NaN. */
        if (!(v >= r->min && v <= r->max)) {
            out->out_of_range++;
            out->present[r->field] = false;
            continue;
        }
        out->value[r->field] = v;
        out->present[r->field] = true;
        good++;
    }
    return good;
}

/* Is every register in [from, to) covered by some row of the map? */
static int documented(size_t from, size_t to)
{
    for (size_t a = from; a < to; a++) {
        int found = 0;
        for (size_t i = 0; i < MAP_LEN && !found; i++) {
            size_t s = wn_wire_addr(map[i].doc_reg);
            found = a >= s && a < s + wn_reg_width(&map[i]);
        }
        if (!found)
            return 0;
    }
    return 1;
}

int wattnode_plan(enum wn_use use, unsigned max_gap, struct modbus_block *out, size_t max_blocks)
{
    size_t nb = 0;
    size_t cur_start = 0, cur_end = 0; /* [start, end) of the open block */
    int open = 0;
    /* The table is in address order, so one pass merges neighbours. */
    for (size_t i = 0; i < MAP_LEN; i++) {
        if (map[i].use != use)
            continue;
        size_t s = wn_wire_addr(map[i].doc_reg), e = s + wn_reg_width(&map[i]);
        if (open && s >= cur_end && s - cur_end <= max_gap && e - cur_start <= MODBUS_MAX_READ_REGS &&
            documented(cur_end, s)) {
            cur_end = e;
            continue;
        }
        if (open) {
            if (nb >= max_blocks)
                return PVTAP_ELIMIT;
            out[nb++] = (struct modbus_block){(uint16_t)cur_start, (uint16_t)(cur_end - cur_start)};
        }
        cur_start = s;
        cur_end = e;
        open = 1;
    }
    if (open) {
        if (nb >= max_blocks)
            return PVTAP_ELIMIT;
        out[nb++] = (struct modbus_block){(uint16_t)cur_start, (uint16_t)(cur_end - cur_start)};
    }
    return (int)nb;
}
