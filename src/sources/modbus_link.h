/* One Modbus bus or TCP endpoint (libmodbus context), shared by the devices on it; listen-before-talk. */
#ifndef PVTAP_SOURCES_MODBUS_LINK_H
#define PVTAP_SOURCES_MODBUS_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/serial_config.h"

/* Threading plan (the daemon's issue builds on it):
 *   - one thread per port; the wattnode/sunspec sources on one RS-485 port
 *     (a multi-drop bus) are stepped in turn by that port's thread, so their
 *     transactions never interleave on the wires;
 *   - each link also holds a mutex taken around every transaction, so two
 *     threads that share a link by mistake still cannot corrupt a frame;
 *   - readings go from a source's emit() to the event loop through a queue
 *     (the loop's reading_sink); sources never touch the engine or store.
 * The registry below is owned by the daemon (or the CLI): no globals. */

struct modbus_link;

/* What a failed transaction was, for messages and counters. */
struct modbus_link_error {
    int code;      /* PVTAP_ETIMEOUT, PVTAP_ECRC, PVTAP_ECORRUPT, PVTAP_EIO, PVTAP_EBUSY ... */
    int exception; /* Modbus exception code when the device answered with one, else 0 */
    char text[768];
};

struct modbus_link_stats {
    uint64_t transactions;
    uint64_t tx_bytes, rx_bytes; /* frame bytes on the wire (ADUs), as sent/received */
    uint64_t timeouts, crc_errors, exceptions, bad_replies, io_errors;
    uint64_t reconnects;
};

/* Open the port (RTU: configure, set the RS-485 direction, then listen for
 * sc->listen_s seconds without transmitting; TCP: connect). When another
 * master is heard and sc->force is false: PVTAP_EBUSY with a message
 * pointing to the listen-only source and force. PVTAP_EIO when the port
 * cannot be opened, PVTAP_EINVAL for an impossible rs485 setting.
 * *out is the caller's (modbus_link_close). */
int modbus_link_open(const struct serial_config *sc, struct modbus_link **out,
                     struct modbus_link_error *err);
void modbus_link_close(struct modbus_link *l);

/* Read count (1..125) holding registers (FC 3) from device address at wire
 * address addr into out. One retry after a timeout or a corrupt reply (with
 * the input flushed in between). On an I/O error (adapter unplugged) the
 * link marks itself broken; the next read re-opens it (listening again).
 * Thread-safe. */
int modbus_link_read(struct modbus_link *l, int address, uint16_t addr, uint16_t count,
                     uint16_t *out, struct modbus_link_error *err);

/* Response timeout for the following reads (--scan uses a short one). */
void modbus_link_set_timeout_ms(struct modbus_link *l, int timeout_ms);

/* Extra attempts after a timeout or garbled reply (default 1; --scan uses 0). */
void modbus_link_set_retries(struct modbus_link *l, int retries);

/* "/dev/ttyUSB0 at 9600 8N1" or "host:502". Borrowed for the link's life. */
const char *modbus_link_name(const struct modbus_link *l);
bool modbus_link_is_tcp(const struct modbus_link *l);
/* A copy of the counters (taken under the lock). */
void modbus_link_get_stats(struct modbus_link *l, struct modbus_link_stats *out);

/* ---- multi-drop: several sources on one port share one link ----------- */
struct modbus_ports {
    pthread_mutex_t lock;
    struct modbus_port_entry *head;
};
void modbus_ports_init(struct modbus_ports *r);
/* Every link must have been released. */
void modbus_ports_destroy(struct modbus_ports *r);
/* The link for sc's port (opened on first use, then shared). PVTAP_EINVAL
 * when sc disagrees with the open link on baud or parity. */
int modbus_ports_acquire(struct modbus_ports *r, const struct serial_config *sc,
                         struct modbus_link **out, struct modbus_link_error *err);
void modbus_ports_release(struct modbus_ports *r, struct modbus_link *l);

#endif
