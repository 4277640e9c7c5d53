/* The sniff pipeline: frames -> TCP flows -> HTTP requests/replies -> supervisor records. */
#include "proto/sniff_pipe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

enum {
    PENDING_MAX = 8,
    UNACKED_RING = 16,
    /* Reply bytes a connection may carry before its first upload: upload
     * replies are a few hundred bytes, so more is a download caught mid-way
     * (no request seen) and the connection is skipped. */
    REPLY_BYTES_BEFORE_UPLOAD = 256 * 1024,
};

struct pending {
    uint64_t hash;
    bool ours; /* a supervisor upload (else another request on the connection) */
};

/* Per connection: one parser per direction, and the requests waiting for replies. */
struct conn {
    struct sniff_pipe *pipe;
    struct tcp_flow *flow;
    struct http_parser req, rep;
    struct pending pending[PENDING_MAX];
    size_t n_pending;
    bool uploads;       /* an upload was seen: the connection is followed to its end */
    bool skip;          /* decided not ours: freed once the parser returns */
    uint64_t s2c_bytes; /* reply bytes seen while !uploads */
};

struct sniff_pipe {
    struct sniff_pipe_config cfg;
    struct sniff_pipe_ops ops;
    void *ctx;
    struct tcp_reasm *reasm;
    struct http_budget budget;
    struct sniff_stats st;
    int64_t now_ms;
    uint64_t next_request;
    uint64_t unacked[UNACKED_RING];
    size_t unacked_next;
    uint64_t notice_count[SNIFF_N_PROBLEM + 1];
    uint64_t seen_limits[3];
    struct conn *cur;              /* the connection whose parser is calling back */
    struct sniff_request *cur_req; /* the request whose records are being decoded */
};

void sniff_pipe_config_default(struct sniff_pipe_config *c)
{
    memset(c, 0, sizeof *c);
    c->server_port = 80;
    c->n_paths = 2;
    snprintf(c->paths[0], sizeof c->paths[0], "%s", "/Data/SMS2DataCollector.aspx");
    snprintf(c->paths[1], sizeof c->paths[1], "%s", "/Command/SMS2DataCollector.aspx");
    pvs_layout_default(&c->layout);
    tcp_reasm_limits_default(&c->reasm);
    http_limits_default(&c->http);
    c->body_budget_bytes = 6 * 1024 * 1024;
}

static void notice(struct sniff_pipe *p, enum sniff_notice kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void notice(struct sniff_pipe *p, enum sniff_notice kind, const char *fmt, ...)
{
    uint64_t n = ++p->notice_count[kind];
    if (!p->ops.on_notice || (n & (n - 1)) != 0)
        return; /* 1st, 2nd, 4th, 8th, ...: never a flood */
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n > 1) {
        size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, " (%llu times)", (unsigned long long)n);
    }
    p->ops.on_notice(p->ctx, kind, text);
}

static void opaque(struct sniff_pipe *p, enum sniff_notice kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void opaque(struct sniff_pipe *p, enum sniff_notice kind, const char *fmt, ...)
{
    p->st.opaque++;
    p->st.opaque_kind = kind;
    /* Said once per kind: it is a state of the site, not an event. */
    if (p->notice_count[kind]++ || !p->ops.on_notice)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    p->ops.on_notice(p->ctx, kind, text);
}

/* A body's fingerprint for spotting re-sent uploads. Eight bytes a step: a
 * byte-wise loop over every upload was a sixth of the whole decode. */
static uint64_t body_hash(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, d + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ d[i]) * 1099511628211ULL;
    return h ^ (h >> 32);
}

static void remember_unacked(struct sniff_pipe *p, uint64_t hash)
{
    p->unacked[p->unacked_next] = hash;
    p->unacked_next = (p->unacked_next + 1) % UNACKED_RING;
}

static bool was_unacked(struct sniff_pipe *p, uint64_t hash)
{
    for (size_t i = 0; i < UNACKED_RING; i++) {
        if (p->unacked[i] == hash && hash != 0) {
            p->unacked[i] = 0;
            return true;
        }
    }
    return false;
}

