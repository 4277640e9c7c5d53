/* Decoding captured frames down to TCP segments: Ethernet/VLAN/SLL/SLL2/raw, IPv4/IPv6. */
#include "proto/netframe.h"

#include <arpa/inet.h>
#include <string.h>

#include "proto/cursor.h"
#include "util/err.h"

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86DD,
    ETHERTYPE_VLAN = 0x8100,  /* 802.1Q */
    ETHERTYPE_QINQ = 0x88A8,  /* 802.1ad service tag */
    ETHERTYPE_QINQ_OLD = 0x9100,
    IPPROTO_TCP_ = 6,
    MAX_VLAN_TAGS = 4, /* more than QinQ-in-QinQ is not a real network */
};

enum nf_link nf_link_from_dlt(int dlt)
{
    switch (dlt) {
    case 1: return NF_LINK_ETHERNET;  /* DLT_EN10MB */
    case 113: return NF_LINK_SLL;     /* DLT_LINUX_SLL */
    case 276: return NF_LINK_SLL2;    /* DLT_LINUX_SLL2 */
    case 12:                          /* DLT_RAW (Linux value) */
    case 14:                          /* DLT_RAW (BSD value) */
    case 101: return NF_LINK_RAW;     /* LINKTYPE_RAW */
    case 228: return NF_LINK_IPV4;    /* DLT_IPV4 */
    case 229: return NF_LINK_IPV6;    /* DLT_IPV6 */
    case 0:                           /* DLT_NULL */
    case 108: return NF_LINK_NULL;    /* DLT_LOOP */
    default: return NF_LINK_UNSUPPORTED;
    }
}

const char *nf_link_name(enum nf_link link)
{
    switch (link) {
    case NF_LINK_ETHERNET: return "ethernet";
    case NF_LINK_SLL: return "linux-sll";
    case NF_LINK_SLL2: return "linux-sll2";
    case NF_LINK_RAW: return "raw-ip";
    case NF_LINK_IPV4: return "ipv4";
    case NF_LINK_IPV6: return "ipv6";
    case NF_LINK_NULL: return "null";
    case NF_LINK_UNSUPPORTED: break;
    }
    return "unsupported";
}

bool nf_addr_eq(const struct nf_addr *x, const struct nf_addr *y)
{
    return x->family == y->family && memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

int nf_addr_parse(const char *text, struct nf_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->a) == 1) {
        out->family = 4;
        return PVTAP_OK;
    }
    if (inet_pton(AF_INET6, text, out->a) == 1) {
        out->family = 6;
        return PVTAP_OK;
    }
    return PVTAP_EINVAL;
}

void nf_addr_format(const struct nf_addr *a, char *out, size_t out_size)
{
    if (!out_size)
        return;
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out, (socklen_t)out_size))
        out[0] = '\0';
}

/* TCP header (RFC 9293 section 3.1):
 *   0 sport(2) dport(2) | 4 seq(4) | 8 ack(4) | 12 data offset(4 bits, 32-bit words),
 *   reserved(4), flags(8) | 14 window(2) | 16 checksum(2) urgent(2) | 20 options
 * The segment holds exactly `len` bytes (from the IP layer's lengths). */
static int decode_tcp(struct cursor *c, size_t len, struct nf_segment *seg)
{
    int rc;
    uint8_t off_byte, flags;
    uint16_t win, cks_urg[2];
    if ((rc = cur_limit(c, len)) != PVTAP_OK)
        return rc;
    if ((rc = cur_be16(c, &seg->sport)) || (rc = cur_be16(c, &seg->dport)) ||
        (rc = cur_be32(c, &seg->seq)) || (rc = cur_be32(c, &seg->ack)) ||
        (rc = cur_u8(c, &off_byte)) || (rc = cur_u8(c, &flags)) || (rc = cur_be16(c, &win)) ||
        (rc = cur_be16(c, &cks_urg[0])) || (rc = cur_be16(c, &cks_urg[1])))
        return rc;
    size_t hdr_len = (size_t)(off_byte >> 4) * 4;
    if (hdr_len < 20 || hdr_len > len)
        return PVTAP_ECORRUPT;
    if ((rc = cur_skip(c, hdr_len - 20)) != PVTAP_OK)
        return rc;
    seg->flags = flags;
    seg->payload_len = cur_left(c);
    seg->payload = seg->payload_len ? cur_rest(c) : NULL;
    return PVTAP_OK;
}

/* How many bytes of the IP datagram are missing from the capture decides
 * truncated (snaplen cut it) from corrupt (the header lies). */
static int length_check(const struct cursor *c, size_t need, size_t missing_on_wire)
{
    size_t have = cur_left(c);
    if (need <= have)
        return PVTAP_OK;
    return need - have <= missing_on_wire ? PVTAP_ETRUNC : PVTAP_ECORRUPT;
}

