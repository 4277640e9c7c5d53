/* A virtual SunSpec inverter: the model chain (SunS, model 1, model
 * 101/102/103, end marker) as a register image, per docs/protocol.md section 3. */
#ifndef PVSIM_MODBUS_SUNSPEC_H
#define PVSIM_MODBUS_SUNSPEC_H

#include <stddef.h>
#include <stdint.h>

enum { SUNSPEC_MAX_REGS = 2 + 2 + 66 + 2 + 50 + 2 };

/* Points a test can mark "not implemented" (--unimpl A,W,...). */
enum sunspec_point {
    SS_A = 1u << 0, SS_PHVPHA = 1u << 1, SS_W = 1u << 2, SS_HZ = 1u << 3, SS_WH = 1u << 4,
    SS_DCA = 1u << 5, SS_DCV = 1u << 6, SS_DCW = 1u << 7, SS_TMPCAB = 1u << 8, SS_ST = 1u << 9,
};

struct sunspec {
    uint16_t base;              /* wire address of "SunS" (40000; 40001 or 50000 for odd vendors) */
    uint16_t model;             /* 101 single, 102 split, 103 three phase */
    uint16_t unit;              /* model 1 DA */
    char mn[33], md[33], opt[17], vr[17], sn[33];
    double power_W, energy_Wh, voltage_V, freq_Hz, dc_voltage_V, temp_C;
    uint16_t status;            /* St: 1 off, 2 sleeping, 3 starting, 4 MPPT, 5 throttled, 6 shutting down, 7 fault, 8 standby */
    int a_sf, v_sf, w_sf, hz_sf, wh_sf, dca_sf, dcv_sf, dcw_sf, tmp_sf;
    unsigned unimpl;            /* enum sunspec_point bits */
    uint16_t regs[SUNSPEC_MAX_REGS];
    size_t nregs;
};

void sunspec_init(struct sunspec *s);
/* Keys: power-w, energy-kwh, voltage, freq, dc-voltage, temp, status, mn,
 * md, sn, vr, model, base, unit, w-sf, wh-sf, unimpl (comma list of A,
 * PhVphA, W, Hz, WH, DCA, DCV, DCW, TmpCab, St). 0 or -1. */
int sunspec_set(void *s, const char *key, const char *value);
/* Rebuilds the register image from the values; call after sets or advance. */
void sunspec_build(struct sunspec *s);
void sunspec_advance(struct sunspec *s, double dt_s);
/* modbus_reg_fn: [base, base + nregs) is mapped, nothing else. */
int sunspec_read_reg(void *s, uint16_t wire_addr, uint16_t *value);

#endif