static void push_pending(struct conn *c, uint64_t hash, bool ours)
{
    if (c->n_pending == PENDING_MAX) {
        /* Replies stopped matching requests: forget the oldest. */
        if (c->pending[0].ours) {
            c->pipe->st.unacked++;
            remember_unacked(c->pipe, c->pending[0].hash);
        }
        memmove(c->pending, c->pending + 1, sizeof c->pending[0] * (PENDING_MAX - 1));
        c->n_pending--;
    }
    c->pending[c->n_pending].hash = hash;
    c->pending[c->n_pending].ours = ours;
    c->n_pending++;
}

static bool path_wanted(const struct sniff_pipe *p, const char *path)
{
    /* IIS paths are case-insensitive; so is the match. */
    for (size_t i = 0; i < p->cfg.n_paths; i++)
        if (strcasecmp(p->cfg.paths[i], path) == 0)
            return true;
    return false;
}

/* Stop following a connection that is not an upload's: its later packets
 * cost a flow lookup, not reassembly and parsing. The state is freed by
 * tcp_data() once the parser has returned. */
static void skip_conn(struct conn *c)
{
    c->skip = true;
    c->pipe->st.skipped++;
    tcp_flow_ignore(c->flow);
}

/* Decided on a connection's first request headers: an upload keeps it; so
 * does a connection the configured supervisor opened (whatever it asks);
 * anything else (downloads, other APIs) is skipped for good. */
static bool want_body(void *ctx, const struct http_msg *m)
{
    struct conn *c = ctx;
    struct sniff_pipe *p = c->pipe;
    bool upload = strcmp(m->method, "POST") == 0 && !m->path_cut && path_wanted(p, m->path);
    if (upload)
        c->uploads = true;
    else if (!c->uploads && !c->skip &&
             !(p->cfg.have_supervisor &&
               nf_addr_eq(&tcp_flow_key(c->flow)->client, &p->cfg.supervisor))) {
        p->st.requests_other++;
        skip_conn(c);
    }
    return upload;
}

static void count_msg(struct sniff_stats *st, int msg)
{
    for (size_t i = 0; i < SNIFF_MSG_KINDS; i++) {
        if (st->by_msg[i].n && st->by_msg[i].msg == msg) {
            st->by_msg[i].n++;
            return;
        }
        if (st->by_msg[i].n == 0) {
            st->by_msg[i].msg = msg;
            st->by_msg[i].n = 1;
            return;
        }
    }
    st->by_msg_other++;
}

static void on_body_record(void *ctx, const struct pvs_record *rec)
{
    struct sniff_pipe *p = ctx;
    p->st.records++;
    count_msg(&p->st, rec->msg);
    if (p->ops.on_record)
        p->ops.on_record(p->ctx, p->cur_req, rec);
}

static void on_request(struct conn *c, const struct http_msg *m)
{
    struct sniff_pipe *p = c->pipe;
    if (!m->body_kept) {
        if (c->skip)
            return; /* counted when skipped */
        p->st.requests_other++;
        push_pending(c, 0, false);
        return;
    }
    uint64_t hash = body_hash(m->body, m->body_len);
    struct sniff_request req = {
        .index = ++p->next_request,
        .flow_id = tcp_flow_id(c->flow),
        .ts_ms = p->now_ms,
        .flow = tcp_flow_key(c->flow),
        .path = m->path,
        .body = m->body,
        .body_len = m->body_len,
        .resent = was_unacked(p, hash),
    };
    p->st.requests++;
    if (req.resent)
        p->st.resent++;
    struct pvs_counts pc = {0};
    p->cur_req = &req;
    size_t n = pvs_decode_body((const char *)m->body, m->body_len, &p->cfg.layout, on_body_record,
                               p, &pc);
    p->cur_req = NULL;
    p->st.bad_lines += pc.bad_lines;
    p->st.bad_times += pc.bad_times;
    if (n == 0 && m->body_len > 0)
        opaque(p, SNIFF_N_OPAQUE_FORMAT,
               "supervisor uploads to %s are not in the known text format (%zu bytes, no "
               "records): newer firmware?",
               m->path, m->body_len);
    if (p->ops.on_request_end)
        p->ops.on_request_end(p->ctx, &req);
    push_pending(c, hash, true);
}

