/* A virtual WattNode Modbus meter (WNC/RWNC): what it holds and its register
 * map, per docs/protocol.md section 2. */
#ifndef PVSIM_MODBUS_WATTNODE_H
#define PVSIM_MODBUS_WATTNODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modbus_rtu.h"

struct wattnode {
    /* Non-resettable counters (what pvtap must use) and their resettable
     * twins (1001/1003/1113), which differ: a user reset them at some time. */
    double energy_sum_nr_kWh, energy_pos_sum_nr_kWh, energy_neg_sum_nr_kWh;
    double energy_sum_kWh, energy_pos_sum_kWh, energy_neg_sum_kWh;
    double power_W;            /* PowerSum; phases A and B carry half each (split phase) */
    double voltage_V;          /* VoltAvgLN; VoltA = VoltB = this, VoltC = 0 */
    double freq_Hz;
    uint32_t serial;
    uint16_t model, version;
    double uptime_s, total_s;  /* 1703/1705, whole seconds on the wire */
    /* 1712..1715: counted for real by the serving loop */
    uint16_t crc_errors, frame_errors, packet_errors, overruns;
    int net_set;               /* energy-net-kwh given explicitly (else import - export) */
};

void wattnode_init(struct wattnode *w);
/* Setter for flags and values files (keys in the README, "Virtual RS-485 devices"):
 * power-w, energy-net-kwh, import-kwh, export-kwh, resettable-net-kwh,
 * resettable-import-kwh, resettable-export-kwh, voltage, freq, serial, model,
 * version. 0 or -1 (unknown key / bad value). */
int wattnode_set(void *w, const char *key, const char *value);
/* After a batch of sets: derive net from import - export unless it was set. */
void wattnode_finish(struct wattnode *w);
/* --live: power stays, counters integrate it over dt_s seconds. */
void wattnode_advance(struct wattnode *w, double dt_s);

/* modbus_reg_fn over the map (wire address = documented register - 1):
 *   1001..1034  17 float32, CDAB (low word first): EnergySum, EnergyPosSum,
 *               EnergySumNR, EnergyPosSumNR, PowerSum, PowerA/B/C, VoltAvgLN,
 *               VoltA/B/C, VoltAvgLL, VoltAB/BC/AC, Freq
 *   1113..1116  EnergyNegSum, EnergyNegSumNR float32 CDAB (positive numbers)
 *   1201..1208  EnergySum, EnergyPosSum, EnergySumNR, EnergyPosSumNR as int32
 *               in 0.1 kWh, CDAB
 *   1701..1715  SerialNumber int32, UptimeSecs int32, TotalSecs int32 (CDAB),
 *               Model, Version, 1709..1711 (options, error status, power
 *               fails: not modelled, 0), CrcErrorCount, FrameErrorCount,
 *               PacketErrorCount, OverrunCount
 * Source: CCS "WattNode Modbus register list" V18 as summarised in
 * docs/protocol.md section 2. Anything else: -1 (the server answers exception 02). */
int wattnode_read_reg(void *w, uint16_t wire_addr, uint16_t *value);

/* The value of a float register as the wire carries it (float32). */
double wattnode_wire_float(double v);

/* One `pvtap poll --format json` WattNode line of what the meter holds
 * (values as their float32 registers decode), without a newline. `extra` is
 * appended inside the object when not NULL (e.g. "\"sim_fault\":\"crc\""). */
void wattnode_truth_json(const struct wattnode *w, FILE *out, unsigned address, long long unix_s,
                         const char *extra);

#endif
