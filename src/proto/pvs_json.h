/* The supervisor's local API answers (DeviceList, varserver /vars) -> devices -> readings. */
#ifndef PVTAP_PROTO_PVS_JSON_H
#define PVTAP_PROTO_PVS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/reading.h"

/* The two API generations. */
enum pvs_api {
    PVS_API_DEVICELIST = 1, /* GET /cgi-bin/dl_cgi?Command=DeviceList: numbers as strings */
    PVS_API_VARS,           /* firmware 61840+: the varserver's /vars, flat or nested */
};

/* A meter's kind comes from its role letter (serial suffix, else model or
 * TYPE: 'c' consumption CTs, 'p' production CTs) and, for 'c', its subtype. */
enum pvs_dev_kind {
    PVS_DEV_SUPERVISOR = 1,
    PVS_DEV_INVERTER,
    PVS_DEV_NET_METER,         /* 'c' meter, subtype NET_CONSUMPTION_LOADSIDE, NOT_USED or none */
    PVS_DEV_PRODUCTION_METER,  /* 'p' meter (GROSS_PRODUCTION_SITE) */
    PVS_DEV_CONSUMPTION_METER, /* 'c' meter, subtype GROSS_CONSUMPTION_LINESIDE: the whole house */
};

/* The subtype that makes a 'c' meter a consumption (gross) meter. */
#define PVS_SUBTYPE_GROSS_CONSUMPTION "GROSS_CONSUMPTION_LINESIDE"

/* What a device entry may carry, in SI-ish units (kW -> W on the way in). */
enum pvs_field {
    PF_ENERGY_LIFETIME_KWH, /* inverter */
    PF_ENERGY_NET_LIFETIME_KWH,
    PF_ENERGY_IMPORT_LIFETIME_KWH,
    PF_ENERGY_EXPORT_LIFETIME_KWH,
    PF_POWER_W,
    PF_VOLTAGE_V,
    PF_CURRENT_A,
    PF_FREQUENCY_HZ,
    PF_DC_POWER_W,
    PF_DC_VOLTAGE_V,
    PF_DC_CURRENT_A,
    PF_TEMPERATURE_C,
    PF_STATUS,
    PF_REACTIVE_VAR,
    PF_APPARENT_VA,
    PF_POWER_FACTOR,
    PF_CT_SCALE,
    PF_POWER_L1_W,
    PF_POWER_L2_W,
    PF_VOLTAGE_L1_V,
    PF_VOLTAGE_L2_V,
    PF_VOLTAGE_L1L2_V,
    PF_CURRENT_L1_A,
    PF_CURRENT_L2_A,
    /* supervisor diagnostics: plain counts, names as the supervisor gives them */
    PF_DL_ERR_COUNT,
    PF_DL_COMM_ERR,
    PF_DL_SKIPPED_SCANS,
    PF_DL_UNTRANSMITTED,
    PF_DL_CPU_LOAD,
    PF_COUNT_
};

struct pvs_device {
    enum pvs_dev_kind kind;
    char serial[32]; /* fits struct reading's device */
    char model[48];
    char subtype[48];  /* meters: e.g. GROSS_CONSUMPTION_LINESIDE, else "" */
    char state[32];    /* DeviceList STATE ("working", "error"), else "" */
    char firmware[48]; /* supervisor SWVER, else "" */
    bool has_time;     /* varserver msmtEps: the measurement's UTC time */
    int64_t time_s;
    bool present[PF_COUNT_];
    double value[PF_COUNT_];
};

struct pvs_answer {
    struct pvs_device *dev; /* caller frees with pvs_answer_free() */
    size_t n, cap;
    unsigned bad_values;      /* a known key whose value is not a finite number: left out */
    unsigned unknown_devices; /* entries of no kind above (batteries, unnamed meters): skipped */
};

/* Hard limits: a site has tens of devices, the answers are tens of kB. */
enum { PVS_MAX_DEVICES = 512 };

/* Parse a DeviceList body, appending to out. PVTAP_ENOTMINE when the body
 * is not JSON (a PVS2 answers HTML), PVTAP_ECORRUPT when it is JSON without
 * "devices" or with "result" other than "succeed", PVTAP_ELIMIT past
 * PVS_MAX_DEVICES, PVTAP_ENOMEM. On error out keeps what it had. */
int pvs_parse_devicelist(const char *body, size_t len, struct pvs_answer *out);

/* Parse a /vars body, appending to out. Any mix of:
 * - flat variables, one value each: "/sys/devices/meter/0/p3phsumKw": "0.47"
 *   (firmware 2025+), grouped per device by their ".../meter/N" prefix;
 * - nested objects: "/sys/devices/12/meter/data": {"sn": ..., "p3phsumKw": ...},
 *   or the same object serialised in a string;
 * in the fmt=obj shape (an object keyed by variable name) or the plain one
 * ({"values": [{"name": ..., "value": ...}], "count": N}). Variables of
 * other devices (ess, transfer_switch) and of /sys/info, livedata are not
 * devices of ours. Errors as pvs_parse_devicelist. */
int pvs_parse_vars(const char *body, size_t len, struct pvs_answer *out);

/* The firmware build from a /vars?name=/sys/info/sw_rev answer (either
 * shape), e.g. "2025.09.61845", into out. PVTAP_ENOTFOUND when the answer
 * does not carry it; parse errors as pvs_parse_devicelist. */
int pvs_parse_sw_rev(const char *body, size_t len, char *out, size_t out_size);

void pvs_answer_free(struct pvs_answer *a);

/* True when the body looks like HTML (a PVS2, a login page, a captive portal). */
bool pvs_body_is_html(const char *body, size_t len);

/* "inverter", "net_meter", "production_meter", "consumption_meter", "supervisor". */
const char *pvs_dev_kind_name(enum pvs_dev_kind k);
/* The JSON key `pvtap poll` prints a field under (as the README lists them). */
const char *pvs_field_name(enum pvs_field f);

/* The readings of one device, into sink. The clock depends on the API:
 * - DeviceList: values are samples at the poll (poll_time_s, CLOCK_POLL);
 *   the engine interpolates the 5-minute boundaries between polls.
 * - varserver: msmtEps stamps the measurement on the 5-minute grid, so
 *   readings are records at that time (CLOCK_RECORD), exactly like sniffed
 *   records. A device whose msmtEps is absent or off the grid gets its live
 *   values (at poll_time_s) but not its counters: one counter stays on one
 *   clock in the engine. *dropped_counters counts them.
 * Supervisors give no readings. Returns the number of readings emitted. */
size_t pvs_device_emit(const struct pvs_device *d, enum pvs_api api, const char *series,
                       int64_t poll_time_s, const struct reading_sink *sink,
                       unsigned *dropped_counters);

#endif
