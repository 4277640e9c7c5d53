/* A virtual SMA Sunny Boy (SB5000US-like) answering SMAData1 on SMA-Net,
 * per docs/protocol.md section 4. */
#ifndef PVSIM_SMA_DEVICE_H
#define PVSIM_SMA_DEVICE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "pty_line.h"
#include "sma_frame.h"

enum { SMA_LONG_MAX = 2048 };

struct sma_device {
    uint32_t serial;
    char type[9];               /* 8 characters, e.g. SB5000US */
    uint16_t address;           /* 0 until a master gives it one */
    double power_W, energy_kWh, voltage_V, freq_Hz, dc_voltage_V;
    double hours_total_h, hours_on_h;
    unsigned status, error;     /* indexes into the Status / Fehler texts */
    unsigned chunk;             /* data bytes per packet of a long answer */
    unsigned long readdressed;  /* CFG_NETADR that moved an already-set address */
    /* spot values frozen by SYN_ONLINE (what GET_DATA returns) */
    int synced;
    double snap[16];
    /* the long answer being fetched with the packet counter */
    uint8_t long_cmd;
    uint16_t long_peer;
    uint8_t long_buf[SMA_LONG_MAX];
    size_t long_len;
    unsigned long_packets;
};

void sma_device_init(struct sma_device *d);
/* Keys: power-w, energy-kwh, voltage, freq, dc-voltage, serial, type,
 * status, error, already-addressed, hours-total, hours-on, chunk. 0 or -1. */
int sma_device_set(void *d, const char *key, const char *value);
void sma_device_finish(struct sma_device *d);
void sma_device_advance(struct sma_device *d, double dt_s);

/* The channel list (GET_CINFO payload) and a spot-value GET_DATA payload for
 * mask/index, built into out; return the length or 0 if it does not fit. */
size_t sma_device_cinfo(const struct sma_device *d, uint8_t *out, size_t cap);
size_t sma_device_spot_data(const struct sma_device *d, uint16_t mask, uint8_t index, uint32_t time_s,
                            uint8_t *out, size_t cap);

/* Answers one packet; writes up to one reply packet into *reply and returns
 * 1 when there is one. */
int sma_device_handle(struct sma_device *d, const struct sma_packet *req, struct sma_packet *reply);

struct sma_faults {
    double p_crc, p_timeout, p_garbage, p_slow, slow_ms, delay_ms;
    int live;
    double duration_s;
};

/* Serves the line until *stop or the duration. 0 ok, 1 on error. */
int sma_device_run(struct sma_device *d, struct pty_line *line, struct pty_rng *rng,
                   const struct sma_faults *f, volatile sig_atomic_t *stop);

#endif
