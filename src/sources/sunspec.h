/* SunSpec inverters over Modbus RTU or TCP: discovery and reads shared by the source and `pvtap poll`. */
#ifndef PVTAP_SOURCES_SUNSPEC_H
#define PVTAP_SOURCES_SUNSPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/sunspec.h"
#include "sources/modbus_link.h"
#include "sources/reading.h"
#include "sources/source.h"

extern const struct source_ops sunspec_source_ops;

/* What discovery found on one device. */
struct sunspec_dev {
    struct sunspec_chain chain;
    bool has_common;
    struct sunspec_common common;
    struct sunspec_model_ref inverter; /* id 0 when the device has no 101-103 model */
};

/* Find "SunS" (trying sunspec_base_candidates), walk the model chain and
 * read model 1. PVTAP_ENOTFOUND when no candidate holds the marker or the
 * chain has no inverter model (101-103); PVTAP_ECORRUPT for a broken chain;
 * link errors as modbus_link_read(). */
int sunspec_discover(struct modbus_link *l, int address, struct sunspec_dev *out,
                     struct modbus_link_error *err);

/* One read of the inverter model. */
int sunspec_read_inverter(struct modbus_link *l, int address, const struct sunspec_dev *d,
                          struct sunspec_inverter *out, struct modbus_link_error *err);

/* Emit an inverter's values as readings (CLOCK_POLL, DEVICE_INVERTER). */
void sunspec_emit(const struct sunspec_inverter *inv, const char *device, const char *series,
                  int64_t time_s, const struct reading_sink *sink);

#endif
