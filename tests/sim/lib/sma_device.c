/* The virtual SMA-Net Sunny Boy: channel list, spot values, addressing and
 * the packet-counter protocol for long answers. */
#include "sma_device.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "modbus_values.h"

/* Channel type bits and number formats, as YASDI's include/chandef.h names
 * them (CH_ANALOG 1, CH_DIGITAL 2, CH_COUNTER 4, CH_STATUS 8, CH_IN 0x100,
 * CH_PARA 0x400, CH_SPOT 0x800, CH_TEST 0x2000; NType low nibble: BYTE 0,
 * WORD 1, DWORD 2, FLOAT4 4; high byte = element count). */
enum {
    CT_ANALOG = 0x0001, CT_DIGITAL = 0x0002, CT_COUNTER = 0x0004, CT_STATUS = 0x0008,
    CT_IN = 0x0100, CT_PARA = 0x0400, CT_SPOT = 0x0800, CT_TEST = 0x2000,
    NT_BYTE = 0x0100, NT_WORD = 0x0101, NT_DWORD = 0x0102,
};

enum value_id { V_UPV, V_IPV, V_UAC, V_IAC, V_FAC, V_PAC, V_ETOTAL, V_HTOTAL, V_HON, V_NETZEIN,
                V_STATUS, V_FEHLER, V_RELAIS, V_TEST, V_VACMIN, V_COUNT };

struct channel {
    uint8_t index;
    uint16_t ctype, ntype, level;
    const char *name, *unit;
    float gain, offset;
    const char *texts;          /* digital: two 16-byte texts; status: NUL-separated */
    size_t texts_len;
    enum value_id v;
};

/* A plausible SB5000US list: names seen on real units (docs/protocol.md 4); the
 * gains, units and order are ours (inferred, not from a capture). A test
 * channel and a parameter channel are included because a reader must skip
 * them. */
static const char status_texts[] = "Stop\0Mpp\0Mpp-Such\0Netzueb.\0Warten\0Stoerung";
static const char fehler_texts[] = "-------\0Riso\0Uac-Bfr\0Fac-Bfr\0Imax\0Temp";
static const char relais_texts[32] = "Aus\0            " "Ein\0            ";

