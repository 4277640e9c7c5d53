/* SMA-Net (SMAData1 over HDLC-like framing) frames and packets for the
 * simulator's virtual Sunny Boy: its own FCS-16, stuffing and deframer. */
#ifndef PVSIM_SMA_FRAME_H
#define PVSIM_SMA_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    SMA_FLAG = 0x7E,
    SMA_ESC = 0x7D,
    SMA_PROT_SMADATA1 = 0x4041,
    SMA_CTRL_GROUP = 0x80,        /* broadcast */
    SMA_CTRL_ACK = 0x40,          /* a response */
    SMA_CTRL_STRING_FILTER = 0x10,
    SMA_CMD_GET_NET = 1,
    SMA_CMD_SEARCH_DEV = 2,
    SMA_CMD_CFG_NETADR = 3,
    SMA_CMD_GET_NET_START = 6,
    SMA_CMD_GET_CINFO = 9,
    SMA_CMD_SYN_ONLINE = 10,
    SMA_CMD_GET_DATA = 11,
    SMA_CMD_SET_DATA = 12,
    SMA_MAX_DATA = 255,           /* YASDI smanet.c: MTU 255 */
    SMA_MAX_FRAME = 2 + 2 * (4 + 7 + SMA_MAX_DATA + 2),
};

/* PPP FCS-16 (RFC 1662 appendix C): reflected poly 0x8408, init 0xFFFF;
 * the sender sends the complement, low byte first; a receiver running it
 * over content + FCS gets the constant 0xF0B8. */
uint16_t sma_fcs16(uint16_t fcs, const uint8_t *p, size_t n);

/* One SMAData1 packet (YASDI smadata_layer.c TSMAData_SendRawPacket):
 *   | src LE16 | dst LE16 | ctrl | packet counter | cmd | data (<= 255) | */
struct sma_packet {
    uint16_t src, dst;
    uint8_t ctrl, count, cmd;
    uint8_t data[SMA_MAX_DATA];
    size_t len;
};

/* Frame (YASDI smanet.c TSMANet_encapsulate):
 *   7E | stuffed( FF 03 40 41 | packet | FCS lo | FCS hi ) | 7E
 * stuffing: 7E, 7D and the ACCM characters 11 12 13 go out as 7D, c ^ 0x20.
 * Returns the frame length, 0 when out is too small. */
size_t sma_frame_encode(const struct sma_packet *p, uint8_t *out, size_t cap);
/* The same with the FCS XORed by fcs_xor before stuffing (the CRC-error
 * fault knob: a frame that is well formed but fails its check). */
size_t sma_frame_encode_fcs(const struct sma_packet *p, uint8_t *out, size_t cap, uint16_t fcs_xor);

/* Packet <-> bytes without framing. decode: 0 ok, -1 truncated (< 7 bytes)
 * or data too long. */
size_t sma_packet_encode(const struct sma_packet *p, uint8_t *out, size_t cap);
int sma_packet_decode(const uint8_t *b, size_t n, struct sma_packet *p);

/* Resumable deframer: feed bytes, get whole unstuffed frames whose FCS
 * checks (HDLC header and FCS stripped: the packet bytes). A flag both ends
 * one frame and may open the next. */
struct sma_deframer {
    uint8_t buf[4 + 7 + SMA_MAX_DATA + 2 + 8];
    size_t n;
    int esc, overflow;
    unsigned long bad_fcs, bad_header, overflows;
};
void sma_deframer_init(struct sma_deframer *d);
/* Feeds one byte. Returns 1 and sets *pkt and *pkt_n (borrowed until the next
 * call) when a good frame just ended, else 0. */
int sma_deframer_feed(struct sma_deframer *d, uint8_t c, const uint8_t **pkt, size_t *pkt_n);

#endif
