/* TCP reassembly: order, duplicates, overlaps, 2^32 wrap, holes, RST, reuse, idle and size limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/tcp_reasm.h"
#include "util/err.h"

/* What the consumer saw: bytes per direction, with '#' marking each hole. */
struct sink {
    char out[2][8192];
    size_t len[2];
    int opens, closes, fins[2], holes[2], midstream[2];
    uint64_t hole_bytes;
    uint64_t last_close;
};

static void on_data(void *ctx, struct tcp_flow *f, enum tcp_dir d, const uint8_t *data, size_t len)
{
    struct sink *s = ctx;
    (void)f;
    assert_true(s->len[d] + len < sizeof s->out[d]);
    memcpy(s->out[d] + s->len[d], data, len);
    s->len[d] += len;
    s->out[d][s->len[d]] = '\0';
}

static void on_event(void *ctx, struct tcp_flow *f, enum tcp_dir d, enum tcp_event ev, uint64_t n)
{
    struct sink *s = ctx;
    (void)f;
    switch (ev) {
    case TCP_EV_OPEN: s->opens++; break;
    case TCP_EV_CLOSE: s->closes++; s->last_close = n; break;
    case TCP_EV_FIN: s->fins[d]++; break;
    case TCP_EV_MIDSTREAM: s->midstream[d]++; break;
    case TCP_EV_HOLE:
        s->holes[d]++;
        s->hole_bytes += n;
        on_data(ctx, f, d, (const uint8_t *)"#", 1);
        break;
    }
}

static const struct tcp_reasm_ops ops = {on_data, on_event};

static struct nf_segment seg(bool c2s, uint8_t flags, uint32_t seq, const char *data)
{
    struct nf_segment s;
    memset(&s, 0, sizeof s);
    s.src.family = s.dst.family = 4;
    s.src.a[3] = c2s ? 10 : 1;
    s.dst.a[3] = c2s ? 1 : 10;
    s.sport = c2s ? 40000 : 80;
    s.dport = c2s ? 80 : 40000;
    s.seq = seq;
    s.flags = flags;
    s.payload = (const uint8_t *)data;
    s.payload_len = data ? strlen(data) : 0;
    return s;
}

static struct tcp_reasm *mk(struct sink *s, const struct tcp_reasm_limits *lim)
{
    struct tcp_reasm_limits d;
    tcp_reasm_limits_default(&d);
    struct tcp_reasm *r;
    memset(s, 0, sizeof *s);
    assert_int_equal(tcp_reasm_new(lim ? lim : &d, &ops, s, &r), PVTAP_OK);
    return r;
}

static void feed(struct tcp_reasm *r, bool c2s, uint8_t flags, uint32_t seq, const char *data)
{
    struct nf_segment s = seg(c2s, flags, seq, data);
    assert_int_equal(tcp_reasm_segment(r, &s, c2s, 1000), PVTAP_OK);
}

/* A handshake with client ISN isn and server ISN 5000. */
static void handshake(struct tcp_reasm *r, uint32_t isn)
{
    feed(r, true, NF_TCP_SYN, isn, NULL);
    feed(r, false, NF_TCP_SYN | NF_TCP_ACK, 5000, NULL);
}

static void test_in_order_fin(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm *r = mk(&s, NULL);
    handshake(r, 100);
    feed(r, true, NF_TCP_ACK, 101, "hello ");
    feed(r, true, NF_TCP_ACK, 107, "world");
    feed(r, false, NF_TCP_ACK, 5001, "1002");
    feed(r, true, NF_TCP_FIN | NF_TCP_ACK, 112, NULL);
    feed(r, false, NF_TCP_FIN | NF_TCP_ACK, 5005, NULL);
    assert_string_equal(s.out[0], "hello world");
    assert_string_equal(s.out[1], "1002");
    assert_int_equal(s.fins[0], 1);
    assert_int_equal(s.fins[1], 1);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.last_close, TCP_CLOSE_FIN);
    assert_int_equal(tcp_reasm_flow_count(r), 0);
    tcp_reasm_free(r);
}

