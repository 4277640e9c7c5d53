/* Unit tests: SMA-Net golden frame, FCS, stuffing, deframer, follow-ups, channel lists, values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/smanet.h"
#include "util/err.h"

/* docs/protocol.md section 4: GET_NET_START broadcast from the master. */
static const uint8_t golden[] = {0x7e, 0xff, 0x03, 0x40, 0x41, 0x00, 0x00, 0x00,
                                 0x00, 0x80, 0x00, 0x06, 0xd7, 0xc0, 0x7e};

static void fcs_vectors(void **state)
{
    (void)state;
    /* CRC-16/X-25 (the PPP FCS as sent) catalogue check value. */
    assert_int_equal(smanet_fcs16((const uint8_t *)"123456789", 9), 0x906E);
    /* RFC 1662: running the FCS over data plus its own FCS (low byte first)
     * leaves the good-FCS residue 0xF0B8. */
    const uint8_t body[] = {0xff, 0x03, 0x40, 0x41, 0x00, 0x00, 0x00,
                            0x00, 0x80, 0x00, 0x06, 0xd7, 0xc0};
    assert_int_equal(smanet_fcs16_update(0xFFFF, body, sizeof body), 0xF0B8);
    assert_int_equal(smanet_fcs16(body, sizeof body - 2), 0xC0D7);
}

static void golden_encode_decode(void **state)
{
    (void)state;
    struct smanet_head h = {.src = 0, .dst = 0, .ctrl = SMANET_CTRL_GROUP, .count = 0,
                            .cmd = SMANET_CMD_GET_NET_START};
    uint8_t out[SMANET_MAX_WIRE];
    size_t n = 0;
    assert_int_equal(smanet_encode(&h, NULL, 0, out, sizeof out, &n), 0);
    assert_int_equal(n, sizeof golden);
    assert_memory_equal(out, golden, sizeof golden);

    struct smanet_deframer d;
    smanet_deframer_init(&d);
    struct smanet_packet p;
    size_t used = 0;
    assert_int_equal(smanet_deframer_push(&d, golden, sizeof golden, &used, &p), 1);
    assert_int_equal(used, sizeof golden);
    assert_int_equal(p.h.src, 0);
    assert_int_equal(p.h.dst, 0);
    assert_int_equal(p.h.ctrl, 0x80);
    assert_int_equal(p.h.count, 0);
    assert_int_equal(p.h.cmd, 6);
    assert_int_equal(p.len, 0);
    assert_int_equal(d.frames, 1);
}

/* Encode a packet and return its wire length. */
static size_t make(uint16_t src, uint16_t dst, uint8_t ctrl, uint8_t cnt, uint8_t cmd,
                   const uint8_t *data, size_t len, uint8_t *out, size_t out_size)
{
    struct smanet_head h = {src, dst, ctrl, cnt, cmd};
    size_t n = 0;
    assert_int_equal(smanet_encode(&h, data, len, out, out_size, &n), 0);
    return n;
}

/* Feed bytes in chunks of the given sizes (cycled); collect packets' data. */
struct collected {
    int packets, errors;
    uint8_t data[4][SMANET_MAX_DATA];
    size_t len[4];
    struct smanet_head h[4];
};

static void feed(struct smanet_deframer *d, const uint8_t *in, size_t n, const size_t *chunks,
                 size_t n_chunks, struct collected *c)
{
    size_t off = 0, k = 0;
    while (off < n) {
        size_t take = chunks[k++ % n_chunks];
        if (take > n - off)
            take = n - off;
        size_t pos = 0;
        while (pos < take) {
            size_t used = 0;
            struct smanet_packet p;
            int rc = smanet_deframer_push(d, in + off + pos, take - pos, &used, &p);
            pos += used;
            if (rc == 1) {
                assert_true(c->packets < 4);
                memcpy(c->data[c->packets], p.data, p.len);
                c->len[c->packets] = p.len;
                c->h[c->packets] = p.h;
                c->packets++;
            } else if (rc < 0) {
                c->errors++;
            }
        }
        off += take;
    }
}

