/* libFuzzer target: Modbus RTU lengths and scan, WattNode decode, SunSpec chain walk. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/modbus_rtu.h"
#include "proto/sunspec.h"
#include "proto/wattnode_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's bytes as big-endian registers, as a read returns them. */
struct image {
    const uint8_t *p;
    size_t n;      /* registers */
    uint16_t base; /* wire address of register 0 */
};

/* A read of count registers at addr; -1 outside the image (the device
 * answers with an exception). */
static int img_read(const struct image *im, size_t addr, size_t count, uint16_t *out)
{
    if (addr < im->base || addr - im->base + count > im->n)
        return -1;
    const uint8_t *q = im->p + 2 * (addr - im->base);
    for (size_t i = 0; i < count; i++)
        out[i] = (uint16_t)(q[2 * i] << 8 | q[2 * i + 1]);
    return 0;
}

/* Input: segments as [ctl] + (ctl & 0x7F) bytes, each followed by its CRC
 * when ctl's top bit is set, so the scanner meets valid frames in noise. */
static void fuzz_frames(const uint8_t *data, size_t size)
{
    uint8_t *bus = malloc(size + size + 2);
    if (!bus)
        return;
    size_t bn = 0;
    for (size_t off = 0; off < size;) {
        uint8_t ctl = data[off++];
        size_t len = ctl & 0x7F;
        if (len > size - off)
            len = size - off;
        memcpy(bus + bn, data + off, len);
        off += len;
        if (ctl & 0x80) {
            uint16_t crc = modbus_crc16(bus + bn, len);
            bus[bn + len] = (uint8_t)(crc & 0xFF);
            bus[bn + len + 1] = (uint8_t)(crc >> 8);
            len += 2;
        }
        bn += len;
    }
    struct modbus_rtu_scan s = {0};
    modbus_rtu_scan_bytes(bus, bn, &s);
    if (s.noise_bytes + 4 * (s.requests + s.responses) > bn)
        abort();
    free(bus);
    for (int d = MODBUS_RTU_REQUEST; d <= MODBUS_RTU_RESPONSE; d++) {
        size_t len = 0;
        if (modbus_rtu_frame_len(data, size, (enum modbus_rtu_dir)d, &len) == 0 &&
            (len < 4 || len > 4 + 0xFFFF + 2))
            abort();
    }
    /* a frame with its CRC appended checks, and the scanner finds it */
    if (size >= 2 && size <= MODBUS_RTU_MAX_FRAME - 2) {
        uint8_t f[MODBUS_RTU_MAX_FRAME];
        memcpy(f, data, size);
        uint16_t crc = modbus_crc16(f, size);
        f[size] = (uint8_t)(crc & 0xFF);
        f[size + 1] = (uint8_t)(crc >> 8);
        if (!modbus_rtu_crc_ok(f, size + 2))
            abort();
    }
}

static void check_wn(const struct wn_values *v)
{
    for (int f = 0; f < WN_FIELD_COUNT_; f++) {
        if (!v->present[f])
            continue;
        const struct wn_reg *r = wattnode_map_field((enum wn_field)f);
        if (!r || !(v->value[f] >= r->min && v->value[f] <= r->max))
            abort();
    }
}

static void fuzz_wattnode(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    /* Start near the map so rows are hit; the rest are registers. */
    uint16_t start = (uint16_t)(990 + ((data[0] << 8 | data[1]) % 760));
    struct image im = {data + 2, (size - 2) / 2, start};
    uint16_t regs[MODBUS_MAX_READ_REGS];
    struct wn_values v = {0};
    /* as a listen-only response would be decoded: one block */
    size_t n = im.n < MODBUS_MAX_READ_REGS ? im.n : MODBUS_MAX_READ_REGS;
    if (img_read(&im, start, n, regs) == 0) {
        size_t good = wattnode_decode(regs, n, start, &v);
        size_t present = 0;
        for (int f = 0; f < WN_FIELD_COUNT_; f++)
            present += v.present[f];
        if (good > present)
            abort();
        check_wn(&v);
    }
    /* as the poller does: the planned blocks, each read from the image */
    struct modbus_block blocks[16];
    for (int use = WN_USE_POLL; use <= WN_USE_IDENTITY; use++) {
        int nb = wattnode_plan((enum wn_use)use, data[0] % 8, blocks, 16);
        struct wn_values pv = {0};
        im.base = (uint16_t)(1000 - (data[1] % 4));
        for (int i = 0; i < nb; i++)
            if (img_read(&im, blocks[i].addr, blocks[i].count, regs) == 0)
                wattnode_decode(regs, blocks[i].count, blocks[i].addr, &pv);
        check_wn(&pv);
    }
    /* the shortest decimal reads back as the same float */
    for (size_t i = 0; i + 1 < n; i += 2) {
        float f = modbus_float_cdab(regs + i);
        double d = modbus_float_to_double(f);
        if (isfinite(f) && (float)d != f)
            abort();
    }
}

