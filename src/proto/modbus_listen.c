/* Listen-only Modbus RTU: split overheard bytes into frames and pair requests with responses. */
#include "proto/modbus_listen.h"

#include <string.h>

#include "proto/cursor.h"
#include "util/err.h"

/* Modbus over serial line V1.02 (modbus.org), sections 2.5.1.1 and 2.5.1.2:
 *
 *     [silence >= 3.5 chars] address (1) | function (1) | data | CRC lo, hi [silence]
 *
 * Read requests (FC 1-4), Modbus Application Protocol V1.1b3 section 6:
 *     address | fc | start (BE16) | count (BE16) | CRC                8 bytes
 * Read responses:
 *     address | fc | byte count N | N data bytes | CRC                5 + N bytes
 *     (FC 3/4: N = 2 x count, registers big-endian; FC 1/2: N = ceil(count / 8))
 * Exception responses:
 *     address | fc | 0x80 | exception code | CRC                      5 bytes
 * Other function codes: lengths from modbus_rtu_frame_len().
 *
 * A listener cannot trust silence alone: a USB adapter hands bytes over in
 * bursts (FTDI: every latency_timer ms, 16 by default), which both hides
 * real silences and makes false ones inside a frame. So a frame is what the
 * content says (length by function code or byte count, CRC valid), and a
 * silence only helps to give up sooner on bytes that never became a frame:
 * when what is buffered cannot be complete yet but a whole valid frame
 * starts right after a silence, what came before it was noise. A frame whose
 * bytes would all have arrived by now (its wire time plus the adapter's
 * slack) and did not is given up too. Bytes that start no valid frame are
 * dropped one at a time, so the splitter resynchronises on the next frame
 * whatever the noise was. */

enum verdict { V_FRAME, V_NEED, V_BAD };

/* An interpretation of the bytes at one offset. */
struct cand {
    size_t len; /* 0 when not known yet */
    enum modbus_rtu_dir dir;
};

void modbus_listen_init(struct modbus_listen *l, int baud, char parity, int64_t latency_us)
{
    memset(l, 0, sizeof *l);
    if (baud <= 0)
        baud = 9600;
    int bits = (parity == 'E' || parity == 'O') ? 11 : 10; /* start + 8 + parity + stop */
    l->char_us = (int64_t)bits * 1000000 / baud;
    if (l->char_us < 1)
        l->char_us = 1;
    /* The standard fixes t3.5 at 1750 us above 19200 baud (section 2.5.1.1). */
    int64_t t35 = baud > 19200 ? 1750 : (l->char_us * 7 + 1) / 2;
    l->silence_us = t35 + (latency_us > 0 ? latency_us : 0);
    /* Bytes of one frame come in late by at most the adapter's hold time and
     * the reader's scheduling: 100 ms covers a loaded Pi. */
    l->slack_us = 100000 + (latency_us > 0 ? latency_us : 0);
}

static void compact(struct modbus_listen *l)
{
    if (l->head == 0)
        return;
    size_t n = l->len - l->head;
    memmove(l->buf, l->buf + l->head, n);
    memmove(l->t_us, l->t_us + l->head, n * sizeof l->t_us[0]);
    memmove(l->after_silence, l->after_silence + l->head, n);
    l->len = n;
    l->head = 0;
}

size_t modbus_listen_feed(struct modbus_listen *l, const uint8_t *data, size_t n, int64_t t_us)
{
    if (n > MODBUS_LISTEN_BUF - l->len)
        compact(l);
    size_t room = MODBUS_LISTEN_BUF - l->len;
    if (n > room)
        n = room;
    if (n == 0)
        return 0;
    bool silence = l->stats.bytes > 0 && t_us - l->last_byte_us >= l->silence_us;
    if (silence)
        l->stats.silences++;
    for (size_t i = 0; i < n; i++) {
        l->buf[l->len + i] = data[i];
        l->t_us[l->len + i] = t_us;
        l->after_silence[l->len + i] = (i == 0 && silence) ? 1 : 0;
    }
    l->len += n;
    l->stats.bytes += n;
    l->last_byte_us = t_us;
    if (t_us > l->now_us)
        l->now_us = t_us;
    return n;
}

