/* SMA-Net framing (flags, stuffing, PPP FCS-16), SMAData1 packets, channel lists, spot values. */
#include "proto/smanet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/cursor.h"
#include "util/err.h"

/* ---- FCS ------------------------------------------------------------------
 * RFC 1662 appendix C.2, computed bit by bit: 270 bytes at 1200 baud take
 * over two seconds on the wire, so a table would buy nothing. */
uint16_t smanet_fcs16_update(uint16_t fcs, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fcs ^= p[i];
        for (int b = 0; b < 8; b++)
            fcs = (fcs & 1) ? (uint16_t)((fcs >> 1) ^ 0x8408) : (uint16_t)(fcs >> 1);
    }
    return fcs;
}

uint16_t smanet_fcs16(const uint8_t *p, size_t n)
{
    return (uint16_t)~smanet_fcs16_update(0xFFFF, p, n);
}

static const uint8_t frame_prefix[4] = {0xFF, 0x03, 0x40, 0x41};

/* 7E and 7D are the framing bytes; 11 and 13 are XON/XOFF, which some
 * serial paths swallow; 12 is stuffed as well (docs/protocol.md section 4). */
static bool must_stuff(uint8_t b)
{
    return b == 0x7E || b == 0x7D || b == 0x11 || b == 0x12 || b == 0x13;
}

static int put_stuffed(const uint8_t *p, size_t n, uint8_t *out, size_t out_size, size_t *pos)
{
    for (size_t i = 0; i < n; i++) {
        size_t need = must_stuff(p[i]) ? 2 : 1;
        if (*pos + need > out_size)
            return PVTAP_ELIMIT;
        if (need == 2) {
            out[(*pos)++] = SMANET_ESC;
            out[(*pos)++] = (uint8_t)(p[i] ^ 0x20);
        } else {
            out[(*pos)++] = p[i];
        }
    }
    return 0;
}

int smanet_encode(const struct smanet_head *h, const uint8_t *data, size_t len, uint8_t *out,
                  size_t out_size, size_t *out_len)
{
    if (len > SMANET_MAX_DATA || (len && !data))
        return PVTAP_ELIMIT;
    uint8_t head[SMANET_HEAD_LEN] = {
        (uint8_t)(h->src & 0xFF), (uint8_t)(h->src >> 8), (uint8_t)(h->dst & 0xFF),
        (uint8_t)(h->dst >> 8),   h->ctrl,                h->count,
        h->cmd,
    };
    uint16_t fcs = smanet_fcs16_update(0xFFFF, frame_prefix, sizeof frame_prefix);
    fcs = smanet_fcs16_update(fcs, head, sizeof head);
    if (len)
        fcs = smanet_fcs16_update(fcs, data, len);
    fcs = (uint16_t)~fcs;
    /* The FCS goes low byte first (PPP). */
    uint8_t tail[2] = {(uint8_t)(fcs & 0xFF), (uint8_t)(fcs >> 8)};
    size_t pos = 0;
    if (out_size < 1)
        return PVTAP_ELIMIT;
    out[pos++] = SMANET_FLAG;
    int rc = put_stuffed(frame_prefix, sizeof frame_prefix, out, out_size, &pos);
    if (rc == 0)
        rc = put_stuffed(head, sizeof head, out, out_size, &pos);
    if (rc == 0 && len)
        rc = put_stuffed(data, len, out, out_size, &pos);
    if (rc == 0)
        rc = put_stuffed(tail, sizeof tail, out, out_size, &pos);
    if (rc < 0 || pos + 1 > out_size)
        return PVTAP_ELIMIT;
    out[pos++] = SMANET_FLAG;
    *out_len = pos;
    return 0;
}

/* Packet head: src LE16 | dst LE16 | ctrl | packet counter | command | data. */
int smanet_packet_parse(const uint8_t *p, size_t n, struct smanet_packet *out)
{
    struct cursor c;
    cur_init(&c, p, n);
    int rc = cur_le16(&c, &out->h.src);
    if (rc == 0)
        rc = cur_le16(&c, &out->h.dst);
    if (rc == 0)
        rc = cur_u8(&c, &out->h.ctrl);
    if (rc == 0)
        rc = cur_u8(&c, &out->h.count);
    if (rc == 0)
        rc = cur_u8(&c, &out->h.cmd);
    if (rc < 0)
        return rc;
    out->len = cur_left(&c);
    out->data = cur_rest(&c);
    return 0;
}