static void test_out_of_order_dup_overlap(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm *r = mk(&s, NULL);
    handshake(r, 100);
    feed(r, true, NF_TCP_ACK, 111, "KLMNO");  /* ahead */
    feed(r, true, NF_TCP_ACK, 106, "FGHIJ");  /* ahead, fills between */
    feed(r, true, NF_TCP_ACK, 111, "KLMNO");  /* duplicate of a held piece */
    assert_int_equal(s.len[0], 0);
    assert_int_equal(tcp_reasm_held_bytes(r), 10);
    feed(r, true, NF_TCP_ACK, 101, "ABCDEFG"); /* overlaps the held FGHIJ */
    assert_string_equal(s.out[0], "ABCDEFGHIJKLMNO");
    feed(r, true, NF_TCP_ACK, 101, "ABCDE");   /* old retransmission */
    feed(r, true, NF_TCP_ACK, 113, "MNOPQ");   /* partly old */
    assert_string_equal(s.out[0], "ABCDEFGHIJKLMNOPQ");
    const struct tcp_reasm_counts *c = tcp_reasm_counts(r);
    assert_true(c->retransmitted >= 2);
    assert_true(c->overlaps >= 2);
    assert_int_equal(tcp_reasm_held_bytes(r), 0);
    assert_int_equal(s.holes[0], 0);
    tcp_reasm_free(r);
}

static void test_sequence_wrap(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm *r = mk(&s, NULL);
    uint32_t isn = 0xfffffffaU; /* data starts at 0xfffffffb and wraps after 5 bytes */
    handshake(r, isn);
    feed(r, true, NF_TCP_ACK, 0x00000003U, "defgh"); /* after the wrap, early */
    feed(r, true, NF_TCP_ACK, 0xfffffffbU, "ABCDE");
    feed(r, true, NF_TCP_ACK, 0x00000000U, "abc");
    assert_string_equal(s.out[0], "ABCDEabcdefgh");
    tcp_reasm_free(r);
}

static void test_hole_acked_and_at_finish(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm *r = mk(&s, NULL);
    handshake(r, 100);
    feed(r, true, NF_TCP_ACK, 101, "one");
    feed(r, true, NF_TCP_ACK, 110, "three"); /* bytes 104..109 never captured */
    assert_string_equal(s.out[0], "one");
    /* The server acknowledges past the gap: it had them, we never will. */
    struct nf_segment a = seg(false, NF_TCP_ACK, 5001, NULL);
    a.ack = 115;
    assert_int_equal(tcp_reasm_segment(r, &a, false, 1000), PVTAP_OK);
    assert_string_equal(s.out[0], "one#three");
    assert_int_equal(s.hole_bytes, 6);
    /* Another gap, resolved only at the end of the capture. */
    feed(r, true, NF_TCP_ACK, 120, "five");
    tcp_reasm_finish(r);
    assert_string_equal(s.out[0], "one#three#five");
    assert_int_equal(s.last_close, TCP_CLOSE_END);
    assert_int_equal(tcp_reasm_counts(r)->holes, 2);
    tcp_reasm_free(r);
}

static void test_midstream_rst_reuse(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm *r = mk(&s, NULL);
    feed(r, true, NF_TCP_ACK, 7777, "late start");
    assert_int_equal(s.midstream[0], 1);
    assert_string_equal(s.out[0], "late start");
    feed(r, false, NF_TCP_RST, 1, NULL);
    assert_int_equal(s.closes, 1);
    assert_int_equal(s.last_close, TCP_CLOSE_RST);
    /* RST or pure ACK of an unknown flow creates nothing. */
    feed(r, false, NF_TCP_RST, 1, NULL);
    feed(r, true, NF_TCP_ACK, 1, NULL);
    assert_int_equal(tcp_reasm_flow_count(r), 0);
    /* Same ports, new ISN: the old connection is closed, a new one opens. */
    handshake(r, 100);
    feed(r, true, NF_TCP_ACK, 101, "A");
    feed(r, true, NF_TCP_SYN, 100, NULL); /* a retransmitted SYN changes nothing */
    assert_int_equal(s.opens, 2);
    feed(r, true, NF_TCP_SYN, 9000, NULL);
    assert_int_equal(s.opens, 3);
    assert_int_equal(s.last_close, TCP_CLOSE_REUSED);
    feed(r, true, NF_TCP_ACK, 9001, "B");
    assert_string_equal(s.out[0], "late startAB");
    tcp_reasm_free(r);
    assert_int_equal(s.closes, 3);
}

