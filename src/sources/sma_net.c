/* The `sma-net` source: finds Sunny Boy inverters on an SMA-Net bus and polls their spot values. */
#include "sources/sma_net.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MODULE "sma-net"

/* The largest channel list accepted (real ones are 1-2 KiB). */
enum { CINFO_LIMIT = 16384, DATA_LIMIT = 4096 };

void sma_net_serial_defaults(struct serial_config *sc)
{
    serial_config_defaults(sc);
    sc->baud = 1200;          /* the Sunny Boy piggyback's rate */
    sc->timeout_ms = 2000;    /* inverters are slow to start an answer */
    sc->byte_timeout_ms = 250; /* > 16 ms FTDI batching and > 20 characters at 1200 baud */
    sc->listen_s = 5;         /* SMA masters poll every few seconds, not continuously */
    sc->interval_s = 10;
}

/* ---- the reading map ----------------------------------------------------- */

/* Channel names seen on Sunny Boy US units (docs/protocol.md section 4). Keys
 * with no quantity are printed by `pvtap poll` only. */
static const struct sma_net_key keys[] = {
    {"Pac", "power_W", Q_POWER_W},
    {"E-Total", "energy_lifetime_kWh", Q_ENERGY_LIFETIME_KWH},
    {"Uac", "voltage_V", Q_VOLTAGE_V},
    {"Iac-Ist", "current_A", Q_CURRENT_A},
    {"Fac", "frequency_Hz", Q_FREQUENCY_HZ},
    {"Upv-Ist", "dc_voltage_V", Q_DC_VOLTAGE_V},
    {"Ipv", "dc_current_A", Q_DC_CURRENT_A},
    {"Status", "status", Q_STATUS},
    {"E-Tag", "energy_today_kWh", 0},
    {"h-Total", "hours_total_h", 0},
    {"h-On", "hours_on_h", 0},
    {"Fehler", "error", 0},
};

const struct sma_net_key *sma_net_keys(size_t *n)
{
    *n = sizeof keys / sizeof keys[0];
    return keys;
}

/* Values no inverter can report: a misread channel list, not a reading. */
static bool sane(const char *name, double v)
{
    if (!isfinite(v))
        return false;
    if (strcmp(name, "E-Total") == 0 || strcmp(name, "E-Tag") == 0)
        return v >= 0 && v < 1e9;
    if (strcmp(name, "Fac") == 0)
        return v >= 0 && v < 100;
    if (strcmp(name, "Uac") == 0 || strcmp(name, "Upv-Ist") == 0)
        return v >= 0 && v < 2000;
    if (strcmp(name, "Pac") == 0)
        return v > -1e6 && v < 1e6;
    return true;
}

bool sma_net_value(const struct sma_net_device *d, const char *name, double *value,
                   const char **text)
{
    if (!d->have_values || !d->t)
        return false;
    for (size_t i = 0; i < d->t->cl.n; i++) {
        if (strcmp(d->t->cl.ch[i].name, name) != 0 || !d->values[i].present)
            continue;
        if (!sane(name, d->values[i].value))
            return false;
        *value = d->values[i].value;
        if (text)
            *text = d->values[i].text;
        return true;
    }
    return false;
}

void sma_net_device_name(const struct sma_net_device *d, char *out, size_t out_size)
{
    snprintf(out, out_size, "%lu", (unsigned long)d->serial);
}

unsigned sma_net_emit(const struct sma_net_device *d, const char *series,
                      const struct reading_sink *sink)
{
    struct reading r = {
        .source = "sma-net",
        .series = series,
        .kind = DEVICE_INVERTER,
        .time = d->time_s,
        .clock = CLOCK_POLL,
    };
    sma_net_device_name(d, r.device, sizeof r.device);
    unsigned dropped = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!keys[i].q)
            continue;
        double v;
        if (!sma_net_value(d, keys[i].channel, &v, NULL)) {
            const struct smanet_channel *ch = smanet_chanlist_find(&d->t->cl, keys[i].channel);
            if (ch && d->values[ch - d->t->cl.ch].present)
                dropped++;
            continue;
        }
        r.q = keys[i].q;
        r.value = v;
        reading_emit(sink, &r);
    }
    /* SMA reports no DC power on these models: derived, and documented so. */
    double u, a;
    if (sma_net_value(d, "Upv-Ist", &u, NULL) && sma_net_value(d, "Ipv", &a, NULL)) {
        r.q = Q_DC_POWER_W;
        r.value = u * a;
        reading_emit(sink, &r);
    }
    return dropped;
}

