/* Modbus RTU framing (CRC-16, frame lengths, bus scanning) and 32-bit word order. */
#include "proto/modbus_rtu.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

uint16_t modbus_crc16(const uint8_t *buf, size_t len)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

bool modbus_rtu_crc_ok(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return false;
    uint16_t crc = modbus_crc16(buf, len - 2);
    /* The low order byte of the CRC comes first on the wire. */
    return buf[len - 2] == (crc & 0xFF) && buf[len - 1] == (crc >> 8);
}

/* Frame length when it depends on one byte-count byte at offset at:
 * header + count + CRC. */
static int len_with_count(const uint8_t *buf, size_t len, size_t at, size_t *frame_len)
{
    if (len <= at)
        return PVTAP_ETRUNC;
    *frame_len = at + 1 + (size_t)buf[at] + 2;
    return 0;
}

/* Modbus Application Protocol V1.1b3, section 6 (request and response PDUs
 * of each public function code), plus the RTU address byte and CRC. */
int modbus_rtu_frame_len(const uint8_t *buf, size_t len, enum modbus_rtu_dir dir,
                         size_t *frame_len)
{
    if (len < 2)
        return PVTAP_ETRUNC;
    uint8_t addr = buf[0], fc = buf[1];
    if (addr > 247)
        return PVTAP_ENOTMINE;
    if (dir == MODBUS_RTU_REQUEST) {
        switch (fc) {
        case 1: case 2: case 3: case 4: case 5: case 6: case 8:
            *frame_len = 8;
            return 0;
        case 7: case 11: case 12: case 17:
            *frame_len = 4;
            return 0;
        case 15: case 16:
            return len_with_count(buf, len, 6, frame_len);
        case 22:
            *frame_len = 10;
            return 0;
        case 23:
            return len_with_count(buf, len, 10, frame_len);
        case 24:
            *frame_len = 6;
            return 0;
        default:
            return PVTAP_ENOTMINE;
        }
    }
    if (addr == 0) /* nobody answers a broadcast */
        return PVTAP_ENOTMINE;
    if (fc & 0x80) {
        /* Exception: address, function | 0x80, exception code, CRC. */
        if ((fc & 0x7F) == 0)
            return PVTAP_ENOTMINE;
        *frame_len = 5;
        return 0;
    }
    switch (fc) {
    case 1: case 2: case 3: case 4: case 12: case 17: case 23:
        return len_with_count(buf, len, 2, frame_len);
    case 5: case 6: case 8: case 11: case 15: case 16:
        *frame_len = 8;
        return 0;
    case 7:
        *frame_len = 5;
        return 0;
    case 22:
        *frame_len = 10;
        return 0;
    case 24:
        if (len < 4)
            return PVTAP_ETRUNC;
        *frame_len = 4 + (((size_t)buf[2] << 8) | buf[3]) + 2;
        return 0;
    default:
        return PVTAP_ENOTMINE;
    }
}

/* A whole, CRC-valid frame of direction dir at buf, or 0. */
static size_t valid_frame_at(const uint8_t *buf, size_t len, enum modbus_rtu_dir dir)
{
    size_t flen = 0;
    if (modbus_rtu_frame_len(buf, len, dir, &flen) != 0)
        return 0;
    if (flen < 4 || flen > MODBUS_RTU_MAX_FRAME || flen > len)
        return 0;
    return modbus_rtu_crc_ok(buf, flen) ? flen : 0;
}

void modbus_rtu_scan_bytes(const uint8_t *buf, size_t len, struct modbus_rtu_scan *out)
{
    size_t i = 0;
    while (i < len) {
        size_t flen = valid_frame_at(buf + i, len - i, MODBUS_RTU_REQUEST);
        if (flen) {
            out->requests++;
        } else if ((flen = valid_frame_at(buf + i, len - i, MODBUS_RTU_RESPONSE)) != 0) {
            out->responses++;
        }
        if (flen) {
            out->last_address = buf[i];
            out->last_function = buf[i + 1];
            i += flen;
        } else {
            out->noise_bytes++;
            i++;
        }
    }
}

/* Registers are big-endian words; which word holds the high half is the
 * device's choice, so each order gets its own function. */
static uint32_t words(uint16_t hi, uint16_t lo)
{
    return ((uint32_t)hi << 16) | lo;
}

uint32_t modbus_uint32_cdab(const uint16_t regs[2])
{
    return words(regs[1], regs[0]);
}

uint32_t modbus_uint32_abcd(const uint16_t regs[2])
{
    return words(regs[0], regs[1]);
}

int32_t modbus_int32_cdab(const uint16_t regs[2])
{
    uint32_t u = modbus_uint32_cdab(regs);
    int32_t v;
    memcpy(&v, &u, sizeof v); /* two's complement reinterpretation, no UB */
    return v;
}

float modbus_float_cdab(const uint16_t regs[2])
{
    uint32_t u = modbus_uint32_cdab(regs);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

double modbus_float_to_double(float f)
{
    if (!isfinite(f))
        return (double)f;
    /* A float holds at most 9 significant decimal digits: find the fewest
     * that survive the round trip, so 1.005f prints as 1.005. */
    char text[40];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)f);
        if ((float)strtod(text, NULL) == f)
            return strtod(text, NULL);
    }
    return (double)f;
}