static void test_limits(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm_limits lim = {.max_flows = 2, .max_held_dir_bytes = 8,
                                   .max_held_bytes = 1 << 20, .idle_ms = 5000};
    struct tcp_reasm *r = mk(&s, &lim);
    /* Three connections into a table of two: the idlest is evicted. */
    for (int i = 0; i < 3; i++) {
        struct nf_segment x = seg(true, NF_TCP_SYN, 1, NULL);
        x.sport = (uint16_t)(1000 + i);
        assert_int_equal(tcp_reasm_segment(r, &x, true, 1000 + i), PVTAP_OK);
    }
    assert_int_equal(tcp_reasm_flow_count(r), 2);
    assert_int_equal(tcp_reasm_counts(r)->limit_flows, 1);
    assert_int_equal(s.last_close, TCP_CLOSE_EVICTED);
    /* Held bytes per direction: past 8 the gap becomes a hole. */
    struct nf_segment x = seg(true, NF_TCP_ACK, 10, "12345");
    x.sport = 1002;
    assert_int_equal(tcp_reasm_segment(r, &x, true, 2000), PVTAP_OK);
    x.seq = 20;
    x.payload = (const uint8_t *)"67890";
    assert_int_equal(tcp_reasm_segment(r, &x, true, 2000), PVTAP_OK);
    assert_int_equal(tcp_reasm_counts(r)->limit_dir_bytes, 1);
    assert_string_equal(s.out[0], "#12345#67890");
    assert_int_equal(tcp_reasm_held_bytes(r), 0);
    /* Idle: capture time moves on 6 s, every flow goes. */
    struct nf_segment y = seg(true, NF_TCP_SYN, 1, NULL);
    y.sport = 5;
    assert_int_equal(tcp_reasm_segment(r, &y, true, 9000), PVTAP_OK);
    assert_int_equal(tcp_reasm_counts(r)->idle_closed, 2);
    assert_int_equal(tcp_reasm_flow_count(r), 1);
    tcp_reasm_free(r);
}

static void test_total_held_bound(void **state)
{
    (void)state;
    struct sink s;
    struct tcp_reasm_limits lim = {.max_flows = 64, .max_held_dir_bytes = 1 << 20,
                                   .max_held_bytes = 100, .idle_ms = 60000};
    struct tcp_reasm *r = mk(&s, &lim);
    char chunk[41];
    memset(chunk, 'x', 40);
    chunk[40] = '\0';
    for (int i = 0; i < 50; i++) {
        struct nf_segment x = seg(true, NF_TCP_ACK, 1000, chunk);
        x.sport = (uint16_t)(2000 + i);
        /* first segment syncs, second is held after a gap */
        assert_int_equal(tcp_reasm_segment(r, &x, true, 1), PVTAP_OK);
        x.seq = 2000;
        assert_int_equal(tcp_reasm_segment(r, &x, true, 1), PVTAP_OK);
        assert_true(tcp_reasm_held_bytes(r) <= 100);
    }
    assert_true(tcp_reasm_counts(r)->limit_total_bytes > 0);
    tcp_reasm_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_fin),
        cmocka_unit_test(test_out_of_order_dup_overlap),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_hole_acked_and_at_finish),
        cmocka_unit_test(test_midstream_rst_reuse),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_total_held_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