/* ---- the channel-list cache -------------------------------------------------
 * One file per device type, <cache_dir>/smanet-<type>.cinfo, holding the
 * GET_CINFO answer exactly as received. It is parsed again when loaded, so a
 * damaged file is simply fetched anew. */

static void cache_path(const struct sma_net_session *s, const char *type, char *out,
                       size_t out_size)
{
    char safe[9];
    size_t n = 0;
    for (; type[n] && n < 8; n++) {
        char ch = type[n];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        safe[n] = ok ? ch : '_';
    }
    safe[n] = '\0';
    snprintf(out, out_size, "%s/smanet-%s.cinfo", s->cache_dir, n ? safe : "unknown");
}

static bool cache_load(const struct sma_net_session *s, struct sma_net_type *t)
{
    if (!s->cache_dir[0])
        return false;
    char path[700];
    cache_path(s, t->type, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t *buf = malloc(CINFO_LIMIT);
    size_t n = buf ? fread(buf, 1, CINFO_LIMIT, f) : 0;
    bool ok = buf && n > 0 && !ferror(f) && feof(f);
    fclose(f);
    if (ok && smanet_chanlist_parse(buf, n, &t->cl) < 0) {
        smanet_chanlist_free(&t->cl);
        log_msg(LOGL_WARNING, MODULE, "%s: damaged channel list cache, reading it again", path);
        ok = false;
    }
    free(buf);
    if (ok)
        log_msg(LOGL_INFO, MODULE, "%s: channel list from the cache (%zu channels)", t->type,
                t->cl.n);
    return ok;
}

static void cache_store(const struct sma_net_session *s, const char *type, const uint8_t *p,
                        size_t n)
{
    if (!s->cache_dir[0])
        return;
    char path[700], tmp[720];
    cache_path(s, type, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* Written beside and renamed: a crash never leaves half a list. */
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) == 0) {
        log_msg(LOGL_DEBUG, MODULE, "%s: channel list cached", path);
        return;
    }
    if (f)
        unlink(tmp);
    log_msg(LOGL_INFO, MODULE, "%s: cannot cache the channel list: %s", path, strerror(errno));
}

/* ---- the session ----------------------------------------------------------- */

void sma_net_session_init(struct sma_net_session *s, struct smanet_link *link,
                          const char *cache_dir)
{
    memset(s, 0, sizeof *s);
    s->link = link;
    s->sync_wait_ms = 1000;
    snprintf(s->cache_dir, sizeof s->cache_dir, "%s", cache_dir ? cache_dir : "");
}

static void forget_devices(struct sma_net_session *s)
{
    for (size_t i = 0; i < s->n_dev; i++)
        free(s->dev[i].values);
    s->n_dev = 0;
}

void sma_net_session_free(struct sma_net_session *s)
{
    forget_devices(s);
    for (size_t i = 0; i < s->n_types; i++)
        smanet_chanlist_free(&s->types[i].cl);
    s->n_types = 0;
    if (s->cinfo_for)
        smanet_xfer_free(&s->cinfo);
    s->cinfo_for = NULL;
}

static struct sma_net_type *type_for(struct sma_net_session *s, const char *type)
{
    for (size_t i = 0; i < s->n_types; i++)
        if (strcmp(s->types[i].type, type) == 0)
            return &s->types[i];
    if (s->n_types == SMA_NET_MAX_TYPES)
        return NULL;
    struct sma_net_type *t = &s->types[s->n_types++];
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%s", type);
    return t;
}