static void check_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
            abort();
}

static void walk(const struct image *im);

static void fuzz_sunspec(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    /* The image sits at one of the candidate bases (or just off it); with
     * bit 6 set the input starts after a "SunS" marker, so walks are common. */
    uint16_t base = sunspec_base_candidates[data[0] % sunspec_n_base_candidates];
    bool marked = data[0] & 0x40;
    uint8_t *copy = malloc(size + 4);
    if (!copy)
        return;
    memcpy(copy, "SunS", 4);
    memcpy(copy + 4, data + 1, size - 1);
    struct image im = {marked ? copy : copy + 4, (size - 1 + (marked ? 4 : 0)) / 2,
                       (uint16_t)(base - (data[0] >> 7))};
    walk(&im);
    free(copy);
}

static void walk(const struct image *im)
{
    uint16_t head[4];
    struct sunspec_chain c;
    size_t b;
    for (b = 0; b < sunspec_n_base_candidates; b++)
        if (img_read(im, sunspec_base_candidates[b], 4, head) == 0 &&
            sunspec_chain_start(&c, sunspec_base_candidates[b], head) == 0)
            break;
    if (b == sunspec_n_base_candidates)
        return;
    uint16_t header[2] = {head[2], head[3]};
    uint16_t body[SUNSPEC_INVERTER_LEN];
    struct sunspec_model_ref inverter = {0};
    int rc;
    /* The walk as sunspec_discover() does it, reading from the image. */
    while ((rc = sunspec_chain_feed(&c, header)) == 0) {
        const struct sunspec_model_ref *m = &c.models[c.n - 1];
        if (m->id == 1) {
            uint16_t *common = calloc(m->len ? m->len : 1, sizeof *common);
            if (!common)
                return;
            struct sunspec_common sc;
            if (img_read(im, m->addr, m->len, common) == 0 &&
                sunspec_decode_common(common, m->len, &sc) == 0) {
                check_str(sc.manufacturer, sizeof sc.manufacturer);
                check_str(sc.model, sizeof sc.model);
                check_str(sc.options, sizeof sc.options);
                check_str(sc.version, sizeof sc.version);
                check_str(sc.serial, sizeof sc.serial);
            }
            free(common);
        } else if (m->id >= 101 && m->id <= 103 && m->len >= SUNSPEC_INVERTER_LEN &&
                   inverter.id == 0) {
            inverter = *m;
        }
        if (img_read(im, c.next_addr, 2, header) < 0)
            break;
    }
    if (c.n > SUNSPEC_MAX_MODELS)
        abort();
    for (size_t i = 0; i < c.n; i++) {
        /* models follow each other inside the 16-bit address space */
        if ((size_t)c.models[i].addr + c.models[i].len > 0x10000)
            abort();
        if (i > 0 && c.models[i].addr <= c.models[i - 1].addr)
            abort();
    }
    (void)sunspec_chain_find(&c, 1);
    const struct sunspec_model_ref *inv = sunspec_chain_inverter(&c);
    if (inverter.id && !inv)
        abort();
    if (!inverter.id || img_read(im, inverter.addr, SUNSPEC_INVERTER_LEN, body) < 0)
        return;
    struct sunspec_inverter out;
    if (sunspec_decode_inverter(inverter.id, body, SUNSPEC_INVERTER_LEN, &out) != 0)
        abort();
    if ((out.has_power_W && !(out.power_W >= -1e6 && out.power_W <= 1e7)) ||
        (out.has_energy_kWh && !(out.energy_kWh >= 0 && out.energy_kWh <= 1e9)) ||
        (out.has_voltage_V && !(out.voltage_V >= 0 && out.voltage_V <= 1000)) ||
        (out.has_temperature_C && !(out.temperature_C >= -60 && out.temperature_C <= 150)) ||
        (out.has_dc_power_W && !isfinite(out.dc_power_W)))
        abort();
    (void)sunspec_state_name(out.status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_frames(data + 1, size - 1);
        break;
    case 1:
        fuzz_wattnode(data + 1, size - 1);
        break;
    default:
        fuzz_sunspec(data + 1, size - 1);
        break;
    }
    return 0;
}