/* IPv4 header (RFC 791 section 3.1):
 *   0 version(4 bits) IHL(4 bits, 32-bit words) | 1 TOS | 2 total length(2)
 *   4 id(2) | 6 flags(3 bits) fragment offset(13 bits) | 8 TTL | 9 protocol
 *   10 checksum(2) | 12 source(4) | 16 destination(4) | 20 options (IHL > 5) */
static int decode_ipv4(struct cursor *c, size_t missing, struct nf_segment *seg)
{
    int rc;
    uint8_t vihl, tos, ttl, proto;
    uint16_t total_len, id, frag, cks;
    const uint8_t *src, *dst;
    if ((rc = cur_u8(c, &vihl)) || (rc = cur_u8(c, &tos)) || (rc = cur_be16(c, &total_len)) ||
        (rc = cur_be16(c, &id)) || (rc = cur_be16(c, &frag)) || (rc = cur_u8(c, &ttl)) ||
        (rc = cur_u8(c, &proto)) || (rc = cur_be16(c, &cks)) || (rc = cur_bytes(c, 4, &src)) ||
        (rc = cur_bytes(c, 4, &dst)))
        return rc;
    if (vihl >> 4 != 4)
        return PVTAP_ECORRUPT;
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (ihl < 20 || total_len < ihl)
        return PVTAP_ECORRUPT;
    /* The rest of the datagram after the 20 fixed bytes already read. */
    if ((rc = length_check(c, (size_t)total_len - 20, missing)) != PVTAP_OK)
        return rc;
    if ((rc = cur_skip(c, ihl - 20)) != PVTAP_OK)
        return rc;
    /* More-fragments flag or a non-zero offset: a piece of a datagram. */
    if ((frag & 0x2000) || (frag & 0x1fff))
        return PVTAP_EUNSUPPORTED;
    if (proto != IPPROTO_TCP_)
        return PVTAP_ENOTMINE;
    memset(&seg->src, 0, sizeof seg->src);
    memset(&seg->dst, 0, sizeof seg->dst);
    seg->src.family = seg->dst.family = 4;
    memcpy(seg->src.a, src, 4);
    memcpy(seg->dst.a, dst, 4);
    /* Ethernet pads short frames: the IP total length, not the frame, ends the segment. */
    return decode_tcp(c, (size_t)total_len - ihl, seg);
}

/* IPv6 header (RFC 8200 section 3):
 *   0 version(4 bits) traffic class(8) flow label(20) | 4 payload length(2)
 *   6 next header | 7 hop limit | 8 source(16) | 24 destination(16)
 * then extension headers (section 4): hop-by-hop 0, routing 43, destination
 * options 60: next(1) len(1, 8-octet units not counting the first 8);
 * fragment 44: next(1) reserved(1) offset+M(2) id(4); AH 51: len in
 * 4-octet units minus 2. */
static int decode_ipv6(struct cursor *c, size_t missing, struct nf_segment *seg)
{
    int rc;
    uint32_t vtcfl;
    uint16_t payload_len;
    uint8_t next, hop;
    const uint8_t *src, *dst;
    if ((rc = cur_be32(c, &vtcfl)) || (rc = cur_be16(c, &payload_len)) ||
        (rc = cur_u8(c, &next)) || (rc = cur_u8(c, &hop)) || (rc = cur_bytes(c, 16, &src)) ||
        (rc = cur_bytes(c, 16, &dst)))
        return rc;
    if (vtcfl >> 28 != 6)
        return PVTAP_ECORRUPT;
    if (payload_len == 0) /* a jumbogram (RFC 2675): never on an Ethernet mirror port */
        return PVTAP_EUNSUPPORTED;
    if ((rc = length_check(c, payload_len, missing)) != PVTAP_OK)
        return rc;
    if ((rc = cur_limit(c, payload_len)) != PVTAP_OK)
        return rc;
    /* A bounded walk: each header consumes >= 8 bytes, so the loop ends anyway. */
    for (int guard = 0; guard < 16; guard++) {
        uint8_t nh, hlen;
        switch (next) {
        case IPPROTO_TCP_:
            memset(&seg->src, 0, sizeof seg->src);
            memset(&seg->dst, 0, sizeof seg->dst);
            seg->src.family = seg->dst.family = 6;
            memcpy(seg->src.a, src, 16);
            memcpy(seg->dst.a, dst, 16);
            return decode_tcp(c, cur_left(c), seg);
        case 0:
        case 43:
        case 60:
            if ((rc = cur_u8(c, &nh)) || (rc = cur_u8(c, &hlen)) ||
                (rc = cur_skip(c, (size_t)hlen * 8 + 6)))
                return rc == PVTAP_ETRUNC ? PVTAP_ECORRUPT : rc;
            next = nh;
            break;
        case 44: {
            uint16_t offm;
            uint32_t ident;
            if ((rc = cur_u8(c, &nh)) || (rc = cur_u8(c, &hlen)) || (rc = cur_be16(c, &offm)) ||
                (rc = cur_be32(c, &ident)))
                return rc == PVTAP_ETRUNC ? PVTAP_ECORRUPT : rc;
            /* An atomic fragment (offset 0, no M flag) is a whole datagram. */
            if ((offm & 0xfff8) || (offm & 1))
                return PVTAP_EUNSUPPORTED;
            next = nh;
            break;
        }
        case 51:
            if ((rc = cur_u8(c, &nh)) || (rc = cur_u8(c, &hlen)) ||
                (rc = cur_skip(c, ((size_t)hlen + 2) * 4 - 2)))
                return rc == PVTAP_ETRUNC ? PVTAP_ECORRUPT : rc;
            next = nh;
            break;
        default: /* UDP, ICMPv6, ESP, no next header, ... */
            return PVTAP_ENOTMINE;
        }
    }
    return PVTAP_ECORRUPT;
}

