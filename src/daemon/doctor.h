/* `pvtap doctor`: checks of a site's set-up, each with a verdict and what to do. */
#ifndef PVTAP_DAEMON_DOCTOR_H
#define PVTAP_DAEMON_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/modbus_rtu.h"
#include "util/config.h"

enum doctor_level { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL, DOCTOR_SKIP };

struct doctor_result {
    char check[64]; /* "mirror port eth0", "RS-485 /dev/ttyRS485-0", "clock" */
    enum doctor_level level;
    char verdict[512]; /* what was seen and what to do */
};

/* What listening to the mirror port saw. */
struct mirror_counts {
    uint64_t packets;
    uint64_t http_packets; /* TCP port 80, either direction */
    uint64_t tls_packets;  /* TCP port 443 */
    uint64_t posts;        /* supervisor POSTs decoded */
    uint64_t records;
};

/* Pure verdicts, unit-tested. */
void doctor_mirror_verdict(const char *iface, double seconds, const struct mirror_counts *c,
                           struct doctor_result *out);
void doctor_bus_verdict(const char *port, double seconds, size_t bytes,
                        const struct modbus_rtu_scan *scan, bool we_transmit,
                        struct doctor_result *out);
void doctor_latency_verdict(const char *port, int latency_ms, struct doctor_result *out);
void doctor_clock_verdict(bool synced, int64_t now_s, struct doctor_result *out);

/* Runs every check the configuration calls for, listening seconds on each
 * port and interface (nothing is ever transmitted). Calls report once per
 * result. Returns the worst level seen. */
enum doctor_level doctor_run(const struct pvtap_config *cfg, double seconds,
                             void (*report)(void *ctx, const struct doctor_result *r), void *ctx);

#endif
