/* Unit tests of the simulator's own RS-485 codecs: Modbus CRC and framing,
 * the register server's exceptions, SMA-Net FCS, stuffing, deframing, and
 * the virtual Sunny Boy's packets (independent of pvtap's decoders). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modbus_rtu.h"
#include "modbus_sunspec.h"
#include "modbus_wattnode.h"
#include "sma_device.h"
#include "sma_frame.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static void test_modbus_crc(void)
{
    /* Published vectors: Modbus over serial line V1.02 style request, and a
     * frame pymodbus itself sent to the simulator (01 03 03 E8 00 02 44 7B). */
    static const struct {
        uint8_t pdu[8];
        size_t n;
        uint8_t lo, hi;
    } cases[] = {
        {{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A}, 6, 0xC5, 0xCD},
        {{0x01, 0x03, 0x03, 0xE8, 0x00, 0x02}, 6, 0x44, 0x7B},
        {{0x01, 0x04, 0x00, 0x00, 0x00, 0x01}, 6, 0x31, 0xCA},
    };
    CHECK(modbus_crc16(cases[0].pdu, 6) == 0xCDC5, "crc %04x", modbus_crc16(cases[0].pdu, 6));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t f[16];
        size_t n = modbus_rtu_frame(f, sizeof f, cases[i].pdu[0], cases[i].pdu + 1, cases[i].n - 1);
        CHECK(n == cases[i].n + 2, "len %zu", n);
        CHECK(f[n - 2] == cases[i].lo && f[n - 1] == cases[i].hi, "case %zu wire %02x %02x", i, f[n - 2],
              f[n - 1]);
        CHECK(modbus_rtu_crc_ok(f, n), "case %zu", i);
        f[2] ^= 1;
        CHECK(!modbus_rtu_crc_ok(f, n), "corrupt case %zu passes", i);
    }
}

static void test_modbus_server(void)
{
    struct wattnode w;
    wattnode_init(&w);
    CHECK(wattnode_set(&w, "import-kwh", "1.005") == 0, "set");
    CHECK(wattnode_set(&w, "bogus", "1") != 0, "unknown key accepted");
    CHECK(wattnode_set(&w, "power-w", "12abc") != 0, "bad number accepted");
    wattnode_finish(&w);
    struct modbus_server s = {.read = wattnode_read_reg, .ctx = &w};
    static const struct {
        uint8_t req[5];
        size_t n;
        uint8_t expect_fc, expect_ex; /* ex 0: a normal answer */
    } cases[] = {
        {{0x03, 0x03, 0xEE, 0x00, 0x02}, 5, 0x03, 0},    /* 1007: EnergyPosSumNR */
        {{0x04, 0x03, 0xE8, 0x00, 0x22}, 5, 0x04, 0},    /* the 1001 x34 block, FC4 */
        {{0x03, 0x03, 0xE8, 0x00, 0x23}, 5, 0x83, 0x02}, /* 35 runs into 1035 */
        {{0x03, 0x03, 0xE8, 0x00, 0x00}, 5, 0x83, 0x03}, /* count 0 */
        {{0x03, 0x03, 0xE8, 0x00, 0x7E}, 5, 0x83, 0x03}, /* count 126 */
        {{0x03, 0x00, 0x00, 0x00, 0x01}, 5, 0x83, 0x02}, /* register 1 */
        {{0x10, 0x03, 0xE8, 0x00, 0x01}, 5, 0x90, 0x01}, /* write multiple */
        {{0x03, 0x03, 0xE8}, 3, 0x83, 0x03},             /* truncated */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t resp[260];
        size_t n = modbus_serve_pdu(&s, cases[i].req, cases[i].n, resp, sizeof resp);
        CHECK(n >= 2 && resp[0] == cases[i].expect_fc, "case %zu fc %02x", i, resp[0]);
        if (cases[i].expect_ex)
            CHECK(n == 2 && resp[1] == cases[i].expect_ex, "case %zu ex %02x", i, resp[1]);
    }
    uint8_t resp[260];
    size_t n = modbus_serve_pdu(&s, cases[0].req, 5, resp, sizeof resp);
    /* 1.005 in CDAB: A3D7 3F80 */
    CHECK(n == 6 && resp[1] == 4 && resp[2] == 0xA3 && resp[3] == 0xD7 && resp[4] == 0x3F && resp[5] == 0x80,
          "1.005 as %02x%02x %02x%02x", resp[2], resp[3], resp[4], resp[5]);
    /* live: +3600 W for an hour is +3.6 kWh imported */
    double before = w.energy_pos_sum_nr_kWh;
    CHECK(wattnode_set(&w, "power-w", "3600") == 0, "set");
    wattnode_advance(&w, 3600.0);
    CHECK(fabs(w.energy_pos_sum_nr_kWh - before - 3.6) < 1e-9, "integrated %g", w.energy_pos_sum_nr_kWh - before);
}