static int decode_ip_by_type(struct cursor *c, uint16_t ethertype, size_t missing,
                             struct nf_segment *seg)
{
    if (ethertype == ETHERTYPE_IPV4)
        return decode_ipv4(c, missing, seg);
    if (ethertype == ETHERTYPE_IPV6)
        return decode_ipv6(c, missing, seg);
    return PVTAP_ENOTMINE;
}

/* After a link header's ethertype: walk 802.1Q (0x8100) and 802.1ad QinQ
 * (0x88A8, old 0x9100) tags, each TCI(2) then the next ethertype(2). */
static int decode_after_ethertype(struct cursor *c, uint16_t type, size_t missing,
                                  struct nf_segment *seg)
{
    int rc;
    seg->vlan_depth = 0;
    while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD) {
        uint16_t tci;
        if (seg->vlan_depth >= MAX_VLAN_TAGS)
            return PVTAP_ECORRUPT;
        if ((rc = cur_be16(c, &tci)) || (rc = cur_be16(c, &type)))
            return rc;
        seg->vlan_depth++;
    }
    return decode_ip_by_type(c, type, missing, seg);
}

static int decode_raw(struct cursor *c, size_t missing, struct nf_segment *seg)
{
    uint8_t v;
    int rc = cur_peek_u8(c, 0, &v);
    if (rc)
        return rc;
    if (v >> 4 == 4)
        return decode_ipv4(c, missing, seg);
    if (v >> 4 == 6)
        return decode_ipv6(c, missing, seg);
    return PVTAP_ENOTMINE;
}

int nf_decode(enum nf_link link, const uint8_t *frame, size_t caplen, size_t wire_len,
              struct nf_segment *seg)
{
    struct cursor c;
    int rc;
    uint16_t type, u16;
    uint32_t u32;
    const uint8_t *skip;
    cur_init(&c, frame, caplen);
    size_t missing = wire_len > caplen ? wire_len - caplen : 0;
    memset(seg, 0, sizeof *seg);
    switch (link) {
    case NF_LINK_ETHERNET:
        /* Ethernet II: destination(6) source(6) ethertype(2). */
        if ((rc = cur_bytes(&c, 12, &skip)) || (rc = cur_be16(&c, &type)))
            return rc;
        return decode_after_ethertype(&c, type, missing, seg);
    case NF_LINK_SLL:
        /* Linux cooked v1 (pcap-linktype LINKTYPE_LINUX_SLL): packet type(2)
         * ARPHRD(2) address length(2) address(8) protocol(2), all big-endian. */
        if ((rc = cur_bytes(&c, 14, &skip)) || (rc = cur_be16(&c, &type)))
            return rc;
        return decode_after_ethertype(&c, type, missing, seg);
    case NF_LINK_SLL2:
        /* Linux cooked v2 (LINKTYPE_LINUX_SLL2): protocol(2) reserved(2)
         * interface index(4) ARPHRD(2) packet type(1) address length(1) address(8). */
        if ((rc = cur_be16(&c, &type)) || (rc = cur_be16(&c, &u16)) || (rc = cur_be32(&c, &u32)) ||
            (rc = cur_bytes(&c, 12, &skip)))
            return rc;
        return decode_after_ethertype(&c, type, missing, seg);
    case NF_LINK_RAW:
        return decode_raw(&c, missing, seg);
    case NF_LINK_IPV4:
        return decode_ipv4(&c, missing, seg);
    case NF_LINK_IPV6:
        return decode_ipv6(&c, missing, seg);
    case NF_LINK_NULL:
        /* DLT_NULL: a 4-byte address family in the capturing host's byte order
         * (2 = AF_INET; 24, 28, 30 = AF_INET6 on the BSDs): the version nibble
         * says the same thing without guessing the byte order. */
        if ((rc = cur_skip(&c, 4)))
            return rc;
        return decode_raw(&c, missing, seg);
    case NF_LINK_UNSUPPORTED:
        break;
    }
    return PVTAP_EUNSUPPORTED;
}
