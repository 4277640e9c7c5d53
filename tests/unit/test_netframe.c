/* netframe: link layers (Ethernet, VLAN, QinQ, SLL, SLL2, raw, null), IPv4/IPv6, TCP, and broken
 * lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/netframe.h"
#include "util/err.h"

static const uint8_t payload[] = "POST / HTTP/1.1\r\n";
enum { PL = sizeof payload - 1 };

static size_t put16(uint8_t *b, size_t o, unsigned v)
{
    b[o] = (uint8_t)(v >> 8);
    b[o + 1] = (uint8_t)v;
    return o + 2;
}

/* TCP header (20 + opt_len bytes) + payload at b+o. */
static size_t put_tcp(uint8_t *b, size_t o, size_t opt_len)
{
    o = put16(b, o, 40000);
    o = put16(b, o, 80);
    memcpy(b + o, "\x01\x02\x03\x04\x00\x00\x00\x09", 8);
    o += 8;
    b[o++] = (uint8_t)(((20 + opt_len) / 4) << 4);
    b[o++] = NF_TCP_ACK | NF_TCP_PSH;
    o = put16(b, o, 512);
    o = put16(b, o, 0);
    o = put16(b, o, 0);
    memset(b + o, 1, opt_len); /* NOP options */
    o += opt_len;
    memcpy(b + o, payload, PL);
    return o + PL;
}

static size_t put_ipv4(uint8_t *b, size_t o, size_t opt_len, unsigned frag)
{
    size_t ihl = 20 + opt_len;
    size_t total = ihl + 20 + PL;
    b[o] = (uint8_t)(0x40 | ihl / 4);
    b[o + 1] = 0;
    put16(b, o + 2, (unsigned)total);
    put16(b, o + 4, 1);
    put16(b, o + 6, frag);
    b[o + 8] = 64;
    b[o + 9] = 6;
    put16(b, o + 10, 0);
    memcpy(b + o + 12, "\xc0\x00\x02\x0a\xc6\x33\x64\x01", 8); /* 192.0.2.10 -> 198.51.100.1 */
    memset(b + o + 20, 1, opt_len);
    return put_tcp(b, o + ihl, 0);
}

static size_t put_ipv6(uint8_t *b, size_t o, const uint8_t *ext, size_t ext_len, uint8_t first)
{
    b[o] = 0x60;
    memset(b + o + 1, 0, 3);
    put16(b, o + 4, (unsigned)(ext_len + 20 + PL));
    b[o + 6] = first;
    b[o + 7] = 64;
    memset(b + o + 8, 0, 32);
    b[o + 8] = 0x20, b[o + 9] = 0x01, b[o + 10] = 0x0d, b[o + 11] = 0xb8, b[o + 23] = 0x0a;
    b[o + 24] = 0x20, b[o + 25] = 0x01, b[o + 26] = 0x0d, b[o + 27] = 0xb8, b[o + 39] = 0x01;
    if (ext_len) /* memcpy's source may not be NULL even for 0 bytes */
        memcpy(b + o + 40, ext, ext_len);
    return put_tcp(b, o + 40 + ext_len, 0);
}

static size_t put_eth(uint8_t *b, const unsigned *types, size_t n)
{
    memset(b, 0xaa, 12);
    size_t o = 12;
    for (size_t i = 0; i < n; i++) {
        o = put16(b, o, types[i]);
        if (i + 1 < n)
            o = put16(b, o, 100 + (unsigned)i); /* TCI */
    }
    return o;
}

static void expect_seg(enum nf_link link, const uint8_t *b, size_t len, int family, int vlans)
{
    struct nf_segment s;
    assert_int_equal(nf_decode(link, b, len, len, &s), PVTAP_OK);
    assert_int_equal(s.src.family, family);
    assert_int_equal(s.sport, 40000);
    assert_int_equal(s.dport, 80);
    assert_int_equal(s.seq, 0x01020304);
    assert_int_equal(s.payload_len, PL);
    assert_memory_equal(s.payload, payload, PL);
    assert_int_equal(s.vlan_depth, vlans);
    if (family == 4) {
        char txt[64];
        nf_addr_format(&s.src, txt, sizeof txt);
        assert_string_equal(txt, "192.0.2.10");
    }
}

static void test_ethernet_vlan_qinq(void **state)
{
    (void)state;
    uint8_t b[256];
    const unsigned plain[] = {0x0800}, q[] = {0x8100, 0x0800}, qinq[] = {0x88a8, 0x8100, 0x0800},
                   old[] = {0x9100, 0x8100, 0x86dd};
    size_t n = put_ipv4(b, put_eth(b, plain, 1), 0, 0x4000 /* DF */);
    expect_seg(NF_LINK_ETHERNET, b, n, 4, 0);
    n = put_ipv4(b, put_eth(b, q, 2), 0, 0);
    expect_seg(NF_LINK_ETHERNET, b, n, 4, 1);
    n = put_ipv4(b, put_eth(b, qinq, 3), 0, 0);
    expect_seg(NF_LINK_ETHERNET, b, n, 4, 2);
    n = put_ipv6(b, put_eth(b, old, 3), NULL, 0, 6);
    expect_seg(NF_LINK_ETHERNET, b, n, 6, 2);
    /* Ethernet padding after the IP datagram is not payload. */
    n = put_ipv4(b, put_eth(b, plain, 1), 0, 0);
    memset(b + n, 0, 20);
    expect_seg(NF_LINK_ETHERNET, b, n + 20 - 20, 4, 0);
    struct nf_segment s;
    assert_int_equal(nf_decode(NF_LINK_ETHERNET, b, n + 20, n + 20, &s), PVTAP_OK);
    assert_int_equal(s.payload_len, PL);
}

