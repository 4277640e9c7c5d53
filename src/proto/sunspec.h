/* SunSpec Modbus: the model-chain walk and the common (1) and inverter (101-103) models, pure. */
#ifndef PVTAP_PROTO_SUNSPEC_H
#define PVTAP_PROTO_SUNSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where devices put the "SunS" marker, in the order to try (wire addresses;
 * the SunSpec base is register 40001 = wire 40000, but devices differ by one
 * and some use 0 or 50000: never hard-code). */
extern const uint16_t sunspec_base_candidates[];
extern const size_t sunspec_n_base_candidates;

enum { SUNSPEC_MAX_MODELS = 64, SUNSPEC_END_ID = 0xFFFF };

struct sunspec_model_ref {
    uint16_t id;
    uint16_t len;  /* registers after the two-register header */
    uint16_t addr; /* wire address of the model's first register after the header */
};

/* The chain walk as a state machine fed with what the caller read, so the
 * walk itself does no I/O:
 *
 *     base+0  'S''u' 'n''S'          (0x5375 0x6E53)
 *     base+2  ID, L  then L registers   model 1 (common)
 *     ...     ID, L  then L registers   the next model
 *     ...     0xFFFF, 0                 end model
 *
 * sunspec_chain_start() checks the marker; then, while it returns 0, read
 * two registers at c->next_addr and pass them to sunspec_chain_feed(). */
struct sunspec_chain {
    uint16_t base;
    uint16_t next_addr; /* where the next header is */
    bool done;
    size_t n;
    struct sunspec_model_ref models[SUNSPEC_MAX_MODELS];
};

/* PVTAP_ENOTMINE when marker is not "SunS". */
int sunspec_chain_start(struct sunspec_chain *c, uint16_t base, const uint16_t marker[2]);
/* 0: read the next header at c->next_addr; 1: the end model was seen (done);
 * PVTAP_ECORRUPT: a model runs past the 16-bit address space or a header is
 * 0x0000/0x0000 (an empty chain); PVTAP_ELIMIT: more than SUNSPEC_MAX_MODELS. */
int sunspec_chain_feed(struct sunspec_chain *c, const uint16_t header[2]);
/* The first model with that id, or NULL. Borrowed from c. */
const struct sunspec_model_ref *sunspec_chain_find(const struct sunspec_chain *c, uint16_t id);
/* The first inverter model of the chain (101, 102 or 103), or NULL. */
const struct sunspec_model_ref *sunspec_chain_inverter(const struct sunspec_chain *c);

/* Model 1, common: Mn (16 regs), Md (16), Opt (8), Vr (8), SN (16), DA (1),
 * [Pad]. Strings are NUL-padded ASCII, two characters per register, high byte
 * first; trailing NULs and spaces are trimmed, non-printable bytes become '?'. */
enum { SUNSPEC_COMMON_LEN = 65 };
struct sunspec_common {
    char manufacturer[33];
    char model[33];
    char options[17];
    char version[17];
    char serial[33];
    uint16_t device_address; /* 0 when not implemented */
};
/* body = the model's registers after its header, n of them.
 * PVTAP_ETRUNC when n < 65. */
int sunspec_decode_common(const uint16_t *body, size_t n, struct sunspec_common *out);

/* Models 101 (single phase), 102 (split phase), 103 (three phase), integer +
 * scale factor, L = 50. Offsets in the body (after ID, L):
 *    0 A  1 AphA 2 AphB 3 AphC 4 A_SF
 *    5 PPVphAB 6 PPVphBC 7 PPVphCA 8 PhVphA 9 PhVphB 10 PhVphC 11 V_SF
 *   12 W 13 W_SF   14 Hz 15 Hz_SF   16 VA 17 VA_SF   18 VAr 19 VAr_SF   20 PF 21 PF_SF
 *   22-23 WH (acc32, Wh) 24 WH_SF   25 DCA 26 DCA_SF 27 DCV 28 DCV_SF 29 DCW 30 DCW_SF
 *   31 TmpCab 32 TmpSnk 33 TmpTrns 34 TmpOt 35 Tmp_SF   36 St 37 StVnd 38.. events
 * (SunSpec Information Model Reference, models 101-103; docs/protocol.md: W at +14
 * and WH at +24 counting from the model ID.) Not implemented: int16 0x8000,
 * uint16 0xFFFF, acc32 0, scale factor 0x8000; each leaves its value absent. */
enum { SUNSPEC_INVERTER_LEN = 50 };
struct sunspec_inverter {
    uint16_t model_id;
    bool has_power_W, has_energy_kWh, has_voltage_V, has_current_A, has_frequency_Hz;
    bool has_dc_power_W, has_dc_voltage_V, has_dc_current_A, has_temperature_C, has_status;
    bool dc_power_derived; /* DCW absent: dc_power_W = DCV x DCA */
    double power_W, energy_kWh, voltage_V, current_A, frequency_Hz;
    double dc_power_W, dc_voltage_V, dc_current_A, temperature_C;
    unsigned status;       /* St: 1 OFF .. 8 STANDBY */
    unsigned out_of_range; /* points dropped by the sanity ranges */
};
/* PVTAP_ETRUNC when n < 50, PVTAP_ENOTMINE when model_id is not 101..103. */
int sunspec_decode_inverter(uint16_t model_id, const uint16_t *body, size_t n,
                            struct sunspec_inverter *out);

/* "MPPT" for 4, ...; NULL for codes SunSpec does not name. Static. */
const char *sunspec_state_name(unsigned st);

/* value x 10^sf with the decimal exactness a reader expects (24903, -2 ->
 * 249.03). */
double sunspec_scale(double raw, int sf);

#endif
