/* Unit tests: the listen-only Modbus RTU splitter and pairer on byte streams (split points, bursts, noise, corruption). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/modbus_listen.h"
#include "proto/modbus_rtu.h"
#include "sources/listen.h"

/* 9600 8N1: one character is 1041 us on the wire. */
enum { CHAR_US = 1041, MAX_BYTES = 4096, MAX_EVENTS = 256 };

/* A simulated wire: bytes and the time each one finished arriving. */
struct wire {
    uint8_t b[MAX_BYTES];
    int64_t t[MAX_BYTES];
    size_t n;
    int64_t now;
};

static void put_bytes(struct wire *w, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(w->n < MAX_BYTES);
        w->now += CHAR_US;
        w->b[w->n] = p[i];
        w->t[w->n] = w->now;
        w->n++;
    }
}

static void gap(struct wire *w, int64_t us)
{
    w->now += us;
}

/* Frame body + CRC (low byte first), put on the wire. */
static void put_frame(struct wire *w, const uint8_t *body, size_t n, bool corrupt)
{
    uint8_t f[300];
    assert_true(n + 2 <= sizeof f);
    memcpy(f, body, n);
    uint16_t crc = modbus_crc16(body, n);
    f[n] = (uint8_t)(crc & 0xFF);
    f[n + 1] = (uint8_t)(crc >> 8);
    if (corrupt)
        f[n / 2] ^= 0x10;
    put_bytes(w, f, n + 2);
}

static void put_read_request(struct wire *w, uint8_t addr, uint16_t start, uint16_t count)
{
    uint8_t b[6] = {addr, 3, (uint8_t)(start >> 8), (uint8_t)start, (uint8_t)(count >> 8),
                    (uint8_t)count};
    put_frame(w, b, sizeof b, false);
}

/* Register i of a response holds a value derived from start and i. */
static uint16_t reg_value(uint16_t start, size_t i)
{
    return (uint16_t)(start * 7u + i * 257u + 0x1234u);
}

static void put_read_response(struct wire *w, uint8_t addr, uint16_t start, uint16_t count,
                              bool corrupt)
{
    uint8_t b[3 + 250];
    b[0] = addr;
    b[1] = 3;
    b[2] = (uint8_t)(2 * count);
    for (size_t i = 0; i < count; i++) {
        uint16_t v = reg_value(start, i);
        b[3 + 2 * i] = (uint8_t)(v >> 8);
        b[4 + 2 * i] = (uint8_t)v;
    }
    put_frame(w, b, 3 + 2 * (size_t)count, corrupt);
}

/* One transaction as the supervisor and the meter put it on the wire: the
 * request, >= 5 ms, the response, 20 ms of think time. */
static void transaction(struct wire *w, uint8_t addr, uint16_t start, uint16_t count,
                        bool answered, bool corrupt_response)
{
    put_read_request(w, addr, start, count);
    gap(w, 5000);
    if (answered)
        put_read_response(w, addr, start, count, corrupt_response);
    gap(w, 20000);
}

struct seen {
    size_t n;
    struct modbus_listen_event ev[MAX_EVENTS];
};

static void drain(struct modbus_listen *l, struct seen *s)
{
    struct modbus_listen_event ev;
    while (modbus_listen_next(l, &ev) == 1) {
        assert_true(s->n < MAX_EVENTS);
        s->ev[s->n++] = ev;
    }
}

/* Deliver the wire's bytes in chunks cut at the given offsets (sorted), each
 * chunk at the time its last byte arrived, as a reader would see them. */
static void deliver_cuts(const struct wire *w, const size_t *cuts, size_t ncuts,
                         struct modbus_listen *l, struct seen *s)
{
    size_t from = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t to = k < ncuts ? cuts[k] : w->n;
        if (to <= from)
            continue;
        size_t off = from;
        while (off < to) {
            off += modbus_listen_feed(l, w->b + off, to - off, w->t[to - 1]);
            drain(l, s);
        }
        from = to;
    }
    modbus_listen_finish(l);
    drain(l, s);
}

/* Deliver like an FTDI adapter: whatever arrived in each burst_us window,
 * at the window's end. */
static void deliver_bursts(const struct wire *w, int64_t burst_us, struct modbus_listen *l,
                           struct seen *s)
{
    size_t i = 0;
    while (i < w->n) {
        int64_t window_end = (w->t[i] / burst_us + 1) * burst_us;
        size_t j = i;
        while (j < w->n && w->t[j] <= window_end)
            j++;
        size_t off = i;
        while (off < j) {
            off += modbus_listen_feed(l, w->b + off, j - off, window_end);
            drain(l, s);
        }
        modbus_listen_tick(l, window_end);
        drain(l, s);
        i = j;
    }
    modbus_listen_finish(l);
    drain(l, s);
}