static void stuffing_round_trip(void **state)
{
    (void)state;
    /* Every byte value, the five stuffed ones first. */
    uint8_t data[SMANET_MAX_DATA];
    const uint8_t special[] = {0x7E, 0x7D, 0x11, 0x12, 0x13};
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = i < sizeof special ? special[i] : (uint8_t)(i - sizeof special);
    uint8_t wire[SMANET_MAX_WIRE];
    size_t n = make(0x7E11, 0x137D, SMANET_CTRL_ANSWER, 0x7E, SMANET_CMD_GET_CINFO, data,
                    sizeof data, wire, sizeof wire);
    /* Between the flags no byte needing stuffing appears raw. */
    assert_int_equal(wire[0], 0x7E);
    assert_int_equal(wire[n - 1], 0x7E);
    for (size_t i = 1; i + 1 < n; i++) {
        assert_true(wire[i] != 0x7E && wire[i] != 0x11 && wire[i] != 0x12 && wire[i] != 0x13);
        if (wire[i] == 0x7D)
            assert_true(i + 2 < n); /* an escape is never last */
    }
    static const size_t one[] = {1};
    static const size_t odd[] = {3, 7, 1, 64, 2, 129};
    srand(7);
    size_t rnd[64];
    for (size_t i = 0; i < 64; i++)
        rnd[i] = 1 + (size_t)(rand() % 40);
    const size_t *plans[] = {one, odd, rnd};
    const size_t plan_n[] = {1, 6, 64};
    for (size_t pl = 0; pl < 3; pl++) {
        struct smanet_deframer d;
        smanet_deframer_init(&d);
        struct collected c = {0};
        feed(&d, wire, n, plans[pl], plan_n[pl], &c);
        assert_int_equal(c.errors, 0);
        assert_int_equal(c.packets, 1);
        assert_int_equal(c.len[0], sizeof data);
        assert_memory_equal(c.data[0], data, sizeof data);
        assert_int_equal(c.h[0].src, 0x7E11);
        assert_int_equal(c.h[0].dst, 0x137D);
        assert_int_equal(c.h[0].count, 0x7E);
    }
    /* 256 data bytes do not fit one packet. */
    uint8_t big[256] = {0};
    struct smanet_head h = {0};
    size_t m;
    assert_int_equal(smanet_encode(&h, big, sizeof big, wire, sizeof wire, &m), PVTAP_ELIMIT);
    assert_int_equal(smanet_encode(&h, data, 10, wire, 12, &m), PVTAP_ELIMIT);
}

static void shared_flags_and_noise(void **state)
{
    (void)state;
    uint8_t a[64], b[64], stream[200];
    const uint8_t d1[] = {1, 2, 3}, d2[] = {9};
    size_t na = make(5, 0, SMANET_CTRL_ANSWER, 0, 11, d1, 3, a, sizeof a);
    size_t nb = make(6, 0, SMANET_CTRL_ANSWER, 0, 11, d2, 1, b, sizeof b);
    size_t n = 0;
    /* noise, frame a without its closing flag, frame b (whose opening flag
     * closes a), then back-to-back flags */
    const uint8_t noise[] = {0x00, 0x55, 0xAA};
    memcpy(stream + n, noise, sizeof noise);
    n += sizeof noise;
    memcpy(stream + n, a, na - 1);
    n += na - 1;
    memcpy(stream + n, b, nb);
    n += nb;
    stream[n++] = 0x7E;
    stream[n++] = 0x7E;
    struct smanet_deframer d;
    smanet_deframer_init(&d);
    struct collected c = {0};
    static const size_t one[] = {1};
    feed(&d, stream, n, one, 1, &c);
    assert_int_equal(c.packets, 2);
    assert_int_equal(c.errors, 0);
    assert_int_equal(c.h[0].src, 5);
    assert_int_equal(c.h[1].src, 6);
    assert_memory_equal(c.data[0], d1, 3);
    assert_int_equal(d.noise_bytes, sizeof noise);
}

