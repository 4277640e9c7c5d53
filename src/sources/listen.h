/* The `listen` source: overhear another master's Modbus RTU traffic (receive only) and decode it. */
#ifndef PVTAP_SOURCES_LISTEN_H
#define PVTAP_SOURCES_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/modbus_listen.h"
#include "proto/wattnode_map.h"
#include "sources/reading.h"
#include "sources/source.h"

extern const struct source_ops listen_source_ops;

/* Open a serial port to receive only: O_RDONLY (a write cannot happen),
 * raw 8 data bits at baud and parity, non-blocking, what the driver already
 * held discarded, and RTS dropped where it may drive the transceiver's
 * driver-enable (never when the kernel's RS485 mode owns it). Returns the fd,
 * or a negative PVTAP_E* with errno kept. */
int listen_port_open(const char *path, int baud, char parity);

/* The USB serial adapter's latency timer in ms
 * (/sys/bus/usb-serial/devices/ttyUSBn/latency_timer, through symlinks
 * such as /dev/ttyRS485-0), or -1 when the port has none (pty, UART). */
int listen_latency_ms(const char *path);

/* What listening has learnt about the devices on the bus (their serial
 * numbers arrive only when the other master reads them). */
enum { LISTEN_MAX_DEVICES = 16 };
struct listen_decoder {
    size_t n;
    struct {
        uint8_t address;
        bool have_serial;
        double serial;
    } dev[LISTEN_MAX_DEVICES];
};

/* One decoded response. */
struct listen_decoded {
    uint8_t address;
    uint16_t start, count; /* what was read (wire addresses) */
    char serial[24];       /* "" until the meter's serial number was heard */
    size_t rows;           /* map rows decoded and sane */
    struct wn_values wn;
};

/* Decode a paired read response through the WattNode map by its start
 * address (one map, two users: the poller reads the same rows). Returns 1
 * when some row of the map was in it, else 0 (another device, an exception,
 * registers the map does not hold). */
int listen_decode(struct listen_decoder *d, const struct modbus_listen_event *ev,
                  struct listen_decoded *out);

/* The readings of a decoded response (CLOCK_POLL, source "listen"): the
 * totals a poll of the same registers gives. device: the serial when heard,
 * else "wattnode@<address>". */
void listen_emit(const struct listen_decoded *dec, enum device_kind kind, const char *series,
                 int64_t time_s, const struct reading_sink *sink);

#endif