static void assert_same_events(const struct seen *a, const struct seen *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct modbus_listen_event *x = &a->ev[i], *y = &b->ev[i];
        assert_int_equal(x->kind, y->kind);
        assert_int_equal(x->address, y->address);
        assert_int_equal(x->function, y->function);
        assert_int_equal(x->start, y->start);
        assert_int_equal(x->count, y->count);
        assert_int_equal(x->n_regs, y->n_regs);
        assert_memory_equal(x->regs, y->regs, x->n_regs * sizeof x->regs[0]);
    }
}

static size_t count_kind(const struct seen *s, enum modbus_listen_event_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->ev[i].kind == k;
    return n;
}

/* A supervisor's scan with a ghost device (address 9) that never answers. */
static void scan(struct wire *w)
{
    transaction(w, 9, 1000, 34, false, false);
    gap(w, 150000); /* the master's time-out */
    transaction(w, 1, 1000, 34, true, false);
    transaction(w, 1, 1112, 4, true, false);
    transaction(w, 1, 1700, 15, true, false);
}

static void check_scan_events(const struct seen *s, size_t scans)
{
    /* Per scan: 4 requests, 3 responses, the ghost's request unanswered. */
    assert_int_equal(count_kind(s, MBL_REQUEST), 4 * scans);
    assert_int_equal(count_kind(s, MBL_RESPONSE), 3 * scans);
    assert_int_equal(count_kind(s, MBL_UNANSWERED), scans);
    assert_int_equal(count_kind(s, MBL_STRAY), 0);
    for (size_t i = 0; i < s->n; i++) {
        const struct modbus_listen_event *e = &s->ev[i];
        if (e->kind == MBL_UNANSWERED)
            assert_int_equal(e->address, 9);
        if (e->kind != MBL_RESPONSE)
            continue;
        assert_int_equal(e->address, 1);
        assert_int_equal(e->n_regs, e->count);
        for (size_t k = 0; k < e->n_regs; k++)
            assert_int_equal(e->regs[k], reg_value(e->start, k));
    }
}

static void clean_whole(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    scan(&w);
    scan(&w);
    static struct modbus_listen l;
    struct seen s = {0};
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, NULL, 0, &l, &s);
    check_scan_events(&s, 2);
    assert_int_equal(l.stats.crc_errors, 0);
    assert_int_equal(l.stats.noise_bytes, 0);
    assert_int_equal(l.stats.frames, 14);
    assert_int_equal(l.stats.unanswered, 2);
}

/* Whatever the reader's read() boundaries, the same events come out. */
static void every_split_point(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    scan(&w);
    static struct modbus_listen l;
    static struct seen ref, s;
    memset(&ref, 0, sizeof ref);
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, NULL, 0, &l, &ref);
    check_scan_events(&ref, 1);
    for (size_t cut = 1; cut < w.n; cut++) {
        memset(&s, 0, sizeof s);
        modbus_listen_init(&l, 9600, 'N', 0);
        deliver_cuts(&w, &cut, 1, &l, &s);
        assert_same_events(&ref, &s);
        /* and two cuts: cut and a few bytes later */
        size_t cuts[2] = {cut, cut + 3 < w.n ? cut + 3 : w.n};
        memset(&s, 0, sizeof s);
        modbus_listen_init(&l, 9600, 'N', 0);
        deliver_cuts(&w, cuts, 2, &l, &s);
        assert_same_events(&ref, &s);
    }
    /* byte by byte, each at its own time */
    static size_t all[MAX_BYTES];
    for (size_t i = 0; i < w.n; i++)
        all[i] = i + 1;
    memset(&s, 0, sizeof s);
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, all, w.n, &l, &s);
    assert_same_events(&ref, &s);
}

/* FTDI-like 16 ms bursts merge request and response and cut frames. */
static void batched_bursts(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < 3; i++)
        scan(&w);
    static struct modbus_listen l;
    static struct seen ref, s;
    memset(&ref, 0, sizeof ref);
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, NULL, 0, &l, &ref);
    static const int64_t bursts[] = {1000, 4000, 16000, 40000};
    for (size_t k = 0; k < sizeof bursts / sizeof bursts[0]; k++) {
        memset(&s, 0, sizeof s);
        modbus_listen_init(&l, 9600, 'N', 0); /* latency unknown (a pty) */
        deliver_bursts(&w, bursts[k], &l, &s);
        assert_same_events(&ref, &s);
        memset(&s, 0, sizeof s);
        modbus_listen_init(&l, 9600, 'N', 16000); /* latency_timer known */
        deliver_bursts(&w, bursts[k], &l, &s);
        assert_same_events(&ref, &s);
        assert_int_equal(l.stats.noise_bytes, 0);
    }
}

