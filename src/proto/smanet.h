/* SMA-Net framing and SMAData1 packets (SMA Sunny Boy on RS-485): pure encoders and decoders. */
#ifndef PVTAP_PROTO_SMANET_H
#define PVTAP_PROTO_SMANET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the facts come from: docs/protocol.md section 4, which gathered
 * them from SMA's LGPL library YASDI (smanet.c: framing, stuffing, FCS;
 * smadata_layer.[ch]: the packet head, control bits, request layouts;
 * defractionizer.c: follow-up packets; plant.c: GET_NET answers and the
 * channel list records; netchannel.c, statereadchan.c and chandef.h: channel
 * types, the GET_DATA answer and how values scale). Nothing here is copied
 * from YASDI; each parser below states the layout it reads. */

enum {
    SMANET_FLAG = 0x7E,       /* opens and closes a frame; one flag may do both */
    SMANET_ESC = 0x7D,        /* the next byte was XORed with 0x20 */
    SMANET_PROTO = 0x4041,    /* PPP protocol id of SMAData1 */
    SMANET_HEAD_LEN = 7,      /* src, dst, ctrl, packet counter, command */
    SMANET_MAX_DATA = 255,    /* data bytes in one packet */
    /* FF 03 40 41 + head + data + FCS, unstuffed */
    SMANET_MAX_FRAME = 4 + SMANET_HEAD_LEN + SMANET_MAX_DATA + 2,
    /* every byte stuffed, plus two flags */
    SMANET_MAX_WIRE = 2 * SMANET_MAX_FRAME + 2,
    SMANET_MASTER_ADDR = 0,   /* the master (YASDI, pvtap) is address 0 */
};

/* Control byte bits (smadata_layer.h). */
enum {
    SMANET_CTRL_STRING_FILTER = 0x10,
    SMANET_CTRL_ANSWER = 0x40,
    SMANET_CTRL_GROUP = 0x80, /* broadcast */
};

/* SMAData1 commands. A reader never sends SET_DATA (12). */
enum smanet_cmd {
    SMANET_CMD_GET_NET = 1,
    SMANET_CMD_CFG_NETADR = 3,
    SMANET_CMD_GET_NET_START = 6,
    SMANET_CMD_GET_CINFO = 9,
    SMANET_CMD_SYN_ONLINE = 10,
    SMANET_CMD_GET_DATA = 11,
    SMANET_CMD_SET_DATA = 12,
};

/* Channel type bits (chandef.h): one class, a direction and a kind. */
enum {
    SMANET_CH_ANALOG = 0x0001,
    SMANET_CH_DIGITAL = 0x0002,
    SMANET_CH_COUNTER = 0x0004,
    SMANET_CH_STATUS = 0x0008,
    SMANET_CH_CLASSES = 0x000F,
    SMANET_CH_IN = 0x0100,
    SMANET_CH_OUT = 0x0200,
    SMANET_CH_PARA = 0x0400,
    SMANET_CH_SPOT = 0x0800,
    SMANET_CH_MEAN = 0x1000,
    SMANET_CH_TEST = 0x2000,
    /* every spot value that is no test channel: what YASDI asks for */
    SMANET_MASK_SPOT_ALL = SMANET_CH_SPOT | SMANET_CH_IN | SMANET_CH_CLASSES, /* 0x090F */
};

/* Number type (low nibble) of a channel; the high byte is the element count. */
enum {
    SMANET_NT_BYTE = 0x0,
    SMANET_NT_WORD = 0x1,
    SMANET_NT_DWORD = 0x2,
    SMANET_NT_FLOAT = 0x4,
};

/* ---- FCS and frames ------------------------------------------------------ */

/* PPP FCS-16 (RFC 1662 appendix C): reflected polynomial 0x8408, start
 * 0xFFFF. Feed fcs = 0xFFFF first; the frame carries ~result, low byte first.
 * The check value of "123456789" is 0x906E (~ of the register, as sent). */
uint16_t smanet_fcs16_update(uint16_t fcs, const uint8_t *p, size_t n);
/* The value a frame carries for p[0..n): ~update(0xFFFF, p, n). */
uint16_t smanet_fcs16(const uint8_t *p, size_t n);

/* The head of every SMAData1 packet. */
struct smanet_head {
    uint16_t src, dst; /* LE16 on the wire */
    uint8_t ctrl;
    uint8_t count;     /* packet counter: how many packets still follow */
    uint8_t cmd;
};

