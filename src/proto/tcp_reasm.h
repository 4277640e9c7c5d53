/* TCP stream reassembly: a bounded flow table delivering each direction's bytes in order. */
#ifndef PVTAP_PROTO_TCP_REASM_H
#define PVTAP_PROTO_TCP_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/netframe.h"

/* Hard limits: every one that is hit is counted (tcp_reasm_counts), never
 * a crash and never unbounded growth. */
struct tcp_reasm_limits {
    size_t max_flows;          /* connections tracked at once; the idlest is evicted */
    size_t max_held_dir_bytes; /* out-of-order bytes held per direction */
    size_t max_held_bytes;     /* out-of-order bytes held over all flows */
    int64_t idle_ms;           /* a flow silent this long (capture time) is closed */
};

void tcp_reasm_limits_default(struct tcp_reasm_limits *l);

enum tcp_dir { TCP_C2S = 0, TCP_S2C = 1 };

enum tcp_event {
    TCP_EV_OPEN,      /* a new flow: the consumer may attach its state */
    TCP_EV_MIDSTREAM, /* the direction starts without its SYN: bytes before were not seen */
    TCP_EV_HOLE,      /* n bytes are missing before the next data (never captured) */
    TCP_EV_FIN,       /* the direction ended cleanly */
    TCP_EV_CLOSE,     /* the flow is going away (n = enum tcp_close_reason) */
};

enum tcp_close_reason {
    TCP_CLOSE_FIN = 1, /* both directions finished */
    TCP_CLOSE_RST,
    TCP_CLOSE_IDLE,    /* idle_ms passed */
    TCP_CLOSE_EVICTED, /* max_flows reached: the idlest flow made room */
    TCP_CLOSE_REUSED,  /* a new SYN on the same 4-tuple */
    TCP_CLOSE_END,     /* tcp_reasm_finish(): end of the capture */
};

struct tcp_flow; /* opaque */

/* A flow's identity: client = the side that opened it (or, without a SYN,
 * the side the caller says is the client). */
struct tcp_flow_key {
    struct nf_addr client, server;
    uint16_t client_port, server_port;
};

const struct tcp_flow_key *tcp_flow_key(const struct tcp_flow *f);
uint64_t tcp_flow_id(const struct tcp_flow *f); /* 1, 2, ... in order of opening */
void *tcp_flow_user(const struct tcp_flow *f);
void tcp_flow_set_user(struct tcp_flow *f, void *user);
/* Stop delivering this flow's bytes (not ours): nothing more is held for it. */
void tcp_flow_ignore(struct tcp_flow *f);

/* Callbacks run inside tcp_reasm_segment()/tcp_reasm_finish(); data is
 * borrowed for the call. A callback must not call back into the table except
 * through the tcp_flow_* accessors. On TCP_EV_CLOSE the consumer frees its
 * user state; the flow is freed right after. */
struct tcp_reasm_ops {
    void (*on_data)(void *ctx, struct tcp_flow *f, enum tcp_dir d, const uint8_t *data,
                    size_t len);
    void (*on_event)(void *ctx, struct tcp_flow *f, enum tcp_dir d, enum tcp_event ev,
                     uint64_t n);
};

struct tcp_reasm_counts {
    uint64_t flows_opened, flows_closed;
    uint64_t segments, retransmitted, retransmitted_bytes, overlaps, out_of_order;
    uint64_t holes, hole_bytes, midstream;
    uint64_t limit_flows, limit_dir_bytes, limit_total_bytes, idle_closed;
    uint64_t orphan; /* RST/FIN/ACK-only segments of no tracked flow */
};

struct tcp_reasm;

/* Caller frees with tcp_reasm_free(). PVTAP_ENOMEM / PVTAP_EINVAL. */
int tcp_reasm_new(const struct tcp_reasm_limits *lim, const struct tcp_reasm_ops *ops, void *ctx,
                  struct tcp_reasm **out);
/* One segment. from_client says which side sent it (the caller knows the
 * server port). now_ms is capture time: idle expiry follows the capture, so
 * an offline run gives the same result as a live one. Returns 0, or
 * PVTAP_ENOMEM when a flow or a held segment could not be allocated
 * (counted as a hole/limit; the table stays consistent). */
int tcp_reasm_segment(struct tcp_reasm *r, const struct nf_segment *seg, bool from_client,
                      int64_t now_ms);
/* Close idle flows now (called by tcp_reasm_segment at most once a second). */
void tcp_reasm_expire(struct tcp_reasm *r, int64_t now_ms);
/* End of input: deliver what is held (skipping holes), close every flow. */
void tcp_reasm_finish(struct tcp_reasm *r);
const struct tcp_reasm_counts *tcp_reasm_counts(const struct tcp_reasm *r);
size_t tcp_reasm_held_bytes(const struct tcp_reasm *r);
size_t tcp_reasm_flow_count(const struct tcp_reasm *r);
/* Frees the table; flows still open get TCP_EV_CLOSE (END) without a flush. */
void tcp_reasm_free(struct tcp_reasm *r);

#endif
