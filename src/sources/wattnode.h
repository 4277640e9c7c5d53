/* The WattNode over Modbus RTU: device reads shared by the `wattnode` source and `pvtap poll`. */
#ifndef PVTAP_SOURCES_WATTNODE_H
#define PVTAP_SOURCES_WATTNODE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/wattnode_map.h"
#include "sources/modbus_link.h"
#include "sources/reading.h"
#include "sources/serial_config.h"
#include "sources/source.h"

extern const struct source_ops wattnode_source_ops;

/* Rows closer than this share one read (see wattnode_plan()). */
enum { WATTNODE_MAX_GAP_REGS = 8 };

/* Read the rows of one use (identity or poll) in the fewest transactions
 * into out (zeroed first). out->out_of_range counts what was dropped. */
int wattnode_read(struct modbus_link *l, int address, enum wn_use use, struct wn_values *out,
                  struct modbus_link_error *err);

/* "wattnode@<address>" or the serial number when known, into out. */
void wattnode_device_name(const struct wn_values *identity, int address, char *out,
                          size_t out_size);

/* Apply invert (CT orientation reversed: power and net energy change sign,
 * import and export swap) to a poll's values, in place. */
void wattnode_invert(struct wn_values *v);

/* Emit the polled values as readings (CLOCK_POLL, source "wattnode"). */
void wattnode_emit(const struct wn_values *v, const char *device, enum meter_role role,
                   const char *series, int64_t time_s, const struct reading_sink *sink);

#endif