/* One SMAData1 packet as received; data is borrowed from the deframer. */
struct smanet_packet {
    struct smanet_head h;
    const uint8_t *data;
    size_t len;
};

/* Build the wire bytes of one packet:
 *     7E | FF 03 40 41 | src dst ctrl count cmd data | FCS lo hi | 7E
 * with 7E 7D 11 12 13 stuffed as 7D, byte ^ 0x20 everywhere between the
 * flags. data may be NULL when len is 0. PVTAP_ELIMIT when len > 255 or out
 * is too small (SMANET_MAX_WIRE always suffices). */
int smanet_encode(const struct smanet_head *h, const uint8_t *data, size_t len, uint8_t *out,
                  size_t out_size, size_t *out_len);

/* Read the 7-byte head of an unstuffed, FCS-checked packet (the bytes after
 * FF 03 40 41, before the FCS):
 *     src LE16 | dst LE16 | ctrl | packet counter | command | data...
 * PVTAP_ETRUNC when shorter than the head. */
int smanet_packet_parse(const uint8_t *p, size_t n, struct smanet_packet *out);

/* ---- the resumable deframer ----------------------------------------------
 * Feed it whatever the port gave, in any chunks. It hunts for a flag,
 * unstuffs, checks the length and the FCS, and hands out one packet at a
 * time; bytes outside frames and broken frames are counted, never returned.
 * Hard limit: a frame longer than SMANET_MAX_FRAME is dropped whole. */
struct smanet_deframer {
    uint8_t buf[SMANET_MAX_FRAME];
    size_t len;
    bool in_frame; /* a flag was seen: bytes belong to a frame */
    bool esc;      /* the last byte was 7D */
    bool dropping; /* too long or aborted: skip to the next flag */
    /* counters, never reset by the deframer */
    uint64_t frames;       /* good SMAData1 packets handed out */
    uint64_t fcs_errors;   /* a frame whose FCS did not match */
    uint64_t runts;        /* shorter than FF 03 40 41 + head + FCS */
    uint64_t overruns;     /* longer than any SMAData1 frame */
    uint64_t foreign;      /* good FCS but not FF 03 40 41 (another PPP protocol) */
    uint64_t noise_bytes;  /* bytes seen outside any frame */
};

void smanet_deframer_init(struct smanet_deframer *d);
/* Forget a frame in progress (before a new request: what came before is
 * not its answer). Counters stay. */
void smanet_deframer_reset(struct smanet_deframer *d);

/* Consume bytes from in[0..n) until a packet completes or the input ends.
 * *consumed says how many were used: call again with the rest.
 * Returns 1 with *out set (out->data borrowed until the next call),
 * 0 when the input is used up, PVTAP_ECRC for a frame with a bad FCS,
 * PVTAP_ECORRUPT for a runt, an overrun or an aborted frame, PVTAP_ENOTMINE
 * for a good frame of another protocol (all counted as well). */
int smanet_deframer_push(struct smanet_deframer *d, const uint8_t *in, size_t n,
                         size_t *consumed, struct smanet_packet *out);

/* ---- follow-up packets (defractionizer.c) --------------------------------
 * A long answer comes in pieces. The first answer's packet counter N says
 * how many follow; the master asks for the next with an empty request
 * carrying the counter it last received, and the device answers with N-1,
 * down to 0. The pieces' data concatenate. */
struct smanet_reasm {
    uint8_t *buf; /* caller frees with smanet_reasm_free() */
    size_t len, cap;
    size_t limit;      /* hard limit on the total, bytes */
    bool started;
    uint8_t last;      /* the counter of the last piece taken */
    uint16_t src;      /* who answers */
    uint8_t cmd;
};

void smanet_reasm_init(struct smanet_reasm *r, size_t limit);
void smanet_reasm_free(struct smanet_reasm *r);
void smanet_reasm_reset(struct smanet_reasm *r);
/* Take one answer. Returns 0 when the whole answer is in r->buf[0..len), 1
 * when more follow (ask with counter r->last), PVTAP_ECORRUPT for a piece
 * out of order (another source or command, a counter that is not last-1:
 * ignore it and ask again), PVTAP_ELIMIT, PVTAP_ENOMEM. */
int smanet_reasm_add(struct smanet_reasm *r, const struct smanet_packet *p);

/* ---- discovery and addressing -------------------------------------------- */