/* A corrupted response: counted, never delivered, its request unanswered;
 * the next transaction decodes. */
static void corrupt_response(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    transaction(&w, 1, 1000, 34, true, true);
    transaction(&w, 1, 1112, 4, true, false);
    static struct modbus_listen l;
    struct seen s = {0};
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_bursts(&w, 16000, &l, &s);
    assert_int_equal(count_kind(&s, MBL_RESPONSE), 1);
    assert_int_equal(count_kind(&s, MBL_UNANSWERED), 1);
    assert_int_equal(l.stats.crc_errors, 1);
    for (size_t i = 0; i < s.n; i++)
        if (s.ev[i].kind == MBL_RESPONSE)
            assert_int_equal(s.ev[i].start, 1112);
}

/* Stray bytes (driver turn-on noise, another baud rate) between frames, with
 * and without silence around them, at every split point. */
static void stray_bytes(void **state)
{
    (void)state;
    static const uint8_t noises[][8] = {
        {0x00},
        {0x01, 0x03},
        {0x01, 0x03, 0xF0},             /* announces a 245-byte response */
        {0x01, 0x03, 0x44, 0x12},       /* the start of the expected response */
        {0xFF, 0xFE, 0x01, 0x10, 0x00}, /* FC 16 request start */
        {0x09, 0x03, 0x03, 0xE8, 0x00, 0x22, 0x00, 0x00},
    };
    static const size_t lens[] = {1, 2, 3, 4, 5, 8};
    static struct wire w;
    static struct modbus_listen l;
    static struct seen ref, s;
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        for (int silent = 0; silent < 2; silent++) {
            memset(&w, 0, sizeof w);
            transaction(&w, 1, 1000, 34, true, false);
            put_read_request(&w, 1, 1112, 4);
            gap(&w, 5000);
            put_read_response(&w, 1, 1112, 4, false);
            gap(&w, silent ? 5000 : 0);
            put_bytes(&w, noises[k], lens[k]);
            gap(&w, silent ? 5000 : 0);
            transaction(&w, 1, 1700, 15, true, false);
            transaction(&w, 1, 1000, 34, true, false);
            memset(&ref, 0, sizeof ref);
            modbus_listen_init(&l, 9600, 'N', 0);
            deliver_cuts(&w, NULL, 0, &l, &ref);
            assert_int_equal(count_kind(&ref, MBL_RESPONSE), 4);
            assert_int_equal(count_kind(&ref, MBL_REQUEST), 4);
            assert_int_equal(count_kind(&ref, MBL_UNANSWERED), 0);
            assert_true(l.stats.noise_bytes + 8 * l.stats.crc_errors >= lens[k]);
            for (size_t cut = 1; cut < w.n; cut += 3) {
                memset(&s, 0, sizeof s);
                modbus_listen_init(&l, 9600, 'N', 0);
                deliver_cuts(&w, &cut, 1, &l, &s);
                if (s.n != ref.n)
                    print_message("noise %zu silent %d cut %zu\n", k, silent, cut);
                assert_same_events(&ref, &s);
            }
            memset(&s, 0, sizeof s);
            modbus_listen_init(&l, 9600, 'N', 0);
            deliver_bursts(&w, 16000, &l, &s);
            assert_same_events(&ref, &s);
        }
    }
}

/* Noise that announces a long frame must not hold back what follows: after
 * a silence a whole frame wins at once, without one a tick gives it up. */
static void long_announcement_released(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    const uint8_t noise[] = {0x01, 0x03, 0xF0};
    put_bytes(&w, noise, sizeof noise);
    gap(&w, 10000);
    put_read_request(&w, 1, 1000, 34);
    static struct modbus_listen l;
    struct seen s = {0};
    modbus_listen_init(&l, 9600, 'N', 0);
    modbus_listen_feed(&l, w.b, 3, w.t[2]);
    drain(&l, &s);
    modbus_listen_feed(&l, w.b + 3, w.n - 3, w.t[w.n - 1]);
    drain(&l, &s); /* no finish(): the silence alone decides */
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].kind, MBL_REQUEST);
    assert_int_equal(l.stats.noise_bytes, 3);

    /* the same bytes in one burst: no silence to see, the tick decides */
    memset(&s, 0, sizeof s);
    modbus_listen_init(&l, 9600, 'N', 0);
    modbus_listen_feed(&l, w.b, w.n, w.t[w.n - 1]);
    drain(&l, &s);
    assert_int_equal(s.n, 0); /* could still be a 245-byte response */
    modbus_listen_tick(&l, w.t[w.n - 1] + 400000);
    drain(&l, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ev[0].kind, MBL_REQUEST);
    assert_int_equal(s.ev[0].start, 1000);
}

