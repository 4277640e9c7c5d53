/* libFuzzer target: SMA-Net deframer, reassembly, channel list and spot values. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/smanet.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reassembled answer, decoded by its command as the source does. The
 * channel list of the last GET_CINFO answer decodes later GET_DATA answers. */
static void on_answer(uint8_t cmd, const uint8_t *p, size_t n, struct smanet_chanlist *cl)
{
    if (cmd == SMANET_CMD_GET_NET || cmd == SMANET_CMD_GET_NET_START) {
        struct smanet_netinfo ni;
        if (smanet_netinfo_parse(p, n, &ni) == 0 &&
            strnlen(ni.type, sizeof ni.type) == sizeof ni.type)
            abort();
    } else if (cmd == SMANET_CMD_GET_CINFO) {
        smanet_chanlist_free(cl);
        if (smanet_chanlist_parse(p, n, cl) < 0)
            smanet_chanlist_free(cl);
    } else if (cmd == SMANET_CMD_GET_DATA && cl->n) {
        struct smanet_value *v = calloc(cl->n, sizeof *v);
        if (!v)
            return;
        uint32_t t;
        if (smanet_values_parse(p, n, cl, v, &t) == 0)
            for (size_t i = 0; i < cl->n; i++)
                if (v[i].text && strlen(v[i].text) > cl->ch[i].texts_len)
                    abort();
        free(v);
    }
}

/* Raw bytes in chunks ([len] + len bytes) through the deframer and reassembly. */
static void fuzz_stream(const uint8_t *data, size_t size)
{
    struct smanet_deframer d;
    smanet_deframer_init(&d);
    struct smanet_reasm r;
    smanet_reasm_init(&r, 4096);
    struct smanet_chanlist cl = {0};
    size_t off = 0, fed = 0;
    uint64_t n_ok = 0, n_crc = 0, n_corrupt = 0, n_foreign = 0;
    while (off < size) {
        size_t len = data[off++];
        if (len > size - off)
            len = size - off;
        const uint8_t *in = data + off;
        size_t left = len;
        while (left > 0) {
            size_t used = 0;
            struct smanet_packet pk;
            int rc = smanet_deframer_push(&d, in, left, &used, &pk);
            if (used == 0 || used > left)
                abort();
            in += used;
            left -= used;
            n_crc += rc == PVTAP_ECRC;
            n_corrupt += rc == PVTAP_ECORRUPT;
            n_foreign += rc == PVTAP_ENOTMINE;
            if (rc != 1)
                continue;
            n_ok++;
            if (pk.len > SMANET_MAX_DATA)
                abort();
            int ra = smanet_reasm_add(&r, &pk);
            if (ra == 0)
                on_answer(r.cmd, r.buf, r.len, &cl);
            if (ra != 1)
                smanet_reasm_reset(&r);
        }
        fed += len;
        off += len;
    }
    /* each return is counted once; an overrun returns at the next flag */
    if (d.noise_bytes > fed || d.frames != n_ok || d.fcs_errors != n_crc ||
        d.foreign != n_foreign || d.runts + d.overruns > n_corrupt + 1)
        abort();
    smanet_chanlist_free(&cl);
    smanet_reasm_free(&r);
}

/* Packets from the input, encoded, then deframed in chunks whose sizes come
 * from the input: every packet must come back exactly. Input: [chunk]
 * then packets as [src(2) dst(2) ctrl count cmd len] + len bytes. */
static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    size_t chunk = data[0] ? data[0] : 1;
    size_t off = 1;
    uint8_t wire[SMANET_MAX_WIRE];
    struct smanet_deframer d;
    smanet_deframer_init(&d);
    while (off + 8 <= size) {
        const uint8_t *q = data + off;
        struct smanet_head h = {.src = (uint16_t)(q[0] | q[1] << 8),
                                .dst = (uint16_t)(q[2] | q[3] << 8),
                                .ctrl = q[4],
                                .count = q[5],
                                .cmd = q[6]};
        size_t len = q[7];
        off += 8;
        if (len > size - off)
            len = size - off;
        const uint8_t *body = data + off;
        off += len;
        size_t wl = 0;
        if (smanet_encode(&h, body, len, wire, sizeof wire, &wl) != 0 || wl > SMANET_MAX_WIRE)
            abort();
        int got = 0;
        for (size_t pos = 0; pos < wl;) {
            size_t n = wl - pos < chunk ? wl - pos : chunk;
            size_t used = 0;
            struct smanet_packet pk;
            int rc = smanet_deframer_push(&d, wire + pos, n, &used, &pk);
            pos += used;
            if (rc == 0)
                continue;
            if (rc != 1 || got++ || pk.h.src != h.src || pk.h.dst != h.dst || pk.h.ctrl != h.ctrl ||
                pk.h.count != h.count || pk.h.cmd != h.cmd || pk.len != len ||
                (len && memcmp(pk.data, body, len) != 0))
                abort();
        }
        if (got != 1)
            abort();
    }
    if (d.fcs_errors || d.runts || d.overruns || d.foreign || d.noise_bytes)
        abort();
}

/* A channel list and a GET_DATA answer: [u16 BE list length] list answer. */
static void fuzz_tables(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t ln = (size_t)(data[0] << 8 | data[1]);
    data += 2;
    size -= 2;
    if (ln > size)
        ln = size;
    struct smanet_chanlist cl;
    int rc = smanet_chanlist_parse(data, ln, &cl);
    if (rc == 0) {
        for (size_t i = 0; i < cl.n; i++) {
            const struct smanet_channel *c = &cl.ch[i];
            if (smanet_chanlist_find(&cl, c->name) != c)
                abort();
            for (size_t k = 0; k <= c->n_texts; k++) {
                const char *t = smanet_channel_text(c, k);
                if ((k < c->n_texts) != (t != NULL))
                    abort();
            }
            (void)smanet_channel_matches(c, SMANET_MASK_SPOT_ALL, 0);
        }
        on_answer(SMANET_CMD_GET_DATA, data + ln, size - ln, &cl);
    }
    smanet_chanlist_free(&cl);
    struct smanet_packet pk;
    if (smanet_packet_parse(data, size, &pk) == 0 && pk.len + SMANET_HEAD_LEN != size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_stream(data + 1, size - 1);
        break;
    case 1:
        fuzz_roundtrip(data + 1, size - 1);
        break;
    default:
        fuzz_tables(data + 1, size - 1);
        break;
    }
    return 0;
}