struct smanet_netinfo {
    uint32_t serial;
    char type[9]; /* e.g. "SB5000US", NUL-terminated, trailing spaces trimmed */
};

/* GET_NET / GET_NET_START answer (plant.c):
 *     serial LE32 | device type, 8 characters (space or NUL padded)
 * 12 bytes; a 26-byte answer (a device behind a Sunny Boy Control) starts
 * the same way and its tail is ignored. PVTAP_ECORRUPT for other sizes. */
int smanet_netinfo_parse(const uint8_t *p, size_t n, struct smanet_netinfo *out);

/* CFG_NETADR request data: serial LE32 | new address LE16 (6 bytes). */
size_t smanet_cfg_netadr_data(uint32_t serial, uint16_t addr, uint8_t out[6]);

/* GET_DATA request data: channel-type mask LE16 | channel index (0 = all). */
size_t smanet_get_data_req(uint16_t mask, uint8_t index, uint8_t out[3]);

/* ---- the channel list (GET_CINFO) --------------------------------------- */

struct smanet_channel {
    uint8_t index;
    uint16_t ctype, ntype, level;
    char name[17]; /* trailing spaces trimmed */
    char unit[9];  /* analog and counter channels */
    double gain, offset;
    /* digital: 2 texts; status: n texts. NUL-separated in texts[0..texts_len). */
    char *texts;
    size_t texts_len;
    size_t n_texts;
};

struct smanet_chanlist {
    struct smanet_channel *ch;
    size_t n;
};

/* Parse a whole channel list (plant.c TPlant_ScanChanInfoBuf). Each record:
 *     index (1) | ctype LE16 | ntype LE16 | level LE16 | name (16 chars)
 * then by class (the lowest class bit of ctype decides):
 *     analog : unit (8 chars) | gain float32 LE | offset float32 LE
 *     digital: low text (16 chars) | high text (16 chars)
 *     counter: unit (8 chars) | gain float32 LE
 *     status : size LE16 | size bytes of NUL-terminated texts
 * The records fill the list exactly. out is zeroed first; free it with
 * smanet_chanlist_free() whatever the result. PVTAP_ETRUNC for a record cut
 * short, PVTAP_ECORRUPT for a ctype with no class or a duplicate name,
 * PVTAP_ELIMIT beyond 512 channels, PVTAP_ENOMEM. */
int smanet_chanlist_parse(const uint8_t *p, size_t n, struct smanet_chanlist *out);
void smanet_chanlist_free(struct smanet_chanlist *cl);

/* The channel named name, or NULL. Borrowed. */
const struct smanet_channel *smanet_chanlist_find(const struct smanet_chanlist *cl,
                                                   const char *name);

/* Bytes of one element (1, 2 or 4; 0 for an unknown number type), and the
 * element count (the high byte of ntype; 0 is read as 1). */
size_t smanet_channel_width(const struct smanet_channel *c);
size_t smanet_channel_count(const struct smanet_channel *c);

/* Whether a GET_DATA with this mask and index returns the channel: the test
 * bit equal, a common kind bit (parameter, spot, mean), a common class bit,
 * and index 0 or the channel's own (YASDI's TNewChanListFilter). */
bool smanet_channel_matches(const struct smanet_channel *c, uint16_t mask, uint8_t index);

/* The i-th text of a status or digital channel, or NULL. Borrowed. */
const char *smanet_channel_text(const struct smanet_channel *c, size_t i);

/* ---- spot values (GET_DATA answer) --------------------------------------- */

struct smanet_value {
    bool present;
    double raw;   /* the first element, as sent */
    double value; /* raw x gain + offset (analog), raw x gain (counter), raw (others) */
    const char *text; /* status/digital: the text the raw value names, or NULL (borrowed) */
};

/* GET_DATA answer (statereadchan.c):
 *     mask LE16 | index | data sets LE16 | (spot masks only: time LE32 | time base LE32)
 *     | each matching channel's value, in channel-list order, count x width bytes LE
 * values[] has cl->n entries (parallel to cl->ch) and is cleared first.
 * PVTAP_ETRUNC when the answer ends before the last matching channel,
 * PVTAP_ECORRUPT when it is longer or holds no data set. *time_s gets the
 * device's time stamp (0 when not a spot answer; inverters' clocks are often
 * wrong: callers use their own). */
int smanet_values_parse(const uint8_t *p, size_t n, const struct smanet_chanlist *cl,
                        struct smanet_value *values, uint32_t *time_s);

#endif