static void corrupt_frames(void **state)
{
    (void)state;
    uint8_t good[64];
    const uint8_t data[] = {0x10, 0x20, 0x30, 0x40};
    size_t n = make(3, 0, SMANET_CTRL_ANSWER, 0, 11, data, sizeof data, good, sizeof good);
    static const size_t all[] = {1000};
    /* One flipped bit anywhere inside: the FCS catches it (or the frame
     * breaks), and the next good frame still comes through. */
    for (size_t i = 1; i + 1 < n; i++) {
        uint8_t s[160];
        memcpy(s, good, n);
        s[i] ^= 0x04;
        if (s[i] == 0x7E || s[i] == 0x7D)
            continue; /* turned into framing: covered below */
        memcpy(s + n, good, n);
        struct smanet_deframer d;
        smanet_deframer_init(&d);
        struct collected c = {0};
        feed(&d, s, 2 * n, all, 1, &c);
        assert_int_equal(c.packets, 1);
        assert_int_equal(c.errors, 1);
        assert_memory_equal(c.data[0], data, sizeof data);
    }
    /* A wrong FCS: PVTAP_ECRC and counted. */
    uint8_t s[64];
    memcpy(s, good, n);
    s[n - 3] ^= 0x01; /* FCS high byte (not a stuffed value here) */
    struct smanet_deframer d;
    smanet_deframer_init(&d);
    struct smanet_packet p;
    size_t used;
    assert_int_equal(smanet_deframer_push(&d, s, n, &used, &p), PVTAP_ECRC);
    assert_int_equal(d.fcs_errors, 1);
    /* A runt: flag, a few bytes, flag. */
    const uint8_t runt[] = {0x7E, 0xFF, 0x03, 0x40, 0x41, 0x00, 0x7E};
    smanet_deframer_init(&d);
    assert_int_equal(smanet_deframer_push(&d, runt, sizeof runt, &used, &p), PVTAP_ECORRUPT);
    assert_int_equal(d.runts, 1);
    /* A partial frame then silence: nothing handed out; a reset forgets it. */
    smanet_deframer_init(&d);
    assert_int_equal(smanet_deframer_push(&d, good, n - 4, &used, &p), 0);
    assert_int_equal(used, n - 4);
    assert_true(d.len > 0);
    smanet_deframer_reset(&d);
    assert_int_equal(d.len, 0);
    assert_int_equal(smanet_deframer_push(&d, good, n, &used, &p), 1);
    /* Too long for any SMAData1 frame: dropped whole, then resync. */
    uint8_t longf[700];
    longf[0] = 0x7E;
    memset(longf + 1, 0x55, 600);
    memcpy(longf + 601, good, n);
    smanet_deframer_init(&d);
    struct collected c = {0};
    feed(&d, longf, 601 + n, all, 1, &c);
    assert_int_equal(c.packets, 1);
    assert_int_equal(c.errors, 1);
    assert_int_equal(d.overruns, 1);
    /* 7D 7E aborts a frame. */
    uint8_t ab[80] = {0x7E, 0xFF, 0x03, 0x7D, 0x7E};
    memcpy(ab + 5, good + 1, n - 1);
    smanet_deframer_init(&d);
    memset(&c, 0, sizeof c);
    feed(&d, ab, 5 + n - 1, all, 1, &c);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.packets, 1);
    /* Another PPP protocol with a good FCS is not ours. */
    const uint8_t lcp_body[] = {0xFF, 0x03, 0xC0, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint16_t fcs = smanet_fcs16(lcp_body, sizeof lcp_body);
    uint8_t lcp[32] = {0x7E};
    memcpy(lcp + 1, lcp_body, sizeof lcp_body);
    lcp[1 + sizeof lcp_body] = (uint8_t)fcs;
    lcp[2 + sizeof lcp_body] = (uint8_t)(fcs >> 8);
    lcp[3 + sizeof lcp_body] = 0x7E;
    smanet_deframer_init(&d);
    int rc = smanet_deframer_push(&d, lcp, 4 + sizeof lcp_body, &used, &p);
    if (lcp[1 + sizeof lcp_body] == 0x7E || lcp[2 + sizeof lcp_body] == 0x7E)
        assert_true(rc < 0);
    else
        assert_int_equal(rc, PVTAP_ENOTMINE);
}