void modbus_listen_tick(struct modbus_listen *l, int64_t now_us)
{
    if (now_us > l->now_us)
        l->now_us = now_us;
}

/* Whether a complete frame of this interpretation has a possible shape
 * (beyond its length): a read request asks for 1..125 registers (2000
 * bits), a register response carries an even byte count. */
static bool shape_ok(const uint8_t *p, size_t len, enum modbus_rtu_dir dir)
{
    struct cursor c;
    cur_init(&c, p, len);
    uint8_t addr = 0, fc = 0, bc = 0;
    uint16_t start = 0, count = 0;
    if (cur_u8(&c, &addr) < 0 || cur_u8(&c, &fc) < 0)
        return false;
    if (dir == MODBUS_RTU_REQUEST) {
        if (fc < 1 || fc > 4)
            return true;
        if (cur_be16(&c, &start) < 0 || cur_be16(&c, &count) < 0)
            return false;
        unsigned max = fc <= 2 ? 2000 : MODBUS_MAX_READ_REGS;
        return count >= 1 && count <= max;
    }
    if (addr == 0)
        return false;
    if (fc & 0x80)
        return cur_u8(&c, &bc) == 0 && bc >= 1 && bc <= 11; /* exception codes 1..11 */
    if (fc == 3 || fc == 4)
        return cur_u8(&c, &bc) == 0 && bc >= 2 && bc % 2 == 0 && bc <= 2 * MODBUS_MAX_READ_REGS;
    if (fc == 1 || fc == 2)
        return cur_u8(&c, &bc) == 0 && bc >= 1 && bc <= 250;
    return true;
}

/* The length the response to the pending request must have, or 0 when the
 * bytes at p are not from the polled device with its function. */
static size_t expected_len(const struct modbus_listen *l, const uint8_t *p, size_t avail)
{
    if (!l->pending || avail < 2 || p[0] != l->req.address ||
        (p[1] & 0x7F) != l->req.function)
        return 0;
    if (p[1] & 0x80)
        return 5;
    switch (l->req.function) {
    case 3: case 4:
        return 5 + 2 * (size_t)l->req.count;
    case 1: case 2:
        return 5 + ((size_t)l->req.count + 7) / 8;
    default: {
        size_t len = 0;
        return modbus_rtu_frame_len(p, avail, MODBUS_RTU_RESPONSE, &len) == 0 ? len : 0;
    }
    }
}

/* Judge one interpretation: a complete valid frame, bytes still to come, or
 * impossible. *bad_len gets the length of a complete, well-shaped frame
 * whose CRC failed (a corrupt frame), when it has none yet. */
static enum verdict judge(const struct modbus_listen *l, size_t at, struct cand c, size_t *bad_len)
{
    size_t avail = l->len - at;
    const uint8_t *p = l->buf + at;
    if (c.len < 4 || c.len > MODBUS_RTU_MAX_FRAME)
        return V_BAD;
    if (avail < c.len) {
        if (l->finishing || l->now_us - l->t_us[at] > (int64_t)c.len * l->char_us + l->slack_us)
            return V_BAD; /* its bytes would all be here by now */
        return V_NEED;
    }
    if (!shape_ok(p, c.len, c.dir))
        return V_BAD;
    if (!modbus_rtu_crc_ok(p, c.len)) {
        if (*bad_len == 0)
            *bad_len = c.len;
        return V_BAD;
    }
    return V_FRAME;
}

/* What the bytes at offset at are. Interpretations in order of trust: the
 * response the pending request announced, a request, any response. */
