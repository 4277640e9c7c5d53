/* Offline sniffing: a capture file's supervisor records as readings (for replay). */
#ifndef PVTAP_SOURCES_SNIFF_OFFLINE_H
#define PVTAP_SOURCES_SNIFF_OFFLINE_H

#include <stdint.h>

#include "sources/reading.h"

/* What one pass over a capture saw; the sniff issue may add fields. */
struct sniff_offline_counts {
    uint64_t packets;
    uint64_t requests;  /* complete supervisor POSTs decoded */
    uint64_t records;   /* records decoded (every message number) */
    uint64_t readings;  /* readings emitted */
    uint64_t problems;  /* holes, corrupt bodies, limit hits */
};

/* Decode every supervisor upload in a .pcap/.pcapng file and emit each
 * 130/140 record's values as readings of the given series (clock
 * CLOCK_RECORD, source "sniff"): inverters as DEVICE_INVERTER with
 * Q_ENERGY_LIFETIME_KWH and the live quantities, meters as
 * DEVICE_NET_METER (serial suffix 'c') or DEVICE_PRODUCTION_METER ('p') with
 * Q_ENERGY_NET_LIFETIME_KWH. counts may be NULL. Returns 0, or PVTAP_EIO
 * (unreadable file, message logged), PVTAP_ECORRUPT (the file is not a
 * capture). A truncated capture yields what it holds and returns 0 (logged). */
int sniff_offline_file(const char *path, const char *series, const struct reading_sink *sink,
                       struct sniff_offline_counts *counts);

#endif
