/* libFuzzer target: the listen-only Modbus splitter, chunk sizes and silences from the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/modbus_listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
    uint64_t requests, responses, strays, unanswered;
};

static void check_event(const struct modbus_listen_event *ev, struct tally *t)
{
    if (ev->n_regs > MODBUS_MAX_READ_REGS || ev->address > 247 || ev->function > 0x7F)
        abort();
    switch (ev->kind) {
    case MBL_REQUEST:
        t->requests++;
        break;
    case MBL_RESPONSE:
        t->responses++;
        /* a paired register read carries exactly the registers it asked for */
        if (!ev->exception && (ev->function == 3 || ev->function == 4) && ev->n_regs != ev->count)
            abort();
        if (ev->t_request_us > ev->t_us)
            abort();
        break;
    case MBL_STRAY:
        t->strays++;
        break;
    case MBL_UNANSWERED:
        t->unanswered++;
        break;
    default:
        abort();
    }
}

static void drain(struct modbus_listen *l, struct tally *t)
{
    struct modbus_listen_event ev;
    while (modbus_listen_next(l, &ev) == 1)
        check_event(&ev, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Header: baud choice | parity | adapter latency (ms). Then chunks as
     * [len ctl] + len bytes: ctl's low 6 bits are the gap before the chunk
     * in quarter characters (so gaps straddle the 3.5-character silence; 63
     * is a long pause), bit 6 appends the chunk's CRC (so valid frames are
     * easy to reach), bit 7 makes it a tick (time passes, no bytes). */
    if (size < 3)
        return 0;
    static const int bauds[] = {1200, 9600, 19200, 38400, 115200};
    static const char parities[] = {'N', 'E', 'O'};
    struct modbus_listen *l = malloc(sizeof *l);
    if (!l)
        return 0;
    modbus_listen_init(l, bauds[data[0] % 5], parities[data[1] % 3],
                       (int64_t)(data[2] % 20) * 1000);
    struct tally t = {0};
    size_t off = 3;
    int64_t now = 1000000;
    uint64_t fed = 0;
    while (off + 2 <= size) {
        size_t len = data[off];
        uint8_t ctl = data[off + 1];
        off += 2;
        now += (int64_t)(ctl & 0x3F) * l->char_us / 4 + ((ctl & 0x3F) == 0x3F ? 200000 : 0);
        if (ctl & 0x80) {
            modbus_listen_tick(l, now);
            drain(l, &t);
            continue;
        }
        if (len > size - off)
            len = size - off;
        uint8_t chunk[255 + 2];
        memcpy(chunk, data + off, len);
        off += len;
        if (ctl & 0x40) {
            uint16_t crc = modbus_crc16(chunk, len);
            chunk[len++] = (uint8_t)(crc & 0xFF);
            chunk[len++] = (uint8_t)(crc >> 8);
        }
        size_t done = 0;
        int stuck = 0;
        while (done < len) {
            size_t n = modbus_listen_feed(l, chunk + done, len - done, now);
            done += n;
            fed += n;
            drain(l, &t);
            /* a full buffer always frees room once drained */
            if (n == 0 && ++stuck > 2)
                abort();
        }
    }
    modbus_listen_finish(l);
    drain(l, &t);

    const struct modbus_listen_stats *s = &l->stats;
    if (s->bytes != fed || s->frames != s->requests + s->responses)
        abort();
    if (t.requests != s->requests || t.responses + t.strays != s->responses ||
        t.strays != s->stray_responses || t.unanswered != s->unanswered)
        abort();
    /* every byte is in at most one frame (4 bytes or more) or is noise */
    if (s->noise_bytes + 4 * s->frames + 4 * s->crc_errors > s->bytes)
        abort();
    size_t np;
    const struct modbus_listen_poll *p = modbus_listen_polls(l, &np);
    uint64_t seen = 0;
    for (size_t i = 0; i < np; i++) {
        if (p[i].answered + p[i].unanswered > p[i].seen || p[i].exceptions > p[i].answered)
            abort();
        seen += p[i].seen;
        (void)modbus_listen_poll_period_us(&p[i]);
    }
    if (np > MODBUS_LISTEN_MAX_POLLS || seen + s->polls_dropped != s->requests)
        abort();
    free(l);
    return 0;
}