static const struct channel channels[] = {
    {1, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Upv-Ist", "V", 1.0f, 0.0f, NULL, 0, V_UPV},
    {2, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Ipv", "A", 0.001f, 0.0f, NULL, 0, V_IPV},
    {3, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Uac", "V", 0.1f, 0.0f, NULL, 0, V_UAC},
    {4, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Iac-Ist", "A", 0.001f, 0.0f, NULL, 0, V_IAC},
    {5, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Fac", "Hz", 0.01f, 0.0f, NULL, 0, V_FAC},
    {6, CT_ANALOG | CT_IN | CT_SPOT, NT_WORD, 0, "Pac", "W", 1.0f, 0.0f, NULL, 0, V_PAC},
    {7, CT_ANALOG | CT_IN | CT_SPOT | CT_TEST, NT_WORD, 0x22, "Zac-Test", "Ohm", 0.001f, 0.0f, NULL, 0, V_TEST},
    {8, CT_COUNTER | CT_IN | CT_SPOT, NT_DWORD, 0, "E-Total", "kWh", 0.001f, 0.0f, NULL, 0, V_ETOTAL},
    {9, CT_COUNTER | CT_IN | CT_SPOT, NT_DWORD, 0, "h-Total", "h", 1.0f / 3600.0f, 0.0f, NULL, 0, V_HTOTAL},
    {10, CT_COUNTER | CT_IN | CT_SPOT, NT_DWORD, 0, "h-On", "h", 1.0f / 3600.0f, 0.0f, NULL, 0, V_HON},
    {11, CT_COUNTER | CT_IN | CT_SPOT, NT_DWORD, 0, "Netz-Ein", "", 1.0f, 0.0f, NULL, 0, V_NETZEIN},
    {12, CT_DIGITAL | CT_IN | CT_SPOT, NT_WORD, 0, "Relais", "", 0.0f, 0.0f, relais_texts, 32, V_RELAIS},
    {13, CT_STATUS | CT_IN | CT_SPOT, NT_WORD, 0, "Status", "", 0.0f, 0.0f, status_texts, sizeof status_texts, V_STATUS},
    {14, CT_STATUS | CT_IN | CT_SPOT, NT_WORD, 0, "Fehler", "", 0.0f, 0.0f, fehler_texts, sizeof fehler_texts, V_FEHLER},
    {15, CT_ANALOG | CT_PARA, NT_WORD, 0x11, "Vac-Min", "V", 180.0f, 265.0f, NULL, 0, V_VACMIN},
};
enum { NCHAN = sizeof channels / sizeof channels[0] };

void sma_device_init(struct sma_device *d)
{
    memset(d, 0, sizeof *d);
    d->serial = 2000123456u;
    memcpy(d->type, "SB5000US", 9);
    d->power_W = 2345.0;
    d->energy_kWh = 34567.891;
    d->voltage_V = 241.3;
    d->freq_Hz = 59.98;
    d->dc_voltage_V = 412.0;
    d->hours_total_h = 21000.5;
    d->hours_on_h = 23000.25;
    d->status = 1; /* Mpp */
    d->chunk = 240;
}

int sma_device_set(void *ctx, const char *key, const char *value)
{
    struct sma_device *d = ctx;
    unsigned long u;
    double v;
    if (strcmp(key, "type") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n > 8)
            return -1;
        memset(d->type, ' ', 8); /* fixed 8 characters on the wire */
        memcpy(d->type, value, n);
        d->type[8] = '\0';
        return 0;
    }
    if (strcmp(key, "serial") == 0 || strcmp(key, "status") == 0 || strcmp(key, "error") == 0 ||
        strcmp(key, "already-addressed") == 0 || strcmp(key, "chunk") == 0) {
        unsigned long max = key[1] == 'e' ? 0xFFFFFFFFul : key[0] == 'a' ? 0xFFFF : key[0] == 'c' ? SMA_MAX_DATA : 5;
        if (values_u32(value, &u, max) != 0)
            return -1;
        if (key[1] == 'e')
            d->serial = (uint32_t)u;
        else if (key[0] == 's')
            d->status = (unsigned)u;
        else if (key[0] == 'e')
            d->error = (unsigned)u;
        else if (key[0] == 'a')
            d->address = (uint16_t)u;
        else if (u >= 16)
            d->chunk = (unsigned)u;
        else
            return -1;
        return 0;
    }
    if (values_double(value, &v) != 0 || v < 0)
        return -1;
    if (strcmp(key, "power-w") == 0)
        d->power_W = v;
    else if (strcmp(key, "energy-kwh") == 0)
        d->energy_kWh = v;
    else if (strcmp(key, "voltage") == 0)
        d->voltage_V = v;
    else if (strcmp(key, "freq") == 0)
        d->freq_Hz = v;
    else if (strcmp(key, "dc-voltage") == 0)
        d->dc_voltage_V = v;
    else if (strcmp(key, "hours-total") == 0)
        d->hours_total_h = v;
    else if (strcmp(key, "hours-on") == 0)
        d->hours_on_h = v;
    else
        return -1;
    return 0;
}

void sma_device_finish(struct sma_device *d)
{
    d->synced = 0; /* new values show at once, until the next SYN_ONLINE */
}

void sma_device_advance(struct sma_device *d, double dt_s)
{
    if (dt_s <= 0)
        return;
    d->energy_kWh += d->power_W * dt_s / 3.6e6;
    d->hours_on_h += dt_s / 3600.0;
    if (d->power_W > 0)
        d->hours_total_h += dt_s / 3600.0;
}

/* Physical values now, by value id. */
static void current_values(const struct sma_device *d, double v[V_COUNT])
{
    double dcw = d->power_W / 0.955;
    v[V_UPV] = d->dc_voltage_V;
    v[V_IPV] = d->dc_voltage_V > 0 ? dcw / d->dc_voltage_V : 0;
    v[V_UAC] = d->voltage_V;
    v[V_IAC] = d->voltage_V > 0 ? d->power_W / d->voltage_V : 0;
    v[V_FAC] = d->freq_Hz;
    v[V_PAC] = d->power_W;
    v[V_ETOTAL] = d->energy_kWh;
    v[V_HTOTAL] = d->hours_total_h;
    v[V_HON] = d->hours_on_h;
    v[V_NETZEIN] = 1234;
    v[V_STATUS] = d->status;
    v[V_FEHLER] = d->error;
    v[V_RELAIS] = d->power_W > 0 ? 1 : 0;
    v[V_TEST] = 0.25;
    v[V_VACMIN] = 211;
}

static size_t put_le16(uint8_t *o, unsigned v)
{
    o[0] = (uint8_t)v;
    o[1] = (uint8_t)(v >> 8);
    return 2;
}

static size_t put_le32(uint8_t *o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o[i] = (uint8_t)(v >> (8 * i));
    return 4;
}

static size_t put_f32(uint8_t *o, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return put_le32(o, u);
}

static size_t put_text(uint8_t *o, const char *s, size_t width)
{
    size_t n = strlen(s);
    memset(o, 0, width);
    memcpy(o, s, n < width ? n : width);
    return width;
}

/* GET_CINFO payload, records back to back (layout read from YASDI's
 * sdk/master/plant.c TPlant_ScanChanInfoBuf):
 *   | index | ctype LE16 | ntype LE16 | level LE16 | name[16] |   23 bytes
 *   analog:  | unit[8] | gain f32 LE | offset f32 LE |           +16
 *   digital: | low text[16] | high text[16] |                    +32
 *   counter: | unit[8] | gain f32 LE |                          +12
 *   status:  | size LE16 | size bytes of NUL-separated texts |  +2+size */
size_t sma_device_cinfo(const struct sma_device *d, uint8_t *out, size_t cap)
{
    (void)d;
    size_t o = 0;
    for (size_t i = 0; i < NCHAN; i++) {
        const struct channel *c = &channels[i];
        size_t need = 23 + ((c->ctype & CT_ANALOG) ? 16 : (c->ctype & CT_DIGITAL) ? 32
                            : (c->ctype & CT_COUNTER) ? 12 : 2 + c->texts_len);
        if (o + need > cap)
            return 0;
        out[o++] = c->index;
        o += put_le16(out + o, c->ctype);
        o += put_le16(out + o, c->ntype);
        o += put_le16(out + o, c->level);
        o += put_text(out + o, c->name, 16);
        if (c->ctype & CT_ANALOG) {
            o += put_text(out + o, c->unit, 8);
            o += put_f32(out + o, c->gain);
            o += put_f32(out + o, c->offset);
        } else if (c->ctype & CT_DIGITAL) {
            memcpy(out + o, c->texts, 32);
            o += 32;
        } else if (c->ctype & CT_COUNTER) {
            o += put_text(out + o, c->unit, 8);
            o += put_f32(out + o, c->gain);
        } else {
            o += put_le16(out + o, (unsigned)c->texts_len);
            memcpy(out + o, c->texts, c->texts_len);
            o += c->texts_len;
        }
    }
    return o;
}

/* Inferred (YASDI's list filter was not read): a channel matches a request
 * mask when it shares a class bit (low nibble) and all its other type bits
 * are in the mask, so 0x090F (spot, in, all classes) skips test and
 * parameter channels. Index 0 means every channel. */
static int channel_matches(const struct channel *c, uint16_t mask, uint8_t index)
{
    if (index != 0 && c->index != index)
        return 0;
    return (c->ctype & mask & 0x000F) && !((c->ctype & 0xFF00) & ~mask);
}

/* GET_DATA spot reply (YASDI sdk/master/statereadchan.c
 * TStateChanReader_ScanUpdateValue and netchannel.c):
 *   | mask LE16 | index | data sets LE16 | time LE32 | time base LE32 |
 *   then each matching channel's raw value, LE, in channel-list order.
 * raw = (value - offset) / gain for analog, value / gain for counters, the
 * text index for status and digital channels. */
size_t sma_device_spot_data(const struct sma_device *d, uint16_t mask, uint8_t index, uint32_t time_s,
                            uint8_t *out, size_t cap)
{
    double v[V_COUNT];
    if (d->synced)
        memcpy(v, d->snap, sizeof v);
    else
        current_values(d, v);
    if (cap < 13)
        return 0;
    size_t o = 0;
    o += put_le16(out + o, mask);
    out[o++] = index;
    o += put_le16(out + o, 1);
    o += put_le32(out + o, time_s);
    o += put_le32(out + o, 1);
    for (size_t i = 0; i < NCHAN; i++) {
        const struct channel *c = &channels[i];
        if (!channel_matches(c, mask, index))
            continue;
        double raw = v[c->v];
        if (c->ctype & CT_ANALOG)
            raw = (raw - c->offset) / c->gain;
        else if (c->ctype & CT_COUNTER)
            raw = raw / c->gain;
        raw = round(raw);
        if (raw < 0)
            raw = 0;
        size_t w = (c->ntype & 0x0F) == 2 ? 4 : (c->ntype & 0x0F) == 1 ? 2 : 1;
        if (o + w > cap)
            return 0;
        if (w == 4)
            o += put_le32(out + o, raw > 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)raw);
        else if (w == 2)
            o += put_le16(out + o, raw > 65535.0 ? 0xFFFFu : (unsigned)raw);
        else
            out[o++] = raw > 255.0 ? 0xFF : (uint8_t)raw;
    }
    return o;
}

/* Starts a long answer: returns the first packet; the rest follow when the
 * master asks with the last counter it got (YASDI core/defractionizer.c: a
 * request carrying counter N is answered with counter N-1; 0 is the last). */
static void long_answer(struct sma_device *d, const struct sma_packet *req, const uint8_t *data,
                        size_t len, struct sma_packet *reply)
{
    memcpy(d->long_buf, data, len);
    d->long_len = len;
    d->long_cmd = req->cmd;
    d->long_peer = req->src;
    d->long_packets = len == 0 ? 1 : (unsigned)((len + d->chunk - 1) / d->chunk);
    size_t first = len < d->chunk ? len : d->chunk;
    reply->count = (uint8_t)(d->long_packets - 1);
    memcpy(reply->data, data, first);
    reply->len = first;
}

static void reply_head(const struct sma_device *d, const struct sma_packet *req, struct sma_packet *r)
{
    r->src = d->address;
    r->dst = req->src;
    r->ctrl = SMA_CTRL_ACK;
    r->count = 0;
    r->cmd = req->cmd;
    r->len = 0;
}

int sma_device_handle(struct sma_device *d, const struct sma_packet *req, struct sma_packet *reply)
{
    if (req->ctrl & SMA_CTRL_ACK)
        return 0; /* another device's answer */
    int broadcast = (req->ctrl & SMA_CTRL_GROUP) != 0;
    if (!broadcast && (d->address == 0 || req->dst != d->address))
        return 0;
    reply_head(d, req, reply);
    switch (req->cmd) {
    case SMA_CMD_GET_NET:
    case SMA_CMD_GET_NET_START:
        /* 12 bytes: serial LE32 + type[8] (YASDI plant.c TPlant_ScanGetNetBuf) */
        put_le32(reply->data, d->serial);
        memcpy(reply->data + 4, d->type, 8);
        reply->len = 12;
        return 1;
    case SMA_CMD_CFG_NETADR: {
        /* request: serial LE32 + new address LE16; the device answers from
         * the new address with its serial (4 bytes: what public SMA-Net
         * clients check; inferred, YASDI's stateconfig.c was not read). */
        if (req->len < 6)
            return 0;
        uint32_t sn = (uint32_t)req->data[0] | (uint32_t)req->data[1] << 8 |
                      (uint32_t)req->data[2] << 16 | (uint32_t)req->data[3] << 24;
        if (sn != d->serial)
            return 0;
        uint16_t na = (uint16_t)(req->data[4] | req->data[5] << 8);
        if (d->address != 0 && d->address != na) {
            d->readdressed++;
            fprintf(stderr, "pvsim_rs485: sma-net: re-addressed from %u to %u by master %u\n",
                    d->address, na, req->src);
        }
        d->address = na;
        reply->src = na;
        put_le32(reply->data, d->serial);
        reply->len = 4;
        return 1;
    }
    case SMA_CMD_SYN_ONLINE:
        /* broadcast, no answer: freeze the spot values the next GET_DATA returns */
        current_values(d, d->snap);
        d->synced = 1;
        return 0;
    case SMA_CMD_GET_CINFO:
    case SMA_CMD_GET_DATA:
        if (broadcast)
            return 0;
        if (req->count > 0 && req->len == 0) {
            /* the master asks for the packet after the one with counter `count` */
            if (d->long_cmd != req->cmd || d->long_peer != req->src || req->count >= d->long_packets)
                return 0;
            size_t idx = d->long_packets - req->count;
            size_t off = idx * d->chunk;
            size_t n = d->long_len - off < d->chunk ? d->long_len - off : d->chunk;
            memcpy(reply->data, d->long_buf + off, n);
            reply->len = n;
            reply->count = (uint8_t)(req->count - 1);
            return 1;
        }
        if (req->cmd == SMA_CMD_GET_CINFO) {
            uint8_t buf[SMA_LONG_MAX];
            size_t n = sma_device_cinfo(d, buf, sizeof buf);
            long_answer(d, req, buf, n, reply);
            return 1;
        } else {
            if (req->len < 3)
                return 0;
            uint16_t mask = (uint16_t)(req->data[0] | req->data[1] << 8);
            uint8_t buf[SMA_LONG_MAX];
            size_t n = sma_device_spot_data(d, mask, req->data[2], (uint32_t)time(NULL), buf, sizeof buf);
            if (!(mask & CT_SPOT) || n == 0)
                return 0; /* parameter reads are not modelled */
            long_answer(d, req, buf, n, reply);
            return 1;
        }
    default:
        return 0;
    }
}

int sma_device_run(struct sma_device *d, struct pty_line *line, struct pty_rng *rng,
                   const struct sma_faults *f, volatile sig_atomic_t *stop)
{
    struct sma_deframer df;
    sma_deframer_init(&df);
    uint64_t start = pty_now_ns(), live_ns = start;
    while (!*stop) {
        if (f->duration_s > 0 && (double)(pty_now_ns() - start) / 1e9 >= f->duration_s)
            break;
        struct pollfd pf = {.fd = line->master, .events = POLLIN};
        int pr = poll(&pf, 1, 100);
        if (f->live) {
            uint64_t now = pty_now_ns();
            sma_device_advance(d, (double)(now - live_ns) / 1e9);
            live_ns = now;
        }
        if (pr <= 0 || !(pf.revents & POLLIN))
            continue;
        uint8_t tmp[256];
        long got = pty_line_read(line, tmp, sizeof tmp);
        if (got < 0)
            return 1;
        uint64_t t_rx = pty_now_ns();
        for (long i = 0; i < got; i++) {
            const uint8_t *pkt;
            size_t pn;
            struct sma_packet req, reply;
            if (!sma_deframer_feed(&df, tmp[i], &pkt, &pn) || sma_packet_decode(pkt, pn, &req) != 0)
                continue;
            if (!sma_device_handle(d, &req, &reply))
                continue;
            if (pty_rng_chance(rng, f->p_timeout))
                continue;
            uint8_t frame[SMA_MAX_FRAME + 16];
            size_t gn = 0;
            if (pty_rng_chance(rng, f->p_garbage)) {
                gn = 1 + (size_t)(pty_rng_next(rng) % 6);
                for (size_t k = 0; k < gn; k++)
                    frame[k] = (uint8_t)pty_rng_next(rng);
            }
            uint16_t fcs_xor = pty_rng_chance(rng, f->p_crc) ? (uint16_t)(1u << (pty_rng_next(rng) % 16)) : 0;
            size_t fn = sma_frame_encode_fcs(&reply, frame + gn, sizeof frame - gn, fcs_xor);
            if (fn == 0)
                continue;
            double delay = f->delay_ms;
            if (f->slow_ms > 0 && pty_rng_chance(rng, f->p_slow))
                delay += f->slow_ms;
            pty_sleep_until(t_rx + (uint64_t)(delay * 1e6));
            pty_line_send(line, frame, gn + fn, 0);
        }
    }
    return 0;
}
