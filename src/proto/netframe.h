/* Link layer -> IP -> TCP: a view of one captured frame's TCP segment (no copies). */
#ifndef PVTAP_PROTO_NETFRAME_H
#define PVTAP_PROTO_NETFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Link types pvtap decodes (values are ours, not DLT_*). */
enum nf_link {
    NF_LINK_UNSUPPORTED = 0,
    NF_LINK_ETHERNET, /* DLT_EN10MB, with 802.1Q / 802.1ad (QinQ) tags */
    NF_LINK_SLL,      /* DLT_LINUX_SLL: `-i any` on older libpcap */
    NF_LINK_SLL2,     /* DLT_LINUX_SLL2: `-i any` on libpcap >= 1.10 */
    NF_LINK_RAW,      /* DLT_RAW / LINKTYPE_RAW: IPv4 or IPv6 by version nibble */
    NF_LINK_IPV4,     /* DLT_IPV4 */
    NF_LINK_IPV6,     /* DLT_IPV6 */
    NF_LINK_NULL,     /* DLT_NULL / DLT_LOOP: 4-byte address family */
};

/* The link type for a libpcap DLT value (pcap_datalink()). */
enum nf_link nf_link_from_dlt(int dlt);
const char *nf_link_name(enum nf_link link);

struct nf_addr {
    uint8_t family; /* 4 or 6 */
    uint8_t a[16];  /* IPv4 in the first 4 bytes, the rest zero */
};

bool nf_addr_eq(const struct nf_addr *x, const struct nf_addr *y);
/* "192.0.2.1" or "2001:db8::1" -> addr; PVTAP_EINVAL when neither. */
int nf_addr_parse(const char *text, struct nf_addr *out);
/* Text form into out (>= 46 bytes). */
void nf_addr_format(const struct nf_addr *a, char *out, size_t out_size);

enum {
    NF_TCP_FIN = 0x01,
    NF_TCP_SYN = 0x02,
    NF_TCP_RST = 0x04,
    NF_TCP_PSH = 0x08,
    NF_TCP_ACK = 0x10,
};

/* One TCP segment. payload is borrowed from the frame given to nf_decode(). */
struct nf_segment {
    struct nf_addr src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;         /* NF_TCP_* */
    uint16_t vlan_depth;   /* tags walked (0, 1 = 802.1Q, 2 = QinQ) */
    const uint8_t *payload;
    size_t payload_len;
};

/* Decode frame (caplen bytes captured of wire_len on the wire) as link.
 * Returns 0 with *seg filled for a complete TCP segment;
 *   PVTAP_ENOTMINE  not IP, or IP but not TCP (ARP, UDP, ICMP, ...);
 *   PVTAP_EUNSUPPORTED  an IP fragment (counted and ignored: the supervisor
 *                   never fragments its small segments);
 *   PVTAP_ETRUNC    the capture holds less than the headers say (snaplen);
 *   PVTAP_ECORRUPT  lengths that contradict each other (bad IP total length,
 *                   TCP data offset < 5, ...).
 * Pure: no allocation, no state. */
int nf_decode(enum nf_link link, const uint8_t *frame, size_t caplen, size_t wire_len,
              struct nf_segment *seg);

#endif
