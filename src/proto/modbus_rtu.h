/* Modbus RTU framing and register word order: pure helpers shared by poll and listen. */
#ifndef PVTAP_PROTO_MODBUS_RTU_H
#define PVTAP_PROTO_MODBUS_RTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Modbus over serial line, V1.02 (modbus.org), section 2.5.1:
 *
 *     address (1) | function (1) | data (0..252) | CRC (2, low byte first)
 *
 * The CRC is CRC-16/MODBUS: reflected polynomial 0xA001, initial 0xFFFF.
 * The check value of "123456789" is 0x4B37. */
uint16_t modbus_crc16(const uint8_t *buf, size_t len);

/* True when buf[0..len) is one whole frame whose last two bytes are its CRC. */
bool modbus_rtu_crc_ok(const uint8_t *buf, size_t len);

enum { MODBUS_RTU_MAX_FRAME = 256, MODBUS_MAX_READ_REGS = 125 };

enum modbus_rtu_dir {
    MODBUS_RTU_REQUEST = 1, /* master -> slave */
    MODBUS_RTU_RESPONSE,    /* slave -> master */
};

/* The length a frame starting at buf must have, from its function code (and
 * its byte count where the function has one), per the Modbus Application
 * Protocol V1.1b3 section 6. Returns 0 and *frame_len, PVTAP_ETRUNC when
 * more bytes are needed to know, PVTAP_ENOTMINE for an address outside
 * 0..247 or a function code this table does not know. */
int modbus_rtu_frame_len(const uint8_t *buf, size_t len, enum modbus_rtu_dir dir,
                         size_t *frame_len);

/* What listening to a bus heard: valid frames are CRC-checked and have a
 * known shape; everything else is noise (another baud rate, a collision, line
 * noise). */
struct modbus_rtu_scan {
    size_t requests;   /* frames that parse as requests */
    size_t responses;  /* frames that parse as responses (and not as requests) */
    size_t noise_bytes;
    uint8_t last_address;  /* of the last valid frame */
    uint8_t last_function; /* of the last valid frame */
};

/* Count the valid frames in bytes heard on a bus (a stream without the
 * 3.5-character silences, so frames are found by trying every offset and
 * checking the CRC). Adds to *out, which the caller zeroes. A frame cut at the
 * end of buf counts as noise: callers scan what they heard in one go. */
void modbus_rtu_scan_bytes(const uint8_t *buf, size_t len, struct modbus_rtu_scan *out);

/* ---- word order --------------------------------------------------------
 * Modbus registers are big-endian 16-bit words; 32-bit values span two.
 * "ABCD" puts the high word first (SunSpec); "CDAB" the low word first (the
 * WattNode: 1.005f = 0x3F80A3D7 reads as registers A3D7 3F80). */
float modbus_float_cdab(const uint16_t regs[2]);
int32_t modbus_int32_cdab(const uint16_t regs[2]);
uint32_t modbus_uint32_cdab(const uint16_t regs[2]);
uint32_t modbus_uint32_abcd(const uint16_t regs[2]);

/* A float register value as the decimal the device meant: the shortest
 * decimal that reads back as the same float (1.005f -> 1.005, not
 * 1.00499999523). NaN and infinities pass through. */
double modbus_float_to_double(float f);

/* Bytes on the wire of one read-registers transaction (FC 3 or 4) of count
 * registers: request 8, response 5 + 2 x count. For the benchmark and the
 * listen-only decoder's expectations. */
static inline size_t modbus_rtu_read_bytes(size_t count)
{
    return 8 + 5 + 2 * count;
}

#endif