static void test_sunspec_image(void)
{
    struct sunspec s;
    sunspec_init(&s);
    CHECK(sunspec_set(&s, "base", "40001") == 0 && sunspec_set(&s, "power-w", "1234") == 0, "set");
    sunspec_build(&s);
    uint16_t v[4];
    CHECK(sunspec_read_reg(&s, 40000, v) != 0, "40000 mapped with base 40001");
    CHECK(sunspec_read_reg(&s, 40001, v) == 0 && v[0] == 0x5375, "SunS %04x", v[0]);
    CHECK(sunspec_read_reg(&s, 40001 + 70, v) == 0 && v[0] == 101, "model %u", v[0]);
    CHECK(sunspec_read_reg(&s, 40001 + 70 + 14, v) == 0 && v[0] == 1234, "W %u", v[0]);
    CHECK(sunspec_read_reg(&s, 40001 + 122, v) == 0 && v[0] == 0xFFFF, "end %04x", v[0]);
    CHECK(sunspec_read_reg(&s, 40001 + 123, v) == 0 && v[0] == 0, "end length %u", v[0]);
    CHECK(sunspec_read_reg(&s, 40001 + 124, v) != 0, "past the end mapped");
    CHECK(sunspec_set(&s, "unimpl", "W,Nope") != 0, "unknown point accepted");
}

static void test_sma_golden(void)
{
    /* docs/protocol.md section 4: GET_NET_START broadcast from the master. */
    static const uint8_t golden[] = {0x7e, 0xff, 0x03, 0x40, 0x41, 0x00, 0x00, 0x00,
                                     0x00, 0x80, 0x00, 0x06, 0xd7, 0xc0, 0x7e};
    struct sma_packet p = {.src = 0, .dst = 0, .ctrl = SMA_CTRL_GROUP, .count = 0,
                           .cmd = SMA_CMD_GET_NET_START, .len = 0};
    uint8_t f[SMA_MAX_FRAME];
    size_t n = sma_frame_encode(&p, f, sizeof f);
    CHECK(n == sizeof golden && memcmp(f, golden, n) == 0, "golden frame differs (len %zu)", n);
    /* the receiver's check: FCS over content and FCS leaves 0xF0B8 */
    CHECK(sma_fcs16(0xFFFF, golden + 1, sizeof golden - 2) == 0xF0B8, "good-FCS constant");
    /* RFC 1662 check value: FCS-16 of "123456789" is 0x906E */
    uint16_t check = sma_fcs16(0xFFFF, (const uint8_t *)"123456789", 9);
    check = (uint16_t)~check;
    CHECK(check == 0x906E, "FCS-16 check value %04x", check);
}

