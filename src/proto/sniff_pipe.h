/* Frames in, supervisor records out: netframe -> TCP reassembly -> HTTP -> body decoder. */
#ifndef PVTAP_PROTO_SNIFF_PIPE_H
#define PVTAP_PROTO_SNIFF_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http_req.h"
#include "proto/netframe.h"
#include "proto/supervisor.h"
#include "proto/tcp_reasm.h"

enum { SNIFF_MAX_PATHS = 8, SNIFF_PATH_MAX = 128, SNIFF_MSG_KINDS = 32 };

struct sniff_pipe_config {
    uint16_t server_port;          /* 80 */
    bool have_supervisor;          /* only this address's traffic is decoded */
    struct nf_addr supervisor;
    size_t n_paths;                /* POST paths whose bodies are decoded */
    char paths[SNIFF_MAX_PATHS][SNIFF_PATH_MAX];
    struct pvs_layout layout;
    struct tcp_reasm_limits reasm;
    struct http_limits http;       /* its budget pointer is ignored: the pipe owns one */
    size_t body_budget_bytes;      /* request bodies held over all connections */
};

/* Defaults: port 80, the two SMS2DataCollector paths, docs/protocol.md's layout. */
void sniff_pipe_config_default(struct sniff_pipe_config *c);

/* A complete supervisor request, borrowed for the callbacks. */
struct sniff_request {
    uint64_t index;        /* 1, 2, ... in the order requests complete on the wire */
    uint64_t flow_id;
    int64_t ts_ms;         /* capture time of the segment that completed it */
    const struct tcp_flow_key *flow;
    const char *path;
    const uint8_t *body;
    size_t body_len;
    bool resent;           /* same body as a request that got no reply */
};

/* Why the pipe speaks up; the consumer logs (the pipe is pure). */
enum sniff_notice {
    SNIFF_N_OPAQUE_TLS = 1,   /* supervisor traffic is TLS */
    SNIFF_N_OPAQUE_PORT,      /* supervisor traffic on another port */
    SNIFF_N_OPAQUE_NOT_HTTP,  /* server-port traffic that is not HTTP */
    SNIFF_N_OPAQUE_FORMAT,    /* uploads whose bodies are not the known text format */
    SNIFF_N_LIMIT,            /* a hard limit was hit (text says which) */
    SNIFF_N_PROBLEM,          /* malformed input (text says what) */
};

struct sniff_pipe_ops {
    void (*on_record)(void *ctx, const struct sniff_request *req, const struct pvs_record *rec);
    void (*on_request_end)(void *ctx, const struct sniff_request *req); /* may be NULL */
    /* first: true the first time this notice kind is raised (log it then);
     * later calls are rate-limited by the pipe (powers of two). */
    void (*on_notice)(void *ctx, enum sniff_notice n, const char *text); /* may be NULL */
};

struct sniff_stats {
    uint64_t packets, bytes;          /* every frame given */
    uint64_t tcp, relevant;           /* TCP segments; those on the supervisor's flows */
    uint64_t not_tcp, fragments, truncated, corrupt, unsupported_link;
    uint64_t connections;
    uint64_t skipped;                 /* connections not followed: no upload (downloads, ...) */
    uint64_t requests;                /* supervisor POSTs decoded */
    uint64_t requests_other;          /* other HTTP requests seen on the server port */
    uint64_t replies, acked, unacked, rejected, resent;
    uint64_t records;
    struct { int msg; uint64_t n; } by_msg[SNIFF_MSG_KINDS];
    uint64_t by_msg_other;            /* records of kinds past the table */
    uint64_t bad_lines, bad_times;
    uint64_t holes, hole_bytes, retransmitted, out_of_order, midstream;
    uint64_t http_problems, requests_lost; /* malformed HTTP; partial requests dropped */
    uint64_t limit_flows, limit_flow_bytes, limit_total_bytes, limit_header, limit_body,
        limit_budget, idle_closed;
    uint64_t opaque;                  /* unparsable supervisor traffic events */
    enum sniff_notice opaque_kind;    /* the last kind seen, 0 when none */
};

struct sniff_pipe;

/* Caller frees with sniff_pipe_free(). PVTAP_ENOMEM / PVTAP_EINVAL. */
int sniff_pipe_new(const struct sniff_pipe_config *cfg, const struct sniff_pipe_ops *ops,
                   void *ctx, struct sniff_pipe **out);
/* One captured frame. Returns true when it belongs to the supervisor's
 * traffic (worth saving with -w), false otherwise. Never fails: problems
 * are counted in the stats. */
bool sniff_pipe_frame(struct sniff_pipe *p, enum nf_link link, int64_t ts_ms,
                      const uint8_t *frame, size_t caplen, size_t wire_len);
/* End of input: flush held bytes and close every connection. */
void sniff_pipe_finish(struct sniff_pipe *p);
/* Counters (reassembly's merged in), borrowed until the next call. */
const struct sniff_stats *sniff_pipe_stats(struct sniff_pipe *p);
/* The configuration in use (layout for formatting), borrowed. */
const struct sniff_pipe_config *sniff_pipe_config(const struct sniff_pipe *p);
void sniff_pipe_free(struct sniff_pipe *p);

#endif