static enum verdict classify(const struct modbus_listen *l, size_t at, struct cand *out,
                             size_t *bad_len)
{
    size_t avail = l->len - at;
    const uint8_t *p = l->buf + at;
    if (avail >= 1 && p[0] > 247)
        return V_BAD;
    if (avail < 2) {
        /* Too little to know the function: wait, unless even the shortest
         * frame would be here by now. */
        struct cand shortest = {4, MODBUS_RTU_REQUEST};
        return judge(l, at, shortest, bad_len) == V_BAD ? V_BAD : V_NEED;
    }
    bool need = false;
    struct cand cands[3];
    size_t nc = 0;
    size_t elen = expected_len(l, p, avail);
    if (elen)
        cands[nc++] = (struct cand){elen, MODBUS_RTU_RESPONSE};
    static const enum modbus_rtu_dir dirs[2] = {MODBUS_RTU_REQUEST, MODBUS_RTU_RESPONSE};
    for (size_t d = 0; d < 2; d++) {
        size_t len = 0;
        int rc = modbus_rtu_frame_len(p, avail, dirs[d], &len);
        if (rc == 0)
            cands[nc++] = (struct cand){len, dirs[d]};
        else if (rc == PVTAP_ETRUNC) {
            /* The byte count is still to come: a few bytes at most. */
            struct cand probe = {8, dirs[d]};
            if (judge(l, at, probe, bad_len) == V_NEED)
                need = true;
        }
    }
    for (size_t i = 0; i < nc; i++) {
        enum verdict v = judge(l, at, cands[i], bad_len);
        if (v == V_FRAME) {
            *out = cands[i];
            return V_FRAME;
        }
        if (v == V_NEED)
            need = true;
    }
    return need ? V_NEED : V_BAD;
}

static struct modbus_listen_poll *poll_row(struct modbus_listen *l,
                                           const struct modbus_listen_event *r, bool add)
{
    for (size_t i = 0; i < l->n_polls; i++) {
        struct modbus_listen_poll *p = &l->polls[i];
        if (p->address == r->address && p->function == r->function && p->start == r->start &&
            p->count == r->count)
            return p;
    }
    if (!add)
        return NULL;
    if (l->n_polls == MODBUS_LISTEN_MAX_POLLS) {
        l->stats.polls_dropped++;
        return NULL;
    }
    struct modbus_listen_poll *p = &l->polls[l->n_polls++];
    memset(p, 0, sizeof *p);
    p->address = r->address;
    p->function = r->function;
    p->start = r->start;
    p->count = r->count;
    p->first_us = r->t_us;
    return p;
}

/* The pending request got no answer: an event for the caller. */
static void unanswered(struct modbus_listen *l, struct modbus_listen_event *ev)
{
    *ev = l->req;
    ev->kind = MBL_UNANSWERED;
    l->pending = false;
    l->stats.unanswered++;
    struct modbus_listen_poll *p = poll_row(l, &l->req, false);
    if (p)
        p->unanswered++;
}

/* A run of dropped bytes ended: a corrupt frame (it announced a length that
 * the run covers) or noise. */
static void end_run(struct modbus_listen *l)
{
    if (l->run_bytes == 0)
        return;
    if (l->run_frame_len && l->run_bytes >= l->run_frame_len) {
        l->stats.crc_errors++;
        l->stats.noise_bytes += l->run_bytes - l->run_frame_len;
    } else {
        l->stats.noise_bytes += l->run_bytes;
    }
    l->run_bytes = 0;
    l->run_frame_len = 0;
}

static void drop(struct modbus_listen *l, size_t n, size_t bad_len)
{
    if (l->run_bytes == 0)
        l->run_frame_len = bad_len;
    l->run_bytes += n;
    l->head += n;
}

/* Turn the frame at head into events; returns how many were written (0..2,
 * the second into the queue). */