/* ---- deframer ------------------------------------------------------------ */

void smanet_deframer_init(struct smanet_deframer *d)
{
    memset(d, 0, sizeof *d);
}

void smanet_deframer_reset(struct smanet_deframer *d)
{
    d->len = 0;
    d->in_frame = false;
    d->esc = false;
    d->dropping = false;
}

/* A flag ended d->buf[0..len): check it. The frame is
 *     FF 03 40 41 | packet | FCS lo hi
 * after unstuffing; the FCS covers everything before it. */
static int finish_frame(struct smanet_deframer *d, struct smanet_packet *out)
{
    size_t n = d->len;
    d->len = 0;
    enum { MIN = 4 + SMANET_HEAD_LEN + 2 };
    if (n < MIN) {
        d->runts++;
        return PVTAP_ECORRUPT;
    }
    uint16_t want = (uint16_t)(d->buf[n - 2] | (unsigned)d->buf[n - 1] << 8);
    if (smanet_fcs16(d->buf, n - 2) != want) {
        d->fcs_errors++;
        return PVTAP_ECRC;
    }
    if (memcmp(d->buf, frame_prefix, sizeof frame_prefix) != 0) {
        d->foreign++;
        return PVTAP_ENOTMINE;
    }
    int rc = smanet_packet_parse(d->buf + 4, n - 2 - 4, out);
    if (rc < 0) { /* cannot happen after the MIN check; kept as a guard */
        d->runts++;
        return PVTAP_ECORRUPT;
    }
    d->frames++;
    return 1;
}

int smanet_deframer_push(struct smanet_deframer *d, const uint8_t *in, size_t n,
                         size_t *consumed, struct smanet_packet *out)
{
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        uint8_t b = in[i++];
        if (b == SMANET_FLAG) {
            bool had = d->in_frame && (d->len > 0 || d->esc || d->dropping);
            bool aborted = d->esc || d->dropping;
            d->in_frame = true; /* this flag may also open the next frame */
            d->esc = false;
            d->dropping = false;
            if (!had)
                continue; /* back-to-back flags: an empty frame, nothing to say */
            if (aborted) {
                /* 7D 7E is PPP's abort; an overrun was counted already */
                d->len = 0;
                rc = PVTAP_ECORRUPT;
                break;
            }
            rc = finish_frame(d, out);
            break;
        }
        if (!d->in_frame) {
            d->noise_bytes++;
            continue;
        }
        if (d->dropping)
            continue;
        if (b == SMANET_ESC && !d->esc) {
            d->esc = true;
            continue;
        }
        if (d->esc) {
            b ^= 0x20;
            d->esc = false;
        }
        if (d->len >= sizeof d->buf) {
            d->overruns++;
            d->dropping = true;
            d->len = 0;
            continue;
        }
        d->buf[d->len++] = b;
    }
    *consumed = i;
    return rc;
}

/* ---- follow-up packets --------------------------------------------------- */

void smanet_reasm_init(struct smanet_reasm *r, size_t limit)
{
    memset(r, 0, sizeof *r);
    r->limit = limit;
}

void smanet_reasm_free(struct smanet_reasm *r)
{
    free(r->buf);
    r->buf = NULL;
    r->len = r->cap = 0;
    r->started = false;
}

void smanet_reasm_reset(struct smanet_reasm *r)
{
    r->len = 0;
    r->started = false;
}