static void test_cooked_raw_null(void **state)
{
    (void)state;
    uint8_t b[256];
    /* SLL: type(2) arphrd(2) alen(2) addr(8) proto(2). */
    memset(b, 0, 14);
    put16(b, 14, 0x0800);
    expect_seg(NF_LINK_SLL, b, put_ipv4(b, 16, 0, 0), 4, 0);
    /* SLL2: proto(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) alen(1) addr(8). */
    memset(b, 0, 20);
    put16(b, 0, 0x86dd);
    expect_seg(NF_LINK_SLL2, b, put_ipv6(b, 20, NULL, 0, 6), 6, 0);
    expect_seg(NF_LINK_RAW, b, put_ipv4(b, 0, 0, 0), 4, 0);
    expect_seg(NF_LINK_IPV6, b, put_ipv6(b, 0, NULL, 0, 6), 6, 0);
    memcpy(b, "\x02\x00\x00\x00", 4);
    expect_seg(NF_LINK_NULL, b, put_ipv4(b, 4, 0, 0), 4, 0);
    assert_int_equal(nf_link_from_dlt(1), NF_LINK_ETHERNET);
    assert_int_equal(nf_link_from_dlt(276), NF_LINK_SLL2);
    assert_int_equal(nf_link_from_dlt(113), NF_LINK_SLL);
    assert_int_equal(nf_link_from_dlt(101), NF_LINK_RAW);
    assert_int_equal(nf_link_from_dlt(147), NF_LINK_UNSUPPORTED);
}

static void test_ip_options_and_ipv6_extensions(void **state)
{
    (void)state;
    uint8_t b[256];
    expect_seg(NF_LINK_RAW, b, put_ipv4(b, 0, 8, 0), 4, 0);
    /* hop-by-hop (8 bytes) -> destination options (16 bytes) -> atomic fragment -> TCP */
    uint8_t ext[32] = {60, 0, 1, 4, 0, 0, 0, 0, 44, 1, 0, 0, 0, 0, 0, 0,
                       0,  0, 0, 0, 0, 0, 0, 0, 6,  0, 0, 0, 0, 0, 0, 7};
    expect_seg(NF_LINK_IPV6, b, put_ipv6(b, 0, ext, 32, 0), 6, 0);
    /* A real fragment (M flag) is counted, not decoded. */
    ext[27] = 1;
    size_t n = put_ipv6(b, 0, ext, 32, 0);
    struct nf_segment s;
    assert_int_equal(nf_decode(NF_LINK_IPV6, b, n, n, &s), PVTAP_EUNSUPPORTED);
    n = put_ipv4(b, 0, 0, 0x2000);
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_EUNSUPPORTED);
    n = put_ipv4(b, 0, 0, 0x0010);
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_EUNSUPPORTED);
}

static void test_not_mine_truncated_corrupt(void **state)
{
    (void)state;
    uint8_t b[256];
    struct nf_segment s;
    const unsigned arp[] = {0x0806};
    size_t n = put_eth(b, arp, 1) + 28;
    assert_int_equal(nf_decode(NF_LINK_ETHERNET, b, n, n, &s), PVTAP_ENOTMINE);
    n = put_ipv4(b, 0, 0, 0);
    b[9] = 17; /* UDP */
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ENOTMINE);
    /* Snaplen cut: fewer bytes captured than the wire had. */
    n = put_ipv4(b, 0, 0, 0);
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n - 5, n, &s), PVTAP_ETRUNC);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_not_equal(nf_decode(NF_LINK_RAW, b, cut, cut, &s), PVTAP_OK);
    /* bad-ip-total-length: larger than the frame, nothing cut by snaplen. */
    put16(b, 2, 1400);
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ECORRUPT);
    put16(b, 2, 10); /* shorter than its own header */
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ECORRUPT);
    /* bad-tcp-data-offset: < 5 words, and past the segment. */
    n = put_ipv4(b, 0, 0, 0);
    b[20 + 12] = 0x40;
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ECORRUPT);
    b[20 + 12] = 0xf0;
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ECORRUPT);
    /* IHL < 5 */
    n = put_ipv4(b, 0, 0, 0);
    b[0] = 0x44;
    assert_int_equal(nf_decode(NF_LINK_RAW, b, n, n, &s), PVTAP_ECORRUPT);
    /* Too many VLAN tags. */
    const unsigned deep[] = {0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x0800};
    n = put_ipv4(b, put_eth(b, deep, 6), 0, 0);
    assert_int_equal(nf_decode(NF_LINK_ETHERNET, b, n, n, &s), PVTAP_ECORRUPT);
    assert_int_equal(nf_decode(NF_LINK_UNSUPPORTED, b, n, n, &s), PVTAP_EUNSUPPORTED);
    assert_int_not_equal(nf_decode(NF_LINK_ETHERNET, NULL, 0, 0, &s), PVTAP_OK);
}

static void test_addr_parse(void **state)
{
    (void)state;
    struct nf_addr a, b;
    assert_int_equal(nf_addr_parse("192.0.2.10", &a), PVTAP_OK);
    assert_int_equal(a.family, 4);
    assert_int_equal(nf_addr_parse("2001:db8::1", &b), PVTAP_OK);
    assert_int_equal(b.family, 6);
    assert_false(nf_addr_eq(&a, &b));
    assert_int_equal(nf_addr_parse("collector", &a), PVTAP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ethernet_vlan_qinq),
        cmocka_unit_test(test_cooked_raw_null),
        cmocka_unit_test(test_ip_options_and_ipv6_extensions),
        cmocka_unit_test(test_not_mine_truncated_corrupt),
        cmocka_unit_test(test_addr_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