static void follow_up_packets(void **state)
{
    (void)state;
    struct smanet_reasm r;
    smanet_reasm_init(&r, 1000);
    const uint8_t a[] = {1, 2}, b[] = {3}, c[] = {4, 5, 6};
    struct smanet_packet p = {{7, 0, 0x40, 2, 9}, a, 2};
    assert_int_equal(smanet_reasm_add(&r, &p), 1);
    assert_int_equal(r.last, 2);
    /* out of order: counter 0 when 1 was due, or another device */
    struct smanet_packet wrong = {{7, 0, 0x40, 0, 9}, c, 3};
    assert_int_equal(smanet_reasm_add(&r, &wrong), PVTAP_ECORRUPT);
    struct smanet_packet other = {{8, 0, 0x40, 1, 9}, b, 1};
    assert_int_equal(smanet_reasm_add(&r, &other), PVTAP_ECORRUPT);
    struct smanet_packet p1 = {{7, 0, 0x40, 1, 9}, b, 1};
    assert_int_equal(smanet_reasm_add(&r, &p1), 1);
    struct smanet_packet p0 = {{7, 0, 0x40, 0, 9}, c, 3};
    assert_int_equal(smanet_reasm_add(&r, &p0), 0);
    const uint8_t whole[] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(r.len, 6);
    assert_memory_equal(r.buf, whole, 6);
    smanet_reasm_reset(&r);
    struct smanet_packet single = {{7, 0, 0x40, 0, 9}, c, 3};
    assert_int_equal(smanet_reasm_add(&r, &single), 0);
    assert_int_equal(r.len, 3);
    r.limit = 4;
    smanet_reasm_reset(&r);
    struct smanet_packet first = {{7, 0, 0x40, 1, 9}, c, 3};
    assert_int_equal(smanet_reasm_add(&r, &first), 1);
    struct smanet_packet too_much = {{7, 0, 0x40, 0, 9}, a, 2};
    assert_int_equal(smanet_reasm_add(&r, &too_much), PVTAP_ELIMIT);
    smanet_reasm_free(&r);
}

static void discovery_and_requests(void **state)
{
    (void)state;
    const uint8_t ans[12] = {0x78, 0x56, 0x34, 0x12, 'S', 'B', '5', '0', '0', '0', 'U', 'S'};
    struct smanet_netinfo ni;
    assert_int_equal(smanet_netinfo_parse(ans, sizeof ans, &ni), 0);
    assert_int_equal(ni.serial, 0x12345678u);
    assert_string_equal(ni.type, "SB5000US");
    const uint8_t padded[12] = {1, 0, 0, 0, 'W', 'R', '2', '1', ' ', ' ', 0, 0};
    assert_int_equal(smanet_netinfo_parse(padded, sizeof padded, &ni), 0);
    assert_string_equal(ni.type, "WR21");
    assert_int_equal(smanet_netinfo_parse(ans, 11, &ni), PVTAP_ECORRUPT);
    uint8_t cfg[6];
    assert_int_equal(smanet_cfg_netadr_data(0x12345678u, 0x0102, cfg), 6);
    const uint8_t want[6] = {0x78, 0x56, 0x34, 0x12, 0x02, 0x01};
    assert_memory_equal(cfg, want, 6);
    uint8_t gd[3];
    assert_int_equal(smanet_get_data_req(SMANET_MASK_SPOT_ALL, 0, gd), 3);
    const uint8_t want_gd[3] = {0x0F, 0x09, 0x00};
    assert_memory_equal(gd, want_gd, 3);
}

/* ---- a channel list built by hand, record by record -------------------- */

