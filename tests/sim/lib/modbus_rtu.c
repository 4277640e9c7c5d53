/* Modbus RTU and TCP framing plus a register-read slave, for virtual devices. */
#include "modbus_rtu.h"

#include <string.h>

uint16_t modbus_crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

size_t modbus_rtu_frame(uint8_t *out, size_t cap, uint8_t unit, const uint8_t *pdu, size_t pdu_n)
{
    size_t n = 1 + pdu_n + 2;
    if (n > cap || n > MODBUS_RTU_MAX)
        return 0;
    out[0] = unit;
    memcpy(out + 1, pdu, pdu_n);
    uint16_t crc = modbus_crc16(out, 1 + pdu_n);
    /* the low order byte of the CRC comes first in the RTU message */
    out[1 + pdu_n] = (uint8_t)(crc & 0xFF);
    out[2 + pdu_n] = (uint8_t)(crc >> 8);
    return n;
}

int modbus_rtu_crc_ok(const uint8_t *f, size_t n)
{
    if (n < 4)
        return 0;
    uint16_t crc = modbus_crc16(f, n - 2);
    return f[n - 2] == (crc & 0xFF) && f[n - 1] == (crc >> 8);
}

size_t modbus_read_request_pdu(uint8_t out[5], uint8_t fc, uint16_t addr, uint16_t count)
{
    out[0] = fc;
    out[1] = (uint8_t)(addr >> 8);
    out[2] = (uint8_t)addr;
    out[3] = (uint8_t)(count >> 8);
    out[4] = (uint8_t)count;
    return 5;
}

static size_t exception(uint8_t *resp, uint8_t fc, uint8_t code)
{
    resp[0] = (uint8_t)(fc | 0x80);
    resp[1] = code;
    return 2;
}

size_t modbus_serve_pdu(const struct modbus_server *s, const uint8_t *req, size_t n, uint8_t *resp,
                        size_t cap)
{
    if (n < 1 || cap < 2 + 2 * MODBUS_MAX_READ)
        return 0;
    uint8_t fc = req[0];
    if (fc != MODBUS_FC_READ_HOLDING && fc != MODBUS_FC_READ_INPUT)
        return exception(resp, fc, MODBUS_EX_ILLEGAL_FUNCTION);
    if (n != 5)
        return exception(resp, fc, MODBUS_EX_ILLEGAL_VALUE);
    uint16_t addr = (uint16_t)(req[1] << 8 | req[2]);
    uint16_t count = (uint16_t)(req[3] << 8 | req[4]);
    /* Spec order (Modbus Application Protocol V1.1b3, 6.3): quantity first,
     * then the address range. */
    if (count == 0 || count > MODBUS_MAX_READ)
        return exception(resp, fc, MODBUS_EX_ILLEGAL_VALUE);
    if ((uint32_t)addr + count > 0x10000u)
        return exception(resp, fc, MODBUS_EX_ILLEGAL_ADDRESS);
    resp[0] = fc;
    resp[1] = (uint8_t)(2 * count);
    for (uint16_t i = 0; i < count; i++) {
        uint16_t v;
        if (s->read(s->ctx, (uint16_t)(addr + i), &v) != 0)
            return exception(resp, fc, MODBUS_EX_ILLEGAL_ADDRESS);
        resp[2 + 2 * i] = (uint8_t)(v >> 8);
        resp[3 + 2 * i] = (uint8_t)v;
    }
    return 2 + 2 * (size_t)count;
}

size_t modbus_tcp_frame(uint8_t *out, size_t cap, uint16_t tid, uint8_t unit, const uint8_t *pdu,
                        size_t pdu_n)
{
    size_t n = 7 + pdu_n;
    if (n > cap || pdu_n > 253)
        return 0;
    out[0] = (uint8_t)(tid >> 8);
    out[1] = (uint8_t)tid;
    out[2] = 0;
    out[3] = 0;
    out[4] = (uint8_t)((pdu_n + 1) >> 8);
    out[5] = (uint8_t)(pdu_n + 1);
    out[6] = unit;
    memcpy(out + 7, pdu, pdu_n);
    return n;
}