static void on_reply(struct conn *c, const struct http_msg *m)
{
    struct sniff_pipe *p = c->pipe;
    if (m->status / 100 == 1)
        return; /* interim (100 Continue): the final reply follows */
    p->st.replies++;
    if (c->n_pending == 0)
        return; /* a reply to a request sent before the capture started */
    struct pending pd = c->pending[0];
    memmove(c->pending, c->pending + 1, sizeof c->pending[0] * (c->n_pending - 1));
    c->n_pending--;
    if (!pd.ours)
        return;
    /* The collector acknowledges with "1002<TAB>YYYYmmddHHMMSS". */
    if (m->status == 200 && m->body_len >= 5 && memcmp(m->body, "1002\t", 5) == 0) {
        p->st.acked++;
    } else {
        p->st.rejected++;
        remember_unacked(p, pd.hash);
    }
}

static void on_message_req(void *ctx, const struct http_msg *m)
{
    on_request(ctx, m);
}

static void on_message_rep(void *ctx, const struct http_msg *m)
{
    on_reply(ctx, m);
}

static void on_problem(struct conn *c, enum http_problem why, bool request_side)
{
    struct sniff_pipe *p = c->pipe;
    struct sniff_stats *st = &p->st;
    char who[64];
    nf_addr_format(&tcp_flow_key(c->flow)->client, who, sizeof who);
    switch (why) {
    case HTTP_P_NOT_HTTP:
        if (request_side) {
            opaque(p, SNIFF_N_OPAQUE_NOT_HTTP,
                   "traffic from %s to port %u is not HTTP (TLS or another protocol?): not decoded",
                   who, (unsigned)p->cfg.server_port);
            tcp_flow_ignore(c->flow);
        } else {
            st->http_problems++;
        }
        return;
    case HTTP_P_HEADER_LIMIT: st->limit_header++; break;
    case HTTP_P_BODY_LIMIT: st->limit_body++; break;
    case HTTP_P_BUDGET_LIMIT: st->limit_budget++; break;
    case HTTP_P_HOLE:
    case HTTP_P_TRUNCATED: st->requests_lost += request_side; break;
    default: st->http_problems++; break;
    }
    bool limit = why == HTTP_P_HEADER_LIMIT || why == HTTP_P_BODY_LIMIT ||
                 why == HTTP_P_BUDGET_LIMIT || why == HTTP_P_NOMEM;
    notice(p, limit ? SNIFF_N_LIMIT : SNIFF_N_PROBLEM, "HTTP %s from %s: %s; message dropped",
           request_side ? "request" : "reply", who, http_problem_name(why));
}

static void on_problem_req(void *ctx, enum http_problem why)
{
    on_problem(ctx, why, true);
}

static void on_problem_rep(void *ctx, enum http_problem why)
{
    on_problem(ctx, why, false);
}

static const struct http_callbacks req_cb = {want_body, on_message_req, on_problem_req};
static const struct http_callbacks rep_cb = {NULL, on_message_rep, on_problem_rep};

static void conn_free(struct conn *c)
{
    http_parser_free(&c->req);
    http_parser_free(&c->rep);
    free(c);
}

static void tcp_data(void *ctx, struct tcp_flow *f, enum tcp_dir d, const uint8_t *data, size_t len)
{
    (void)ctx;
    struct conn *c = tcp_flow_user(f);
    if (!c)
        return;
    if (d == TCP_C2S) {
        http_feed(&c->req, data, len, &req_cb, c);
    } else if (!c->uploads && (c->s2c_bytes += len) > REPLY_BYTES_BEFORE_UPLOAD) {
        skip_conn(c);
    } else {
        http_feed(&c->rep, data, len, &rep_cb, c);
    }
    if (c->skip) {
        /* Its pending entries are other requests' (never an upload's). */
        tcp_flow_set_user(f, NULL);
        conn_free(c);
    }
}