/* An exception pairs; a response from a device nobody asked is stray. */
static void exception_and_stray(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    put_read_request(&w, 5, 40000, 2);
    gap(&w, 5000);
    const uint8_t exc[] = {5, 0x83, 2};
    put_frame(&w, exc, sizeof exc, false);
    gap(&w, 20000);
    put_read_response(&w, 7, 0, 2, false);
    static struct modbus_listen l;
    struct seen s = {0};
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, NULL, 0, &l, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.ev[1].kind, MBL_RESPONSE);
    assert_true(s.ev[1].exception);
    assert_int_equal(s.ev[1].exception_code, 2);
    assert_int_equal(s.ev[1].start, 40000);
    assert_int_equal(s.ev[2].kind, MBL_STRAY);
    size_t n;
    const struct modbus_listen_poll *p = modbus_listen_polls(&l, &n);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].exceptions, 1);
}

/* The poll table: what the master asks and how often. */
static void poll_table(void **state)
{
    (void)state;
    static struct wire w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < 4; i++) {
        int64_t t0 = w.now;
        scan(&w);
        w.now = t0 + 5000000; /* every 5 s */
    }
    static struct modbus_listen l;
    static struct seen s;
    memset(&s, 0, sizeof s);
    static size_t all[MAX_BYTES];
    for (size_t i = 0; i < w.n; i++)
        all[i] = i + 1;
    modbus_listen_init(&l, 9600, 'N', 0);
    deliver_cuts(&w, all, w.n, &l, &s); /* each byte at its own time */
    size_t n;
    const struct modbus_listen_poll *p = modbus_listen_polls(&l, &n);
    assert_int_equal(n, 4);
    assert_int_equal(p[0].address, 9);
    assert_int_equal(p[0].unanswered, 4);
    assert_int_equal(p[1].start, 1000);
    assert_int_equal(p[1].count, 34);
    assert_int_equal(p[1].seen, 4);
    assert_int_equal(p[1].answered, 4);
    assert_int_equal(modbus_listen_poll_period_us(&p[1]), 5000000);
}

/* Overheard registers decode through the WattNode map by start address. */
static void decode_wattnode(void **state)
{
    (void)state;
    struct modbus_listen_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = MBL_RESPONSE;
    ev.address = 1;
    ev.function = 3;
    ev.start = 1000; /* 1001 */
    ev.count = ev.n_regs = 34;
    /* 1.005 = 0x3F80A3D7, low word first (docs/protocol.md): EnergySumNR at 1005 */
    ev.regs[4] = 0xA3D7;
    ev.regs[5] = 0x3F80;
    /* 60.0 Hz = 0x42700000 at 1033 */
    ev.regs[32] = 0x0000;
    ev.regs[33] = 0x4270;
    struct listen_decoder d = {0};
    struct listen_decoded out;
    assert_int_equal(listen_decode(&d, &ev, &out), 1);
    assert_true(out.wn.present[WN_ENERGY_SUM_NR]);
    assert_true(out.wn.value[WN_ENERGY_SUM_NR] == 1.005);
    assert_true(out.wn.value[WN_FREQ] == 60.0);
    assert_string_equal(out.serial, "");

    /* the identity block names the device from then on */
    memset(&ev.regs, 0, sizeof ev.regs);
    ev.start = 1700;
    ev.count = ev.n_regs = 15;
    ev.regs[0] = 77; /* SerialNumber, low word first */
    assert_int_equal(listen_decode(&d, &ev, &out), 1);
    assert_string_equal(out.serial, "77");
    ev.start = 1112;
    ev.count = ev.n_regs = 4;
    assert_int_equal(listen_decode(&d, &ev, &out), 1);
    assert_string_equal(out.serial, "77");

    /* registers the map does not hold, and exceptions, decode to nothing */
    ev.start = 40000;
    ev.count = ev.n_regs = 2;
    assert_int_equal(listen_decode(&d, &ev, &out), 0);
    ev.start = 1000;
    ev.exception = true;
    assert_int_equal(listen_decode(&d, &ev, &out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_whole),
        cmocka_unit_test(every_split_point),
        cmocka_unit_test(batched_bursts),
        cmocka_unit_test(corrupt_response),
        cmocka_unit_test(stray_bytes),
        cmocka_unit_test(long_announcement_released),
        cmocka_unit_test(exception_and_stray),
        cmocka_unit_test(poll_table),
        cmocka_unit_test(decode_wattnode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