int smanet_reasm_add(struct smanet_reasm *r, const struct smanet_packet *p)
{
    if (r->started) {
        /* Each follow-up answers "counter N" with N-1 (defractionizer.c). */
        if (p->h.src != r->src || p->h.cmd != r->cmd || r->last == 0 ||
            p->h.count != (uint8_t)(r->last - 1))
            return PVTAP_ECORRUPT;
    }
    if (r->len + p->len > r->limit)
        return PVTAP_ELIMIT;
    if (r->len + p->len > r->cap) {
        size_t cap = r->cap ? r->cap : 512;
        while (cap < r->len + p->len)
            cap *= 2;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return PVTAP_ENOMEM;
        r->buf = nb;
        r->cap = cap;
    }
    if (p->len)
        memcpy(r->buf + r->len, p->data, p->len);
    r->len += p->len;
    r->started = true;
    r->src = p->h.src;
    r->cmd = p->h.cmd;
    r->last = p->h.count;
    return p->h.count == 0 ? 0 : 1;
}

/* ---- discovery ------------------------------------------------------------ */

/* Copy a fixed-width text field, stop at NUL, trim trailing spaces. */
static void copy_text(char *dst, size_t dst_size, const uint8_t *src, size_t width)
{
    size_t n = 0;
    while (n < width && n + 1 < dst_size && src[n] != 0) {
        uint8_t ch = src[n];
        dst[n] = (ch >= 0x20 && ch < 0x7F) ? (char)ch : '?';
        n++;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* serial LE32 | type (8 chars); 12 bytes, or 26 behind a Sunny Boy Control. */
int smanet_netinfo_parse(const uint8_t *p, size_t n, struct smanet_netinfo *out)
{
    if (n != 12 && n != 26)
        return PVTAP_ECORRUPT;
    struct cursor c;
    cur_init(&c, p, n);
    const uint8_t *type;
    int rc = cur_le32(&c, &out->serial);
    if (rc == 0)
        rc = cur_bytes(&c, 8, &type);
    if (rc < 0)
        return rc;
    copy_text(out->type, sizeof out->type, type, 8);
    return 0;
}

size_t smanet_cfg_netadr_data(uint32_t serial, uint16_t addr, uint8_t out[6])
{
    out[0] = (uint8_t)(serial & 0xFF);
    out[1] = (uint8_t)(serial >> 8);
    out[2] = (uint8_t)(serial >> 16);
    out[3] = (uint8_t)(serial >> 24);
    out[4] = (uint8_t)(addr & 0xFF);
    out[5] = (uint8_t)(addr >> 8);
    return 6;
}

size_t smanet_get_data_req(uint16_t mask, uint8_t index, uint8_t out[3])
{
    out[0] = (uint8_t)(mask & 0xFF);
    out[1] = (uint8_t)(mask >> 8);
    out[2] = index;
    return 3;
}

/* ---- channel list ---------------------------------------------------------- */

enum { SMANET_MAX_CHANNELS = 512 };

static float le_float(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A gain sent as float32 0.001 means 0.001, not 0.0010000000475: take the
 * shortest decimal that is the same float, so 12345678 Wh x gain prints
 * 12345.678 kWh. */
static double float_as_decimal(float f)
{
    if (!isfinite(f))
        return f;
    char text[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        double d = strtod(text, NULL);
        if ((float)d == f)
            return d;
    }
    return f;
}

void smanet_chanlist_free(struct smanet_chanlist *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; i < cl->n; i++)
        free(cl->ch[i].texts);
    free(cl->ch);
    cl->ch = NULL;
    cl->n = 0;
}

/* Keep a channel's texts as NUL-separated strings, each one trimmed. */
static int set_texts(struct smanet_channel *ch, const uint8_t *p, size_t n, size_t fixed_width)
{
    char *t = malloc(n + 2);
    if (!t)
        return PVTAP_ENOMEM;
    size_t out = 0, count = 0;
    size_t i = 0;
    while (i < n) {
        /* one text: up to its NUL, or fixed_width bytes for digital texts */
        size_t end = i;
        size_t lim = fixed_width ? i + fixed_width : n;
        if (lim > n)
            lim = n;
        while (end < lim && p[end] != 0)
            end++;
        size_t start = out;
        for (size_t k = i; k < end; k++)
            t[out++] = (p[k] >= 0x20 && p[k] < 0x7F) ? (char)p[k] : '?';
        while (out > start && t[out - 1] == ' ')
            out--;
        t[out++] = '\0';
        count++;
        i = fixed_width ? lim : end + 1;
    }
    ch->texts = t;
    ch->texts_len = out;
    ch->n_texts = count;
    return 0;
}

static int parse_record(struct cursor *c, struct smanet_channel *ch)
{
    const uint8_t *name;
    int rc = cur_u8(c, &ch->index);
    if (rc == 0)
        rc = cur_le16(c, &ch->ctype);
    if (rc == 0)
        rc = cur_le16(c, &ch->ntype);
    if (rc == 0)
        rc = cur_le16(c, &ch->level);
    if (rc == 0)
        rc = cur_bytes(c, 16, &name);
    if (rc < 0)
        return rc;
    copy_text(ch->name, sizeof ch->name, name, 16);
    ch->gain = 1.0;
    ch->offset = 0.0;
    if (ch->ctype & SMANET_CH_ANALOG) {
        const uint8_t *unit;
        uint32_t g, o;
        if ((rc = cur_bytes(c, 8, &unit)) < 0 || (rc = cur_le32(c, &g)) < 0 ||
            (rc = cur_le32(c, &o)) < 0)
            return rc;
        copy_text(ch->unit, sizeof ch->unit, unit, 8);
        ch->gain = float_as_decimal(le_float(g));
        ch->offset = float_as_decimal(le_float(o));
    } else if (ch->ctype & SMANET_CH_DIGITAL) {
        const uint8_t *texts;
        if ((rc = cur_bytes(c, 32, &texts)) < 0)
            return rc;
        return set_texts(ch, texts, 32, 16);
    } else if (ch->ctype & SMANET_CH_COUNTER) {
        const uint8_t *unit;
        uint32_t g;
        if ((rc = cur_bytes(c, 8, &unit)) < 0 || (rc = cur_le32(c, &g)) < 0)
            return rc;
        copy_text(ch->unit, sizeof ch->unit, unit, 8);
        ch->gain = float_as_decimal(le_float(g));
    } else if (ch->ctype & SMANET_CH_STATUS) {
        uint16_t size;
        const uint8_t *texts;
        if ((rc = cur_le16(c, &size)) < 0 || (rc = cur_bytes(c, size, &texts)) < 0)
            return rc;
        return set_texts(ch, texts, size, 0);
    } else {
        return PVTAP_ECORRUPT;
    }
    if (!isfinite(ch->gain) || !isfinite(ch->offset))
        return PVTAP_ECORRUPT;
    return 0;
}

int smanet_chanlist_parse(const uint8_t *p, size_t n, struct smanet_chanlist *out)
{
    memset(out, 0, sizeof *out);
    struct cursor c;
    cur_init(&c, p, n);
    size_t cap = 0;
    while (cur_left(&c) > 0) {
        if (out->n == SMANET_MAX_CHANNELS)
            return PVTAP_ELIMIT;
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            struct smanet_channel *nc = realloc(out->ch, ncap * sizeof *nc);
            if (!nc)
                return PVTAP_ENOMEM;
            out->ch = nc;
            cap = ncap;
        }
        struct smanet_channel *ch = &out->ch[out->n];
        memset(ch, 0, sizeof *ch);
        int rc = parse_record(&c, ch);
        if (rc < 0) {
            free(ch->texts);
            return rc;
        }
        out->n++;
        /* A name twice would make "Pac" ambiguous (YASDI rejects such lists). */
        for (size_t i = 0; i + 1 < out->n; i++)
            if (strcmp(out->ch[i].name, ch->name) == 0)
                return PVTAP_ECORRUPT;
    }
    return 0;
}

const struct smanet_channel *smanet_chanlist_find(const struct smanet_chanlist *cl,
                                                   const char *name)
{
    for (size_t i = 0; i < cl->n; i++)
        if (strcmp(cl->ch[i].name, name) == 0)
            return &cl->ch[i];
    return NULL;
}

size_t smanet_channel_width(const struct smanet_channel *c)
{
    switch (c->ntype & 0x0F) {
    case SMANET_NT_BYTE: return 1;
    case SMANET_NT_WORD: return 2;
    case SMANET_NT_DWORD: return 4;
    case SMANET_NT_FLOAT: return 4;
    }
    return 0;
}

size_t smanet_channel_count(const struct smanet_channel *c)
{
    size_t n = c->ntype >> 8;
    return n ? n : 1;
}

bool smanet_channel_matches(const struct smanet_channel *c, uint16_t mask, uint8_t index)
{
    const uint16_t kinds = SMANET_CH_PARA | SMANET_CH_SPOT | SMANET_CH_MEAN;
    return (c->ctype & SMANET_CH_TEST) == (mask & SMANET_CH_TEST) &&
           (c->ctype & mask & kinds) != 0 && (c->ctype & mask & SMANET_CH_CLASSES) != 0 &&
           (index == 0 || c->index == index);
}

const char *smanet_channel_text(const struct smanet_channel *c, size_t i)
{
    if (!c->texts || i >= c->n_texts)
        return NULL;
    const char *t = c->texts;
    for (size_t k = 0; k < i; k++)
        t += strlen(t) + 1;
    return t;
}

static int read_element(struct cursor *c, const struct smanet_channel *ch, double *out)
{
    uint8_t b;
    uint16_t w;
    uint32_t d;
    int rc;
    switch (ch->ntype & 0x0F) {
    case SMANET_NT_BYTE:
        rc = cur_u8(c, &b);
        *out = b;
        return rc;
    case SMANET_NT_WORD:
        rc = cur_le16(c, &w);
        *out = w;
        return rc;
    case SMANET_NT_DWORD:
        rc = cur_le32(c, &d);
        *out = d;
        return rc;
    case SMANET_NT_FLOAT:
        rc = cur_le32(c, &d);
        *out = le_float(d);
        return rc;
    }
    return PVTAP_ECORRUPT;
}

int smanet_values_parse(const uint8_t *p, size_t n, const struct smanet_chanlist *cl,
                        struct smanet_value *values, uint32_t *time_s)
{
    for (size_t i = 0; i < cl->n; i++)
        memset(&values[i], 0, sizeof values[i]);
    *time_s = 0;
    struct cursor c;
    cur_init(&c, p, n);
    uint16_t mask, sets;
    uint8_t index;
    int rc = cur_le16(&c, &mask);
    if (rc == 0)
        rc = cur_u8(&c, &index);
    if (rc == 0)
        rc = cur_le16(&c, &sets);
    if (rc == 0 && (mask & SMANET_CH_SPOT)) {
        uint32_t base;
        rc = cur_le32(&c, time_s);
        if (rc == 0)
            rc = cur_le32(&c, &base);
    }
    if (rc < 0)
        return rc;
    if (sets == 0)
        return PVTAP_ECORRUPT;
    /* One data set for spot values; further sets (mean values) are not read. */
    for (size_t i = 0; i < cl->n; i++) {
        const struct smanet_channel *ch = &cl->ch[i];
        if (!smanet_channel_matches(ch, mask, index))
            continue;
        if (smanet_channel_width(ch) == 0)
            return PVTAP_ECORRUPT;
        double raw = 0;
        size_t count = smanet_channel_count(ch);
        for (size_t k = 0; k < count; k++) {
            double v;
            if ((rc = read_element(&c, ch, &v)) < 0)
                return rc;
            if (k == 0)
                raw = v;
        }
        struct smanet_value *out = &values[i];
        out->present = true;
        out->raw = raw;
        /* Parameter channels keep range limits in gain/offset: not scaled. */
        if ((ch->ctype & SMANET_CH_ANALOG) && !(ch->ctype & SMANET_CH_PARA))
            out->value = raw * ch->gain + ch->offset;
        else if ((ch->ctype & SMANET_CH_COUNTER) && !(ch->ctype & SMANET_CH_PARA))
            out->value = raw * ch->gain;
        else
            out->value = raw;
        /* A float-typed status may hold NaN, a negative or a huge value:
         * converting those to size_t is undefined, so range-check first. */
        if ((ch->ctype & (SMANET_CH_STATUS | SMANET_CH_DIGITAL)) && raw >= 0 &&
            raw < (double)ch->n_texts)
            out->text = smanet_channel_text(ch, (size_t)raw);
    }
    if (sets == 1 && cur_left(&c) != 0)
        return PVTAP_ECORRUPT;
    return 0;
}
