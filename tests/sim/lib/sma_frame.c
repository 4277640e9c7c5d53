/* SMA-Net framing: FCS-16, byte stuffing, deframer, SMAData1 packets. */
#include "sma_frame.h"

#include <string.h>

uint16_t sma_fcs16(uint16_t fcs, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fcs ^= p[i];
        for (int b = 0; b < 8; b++)
            fcs = (fcs & 1) ? (uint16_t)((fcs >> 1) ^ 0x8408) : (uint16_t)(fcs >> 1);
    }
    return fcs;
}

size_t sma_packet_encode(const struct sma_packet *p, uint8_t *out, size_t cap)
{
    if (p->len > SMA_MAX_DATA || cap < 7 + p->len)
        return 0;
    out[0] = (uint8_t)p->src;
    out[1] = (uint8_t)(p->src >> 8);
    out[2] = (uint8_t)p->dst;
    out[3] = (uint8_t)(p->dst >> 8);
    out[4] = p->ctrl;
    out[5] = p->count;
    out[6] = p->cmd;
    memcpy(out + 7, p->data, p->len);
    return 7 + p->len;
}

int sma_packet_decode(const uint8_t *b, size_t n, struct sma_packet *p)
{
    if (n < 7 || n - 7 > SMA_MAX_DATA)
        return -1;
    p->src = (uint16_t)(b[0] | b[1] << 8);
    p->dst = (uint16_t)(b[2] | b[3] << 8);
    p->ctrl = b[4];
    p->count = b[5];
    p->cmd = b[6];
    p->len = n - 7;
    memcpy(p->data, b + 7, p->len);
    return 0;
}

static int needs_escape(uint8_t c)
{
    return c == SMA_FLAG || c == SMA_ESC || c == 0x11 || c == 0x12 || c == 0x13;
}

size_t sma_frame_encode(const struct sma_packet *p, uint8_t *out, size_t cap)
{
    return sma_frame_encode_fcs(p, out, cap, 0);
}

size_t sma_frame_encode_fcs(const struct sma_packet *p, uint8_t *out, size_t cap, uint16_t fcs_xor)
{
    uint8_t raw[4 + 7 + SMA_MAX_DATA + 2];
    raw[0] = 0xFF; /* HDLC broadcast address */
    raw[1] = 0x03; /* UI frame */
    raw[2] = (uint8_t)(SMA_PROT_SMADATA1 >> 8);
    raw[3] = (uint8_t)(SMA_PROT_SMADATA1 & 0xFF);
    size_t pn = sma_packet_encode(p, raw + 4, sizeof raw - 6);
    if (pn == 0)
        return 0;
    uint16_t fcs = (uint16_t)(sma_fcs16(0xFFFF, raw, 4 + pn) ^ 0xFFFF ^ fcs_xor);
    raw[4 + pn] = (uint8_t)(fcs & 0xFF);
    raw[5 + pn] = (uint8_t)(fcs >> 8);
    size_t rn = 6 + pn, o = 0;
    if (cap < 2)
        return 0;
    out[o++] = SMA_FLAG;
    for (size_t i = 0; i < rn; i++) {
        if (needs_escape(raw[i])) {
            if (o + 2 > cap - 1)
                return 0;
            out[o++] = SMA_ESC;
            out[o++] = (uint8_t)(raw[i] ^ 0x20);
        } else {
            if (o + 1 > cap - 1)
                return 0;
            out[o++] = raw[i];
        }
    }
    out[o++] = SMA_FLAG;
    return o;
}

void sma_deframer_init(struct sma_deframer *d)
{
    memset(d, 0, sizeof *d);
}

int sma_deframer_feed(struct sma_deframer *d, uint8_t c, const uint8_t **pkt, size_t *pkt_n)
{
    if (c == SMA_FLAG) {
        size_t n = d->n;
        int overflow = d->overflow, esc = d->esc;
        d->n = 0;
        d->esc = d->overflow = 0;
        if (overflow) {
            d->overflows++;
            return 0;
        }
        if (n == 0)
            return 0; /* back-to-back flags, or the opening flag */
        /* FCS over header + packet + the two FCS bytes leaves 0xF0B8 */
        if (esc || n < 4 + 7 + 2 || sma_fcs16(0xFFFF, d->buf, n) != 0xF0B8) {
            d->bad_fcs++;
            return 0;
        }
        if (d->buf[0] != 0xFF || d->buf[1] != 0x03 ||
            (uint16_t)(d->buf[2] << 8 | d->buf[3]) != SMA_PROT_SMADATA1) {
            d->bad_header++;
            return 0;
        }
        *pkt = d->buf + 4;
        *pkt_n = n - 4 - 2;
        return 1;
    }
    if (d->overflow)
        return 0;
    if (c == SMA_ESC) {
        d->esc = 1;
        return 0;
    }
    if (d->esc) {
        c ^= 0x20;
        d->esc = 0;
    }
    if (d->n >= sizeof d->buf) {
        d->overflow = 1;
        return 0;
    }
    d->buf[d->n++] = c;
    return 0;
}
