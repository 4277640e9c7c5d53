/* The WattNode WNC Modbus register map: one table for polling and for listen-only decoding. */
#ifndef PVTAP_PROTO_WATTNODE_MAP_H
#define PVTAP_PROTO_WATTNODE_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/reading.h"

/* Which value of the meter a table row is (index into wn_values). */
enum wn_field {
    WN_ENERGY_SUM = 0,      /* 1001 net, resettable: never reported */
    WN_ENERGY_POS_SUM,      /* 1003 import, resettable */
    WN_ENERGY_SUM_NR,       /* 1005 net, non-resettable */
    WN_ENERGY_POS_SUM_NR,   /* 1007 import, non-resettable */
    WN_POWER_SUM,           /* 1009 */
    WN_POWER_A,             /* 1011 */
    WN_POWER_B,             /* 1013 */
    WN_POWER_C,             /* 1015 */
    WN_VOLT_AVG_LN,         /* 1017 */
    WN_VOLT_A,              /* 1019 */
    WN_VOLT_B,              /* 1021 */
    WN_VOLT_C,              /* 1023 */
    WN_VOLT_AVG_LL,         /* 1025 */
    WN_VOLT_AB,             /* 1027 */
    WN_VOLT_BC,             /* 1029 */
    WN_VOLT_AC,             /* 1031 */
    WN_FREQ,                /* 1033 */
    WN_ENERGY_NEG_SUM,      /* 1113 export, resettable */
    WN_ENERGY_NEG_SUM_NR,   /* 1115 export, non-resettable */
    WN_ENERGY_SUM_INT,      /* 1201 int32 0.1 kWh */
    WN_ENERGY_POS_SUM_INT,  /* 1203 */
    WN_ENERGY_SUM_NR_INT,   /* 1205 */
    WN_ENERGY_POS_SUM_NR_INT, /* 1207 */
    WN_SERIAL,              /* 1701 uint32 */
    WN_UPTIME,              /* 1703 uint32 s */
    WN_TOTAL_SECS,          /* 1705 uint32 s */
    WN_MODEL,               /* 1707 uint16 */
    WN_VERSION,             /* 1708 uint16 */
    WN_CRC_ERRORS,          /* 1712 uint16 */
    WN_FRAME_ERRORS,        /* 1713 */
    WN_PACKET_ERRORS,       /* 1714 */
    WN_OVERRUNS,            /* 1715 */
    WN_FIELD_COUNT_
};

enum wn_type {
    WN_FLOAT_CDAB = 1, /* IEEE 754 single, low word first */
    WN_INT32_CDAB,     /* signed 32-bit, low word first */
    WN_UINT32_CDAB,
    WN_UINT16,
};

enum wn_use {
    WN_USE_NONE = 0,  /* decoded when seen, never polled or reported */
    WN_USE_POLL,      /* polled every cycle */
    WN_USE_IDENTITY,  /* read once at open */
};

struct wn_reg {
    enum wn_field field;
    uint16_t doc_reg;  /* 1-based, as the register list writes it */
    const char *name;  /* the register list's name */
    enum wn_type type;
    double scale;      /* value = raw x scale (int32 energies are 0.1 kWh) */
    const char *unit;
    enum quantity q;   /* reading this row becomes, or 0 */
    int phase;         /* 0 total, 1..3 = A..C */
    enum wn_use use;
    double min, max;   /* sanity range: a value outside it is dropped */
};

/* Wire address of a documented register: one less (1001 -> 0x03E8). */
static inline uint16_t wn_wire_addr(uint16_t doc_reg)
{
    return (uint16_t)(doc_reg - 1);
}

/* Registers a row spans: 2 for 32-bit types, 1 for uint16. */
unsigned wn_reg_width(const struct wn_reg *r);

/* The table, in register order; *n gets its length. Static data. */
const struct wn_reg *wattnode_map(size_t *n);
const struct wn_reg *wattnode_map_field(enum wn_field f); /* NULL when unknown */

/* Decoded values: present[f] says whether value[f] was decoded and sane. */
struct wn_values {
    bool present[WN_FIELD_COUNT_];
    double value[WN_FIELD_COUNT_];
    unsigned out_of_range; /* rows decoded but outside their sanity range (or NaN) */
};

/* Decode every table row wholly inside regs[0..n), where regs[0] is the
 * register at wire address start (what a read of n registers from start
 * returned). Adds to out (call repeatedly for several blocks; zero it
 * first). Returns the number of rows decoded and sane. Pure. */
size_t wattnode_decode(const uint16_t *regs, size_t n, uint16_t start, struct wn_values *out);

/* A block of registers read in one transaction. */
struct modbus_block {
    uint16_t addr;  /* wire address */
    uint16_t count; /* registers, 1..125 */
};

/* The fewest reads that cover every row with the given use: rows closer
 * than max_gap registers share a read (a new transaction costs 13 bytes of
 * framing plus the meter's >= 5 ms reply delay, more than a few unwanted
 * registers), never more than 125 registers per read, and never across a
 * range the map does not document (the meter may answer an undocumented
 * register with an exception). Returns the number of blocks written, or
 * PVTAP_ELIMIT when max_blocks is too small. */
int wattnode_plan(enum wn_use use, unsigned max_gap, struct modbus_block *out, size_t max_blocks);

#endif