static void tcp_event(void *ctx, struct tcp_flow *f, enum tcp_dir d, enum tcp_event ev, uint64_t n)
{
    struct sniff_pipe *p = ctx;
    struct conn *c = tcp_flow_user(f);
    (void)n;
    switch (ev) {
    case TCP_EV_OPEN:
        p->st.connections++;
        c = calloc(1, sizeof *c);
        if (!c) {
            notice(p, SNIFF_N_LIMIT, "out of memory for a connection: not decoded");
            tcp_flow_ignore(f);
            return;
        }
        c->pipe = p;
        c->flow = f;
        struct http_limits lim = p->cfg.http;
        lim.budget = &p->budget;
        http_parser_init(&c->req, HTTP_REQUEST, &lim);
        http_parser_init(&c->rep, HTTP_RESPONSE, &lim);
        tcp_flow_set_user(f, c);
        return;
    case TCP_EV_MIDSTREAM:
    case TCP_EV_HOLE:
        if (!c)
            return;
        if (d == TCP_C2S)
            http_hole(&c->req, &req_cb, c);
        else
            http_hole(&c->rep, &rep_cb, c);
        return;
    case TCP_EV_FIN:
        if (!c)
            return;
        if (d == TCP_C2S)
            http_eof(&c->req, &req_cb, c);
        else
            http_eof(&c->rep, &rep_cb, c);
        return;
    case TCP_EV_CLOSE:
        if (!c)
            return;
        http_eof(&c->req, &req_cb, c);
        http_eof(&c->rep, &rep_cb, c);
        for (size_t i = 0; i < c->n_pending; i++) {
            if (c->pending[i].ours) {
                p->st.unacked++;
                remember_unacked(p, c->pending[i].hash);
            }
        }
        tcp_flow_set_user(f, NULL);
        conn_free(c);
        return;
    }
}

int sniff_pipe_new(const struct sniff_pipe_config *cfg, const struct sniff_pipe_ops *ops,
                   void *ctx, struct sniff_pipe **out)
{
    *out = NULL;
    if (!cfg || !ops || cfg->n_paths > SNIFF_MAX_PATHS)
        return PVTAP_EINVAL;
    struct sniff_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return PVTAP_ENOMEM;
    p->cfg = *cfg;
    p->ops = *ops;
    p->ctx = ctx;
    p->budget.max = cfg->body_budget_bytes;
    static const struct tcp_reasm_ops rops = {tcp_data, tcp_event};
    int rc = tcp_reasm_new(&cfg->reasm, &rops, p, &p->reasm);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return PVTAP_OK;
}

/* A TLS record header: handshake (22), version 3.x (RFC 8446 section 5.1). */
static bool looks_tls(const struct nf_segment *s)
{
    return s->payload_len >= 6 && s->payload[0] == 0x16 && s->payload[1] == 0x03;
}

static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++) {
        const uint8_t *hit = memchr(hay + i, needle[0], n - k - i + 1);
        if (!hit)
            return false;
        i = (size_t)(hit - hay);
        if (memcmp(hit, needle, k) == 0)
            return true;
    }
    return false;
}

static void check_limits(struct sniff_pipe *p)
{
    const struct tcp_reasm_counts *rc = tcp_reasm_counts(p->reasm);
    const uint64_t now[3] = {rc->limit_flows, rc->limit_dir_bytes, rc->limit_total_bytes};
    static const char *const what[3] = {
        "too many connections: the idlest was dropped",
        "out-of-order bytes held for one connection: gave up waiting (hole)",
        "out-of-order bytes held over all connections: gave up waiting (hole)",
    };
    for (int i = 0; i < 3; i++) {
        if (now[i] != p->seen_limits[i]) {
            p->seen_limits[i] = now[i];
            notice(p, SNIFF_N_LIMIT, "TCP reassembly limit: %s", what[i]);
        }
    }
}