static void test_sma_stuffing(void)
{
    struct sma_packet p = {.src = 0x7D7E, .dst = 0x1311, .ctrl = 0, .count = 0x12, .cmd = 11, .len = 7};
    const uint8_t data[] = {0x7E, 0x7D, 0x11, 0x12, 0x13, 0x20, 0x5E};
    memcpy(p.data, data, sizeof data);
    uint8_t f[2 * SMA_MAX_FRAME];
    size_t n = sma_frame_encode(&p, f, SMA_MAX_FRAME);
    CHECK(n > 0, "encode");
    for (size_t i = 1; i + 1 < n; i++) {
        CHECK(f[i] != 0x7E && f[i] != 0x11 && f[i] != 0x12 && f[i] != 0x13, "unstuffed %02x at %zu", f[i], i);
        if (f[i] == 0x7D) {
            CHECK(i + 2 < n, "escape at the end");
            i++;
        }
    }
    /* two frames sharing one flag, then a corrupt one */
    memcpy(f + n, f + 1, n - 1);
    size_t total = 2 * n - 1;
    struct sma_deframer d;
    sma_deframer_init(&d);
    int got = 0;
    for (size_t i = 0; i < total; i++) {
        const uint8_t *pkt;
        size_t pn;
        struct sma_packet q;
        if (sma_deframer_feed(&d, f[i], &pkt, &pn)) {
            CHECK(sma_packet_decode(pkt, pn, &q) == 0, "decode");
            CHECK(q.src == p.src && q.dst == p.dst && q.count == p.count && q.cmd == p.cmd && q.len == p.len &&
                      memcmp(q.data, p.data, p.len) == 0,
                  "roundtrip");
            got++;
        }
    }
    CHECK(got == 2, "frames %d", got);
    f[5] ^= 0x04;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pkt;
        size_t pn;
        CHECK(!sma_deframer_feed(&d, f[i], &pkt, &pn), "corrupt frame accepted");
    }
    CHECK(d.bad_fcs == 1, "bad_fcs %lu", d.bad_fcs);
}

/* What the test's own reader needs from a channel list: names and classes. */
struct chan {
    uint8_t index;
    uint16_t ctype, ntype;
    char name[17];
    float gain;
};

static size_t parse_cinfo(const uint8_t *b, size_t n, struct chan *out, size_t max)
{
    size_t o = 0, k = 0;
    while (o + 23 <= n && k < max) {
        struct chan *c = &out[k++];
        c->index = b[o];
        c->ctype = (uint16_t)(b[o + 1] | b[o + 2] << 8);
        c->ntype = (uint16_t)(b[o + 3] | b[o + 4] << 8);
        memcpy(c->name, b + o + 7, 16);
        c->name[16] = '\0';
        o += 23;
        c->gain = 0;
        if (c->ctype & 1) {
            memcpy(&c->gain, b + o + 8, 4);
            o += 16;
        } else if (c->ctype & 2) {
            o += 32;
        } else if (c->ctype & 4) {
            memcpy(&c->gain, b + o + 8, 4);
            o += 12;
        } else if (c->ctype & 8) {
            if (o + 2 > n)
                return 0;
            o += 2 + (size_t)(b[o] | b[o + 1] << 8);
        } else {
            return 0;
        }
    }
    return o == n ? k : 0;
}

/* Sends req; follows the packet counter like a master; returns the payload. */
static size_t fetch(struct sma_device *d, struct sma_packet *req, uint8_t *out, size_t cap, uint16_t *from)
{
    struct sma_packet r;
    size_t n = 0;
    int guard = 0;
    if (!sma_device_handle(d, req, &r))
        return 0;
    for (;;) {
        if (n + r.len > cap || guard++ > 50)
            return 0;
        memcpy(out + n, r.data, r.len);
        n += r.len;
        *from = r.src;
        CHECK(r.ctrl == SMA_CTRL_ACK && r.cmd == req->cmd && r.dst == req->src, "reply header");
        if (r.count == 0)
            return n;
        struct sma_packet next = {.src = req->src, .dst = r.src, .ctrl = 0, .count = r.count, .cmd = req->cmd};
        if (!sma_device_handle(d, &next, &r))
            return 0;
    }
}

