/* Listen-only Modbus RTU: a resumable frame splitter and request/response pairer for a bus another master owns. */
#ifndef PVTAP_PROTO_MODBUS_LISTEN_H
#define PVTAP_PROTO_MODBUS_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/modbus_rtu.h"

/* Bytes heard on the bus go in with the time they arrived (modbus_listen_feed);
 * events come out (modbus_listen_next). Frames are split by content (request
 * length fixed per function code, response length from its byte count, the
 * CRC must match) and helped by silence (>= 3.5 character times), so a USB
 * adapter that hands bytes over in 16 ms bursts, or a reader that wakes late,
 * splits exactly like a UART that timestamps every byte. Pure: no I/O, no
 * globals; the caller owns the struct (about 10 KiB, no allocation). */

enum {
    MODBUS_LISTEN_BUF = 1024, /* > 3 maximal frames: room to hunt past a corrupt one */
    MODBUS_LISTEN_MAX_POLLS = 32,
};

enum modbus_listen_event_kind {
    MBL_REQUEST = 1, /* a request heard (any function) */
    MBL_RESPONSE,    /* the response to the pending request: registers or an exception */
    MBL_UNANSWERED,  /* a request that got no valid response before the next request */
    MBL_STRAY,       /* a valid response nobody (that we heard) asked for */
};

/* One event. For FC 1-4 requests start/count are the request's; regs hold a
 * read response's registers (FC 3/4, count of them). Borrowed until the next
 * call. Times are the caller's clock (us), of the frame's last byte. */
struct modbus_listen_event {
    enum modbus_listen_event_kind kind;
    uint8_t address;
    uint8_t function;      /* without the exception bit */
    uint16_t start, count; /* wire register address and count (reads) */
    bool exception;
    uint8_t exception_code;
    size_t n_regs;
    uint16_t regs[MODBUS_MAX_READ_REGS];
    int64_t t_request_us, t_us;
};

/* What the other master polls: one row per (address, function, start, count). */
struct modbus_listen_poll {
    uint8_t address, function;
    uint16_t start, count;
    uint64_t seen;       /* requests heard */
    uint64_t answered;   /* valid responses (exceptions included) */
    uint64_t exceptions; /* of which exception replies */
    uint64_t unanswered; /* no valid response before the next request (timeouts, CRC errors) */
    int64_t first_us, last_us;
};

struct modbus_listen_stats {
    uint64_t bytes;              /* fed */
    uint64_t frames;             /* CRC-valid frames */
    uint64_t requests, responses;
    uint64_t crc_errors;         /* frame-shaped runs whose CRC failed */
    uint64_t noise_bytes;        /* bytes in no frame (and in no CRC-failed frame) */
    uint64_t unanswered;         /* requests with no valid response */
    uint64_t stray_responses;    /* responses with no request */
    uint64_t silences;           /* gaps >= the silence threshold seen between chunks */
    uint64_t polls_dropped;      /* requests not tabled: more than MODBUS_LISTEN_MAX_POLLS kinds */
};

struct modbus_listen {
    /* settings */
    int64_t char_us;    /* one character on the wire (10 or 11 bits) */
    int64_t silence_us; /* 3.5 characters (1750 us above 19200 baud), plus the adapter's latency */
    int64_t slack_us;   /* how late a frame's bytes may come in (adapter batching, scheduling) */
    /* bytes not yet framed: buf[head..len), with arrival times and a mark on
     * each byte that followed a silence */
    uint8_t buf[MODBUS_LISTEN_BUF];
    int64_t t_us[MODBUS_LISTEN_BUF];
    uint8_t after_silence[MODBUS_LISTEN_BUF];
    size_t head, len;
    int64_t now_us;       /* latest time seen (a byte or a tick) */
    int64_t last_byte_us; /* when the last byte came */
    bool finishing; /* the input ended: nothing more will complete a frame */
    /* the request waiting for its response */
    bool pending;
    struct modbus_listen_event req;
    /* a run of dropped bytes: where a corrupt frame may have started */
    size_t run_bytes;
    size_t run_frame_len; /* length the run's first byte announced, 0 when none */
    /* an event produced while another is being returned */
    bool queued;
    struct modbus_listen_event queue;
    struct modbus_listen_stats stats;
    size_t n_polls;
    struct modbus_listen_poll polls[MODBUS_LISTEN_MAX_POLLS];
};

/* Set up for a line at baud with parity 'N', 'E' or 'O' (8 data bits, 1
 * stop bit). latency_us: what the adapter may hold bytes back (an FTDI's
 * latency_timer; 0 when unknown): a gap counts as silence only when longer. */
void modbus_listen_init(struct modbus_listen *l, int baud, char parity, int64_t latency_us);

/* Take bytes that arrived at t_us (non-decreasing). Returns how many were
 * taken: fewer than n when the buffer is full, then call modbus_listen_next()
 * until it returns 0 and feed the rest. */
size_t modbus_listen_feed(struct modbus_listen *l, const uint8_t *data, size_t n, int64_t t_us);

/* Time passes without bytes: a frame that should have been complete by now
 * is given up (so a cut frame does not hold back what follows). */
void modbus_listen_tick(struct modbus_listen *l, int64_t now_us);

/* The next event: 1 and *ev filled, or 0 when more bytes are needed. */
int modbus_listen_next(struct modbus_listen *l, struct modbus_listen_event *ev);

/* The input ended: what is left is noise, a pending request unanswered.
 * Call modbus_listen_next() afterwards for the last events. */
void modbus_listen_finish(struct modbus_listen *l);

/* The poll table, in first-heard order; *n gets its length. Borrowed. */
const struct modbus_listen_poll *modbus_listen_polls(const struct modbus_listen *l, size_t *n);

/* Mean time between requests of one poll row, in us; 0 below two. */
int64_t modbus_listen_poll_period_us(const struct modbus_listen_poll *p);

#endif