static bool addr_used(const struct sma_net_session *s, uint16_t a)
{
    for (size_t i = 0; i < s->n_dev; i++)
        if (s->dev[i].addr == a)
            return true;
    return false;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Send a discovery broadcast and take every answer that comes in the window. */
static int collect_netinfo(struct sma_net_session *s, uint8_t cmd, struct smanet_link_error *err)
{
    int rc = smanet_link_send(s->link, 0, true, 0, cmd, NULL, 0, err);
    if (rc < 0)
        return rc;
    /* Several devices answer one broadcast: wait a whole timeout after the
     * last answer, so one that answers late is still found. */
    int window = smanet_link_timeout_ms(s->link) + smanet_link_wire_ms(s->link, 64);
    size_t found = 0;
    for (;;) {
        struct smanet_packet pk;
        rc = smanet_link_recv(s->link, cmd, -1, window, &pk, err);
        if (rc == PVTAP_EIO)
            return rc;
        if (rc < 0)
            break;
        struct smanet_netinfo ni;
        if (smanet_netinfo_parse(pk.data, pk.len, &ni) < 0) {
            log_msg(LOGL_INFO, MODULE, "address %u: discovery answer of %zu bytes ignored",
                    pk.h.src, pk.len);
            continue;
        }
        found++;
        size_t i = 0;
        while (i < s->n_dev && s->dev[i].serial != ni.serial)
            i++;
        if (i == s->n_dev) {
            if (s->n_dev == SMA_NET_MAX_DEVICES) {
                log_msg(LOGL_WARNING, MODULE, "more than %d devices: %lu ignored",
                        SMA_NET_MAX_DEVICES, (unsigned long)ni.serial);
                continue;
            }
            s->n_dev++;
            memset(&s->dev[i], 0, sizeof s->dev[i]);
        }
        struct sma_net_device *d = &s->dev[i];
        d->serial = ni.serial;
        snprintf(d->type, sizeof d->type, "%s", ni.type);
        d->addr = pk.h.src;
    }
    return found ? 0 : rc;
}

int sma_net_discover(struct sma_net_session *s, struct smanet_link_error *err)
{
    forget_devices(s);
    int rc = collect_netinfo(s, SMANET_CMD_GET_NET_START, err);
    if (rc == PVTAP_EIO)
        return rc;
    if (s->n_dev == 0) {
        /* One more try: a device busy with its own start-up misses one. */
        rc = collect_netinfo(s, SMANET_CMD_GET_NET, err);
        if (s->n_dev == 0)
            return rc < 0 ? rc : PVTAP_ETIMEOUT;
    }
    /* Two devices at one address cannot be told apart. Another master gave
     * those addresses; pvtap never moves them, so it skips both. */
    for (size_t i = 0; i < s->n_dev; i++)
        for (size_t k = 0; k < s->n_dev; k++)
            if (i != k && s->dev[i].addr != 0 && s->dev[i].addr == s->dev[k].addr) {
                if (!s->dev[i].unusable)
                    log_msg(LOGL_WARNING, MODULE,
                            "%lu and %lu both answer at address %u: skipped (pvtap never "
                            "re-addresses a device another master addressed)",
                            (unsigned long)s->dev[i].serial, (unsigned long)s->dev[k].serial,
                            s->dev[i].addr);
                s->dev[i].unusable = true;
            }
    /* A device still at 0 was never addressed by anyone: give it the
     * lowest free address, by its serial number. */
    for (size_t i = 0; i < s->n_dev; i++) {
        struct sma_net_device *d = &s->dev[i];
        if (d->addr != 0)
            continue;
        uint16_t a = 1;
        while (a < 255 && addr_used(s, a))
            a++;
        uint8_t data[6];
        size_t n = smanet_cfg_netadr_data(d->serial, a, data);
        int attempts = 3;
        int r = PVTAP_ETIMEOUT;
        while (attempts-- > 0) {
            r = smanet_link_send(s->link, 0, true, 0, SMANET_CMD_CFG_NETADR, data, n, err);
            if (r < 0)
                return r;
            struct smanet_packet pk;
            r = smanet_link_recv(s->link, SMANET_CMD_CFG_NETADR, a,
                                 smanet_link_timeout_ms(s->link), &pk, err);
            if (r == PVTAP_EIO)
                return r;
            if (r == 0)
                break;
        }
        if (r < 0) {
            log_msg(LOGL_WARNING, MODULE, "%lu (%s) did not take address %u: %s",
                    (unsigned long)d->serial, d->type, a, err ? err->text : "");
            d->unusable = true;
            continue;
        }
        d->addr = a;
        d->addressed_by_us = true;
        log_msg(LOGL_INFO, MODULE, "%lu (%s) now at address %u", (unsigned long)d->serial,
                d->type, a);
    }
    for (size_t i = 0; i < s->n_dev; i++) {
        struct sma_net_device *d = &s->dev[i];
        if (d->unusable)
            continue;
        d->t = type_for(s, d->type);
        if (!d->t) {
            log_msg(LOGL_WARNING, MODULE, "%lu: too many device types, skipped",
                    (unsigned long)d->serial);
            d->unusable = true;
            continue;
        }
        if (!d->addressed_by_us)
            log_msg(LOGL_INFO, MODULE, "%lu (%s) at address %u", (unsigned long)d->serial,
                    d->type, d->addr);
    }
    return 0;
}

int sma_net_channels_step(struct sma_net_session *s, struct smanet_link_error *err)
{
    if (!s->cinfo_for) {
        /* The next type without a list: the cache, else a device of it. */
        for (size_t i = 0; i < s->n_dev && !s->cinfo_for; i++) {
            struct sma_net_device *d = &s->dev[i];
            if (d->unusable || !d->t || d->t->loaded)
                continue;
            if (cache_load(s, d->t)) {
                d->t->loaded = true;
                continue;
            }
            smanet_xfer_init(&s->cinfo, d->addr, SMANET_CMD_GET_CINFO, NULL, 0, CINFO_LIMIT);
            s->cinfo_for = d->t;
            s->cinfo_addr = d->addr;
            log_msg(LOGL_INFO, MODULE, "%s: reading the channel list from address %u",
                    d->t->type, d->addr);
        }
        if (!s->cinfo_for)
            goto done;
    }
    int rc = smanet_xfer_step(s->link, &s->cinfo, err);
    if (rc == 1)
        return 1;
    struct sma_net_type *t = s->cinfo_for;
    if (rc == 0) {
        rc = smanet_chanlist_parse(s->cinfo.r.buf, s->cinfo.r.len, &t->cl);
        if (rc < 0) {
            smanet_chanlist_free(&t->cl);
            if (err) {
                err->code = rc;
                snprintf(err->text, sizeof err->text,
                         "channel list of %s from address %u is not valid (%s)", t->type,
                         s->cinfo_addr, pvtap_strerror(rc));
            }
        } else {
            t->loaded = true;
            log_msg(LOGL_INFO, MODULE, "%s: channel list read, %zu channels in %zu packets",
                    t->type, t->cl.n, s->cinfo.packets);
            cache_store(s, t->type, s->cinfo.r.buf, s->cinfo.r.len);
        }
    }
    smanet_xfer_free(&s->cinfo);
    s->cinfo_for = NULL;
    if (rc < 0)
        return rc;
    return 1; /* perhaps another type */
done:
    for (size_t i = 0; i < s->n_dev; i++) {
        struct sma_net_device *d = &s->dev[i];
        if (d->unusable || d->values || !d->t || !d->t->loaded)
            continue;
        d->values = calloc(d->t->cl.n ? d->t->cl.n : 1, sizeof *d->values);
        if (!d->values) {
            if (err) {
                err->code = PVTAP_ENOMEM;
                snprintf(err->text, sizeof err->text, "out of memory");
            }
            return PVTAP_ENOMEM;
        }
    }
    return 0;
}

int sma_net_read_values(struct sma_net_session *s, size_t *failed, struct smanet_link_error *err)
{
    *failed = 0;
    /* SYN_ONLINE has every inverter freeze its spot values together (and
     * sets their clocks); YASDI waits a moment after it before asking. */
    uint8_t now[4];
    uint32_t t = (uint32_t)time_now_s();
    now[0] = (uint8_t)t;
    now[1] = (uint8_t)(t >> 8);
    now[2] = (uint8_t)(t >> 16);
    now[3] = (uint8_t)(t >> 24);
    int rc = smanet_link_send(s->link, 0, true, 0, SMANET_CMD_SYN_ONLINE, now, sizeof now, err);
    if (rc < 0)
        return rc;
    if (s->sync_wait_ms > 0)
        sleep_ms(s->sync_wait_ms);
    size_t good = 0;
    int last = PVTAP_ETIMEOUT;
    for (size_t i = 0; i < s->n_dev; i++) {
        struct sma_net_device *d = &s->dev[i];
        if (d->unusable || !d->values)
            continue;
        d->have_values = false;
        uint8_t req[3];
        size_t n = smanet_get_data_req(SMANET_MASK_SPOT_ALL, 0, req);
        struct smanet_xfer x;
        smanet_xfer_init(&x, d->addr, SMANET_CMD_GET_DATA, req, n, DATA_LIMIT);
        int64_t when = time_now_s();
        rc = smanet_xfer_run(s->link, &x, err);
        if (rc == 0) {
            uint32_t dev_time;
            rc = smanet_values_parse(x.r.buf, x.r.len, &d->t->cl, d->values, &dev_time);
            if (rc < 0 && err) {
                err->code = rc;
                snprintf(err->text, sizeof err->text,
                         "spot values from %lu do not fit its channel list (%s)",
                         (unsigned long)d->serial, pvtap_strerror(rc));
            }
        }
        smanet_xfer_free(&x);
        if (rc == PVTAP_EIO)
            return rc;
        if (rc < 0) {
            (*failed)++;
            last = rc;
            continue;
        }
        d->have_values = true;
        d->time_s = when;
        good++;
    }
    return good ? 0 : last;
}

/* ---- the source backend -------------------------------------------------------- */

enum sma_state { ST_DISCOVER, ST_CHANNELS, ST_POLL };

struct sma_priv {
    struct serial_config sc;
    char cache_dir[512];
    struct smanet_link *link;
    struct sma_net_session s;
    bool have_session;
    enum sma_state state;
    int64_t next_due_ms;
    int64_t backoff_ms;
    struct complaint complaint;
    uint64_t cycles, failures, dropped;
};

/* The channel-list cache lives beside the store (the source layer does not
 * touch the store itself): the directory of store.path. */
static void default_cache_dir(const config_setting_t *section, char *out, size_t out_size)
{
    const char *path = NULL;
    if (!section->config || !config_lookup_string(section->config, "store.path", &path) ||
        !path || !path[0])
        path = "/var/lib/pvtap/pvtap.db";
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, out_size, ".");
    else if (slash == path)
        snprintf(out, out_size, "/");
    else
        snprintf(out, out_size, "%.*s", (int)(slash - path), path);
}

