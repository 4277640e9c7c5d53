/* Unit tests: Modbus RTU CRC, frame lengths, bus scanning and 32-bit word order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/modbus_rtu.h"
#include "util/err.h"

static void crc_check_value(void **state)
{
    (void)state;
    const uint8_t check[] = "123456789";
    /* CRC-16/MODBUS catalogue check value. */
    assert_int_equal(modbus_crc16(check, 9), 0x4B37);
    /* Read 34 holding registers from 1000 at address 1: the CRC bytes a
     * libmodbus master puts on the wire (low byte first). */
    const uint8_t req[] = {0x01, 0x03, 0x03, 0xE8, 0x00, 0x22, 0x45, 0xA3};
    assert_true(modbus_rtu_crc_ok(req, sizeof req));
    uint8_t bad[sizeof req];
    memcpy(bad, req, sizeof req);
    bad[3] ^= 0x01;
    assert_false(modbus_rtu_crc_ok(bad, sizeof bad));
    assert_false(modbus_rtu_crc_ok(req, 3));
}

static void frame_lengths(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[12];
        size_t have;
        enum modbus_rtu_dir dir;
        int rc;
        size_t len;
    } cases[] = {
        {{1, 3, 0x03, 0xE8, 0, 34}, 6, MODBUS_RTU_REQUEST, 0, 8},
        {{1, 4}, 2, MODBUS_RTU_REQUEST, 0, 8},
        {{1, 16, 0, 0, 0, 2, 4}, 7, MODBUS_RTU_REQUEST, 0, 13},
        {{1, 16, 0, 0, 0, 2}, 6, MODBUS_RTU_REQUEST, PVTAP_ETRUNC, 0},
        {{1, 17}, 2, MODBUS_RTU_REQUEST, 0, 4},
        {{1, 3, 68}, 3, MODBUS_RTU_RESPONSE, 0, 73},
        {{1, 3}, 2, MODBUS_RTU_RESPONSE, PVTAP_ETRUNC, 0},
        {{1, 0x83, 2}, 3, MODBUS_RTU_RESPONSE, 0, 5},
        {{1, 6}, 2, MODBUS_RTU_RESPONSE, 0, 8},
        {{0, 3, 1}, 3, MODBUS_RTU_RESPONSE, PVTAP_ENOTMINE, 0}, /* nobody answers broadcast */
        {{248, 3}, 2, MODBUS_RTU_REQUEST, PVTAP_ENOTMINE, 0},
        {{1, 0x41}, 2, MODBUS_RTU_REQUEST, PVTAP_ENOTMINE, 0},
        {{1}, 1, MODBUS_RTU_REQUEST, PVTAP_ETRUNC, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = 0;
        int rc = modbus_rtu_frame_len(cases[i].bytes, cases[i].have, cases[i].dir, &len);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(len, cases[i].len);
    }
}

/* Append a CRC to a frame under construction. */
static size_t with_crc(uint8_t *f, size_t n)
{
    uint16_t crc = modbus_crc16(f, n);
    f[n] = (uint8_t)(crc & 0xFF);
    f[n + 1] = (uint8_t)(crc >> 8);
    return n + 2;
}

static void scan_finds_another_master(void **state)
{
    (void)state;
    uint8_t bus[64];
    size_t n = 0;
    bus[n++] = 0x55; /* line noise before */
    uint8_t req[] = {1, 3, 0x03, 0xE8, 0, 2, 0, 0};
    memcpy(bus + n, req, 6);
    n += with_crc(bus + n, 6);
    uint8_t rsp[] = {1, 3, 4, 0xA3, 0xD7, 0x3F, 0x80};
    memcpy(bus + n, rsp, sizeof rsp);
    n += with_crc(bus + n, sizeof rsp);
    uint8_t exc[] = {2, 0x83, 2};
    memcpy(bus + n, exc, sizeof exc);
    n += with_crc(bus + n, sizeof exc);
    struct modbus_rtu_scan s = {0};
    modbus_rtu_scan_bytes(bus, n, &s);
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.responses, 2);
    assert_int_equal(s.noise_bytes, 1);
    assert_int_equal(s.last_address, 2);
    assert_int_equal(s.last_function, 0x83);

    /* Corrupt one byte of the request: no request, only noise around it. */
    bus[3] ^= 0xFF;
    memset(&s, 0, sizeof s);
    modbus_rtu_scan_bytes(bus, n, &s);
    assert_int_equal(s.requests, 0);
    assert_int_equal(s.responses, 2);

    /* Noise alone (another baud rate) is no frame. */
    uint8_t noise[40];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)(0xF0 ^ (i * 37));
    memset(&s, 0, sizeof s);
    modbus_rtu_scan_bytes(noise, sizeof noise, &s);
    assert_int_equal(s.requests + s.responses, 0);
    assert_int_equal(s.noise_bytes, sizeof noise);

    /* A frame cut short at the end counts as noise, never crashes. */
    memset(&s, 0, sizeof s);
    modbus_rtu_scan_bytes(rsp, 4, &s);
    assert_int_equal(s.requests + s.responses, 0);
    modbus_rtu_scan_bytes(NULL, 0, &s);
}

static void word_order_vectors(void **state)
{
    (void)state;
    /* docs/protocol.md section 2: 1.005 reads as A3D7 3F80 (low word first). */
    static const struct {
        uint16_t regs[2];
        double value;
    } floats[] = {
        {{0xA3D7, 0x3F80}, 1.005},
        {{0x0000, 0x3F80}, 1.0},
        {{0x0000, 0xC2C8}, -100.0},
        {{0x0000, 0x0000}, 0.0},
        {{0x70A4, 0x4479}, 997.76},   /* 0x447970A4 */
        {{0xE666, 0x4270}, 60.225},   /* 0x4270E666 */
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        double v = modbus_float_to_double(modbus_float_cdab(floats[i].regs));
        assert_true(v == floats[i].value);
    }
    /* The wrong word order gives a different number: the test would catch a swap. */
    const uint16_t swapped[2] = {0x3F80, 0xA3D7};
    assert_true(modbus_float_to_double(modbus_float_cdab(swapped)) != 1.005);

    const uint16_t i32[2] = {0xFFFE, 0xFFFF}; /* -2 in CDAB */
    assert_int_equal(modbus_int32_cdab(i32), -2);
    const uint16_t u32[2] = {0x5678, 0x1234};
    assert_int_equal(modbus_uint32_cdab(u32), 0x12345678u);
    assert_int_equal(modbus_uint32_abcd(u32), 0x56781234u);
    assert_int_equal(modbus_rtu_read_bytes(34), 8 + 73);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_check_value),
        cmocka_unit_test(frame_lengths),
        cmocka_unit_test(scan_finds_another_master),
        cmocka_unit_test(word_order_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
