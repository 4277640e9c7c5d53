/* Modbus RTU/TCP framing and a register-read server for the simulator's
 * virtual devices (its own code: never pvtap's decoders). */
#ifndef PVSIM_MODBUS_RTU_H
#define PVSIM_MODBUS_RTU_H

#include <stddef.h>
#include <stdint.h>

enum {
    MODBUS_FC_READ_HOLDING = 0x03,
    MODBUS_FC_READ_INPUT = 0x04,
    MODBUS_EX_ILLEGAL_FUNCTION = 0x01,
    MODBUS_EX_ILLEGAL_ADDRESS = 0x02,
    MODBUS_EX_ILLEGAL_VALUE = 0x03,
    MODBUS_EX_GATEWAY_NO_RESPONSE = 0x0B,
    MODBUS_MAX_READ = 125,
    MODBUS_RTU_MAX = 256,
};

/* CRC-16/MODBUS: reflected poly 0xA001, init 0xFFFF (Modbus over serial
 * line V1.02, 6.2.2). 01 03 00 00 00 0A gives 0xCDC5, sent C5 CD. */
uint16_t modbus_crc16(const uint8_t *p, size_t n);

/* RTU ADU: | unit | PDU | CRC lo | CRC hi |. Writes into out (cap bytes);
 * returns the frame length, 0 when it does not fit. */
size_t modbus_rtu_frame(uint8_t *out, size_t cap, uint8_t unit, const uint8_t *pdu, size_t pdu_n);
/* 1 when f is at least 4 bytes and its CRC matches. */
int modbus_rtu_crc_ok(const uint8_t *f, size_t n);

/* Read request PDU: | fc | addr hi | addr lo | count hi | count lo |
 * (wire address: 0-based). Returns 5. */
size_t modbus_read_request_pdu(uint8_t out[5], uint8_t fc, uint16_t addr, uint16_t count);

/* One register of a device at a wire (0-based) address: 0 and *value, or
 * -1 when the device has nothing there. */
typedef int (*modbus_reg_fn)(void *ctx, uint16_t wire_addr, uint16_t *value);

struct modbus_server {
    modbus_reg_fn read;
    void *ctx;
};

/* Answers one request PDU the way a slave does:
 *   FC 3/4 -> | fc | byte count | registers, big-endian |
 *   count 0 or > 125, or a malformed request -> exception 03
 *   any register of the range unmapped         -> exception 02
 *   any other function                         -> exception 01
 * Exception reply: | fc | 0x80 | code |. Returns the response PDU length
 * (written to resp; cap must be >= 253), 0 when nothing fits. */
size_t modbus_serve_pdu(const struct modbus_server *s, const uint8_t *req, size_t n, uint8_t *resp,
                        size_t cap);

/* Modbus TCP ADU (Modbus Messaging on TCP/IP V1.0b, 3.1.3): MBAP header
 * | transaction hi lo | protocol 0 0 | length hi lo (unit + PDU) | unit |
 * then the PDU. Returns the ADU length or 0 when it does not fit. */
size_t modbus_tcp_frame(uint8_t *out, size_t cap, uint16_t tid, uint8_t unit, const uint8_t *pdu,
                        size_t pdu_n);

#endif