static int sma_create(struct source *src, const config_setting_t *section)
{
    struct sma_priv *p = calloc(1, sizeof *p);
    if (!p)
        return PVTAP_ENOMEM;
    sma_net_serial_defaults(&p->sc);
    int rc = 0;
    /* Inverters are found by discovery, not configured by address. */
    const config_setting_t *addr = config_setting_get_member(section, "address");
    if (addr) {
        cfg_error(addr, NULL,
                  "sma-net finds its inverters by discovery and takes no address");
        rc = PVTAP_ECONFIG;
    }
    int r = serial_config_parse(&p->sc, src->env, section, 0);
    if (r < 0 || rc < 0) {
        free(p);
        return PVTAP_ECONFIG;
    }
    default_cache_dir(section, p->cache_dir, sizeof p->cache_dir);
    snprintf(src->port, sizeof src->port, "%s", p->sc.port);
    src->transmits = 1;
    src->max_poll_gap_s = (int)p->sc.max_poll_gap_s;
    src->priv = p;
    return 0;
}

static void failed(struct sma_priv *p, const struct smanet_link_error *err, int64_t now_ms)
{
    p->failures++;
    int64_t interval_ms = (int64_t)(p->sc.interval_s * 1000.0);
    int64_t cap_ms = interval_ms > 60000 ? interval_ms : 60000;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : interval_ms;
    if (p->backoff_ms > cap_ms)
        p->backoff_ms = cap_ms;
    p->next_due_ms = now_ms + p->backoff_ms;
    complain(&p->complaint, time_now_s(), err->code == PVTAP_EBUSY ? LOGL_ERR : LOGL_WARNING,
             MODULE, "%s: %s", p->sc.port, err->text[0] ? err->text : pvtap_strerror(err->code));
}

