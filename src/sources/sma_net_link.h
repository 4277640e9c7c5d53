/* One SMA-Net RS-485 port: termios I/O, direction, listen-before-talk, SMAData1 transactions. */
#ifndef PVTAP_SOURCES_SMA_NET_LINK_H
#define PVTAP_SOURCES_SMA_NET_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/smanet.h"
#include "sources/serial_config.h"

/* SMA-Net does not use libmodbus: this file owns the port. It is used from
 * one thread at a time (the daemon's port thread, or `pvtap poll`). */

struct smanet_link;

struct smanet_link_error {
    int code; /* PVTAP_ETIMEOUT, PVTAP_ECRC, PVTAP_ECORRUPT, PVTAP_EIO, PVTAP_EBUSY ... */
    char text[640];
};

struct smanet_link_stats {
    uint64_t requests;          /* packets sent */
    uint64_t answers;           /* packets received that answered us */
    uint64_t tx_bytes, rx_bytes; /* on the wire, stuffing and flags included */
    uint64_t timeouts, retries;
    uint64_t fcs_errors, bad_frames, stray_packets;
};

/* Open and configure the port (raw, sc->baud, 8 data bits, sc->parity, 1
 * stop bit), set the RS-485 direction, then listen sc->listen_s seconds
 * without transmitting. Another master heard (any SMAData1 request, more than
 * one answer, or 16+ bytes that never form a frame) gives PVTAP_EBUSY unless
 * sc->force. PVTAP_EIO when the port cannot be opened, PVTAP_EINVAL for an
 * rs485 setting that cannot work on it. *out is the caller's. */
int smanet_link_open(const struct serial_config *sc, struct smanet_link **out,
                     struct smanet_link_error *err);
void smanet_link_close(struct smanet_link *l);
/* "/dev/ttyUSB0 at 1200 8N1", borrowed for the link's life. */
const char *smanet_link_name(const struct smanet_link *l);
void smanet_link_get_stats(const struct smanet_link *l, struct smanet_link_stats *out);
/* Extra attempts after a timeout or a broken answer (default 2). */
void smanet_link_set_retries(struct smanet_link *l, int retries);

/* Send one packet from the master (address 0). A broadcast sets
 * SMANET_CTRL_GROUP and destination 0. SET_DATA is refused (PVTAP_EINVAL):
 * a reader never writes to an inverter. */
int smanet_link_send(struct smanet_link *l, uint16_t dst, bool broadcast, uint8_t count,
                     uint8_t cmd, const uint8_t *data, size_t len, struct smanet_link_error *err);

/* Wait up to timeout_ms for an answer to cmd addressed to the master (from
 * want_src, or from anyone when want_src < 0). Frames that fail their FCS
 * and packets that are not that answer are counted and skipped. Returns 0
 * with *out (data borrowed until the next call on the link), PVTAP_ETIMEOUT,
 * PVTAP_ECRC / PVTAP_ECORRUPT when only broken frames came, PVTAP_EIO. */
int smanet_link_recv(struct smanet_link *l, uint8_t cmd, int want_src, int timeout_ms,
                     struct smanet_packet *out, struct smanet_link_error *err);

/* A request whose answer may come in several packets, driven one exchange
 * at a time so a long transfer (a channel list is ~10 s at 1200 baud) never
 * blocks its thread for long. */
struct smanet_xfer {
    uint16_t dst;
    uint8_t cmd;
    uint8_t data[8];
    size_t len;
    struct smanet_reasm r; /* the answer so far; smanet_xfer_free() */
    size_t packets;        /* answers taken */
};

/* Prepare a transfer (no I/O). limit: the largest whole answer accepted. */
void smanet_xfer_init(struct smanet_xfer *x, uint16_t dst, uint8_t cmd, const uint8_t *data,
                      size_t len, size_t limit);
void smanet_xfer_free(struct smanet_xfer *x);
/* One request and its answer (the first, or the next follow-up), with the
 * link's retries. Returns 1 when more packets follow, 0 when the whole
 * answer is in x->r.buf[0..x->r.len), a negative PVTAP_E* on failure. */
int smanet_xfer_step(struct smanet_link *l, struct smanet_xfer *x, struct smanet_link_error *err);
/* All steps in one go. */
int smanet_xfer_run(struct smanet_link *l, struct smanet_xfer *x, struct smanet_link_error *err);

/* Time in ms that n bytes take on the wire at the link's rate. */
int smanet_link_wire_ms(const struct smanet_link *l, size_t n);
/* The configured response timeout (time to an answer's first byte and
 * beyond), ms. */
int smanet_link_timeout_ms(const struct smanet_link *l);

#endif