bool sniff_pipe_frame(struct sniff_pipe *p, enum nf_link link, int64_t ts_ms,
                      const uint8_t *frame, size_t caplen, size_t wire_len)
{
    struct sniff_stats *st = &p->st;
    st->packets++;
    st->bytes += wire_len;
    p->now_ms = ts_ms;
    struct nf_segment seg;
    int rc = nf_decode(link, frame, caplen, wire_len, &seg);
    switch (rc) {
    case PVTAP_OK: break;
    case PVTAP_ENOTMINE: st->not_tcp++; return false;
    case PVTAP_ETRUNC:
        st->truncated++;
        notice(p, SNIFF_N_PROBLEM,
               "frame %llu is shorter than its headers say: captured with too small a snaplen?",
               (unsigned long long)st->packets);
        return false;
    case PVTAP_ECORRUPT:
        st->corrupt++;
        notice(p, SNIFF_N_PROBLEM, "frame %llu has impossible IP/TCP lengths: skipped",
               (unsigned long long)st->packets);
        return false;
    default:
        if (link == NF_LINK_UNSUPPORTED)
            st->unsupported_link++;
        else
            st->fragments++;
        return false;
    }
    st->tcp++;
    const uint16_t port = p->cfg.server_port;
    bool to_server = seg.dport == port, from_server = seg.sport == port;
    if (p->cfg.have_supervisor) {
        bool sup_src = nf_addr_eq(&seg.src, &p->cfg.supervisor);
        bool sup_dst = nf_addr_eq(&seg.dst, &p->cfg.supervisor);
        if (!sup_src && !sup_dst)
            return false;
        if (!to_server && !from_server) {
            if (sup_src && seg.payload_len) {
                if (looks_tls(&seg))
                    opaque(p, SNIFF_N_OPAQUE_TLS,
                           "the supervisor sends TLS to port %u: its uploads cannot be decoded",
                           (unsigned)seg.dport);
                else
                    opaque(p, SNIFF_N_OPAQUE_PORT,
                           "the supervisor sends data to port %u, not %u: not decoded",
                           (unsigned)seg.dport, (unsigned)port);
            }
            return true; /* still its traffic: worth saving with -w */
        }
    } else if (!to_server && !from_server) {
        /* Without an address, recognise the collector by name in the TLS
         * ClientHello's server name: a handshake record only, so cheap. */
        if (looks_tls(&seg) && contains(seg.payload, seg.payload_len, "sunpowermonitor")) {
            opaque(p, SNIFF_N_OPAQUE_TLS,
                   "supervisor traffic to the collector is TLS (port %u): its uploads cannot "
                   "be decoded",
                   (unsigned)seg.dport);
            return true;
        }
        return false;
    }
    st->relevant++;
    tcp_reasm_segment(p->reasm, &seg, to_server, ts_ms);
    check_limits(p);
    return true;
}

void sniff_pipe_finish(struct sniff_pipe *p)
{
    tcp_reasm_finish(p->reasm);
    check_limits(p);
}

const struct sniff_stats *sniff_pipe_stats(struct sniff_pipe *p)
{
    const struct tcp_reasm_counts *rc = tcp_reasm_counts(p->reasm);
    p->st.holes = rc->holes;
    p->st.hole_bytes = rc->hole_bytes;
    p->st.retransmitted = rc->retransmitted;
    p->st.out_of_order = rc->out_of_order;
    p->st.midstream = rc->midstream;
    p->st.limit_flows = rc->limit_flows;
    p->st.limit_flow_bytes = rc->limit_dir_bytes;
    p->st.limit_total_bytes = rc->limit_total_bytes;
    p->st.idle_closed = rc->idle_closed;
    return &p->st;
}

const struct sniff_pipe_config *sniff_pipe_config(const struct sniff_pipe *p)
{
    return &p->cfg;
}

void sniff_pipe_free(struct sniff_pipe *p)
{
    if (!p)
        return;
    tcp_reasm_free(p->reasm);
    free(p);
}