struct buf {
    uint8_t b[2048];
    size_t n;
};
static void put(struct buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}
static void putf(struct buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t x[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    put(b, x, 4);
}
static void putstr(struct buf *b, const char *s, size_t width)
{
    uint8_t f[32];
    memset(f, ' ', width);
    memcpy(f, s, strlen(s));
    put(b, f, width);
}
static void head(struct buf *b, uint8_t idx, uint16_t ct, uint16_t nt, const char *name)
{
    put(b, &idx, 1);
    put16(b, ct);
    put16(b, nt);
    put16(b, 0x0000);
    putstr(b, name, 16);
}
static void analog(struct buf *b, uint8_t idx, uint16_t ct, uint16_t nt, const char *name,
                   const char *unit, float gain, float offset)
{
    head(b, idx, ct, nt, name);
    putstr(b, unit, 8);
    putf(b, gain);
    putf(b, offset);
}
static void counter(struct buf *b, uint8_t idx, const char *name, const char *unit, float gain)
{
    head(b, idx, 0x0904, 0x0002, name);
    putstr(b, unit, 8);
    putf(b, gain);
}

static void build_list(struct buf *b)
{
    b->n = 0;
    analog(b, 1, 0x0901, 0x0001, "Upv-Ist", "V", 1.0f, 0.0f);
    analog(b, 2, 0x0901, 0x0001, "Ipv", "mA", 0.001f, 0.0f);
    analog(b, 3, 0x0901, 0x0001, "Uac", "V", 0.1f, 0.0f);
    analog(b, 4, 0x0901, 0x0002, "Pac", "W", 1.0f, -10.0f);
    analog(b, 5, 0x2901, 0x0001, "Zac-Test", "mOhm", 1.0f, 0.0f); /* a test channel */
    analog(b, 6, 0x0401, 0x0001, "Vac-Min", "V", 0.0f, 300.0f);  /* a parameter */
    counter(b, 7, "E-Total", "kWh", 0.001f);
    head(b, 8, 0x0902, 0x0000, "Relais");
    putstr(b, "Aus", 16);
    putstr(b, "Ein", 16);
    head(b, 9, 0x0908, 0x0000, "Status");
    const char texts[] = "Stop\0Mpp\0Mpp-Such\0";
    put16(b, sizeof texts - 1);
    put(b, texts, sizeof texts - 1);
    head(b, 10, 0x0901, 0x0304, "Arr"); /* an array of 3 floats */
    putstr(b, "x", 8);
    putf(b, 2.0f);
    putf(b, 0.0f);
}

static void channel_list(void **state)
{
    (void)state;
    struct buf b;
    build_list(&b);
    struct smanet_chanlist cl;
    assert_int_equal(smanet_chanlist_parse(b.b, b.n, &cl), 0);
    assert_int_equal(cl.n, 10);
    const struct smanet_channel *pac = smanet_chanlist_find(&cl, "Pac");
    assert_non_null(pac);
    assert_int_equal(pac->index, 4);
    assert_string_equal(pac->unit, "W");
    assert_true(pac->offset == -10.0);
    const struct smanet_channel *st = smanet_chanlist_find(&cl, "Status");
    assert_non_null(st);
    assert_int_equal(st->n_texts, 3);
    assert_string_equal(smanet_channel_text(st, 1), "Mpp");
    assert_string_equal(smanet_channel_text(st, 2), "Mpp-Such");
    assert_null(smanet_channel_text(st, 3));
    const struct smanet_channel *rel = smanet_chanlist_find(&cl, "Relais");
    assert_string_equal(smanet_channel_text(rel, 1), "Ein");
    assert_true(smanet_channel_matches(pac, SMANET_MASK_SPOT_ALL, 0));
    assert_true(smanet_channel_matches(pac, SMANET_MASK_SPOT_ALL, 4));
    assert_false(smanet_channel_matches(pac, SMANET_MASK_SPOT_ALL, 3));
    assert_false(smanet_channel_matches(smanet_chanlist_find(&cl, "Zac-Test"),
                                        SMANET_MASK_SPOT_ALL, 0));
    assert_false(smanet_channel_matches(smanet_chanlist_find(&cl, "Vac-Min"),
                                        SMANET_MASK_SPOT_ALL, 0));
    assert_int_equal(smanet_channel_count(smanet_chanlist_find(&cl, "Arr")), 3);
    assert_null(smanet_chanlist_find(&cl, "Nope"));
    smanet_chanlist_free(&cl);

    /* Every cut inside a record is caught, never read past; a cut between
     * records is a shorter list. */
    size_t boundaries = 0;
    for (size_t cut = 1; cut < b.n; cut++) {
        int rc = smanet_chanlist_parse(b.b, cut, &cl);
        if (rc == 0) {
            assert_true(cl.n < 10);
            boundaries++;
        } else {
            assert_true(rc == PVTAP_ETRUNC || rc == PVTAP_ECORRUPT);
        }
        smanet_chanlist_free(&cl);
    }
    assert_int_equal(boundaries, 9);
    /* A record with no class, and a name twice. */
    struct buf bad = {.n = 0};
    head(&bad, 1, 0x0900, 0x0001, "Odd");
    assert_int_equal(smanet_chanlist_parse(bad.b, bad.n, &cl), PVTAP_ECORRUPT);
    smanet_chanlist_free(&cl);
    bad.n = 0;
    counter(&bad, 1, "E-Total", "kWh", 0.001f);
    counter(&bad, 2, "E-Total", "kWh", 0.001f);
    assert_int_equal(smanet_chanlist_parse(bad.b, bad.n, &cl), PVTAP_ECORRUPT);
    smanet_chanlist_free(&cl);
}

static void spot_values(void **state)
{
    (void)state;
    struct buf b;
    build_list(&b);
    struct smanet_chanlist cl;
    assert_int_equal(smanet_chanlist_parse(b.b, b.n, &cl), 0);
    /* mask, index, 1 data set, time, time base, then in list order the
     * spot channels: Upv-Ist, Ipv, Uac, Pac, E-Total, Relais, Status, Arr */
    struct buf a = {.n = 0};
    put16(&a, SMANET_MASK_SPOT_ALL);
    uint8_t zero = 0;
    put(&a, &zero, 1);
    put16(&a, 1);
    const uint8_t t[4] = {0x10, 0x20, 0x30, 0x40}, base[4] = {1, 0, 0, 0};
    put(&a, t, 4);
    put(&a, base, 4);
    put16(&a, 412);                       /* Upv-Ist 412 V */
    put16(&a, 9120);                      /* Ipv 9.12 A */
    put16(&a, 2411);                      /* Uac 241.1 V */
    const uint8_t pac[4] = {0xC4, 0x0D, 0, 0}; /* 3524 - 10 W */
    put(&a, pac, 4);
    const uint8_t et[4] = {0x40, 0x42, 0x0F, 0x00}; /* 1000000 Wh -> 1000 kWh */
    put(&a, et, 4);
    uint8_t one = 1;
    put(&a, &one, 1); /* Relais Ein */
    put(&a, &one, 1); /* Status Mpp */
    putf(&a, 1.5f);
    putf(&a, 2.5f);
    putf(&a, 3.5f);
    struct smanet_value v[10];
    uint32_t ts;
    assert_int_equal(smanet_values_parse(a.b, a.n, &cl, v, &ts), 0);
    assert_int_equal(ts, 0x40302010u);
    assert_true(v[0].present && v[0].value == 412.0);
    assert_true(v[1].value > 9.1199 && v[1].value < 9.1201);
    assert_true(v[2].value > 241.09 && v[2].value < 241.11);
    assert_true(v[3].value == 3514.0);
    assert_false(v[4].present); /* test channel */
    assert_false(v[5].present); /* parameter */
    assert_true(v[6].value > 999.999 && v[6].value < 1000.001);
    assert_string_equal(v[7].text, "Ein");
    assert_true(v[8].raw == 1.0);
    assert_string_equal(v[8].text, "Mpp");
    assert_true(v[9].value == 3.0); /* first element x gain 2 */
    /* A short answer is ETRUNC at every cut; a longer one ECORRUPT. */
    for (size_t cut = 0; cut < a.n; cut++)
        assert_int_equal(smanet_values_parse(a.b, cut, &cl, v, &ts), PVTAP_ETRUNC);
    a.b[a.n++] = 0;
    assert_int_equal(smanet_values_parse(a.b, a.n, &cl, v, &ts), PVTAP_ECORRUPT);
    smanet_chanlist_free(&cl);
}

/* A status channel sent as float (found by fuzz_smanet): NaN, negative and
 * huge values name no text (converting them to an index was undefined). */
static void status_float_out_of_range(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    head(&b, 1, 0x0908, SMANET_NT_FLOAT, "Status");
    put16(&b, 9);
    put(&b, "Stop\0Mpp\0", 9);
    struct smanet_chanlist cl;
    assert_int_equal(smanet_chanlist_parse(b.b, b.n, &cl), 0);
    assert_int_equal(cl.ch[0].n_texts, 2);
    const float raws[] = {1.0f, -1.0f, 1e30f, -1e30f, __builtin_nanf(""), 2.0f, 0.5f};
    const char *const want[] = {"Mpp", NULL, NULL, NULL, NULL, NULL, "Stop"};
    for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
        struct buf a = {.n = 0};
        put16(&a, SMANET_MASK_SPOT_ALL);
        uint8_t zero[9] = {0};
        put(&a, zero, 1);
        put16(&a, 1);
        put(&a, zero, 8);
        putf(&a, raws[i]);
        struct smanet_value v[1];
        uint32_t ts;
        assert_int_equal(smanet_values_parse(a.b, a.n, &cl, v, &ts), 0);
        assert_true(v[0].present);
        if (want[i])
            assert_string_equal(v[0].text, want[i]);
        else
            assert_null(v[0].text);
    }
    smanet_chanlist_free(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fcs_vectors),
        cmocka_unit_test(golden_encode_decode),
        cmocka_unit_test(stuffing_round_trip),
        cmocka_unit_test(shared_flags_and_noise),
        cmocka_unit_test(corrupt_frames),
        cmocka_unit_test(follow_up_packets),
        cmocka_unit_test(discovery_and_requests),
        cmocka_unit_test(channel_list),
        cmocka_unit_test(spot_values),
        cmocka_unit_test(status_float_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
