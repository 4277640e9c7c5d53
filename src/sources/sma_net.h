/* SMA Sunny Boy inverters over SMA-Net: the session shared by the source and `pvtap poll`. */
#ifndef PVTAP_SOURCES_SMA_NET_H
#define PVTAP_SOURCES_SMA_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/smanet.h"
#include "sources/reading.h"
#include "sources/sma_net_link.h"
#include "sources/source.h"

extern const struct source_ops sma_net_source_ops;

/* Serial settings an sma-net source starts from (before its config): 1200
 * 8N1, 2 s to an answer's first byte, 250 ms gap inside one, listen 5 s,
 * poll every 10 s. */
void sma_net_serial_defaults(struct serial_config *sc);

enum { SMA_NET_MAX_DEVICES = 32, SMA_NET_MAX_TYPES = 8 };

/* A channel list, once per device type (it takes ~10 s at 1200 baud). */
struct sma_net_type {
    char type[9];
    struct smanet_chanlist cl;
    bool loaded;
};

struct sma_net_device {
    uint32_t serial;
    char type[9];
    uint16_t addr;
    bool addressed_by_us; /* it answered from 0 and pvtap gave it addr */
    bool unusable;        /* shares its address with another device: never re-addressed, skipped */
    struct sma_net_type *t; /* borrowed from the session */
    struct smanet_value *values; /* t->cl.n entries once read */
    bool have_values;
    int64_t time_s;       /* when the values were read (pvtap's clock) */
};

struct sma_net_session {
    struct smanet_link *link; /* borrowed: the caller opens and closes it */
    char cache_dir[512];      /* "" = no cache */
    int sync_wait_ms;         /* after SYN_ONLINE, before GET_DATA */
    struct sma_net_device dev[SMA_NET_MAX_DEVICES];
    size_t n_dev;
    struct sma_net_type types[SMA_NET_MAX_TYPES];
    size_t n_types;
    struct smanet_xfer cinfo; /* a channel list in progress */
    struct sma_net_type *cinfo_for;
    uint16_t cinfo_addr;
};

/* cache_dir may be NULL or "" (no cache). */
void sma_net_session_init(struct sma_net_session *s, struct smanet_link *link,
                          const char *cache_dir);
void sma_net_session_free(struct sma_net_session *s);

/* GET_NET_START to everyone, collect the answers; give an address to each
 * device that answered from 0 (CFG_NETADR; the lowest address no device
 * uses); keep every address another master gave; devices sharing an
 * address are marked unusable. PVTAP_ETIMEOUT when nobody answered. */
int sma_net_discover(struct sma_net_session *s, struct smanet_link_error *err);

/* Fetch (or load from the cache) the channel list of every device type,
 * one packet per call. Returns 1 while more is to do, 0 when every type has
 * its list. */
int sma_net_channels_step(struct sma_net_session *s, struct smanet_link_error *err);

/* SYN_ONLINE, then GET_DATA (all spot channels) from each usable device.
 * Returns 0 when at least one device answered (*failed counts the others),
 * else the last error. */
int sma_net_read_values(struct sma_net_session *s, size_t *failed, struct smanet_link_error *err);

/* The device's serial as text, for reading.device. */
void sma_net_device_name(const struct sma_net_device *d, char *out, size_t out_size);

/* Emit a device's values as readings (source "sma-net", CLOCK_POLL):
 * Pac, E-Total, Uac, Iac-Ist, Fac, Upv-Ist, Ipv, Status, and dc_power_W =
 * Upv-Ist x Ipv (derived). Returns how many were dropped as insane. */
unsigned sma_net_emit(const struct sma_net_device *d, const char *series,
                      const struct reading_sink *sink);

/* Where the readings come from, for `pvtap poll`'s JSON: each channel name
 * the reader maps and its key. quantity is 0 for keys that are only printed. */
struct sma_net_key {
    const char *channel;
    const char *key;
    enum quantity q;
};
const struct sma_net_key *sma_net_keys(size_t *n);

/* The value of channel name on d, when read and sane. */
bool sma_net_value(const struct sma_net_device *d, const char *name, double *value,
                   const char **text);

#endif
