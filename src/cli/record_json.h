/* The device record objects `pvtap poll` and `pvtap listen` print (keys as in the README).
 */
#ifndef PVTAP_CLI_RECORD_JSON_H
#define PVTAP_CLI_RECORD_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/wattnode_map.h"

/* {"device":..,"address":..,"time":"..Z"}; caller frees with cJSON_Delete. */
cJSON *record_json_new(const char *device, int address, int64_t t);
/* Adds key: v when present (an absent value is an absent key, never 0). */
bool record_json_number(cJSON *obj, const char *key, bool present, double v);
/* The WattNode shape: device, address, time, serial (when serial is not
 * NULL or empty), the non-resettable totals (1005, 1007, 1115), voltage,
 * frequency, then per-phase values of each phase whose voltage is not 0 (an
 * unconnected phase reads 0 V). NULL when out of memory. */
cJSON *record_json_wattnode(int address, int64_t t, const char *serial, const struct wn_values *v);
/* One JSON line, or a "key value" table (table), flushed: a pipe reader
 * sees each record as it happens. */
void record_json_print(const cJSON *obj, bool table);

#endif
