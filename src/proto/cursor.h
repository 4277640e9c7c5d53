/* Bounds-checked reads over captured bytes: every read says PVTAP_ETRUNC instead of overrunning. */
#ifndef PVTAP_PROTO_CURSOR_H
#define PVTAP_PROTO_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* A read position over borrowed bytes (after tcpdump's GET_BE_U_2 and
 * mosquitto's packet__read_uint16): the bytes are never copied and never
 * indexed directly; a failed read leaves the position unchanged. */
struct cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
};

static inline void cur_init(struct cursor *c, const void *data, size_t len)
{
    c->p = (const uint8_t *)data;
    c->len = data ? len : 0;
    c->off = 0;
}

static inline size_t cur_left(const struct cursor *c)
{
    return c->len - c->off;
}

static inline int cur_need(const struct cursor *c, size_t n)
{
    return cur_left(c) >= n ? PVTAP_OK : PVTAP_ETRUNC;
}

static inline int cur_skip(struct cursor *c, size_t n)
{
    if (cur_left(c) < n)
        return PVTAP_ETRUNC;
    c->off += n;
    return PVTAP_OK;
}

/* A borrowed pointer to the next n bytes, consumed. */
static inline int cur_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
    if (cur_left(c) < n)
        return PVTAP_ETRUNC;
    *out = c->p + c->off;
    c->off += n;
    return PVTAP_OK;
}

/* The rest, borrowed, without consuming it. */
static inline const uint8_t *cur_rest(const struct cursor *c)
{
    return c->p ? c->p + c->off : NULL;
}

/* A sub-cursor over the next n bytes (consumed from c). */
static inline int cur_sub(struct cursor *c, size_t n, struct cursor *sub)
{
    const uint8_t *b;
    int rc = cur_bytes(c, n, &b);
    if (rc == PVTAP_OK)
        cur_init(sub, b, n);
    return rc;
}

/* Cut the cursor's end so at most n bytes are left (e.g. trim Ethernet padding). */
static inline int cur_limit(struct cursor *c, size_t n)
{
    if (cur_left(c) < n)
        return PVTAP_ETRUNC;
    c->len = c->off + n;
    return PVTAP_OK;
}

static inline int cur_u8(struct cursor *c, uint8_t *out)
{
    if (cur_left(c) < 1)
        return PVTAP_ETRUNC;
    *out = c->p[c->off++];
    return PVTAP_OK;
}

static inline int cur_peek_u8(const struct cursor *c, size_t at, uint8_t *out)
{
    if (cur_left(c) <= at)
        return PVTAP_ETRUNC;
    *out = c->p[c->off + at];
    return PVTAP_OK;
}

static inline int cur_be16(struct cursor *c, uint16_t *out)
{
    if (cur_left(c) < 2)
        return PVTAP_ETRUNC;
    const uint8_t *b = c->p + c->off;
    *out = (uint16_t)((unsigned)b[0] << 8 | b[1]);
    c->off += 2;
    return PVTAP_OK;
}

static inline int cur_le16(struct cursor *c, uint16_t *out)
{
    if (cur_left(c) < 2)
        return PVTAP_ETRUNC;
    const uint8_t *b = c->p + c->off;
    *out = (uint16_t)((unsigned)b[1] << 8 | b[0]);
    c->off += 2;
    return PVTAP_OK;
}

static inline int cur_be32(struct cursor *c, uint32_t *out)
{
    if (cur_left(c) < 4)
        return PVTAP_ETRUNC;
    const uint8_t *b = c->p + c->off;
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    c->off += 4;
    return PVTAP_OK;
}

static inline int cur_le32(struct cursor *c, uint32_t *out)
{
    if (cur_left(c) < 4)
        return PVTAP_ETRUNC;
    const uint8_t *b = c->p + c->off;
    *out = (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
    c->off += 4;
    return PVTAP_OK;
}

#endif