static int take_frame(struct modbus_listen *l, struct cand c, struct modbus_listen_event *ev)
{
    struct cursor cur;
    cur_init(&cur, l->buf + l->head, c.len);
    int64_t t = l->t_us[l->head + c.len - 1];
    uint8_t addr = 0, fc = 0;
    (void)cur_u8(&cur, &addr); /* judge() saw at least 4 bytes */
    (void)cur_u8(&cur, &fc);
    l->stats.frames++;
    int n = 0;
    if (c.dir == MODBUS_RTU_REQUEST) {
        l->stats.requests++;
        if (l->pending)
            unanswered(l, &ev[n++]);
        struct modbus_listen_event *r = &l->req;
        memset(r, 0, sizeof *r);
        r->kind = MBL_REQUEST;
        r->address = addr;
        r->function = fc;
        r->t_us = r->t_request_us = t;
        if (fc >= 1 && fc <= 4) {
            (void)cur_be16(&cur, &r->start);
            (void)cur_be16(&cur, &r->count);
        }
        struct modbus_listen_poll *p = poll_row(l, r, true);
        if (p) {
            p->seen++;
            p->last_us = t;
        }
        ev[n++] = *r;
        /* Nobody answers a broadcast. */
        l->pending = addr != 0;
        l->head += c.len;
        return n;
    }
    l->stats.responses++;
    struct modbus_listen_event *e = &ev[n++];
    memset(e, 0, sizeof *e);
    e->address = addr;
    e->function = fc & 0x7F;
    e->exception = (fc & 0x80) != 0;
    e->t_us = t;
    bool paired = l->pending && addr == l->req.address && e->function == l->req.function;
    uint8_t bc = 0;
    if (e->exception) {
        (void)cur_u8(&cur, &e->exception_code);
    } else if (e->function == 3 || e->function == 4) {
        (void)cur_u8(&cur, &bc);
        if (paired && bc != 2 * l->req.count)
            paired = false; /* a response, but not to that request */
        e->n_regs = bc / 2;
        for (size_t i = 0; i < e->n_regs && i < MODBUS_MAX_READ_REGS; i++)
            (void)cur_be16(&cur, &e->regs[i]);
    }
    if (paired) {
        e->kind = MBL_RESPONSE;
        e->start = l->req.start;
        e->count = l->req.count;
        e->t_request_us = l->req.t_us;
        l->pending = false;
        struct modbus_listen_poll *p = poll_row(l, &l->req, false);
        if (p) {
            p->answered++;
            if (e->exception)
                p->exceptions++;
        }
    } else {
        e->kind = MBL_STRAY;
        l->stats.stray_responses++;
    }
    l->head += c.len;
    return n;
}

int modbus_listen_next(struct modbus_listen *l, struct modbus_listen_event *ev)
{
    if (l->queued) {
        *ev = l->queue;
        l->queued = false;
        return 1;
    }
    for (;;) {
        if (l->head == l->len) {
            l->head = l->len = 0;
            if (l->finishing) {
                end_run(l);
                if (l->pending) {
                    unanswered(l, ev);
                    return 1;
                }
            }
            return 0;
        }
        struct cand c = {0, MODBUS_RTU_REQUEST};
        size_t bad_len = 0;
        enum verdict v = classify(l, l->head, &c, &bad_len);
        if (v == V_FRAME) {
            end_run(l);
            struct modbus_listen_event evs[2];
            int n = take_frame(l, c, evs);
            *ev = evs[0];
            if (n == 2) {
                l->queue = evs[1];
                l->queued = true;
            }
            return 1;
        }
        if (v == V_BAD) {
            drop(l, 1, bad_len);
            continue;
        }
        /* Still incomplete: if a whole frame starts after a later silence,
         * a frame began there on the wire, so the bytes at head were no
         * frame (a real one has no silence inside). Only the head byte goes:
         * valid frames may sit between it and the silence. */
        bool later_frame = false;
        for (size_t j = l->head + 1; j < l->len && !later_frame; j++) {
            struct cand cj;
            size_t bl = 0;
            later_frame = l->after_silence[j] && classify(l, j, &cj, &bl) == V_FRAME;
        }
        if (!later_frame)
            return 0;
        drop(l, 1, bad_len);
    }
}

void modbus_listen_finish(struct modbus_listen *l)
{
    l->finishing = true;
}

const struct modbus_listen_poll *modbus_listen_polls(const struct modbus_listen *l, size_t *n)
{
    *n = l->n_polls;
    return l->polls;
}

int64_t modbus_listen_poll_period_us(const struct modbus_listen_poll *p)
{
    if (p->seen < 2)
        return 0;
    return (p->last_us - p->first_us) / (int64_t)(p->seen - 1);
}