static void test_sma_device(void)
{
    struct sma_device d;
    sma_device_init(&d);
    CHECK(sma_device_set(&d, "power-w", "3210") == 0 && sma_device_set(&d, "energy-kwh", "12345.678") == 0 &&
              sma_device_set(&d, "serial", "2100000042") == 0 && sma_device_set(&d, "chunk", "100") == 0,
          "set");
    uint8_t buf[SMA_LONG_MAX];
    uint16_t from = 0xFFFF;
    struct sma_packet q = {.src = 0, .dst = 0, .ctrl = SMA_CTRL_GROUP, .cmd = SMA_CMD_GET_NET_START};
    size_t n = fetch(&d, &q, buf, sizeof buf, &from);
    CHECK(n == 12 && from == 0 && memcmp(buf + 4, "SB5000US", 8) == 0, "GET_NET_START n=%zu from=%u", n, from);
    CHECK((uint32_t)(buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24) == 2100000042u, "serial");
    /* unaddressed: a unicast to it goes nowhere */
    struct sma_packet cinfo = {.src = 0, .dst = 2, .ctrl = 0, .cmd = SMA_CMD_GET_CINFO};
    struct sma_packet r;
    CHECK(!sma_device_handle(&d, &cinfo, &r), "unaddressed device answered a unicast");
    struct sma_packet cfg = {.src = 0, .dst = 0, .ctrl = SMA_CTRL_GROUP, .cmd = SMA_CMD_CFG_NETADR, .len = 6,
                             .data = {0x2A, 0x75, 0x2B, 0x7D, 0x02, 0x00}};
    /* 2100000042 = 0x7D2B752A, little-endian, then address 2 */
    n = fetch(&d, &cfg, buf, sizeof buf, &from);
    CHECK(n == 4 && from == 2, "CFG_NETADR n=%zu from=%u", n, from);
    n = fetch(&d, &cinfo, buf, sizeof buf, &from);
    CHECK(n > 300, "channel list %zu bytes over several packets", n);
    struct chan ch[32];
    size_t nch = parse_cinfo(buf, n, ch, 32);
    CHECK(nch == 15, "channels %zu", nch);
    const char *want[] = {"Pac", "E-Total", "Uac", "Iac-Ist", "Fac", "Upv-Ist", "Ipv", "h-Total", "h-On", "Status", "Fehler"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (size_t k = 0; k < nch; k++)
            found |= strcmp(ch[k].name, want[i]) == 0;
        CHECK(found, "channel %s missing", want[i]);
    }
    /* SYN_ONLINE then GET_DATA 0x090F (YASDI's spot request) */
    struct sma_packet syn = {.src = 0, .ctrl = SMA_CTRL_GROUP, .cmd = SMA_CMD_SYN_ONLINE, .len = 4};
    CHECK(!sma_device_handle(&d, &syn, &r), "SYN_ONLINE answered");
    CHECK(sma_device_set(&d, "power-w", "999") == 0, "set after sync");
    struct sma_packet get = {.src = 0, .dst = 2, .cmd = SMA_CMD_GET_DATA, .len = 3, .data = {0x0F, 0x09, 0}};
    n = fetch(&d, &get, buf, sizeof buf, &from);
    CHECK(n > 13 && buf[0] == 0x0F && buf[1] == 0x09 && buf[3] == 1, "GET_DATA header");
    size_t o = 13;
    double pac = -1, etotal = -1;
    for (size_t k = 0; k < nch && o < n; k++) {
        uint16_t ct = ch[k].ctype;
        if (!((ct & 0x0F) && !((ct & 0xFF00) & ~0x090F)))
            continue; /* test and parameter channels are not in a spot reply */
        size_t w = (ch[k].ntype & 0x0F) == 2 ? 4 : (ch[k].ntype & 0x0F) == 1 ? 2 : 1;
        uint32_t raw = 0;
        for (size_t i = 0; i < w; i++)
            raw |= (uint32_t)buf[o + i] << (8 * i);
        o += w;
        if (strcmp(ch[k].name, "Pac") == 0)
            pac = raw * (double)ch[k].gain;
        if (strcmp(ch[k].name, "E-Total") == 0)
            etotal = raw * (double)ch[k].gain;
    }
    CHECK(o == n, "spot reply length %zu vs parsed %zu", n, o);
    CHECK(pac == 3210.0, "Pac %g (the value frozen by SYN_ONLINE)", pac);
    CHECK(fabs(etotal - 12345.678) < 1e-3, "E-Total %g", etotal);
    /* already addressed by another master */
    struct sma_device d2;
    sma_device_init(&d2);
    CHECK(sma_device_set(&d2, "already-addressed", "5") == 0, "set");
    n = fetch(&d2, &q, buf, sizeof buf, &from);
    CHECK(n == 12 && from == 5, "already addressed answers from %u", from);
}

int main(void)
{
    test_modbus_crc();
    test_modbus_server();
    test_sunspec_image();
    test_sma_golden();
    test_sma_stuffing();
    test_sma_device();
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    else
        puts("all simulator codec tests passed");
    return failures ? 1 : 0;
}
