/* What the polled Modbus sources (wattnode, sunspec) share: link handling, schedule, back-off. */
#ifndef PVTAP_SOURCES_MODBUS_SOURCE_H
#define PVTAP_SOURCES_MODBUS_SOURCE_H

#include <stdint.h>

#include "sources/modbus_link.h"
#include "sources/serial_config.h"
#include "sources/source.h"
#include "util/log.h"

/* The first member of wattnode's and sunspec's private data. */
struct modbus_source_common {
    struct serial_config sc;
    struct modbus_ports *ports; /* shared registry, or NULL: the source owns its link */
    struct modbus_link *link;
    int64_t next_due_ms; /* monotonic */
    int64_t backoff_ms;  /* 0 while healthy */
    struct complaint complaint;
    uint64_t cycles, failures, dropped; /* dropped: values outside their sanity range */
    char device[32]; /* "wattnode@1": names the device in messages and readings */
};

/* create() of a Modbus backend: allocate priv_size bytes (a struct whose first
 * member is struct modbus_source_common), read the serial keys (flags:
 * SERIAL_CFG_*), name the device "<prefix>@<address>", and tell the daemon
 * the port it transmits on. On success src->priv is the new struct. */
int modbus_source_create(struct source *src, const config_setting_t *section, unsigned flags,
                         size_t priv_size, const char *prefix);
/* open() and fd() of every Modbus backend: schedule a poll now, open the link. */
int modbus_source_open(struct source *src, const char *module);
int modbus_source_fd_op(struct source *src, int64_t *next_due_ms);

/* Let several sources on one port share a link (the daemon calls it after
 * create() for every wattnode/sunspec source; without it each source opens
 * its own). src must be a wattnode or sunspec source. */
void modbus_source_attach(struct source *src, struct modbus_ports *ports);

/* Open (or acquire) the link. Failures are logged rate-limited and backed off. */
int modbus_source_link(struct modbus_source_common *c, const char *module, const char *device);
void modbus_source_unlink(struct modbus_source_common *c);

/* fd() for a timer-driven source. */
int modbus_source_fd(struct modbus_source_common *c, int64_t *next_due_ms);
/* True when a cycle is due at now_ms. */
int modbus_source_due(const struct modbus_source_common *c, int64_t now_ms);

/* After a failed cycle: complain once (then rarely) and back off from the
 * poll interval, doubling, up to max(interval_s, 60 s) so the engine still
 * gets a poll near each 5-minute boundary once the device is back. */
void modbus_source_failed(struct modbus_source_common *c, const char *module, const char *device,
                          const struct modbus_link_error *err, int64_t now_ms);
/* After a good cycle: log the recovery once, schedule the next poll. */
void modbus_source_succeeded(struct modbus_source_common *c, const char *module, const char *device,
                             int64_t now_ms);

#endif