static int sma_open(struct source *src)
{
    struct sma_priv *p = src->priv;
    p->next_due_ms = time_mono_ms();
    p->state = ST_DISCOVER;
    if (p->link)
        return 0;
    struct smanet_link_error err = {0};
    int rc = smanet_link_open(&p->sc, &p->link, &err);
    if (rc < 0) {
        failed(p, &err, time_mono_ms());
        return rc;
    }
    sma_net_session_init(&p->s, p->link, p->cache_dir);
    p->have_session = true;
    return 0;
}

static int sma_fd(struct source *src, int64_t *next_due_ms)
{
    struct sma_priv *p = src->priv;
    *next_due_ms = p->next_due_ms;
    return -1;
}

/* One exchange (or one poll cycle) per call: a channel list is fetched a
 * packet at a time, so the daemon's port thread can stop between them. */
static int sma_step(struct source *src, const struct reading_sink *sink)
{
    struct sma_priv *p = src->priv;
    int64_t now = time_mono_ms();
    if (now < p->next_due_ms)
        return PVTAP_EAGAIN;
    if (!p->link)
        return PVTAP_EIO;
    struct smanet_link_error err = {0};
    int rc;
    switch (p->state) {
    case ST_DISCOVER:
        rc = sma_net_discover(&p->s, &err);
        if (rc < 0)
            break;
        p->state = ST_CHANNELS;
        return 0; /* next_due_ms unchanged: go on at once */
    case ST_CHANNELS:
        rc = sma_net_channels_step(&p->s, &err);
        if (rc == 1)
            return 0;
        if (rc < 0)
            break;
        p->state = ST_POLL;
        return 0;
    case ST_POLL: {
        size_t bad = 0;
        rc = sma_net_read_values(&p->s, &bad, &err);
        if (rc < 0)
            break;
        for (size_t i = 0; i < p->s.n_dev; i++)
            if (p->s.dev[i].have_values)
                p->dropped += sma_net_emit(&p->s.dev[i], src->series, sink);
        p->cycles++;
        p->backoff_ms = 0;
        if (bad)
            log_msg(LOGL_DEBUG, MODULE, "%s: %zu inverters did not answer this cycle",
                    p->sc.port, bad);
        complain_clear(&p->complaint, MODULE, "%s: answering again", p->sc.port);
        int64_t interval_ms = (int64_t)(p->sc.interval_s * 1000.0);
        /* Keep the cadence; after a stall, restart it from now. */
        p->next_due_ms += interval_ms;
        if (p->next_due_ms <= time_mono_ms())
            p->next_due_ms = time_mono_ms() + interval_ms;
        return 0;
    }
    default:
        rc = PVTAP_EINVAL;
        break;
    }
    if (err.code == 0) {
        err.code = rc;
        snprintf(err.text, sizeof err.text, "%s", pvtap_strerror(rc));
    }
    failed(p, &err, time_mono_ms());
    if (rc == PVTAP_EIO)
        return rc; /* the daemon closes and re-opens (listening again) */
    /* A device that stopped answering may have been re-powered (and lost
     * its address): find the bus again before the next poll. */
    p->state = ST_DISCOVER;
    return PVTAP_EAGAIN;
}

static void sma_close(struct source *src)
{
    struct sma_priv *p = src->priv;
    if (!p)
        return;
    if (p->have_session)
        sma_net_session_free(&p->s);
    p->have_session = false;
    smanet_link_close(p->link);
    p->link = NULL;
}

static void sma_destroy(struct source *src)
{
    sma_close(src);
    free(src->priv);
    src->priv = NULL;
}

const struct source_ops sma_net_source_ops = {
    .name = "sma-net",
    .default_series = "poll",
    .blocking = true,
    .create = sma_create,
    .open = sma_open,
    .fd = sma_fd,
    .step = sma_step,
    .close = sma_close,
    .destroy = sma_destroy,
};
