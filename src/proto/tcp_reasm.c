/* TCP reassembly: flow table, in-order delivery, out-of-order holding, holes and limits. */
#include "proto/tcp_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* A held out-of-order piece; the list is sorted by distance from next_seq. */
struct ooo_seg {
    struct ooo_seg *next;
    uint32_t seq;
    uint32_t len;
    uint8_t data[];
};

struct tcp_stream {
    bool synced;      /* next_seq is known (SYN seen, or picked up mid-stream) */
    bool fin_seen;
    bool closed;      /* FIN delivered in order, or the flow reset */
    bool have_isn;    /* the SYN was seen: isn is its sequence number */
    uint32_t isn;
    uint32_t next_seq;
    uint32_t fin_seq;
    struct ooo_seg *ooo;
    size_t held;
};

struct tcp_flow {
    struct tcp_flow_key key;
    uint64_t id;
    void *user;
    bool ignore;
    int64_t last_ms;
    struct tcp_stream s[2];
    struct tcp_flow *hnext;               /* hash chain */
    struct tcp_flow *lru_prev, *lru_next; /* lru_prev = more recent */
};

struct tcp_reasm {
    struct tcp_reasm_limits lim;
    struct tcp_reasm_ops ops;
    void *ctx;
    struct tcp_flow **buckets;
    size_t n_buckets; /* power of two */
    size_t n_flows;
    struct tcp_flow *lru_head, *lru_tail; /* head = most recently seen */
    size_t held_total;
    uint64_t next_id;
    int64_t last_sweep_ms;
    bool swept; /* last_sweep_ms is set */
    struct tcp_reasm_counts counts;
};

void tcp_reasm_limits_default(struct tcp_reasm_limits *l)
{
    /* A supervisor keeps one or two connections; 256 leaves room for the
     * rest of port 80 on a home LAN while 256 x 2 x 256 KiB can never be
     * reached because max_held_bytes caps the sum at 4 MiB (RSS <= 16 MiB). */
    l->max_flows = 256;
    l->max_held_dir_bytes = 256 * 1024;
    l->max_held_bytes = 4 * 1024 * 1024;
    l->idle_ms = 600 * 1000; /* longer than the 300 s upload period */
}

/* Sequence arithmetic modulo 2^32 (RFC 9293 section 3.4). */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

const struct tcp_flow_key *tcp_flow_key(const struct tcp_flow *f)
{
    return &f->key;
}
uint64_t tcp_flow_id(const struct tcp_flow *f)
{
    return f->id;
}
void *tcp_flow_user(const struct tcp_flow *f)
{
    return f->user;
}
void tcp_flow_set_user(struct tcp_flow *f, void *user)
{
    f->user = user;
}

static void stream_drop_held(struct tcp_reasm *r, struct tcp_stream *s)
{
    struct ooo_seg *o = s->ooo;
    while (o) {
        struct ooo_seg *n = o->next;
        free(o);
        o = n;
    }
    s->ooo = NULL;
    r->held_total -= s->held;
    s->held = 0;
}

void tcp_flow_ignore(struct tcp_flow *f)
{
    /* Held bytes are freed lazily by the next segment of the flow (no table
     * pointer here); mark only. */
    f->ignore = true;
}

static uint64_t key_hash(const struct tcp_flow_key *k)
{
    /* FNV-1a over the fields (not the struct: it has padding). */
    uint64_t h = 1469598103934665603ULL;
    size_t alen = k->client.family == 4 ? 4 : 16;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ k->client.a[i]) * 1099511628211ULL;
    for (size_t i = 0; i < alen; i++)
        h = (h ^ k->server.a[i]) * 1099511628211ULL;
    h = (h ^ k->client_port) * 1099511628211ULL;
    h = (h ^ k->server_port) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static bool key_eq(const struct tcp_flow_key *a, const struct tcp_flow_key *b)
{
    return a->client_port == b->client_port && a->server_port == b->server_port &&
           nf_addr_eq(&a->client, &b->client) && nf_addr_eq(&a->server, &b->server);
}

int tcp_reasm_new(const struct tcp_reasm_limits *lim, const struct tcp_reasm_ops *ops, void *ctx,
                  struct tcp_reasm **out)
{
    *out = NULL;
    if (!lim || !ops || !ops->on_data || !ops->on_event || lim->max_flows == 0)
        return PVTAP_EINVAL;
    struct tcp_reasm *r = calloc(1, sizeof *r);
    if (!r)
        return PVTAP_ENOMEM;
    r->lim = *lim;
    r->ops = *ops;
    r->ctx = ctx;
    r->n_buckets = 64;
    while (r->n_buckets < lim->max_flows * 2 && r->n_buckets < (1u << 20))
        r->n_buckets *= 2;
    r->buckets = calloc(r->n_buckets, sizeof *r->buckets);
    if (!r->buckets) {
        free(r);
        return PVTAP_ENOMEM;
    }
    r->next_id = 1;
    *out = r;
    return PVTAP_OK;
}

static void lru_unlink(struct tcp_reasm *r, struct tcp_flow *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        r->lru_head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        r->lru_tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_push_head(struct tcp_reasm *r, struct tcp_flow *f)
{
    f->lru_prev = NULL;
    f->lru_next = r->lru_head;
    if (r->lru_head)
        r->lru_head->lru_prev = f;
    r->lru_head = f;
    if (!r->lru_tail)
        r->lru_tail = f;
}

static void emit(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_dir d, enum tcp_event ev,
                 uint64_t n)
{
    r->ops.on_event(r->ctx, f, d, ev, n);
}

/* Hand over in-order bytes, then whatever held pieces became contiguous. */
static void deliver_contiguous(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_dir d)
{
    struct tcp_stream *s = &f->s[d];
    while (s->ooo && seq_diff(s->ooo->seq, s->next_seq) <= 0) {
        struct ooo_seg *o = s->ooo;
        s->ooo = o->next;
        s->held -= o->len;
        r->held_total -= o->len;
        uint32_t skip = (uint32_t)-seq_diff(o->seq, s->next_seq);
        if (skip < o->len) {
            if (skip)
                r->counts.overlaps++;
            if (!f->ignore)
                r->ops.on_data(r->ctx, f, d, o->data + skip, o->len - skip);
            s->next_seq += o->len - skip;
        } else {
            r->counts.retransmitted++;
            r->counts.retransmitted_bytes += o->len;
        }
        free(o);
    }
    if (s->fin_seen && !s->closed && s->next_seq == s->fin_seq && !s->ooo) {
        s->closed = true;
        s->next_seq++; /* FIN occupies one sequence number */
        emit(r, f, d, TCP_EV_FIN, 0);
    }
}

/* Give up waiting for missing bytes: report each gap as a hole and deliver
 * what follows it. Used on limits, close, and when the peer acknowledged
 * bytes the capture never saw (they will not be sent again). */
static void flush_with_holes(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_dir d)
{
    struct tcp_stream *s = &f->s[d];
    while (s->ooo) {
        int32_t gap = seq_diff(s->ooo->seq, s->next_seq);
        if (gap > 0) {
            r->counts.holes++;
            r->counts.hole_bytes += (uint64_t)gap;
            emit(r, f, d, TCP_EV_HOLE, (uint64_t)gap);
            s->next_seq = s->ooo->seq;
        }
        deliver_contiguous(r, f, d);
    }
    if (s->fin_seen && !s->closed && seq_diff(s->fin_seq, s->next_seq) > 0) {
        int32_t gap = seq_diff(s->fin_seq, s->next_seq);
        r->counts.holes++;
        r->counts.hole_bytes += (uint64_t)gap;
        emit(r, f, d, TCP_EV_HOLE, (uint64_t)gap);
        s->next_seq = s->fin_seq;
        deliver_contiguous(r, f, d);
    }
}

static void flow_close(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_close_reason why,
                       bool flush)
{
    if (flush && !f->ignore) {
        flush_with_holes(r, f, TCP_C2S);
        flush_with_holes(r, f, TCP_S2C);
    }
    emit(r, f, TCP_C2S, TCP_EV_CLOSE, (uint64_t)why);
    stream_drop_held(r, &f->s[0]);
    stream_drop_held(r, &f->s[1]);
    size_t b = (size_t)key_hash(&f->key) & (r->n_buckets - 1);
    for (struct tcp_flow **pp = &r->buckets[b]; *pp; pp = &(*pp)->hnext) {
        if (*pp == f) {
            *pp = f->hnext;
            break;
        }
    }
    lru_unlink(r, f);
    r->n_flows--;
    r->counts.flows_closed++;
    free(f);
}

static struct tcp_flow *flow_find(struct tcp_reasm *r, const struct tcp_flow_key *k, size_t *bucket)
{
    size_t b = (size_t)key_hash(k) & (r->n_buckets - 1);
    *bucket = b;
    for (struct tcp_flow *f = r->buckets[b]; f; f = f->hnext)
        if (key_eq(&f->key, k))
            return f;
    return NULL;
}

static struct tcp_flow *flow_open(struct tcp_reasm *r, const struct tcp_flow_key *k, size_t bucket,
                                  int64_t now_ms)
{
    if (r->n_flows >= r->lim.max_flows && r->lru_tail) {
        r->counts.limit_flows++;
        flow_close(r, r->lru_tail, TCP_CLOSE_EVICTED, true);
    }
    struct tcp_flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->key = *k;
    f->id = r->next_id++;
    f->last_ms = now_ms;
    f->hnext = r->buckets[bucket];
    r->buckets[bucket] = f;
    lru_push_head(r, f);
    r->n_flows++;
    r->counts.flows_opened++;
    emit(r, f, TCP_C2S, TCP_EV_OPEN, 0);
    return f;
}

/* Hold a piece that starts after next_seq. Exact duplicates are dropped. */
static int hold(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_dir d, uint32_t seq,
                const uint8_t *data, size_t len)
{
    struct tcp_stream *s = &f->s[d];
    struct ooo_seg **pp = &s->ooo;
    uint32_t rel = seq - s->next_seq;
    while (*pp && (*pp)->seq - s->next_seq < rel)
        pp = &(*pp)->next;
    if (*pp && (*pp)->seq == seq && (*pp)->len >= len) {
        r->counts.retransmitted++;
        r->counts.retransmitted_bytes += len;
        return PVTAP_OK;
    }
    struct ooo_seg *o = malloc(sizeof *o + len);
    if (!o)
        return PVTAP_ENOMEM;
    o->seq = seq;
    o->len = (uint32_t)len;
    memcpy(o->data, data, len);
    o->next = *pp;
    *pp = o;
    s->held += len;
    r->held_total += len;
    r->counts.out_of_order++;
    return PVTAP_OK;
}

static void stream_data(struct tcp_reasm *r, struct tcp_flow *f, enum tcp_dir d, uint32_t seq,
                        const uint8_t *data, size_t len)
{
    struct tcp_stream *s = &f->s[d];
    if (len == 0 || s->closed)
        return;
    int32_t diff = seq_diff(seq, s->next_seq);
    if (diff <= 0) {
        size_t old = (size_t)(-(int64_t)diff);
        if (old >= len) {
            r->counts.retransmitted++;
            r->counts.retransmitted_bytes += len;
            return;
        }
        if (old)
            r->counts.overlaps++;
        if (!f->ignore)
            r->ops.on_data(r->ctx, f, d, data + old, len - old);
        s->next_seq += (uint32_t)(len - old);
        deliver_contiguous(r, f, d);
        return;
    }
    if (f->ignore)
        return; /* nothing is held for a flow nobody reads */
    if (hold(r, f, d, seq, data, len) != PVTAP_OK) {
        /* No memory for the piece: it is lost like a dropped packet. */
        r->counts.limit_total_bytes++;
        return;
    }
    if (s->held > r->lim.max_held_dir_bytes) {
        r->counts.limit_dir_bytes++;
        flush_with_holes(r, f, d);
    } else if (r->held_total > r->lim.max_held_bytes) {
        r->counts.limit_total_bytes++;
        flush_with_holes(r, f, d);
    }
}

void tcp_reasm_expire(struct tcp_reasm *r, int64_t now_ms)
{
    while (r->lru_tail && now_ms - r->lru_tail->last_ms > r->lim.idle_ms) {
        r->counts.idle_closed++;
        flow_close(r, r->lru_tail, TCP_CLOSE_IDLE, true);
    }
}

int tcp_reasm_segment(struct tcp_reasm *r, const struct nf_segment *seg, bool from_client,
                      int64_t now_ms)
{
    r->counts.segments++;
    /* Capture time may jump backwards (a merged file): resweep then too. */
    if (!r->swept || now_ms < r->last_sweep_ms || now_ms - r->last_sweep_ms >= 1000) {
        r->swept = true;
        r->last_sweep_ms = now_ms;
        tcp_reasm_expire(r, now_ms);
    }
    struct tcp_flow_key k;
    memset(&k, 0, sizeof k);
    if (from_client) {
        k.client = seg->src;
        k.server = seg->dst;
        k.client_port = seg->sport;
        k.server_port = seg->dport;
    } else {
        k.client = seg->dst;
        k.server = seg->src;
        k.client_port = seg->dport;
        k.server_port = seg->sport;
    }
    enum tcp_dir d = from_client ? TCP_C2S : TCP_S2C;
    bool syn = seg->flags & NF_TCP_SYN, fin = seg->flags & NF_TCP_FIN;
    bool rst = seg->flags & NF_TCP_RST;
    size_t bucket;
    struct tcp_flow *f = flow_find(r, &k, &bucket);

    /* A SYN on a known 4-tuple: the same ISN is a retransmission; another
     * ISN is a new connection reusing the ports (the old FIN may be lost). */
    if (f && syn && f->s[d].have_isn) {
        if (seg->seq == f->s[d].isn) {
            r->counts.retransmitted++;
            f->last_ms = now_ms;
            return PVTAP_OK;
        }
        if (d == TCP_C2S && !(seg->flags & NF_TCP_ACK)) {
            flow_close(r, f, TCP_CLOSE_REUSED, true);
            f = NULL;
        }
    }
    if (!f) {
        if (rst || (!syn && seg->payload_len == 0)) {
            r->counts.orphan++;
            return PVTAP_OK;
        }
        f = flow_open(r, &k, bucket, now_ms);
        if (!f) {
            r->counts.limit_flows++;
            return PVTAP_ENOMEM;
        }
    }
    f->last_ms = now_ms;
    if (r->lru_head != f) {
        lru_unlink(r, f);
        lru_push_head(r, f);
    }
    if (rst) {
        flow_close(r, f, TCP_CLOSE_RST, true);
        return PVTAP_OK;
    }
    if (f->ignore && (f->s[0].ooo || f->s[1].ooo)) {
        stream_drop_held(r, &f->s[0]);
        stream_drop_held(r, &f->s[1]);
    }
    struct tcp_stream *s = &f->s[d];
    uint32_t seq = seg->seq;
    if (syn) {
        if (!s->synced) {
            s->synced = true;
            s->next_seq = seq + 1;
        }
        s->have_isn = true;
        s->isn = seq;
        seq++; /* data on a SYN starts after it */
    } else if (!s->synced && (seg->payload_len || fin)) {
        s->synced = true;
        s->next_seq = seq;
        r->counts.midstream++;
        emit(r, f, d, TCP_EV_MIDSTREAM, 0);
    }
    stream_data(r, f, d, seq, seg->payload, seg->payload_len);
    if (fin && !s->fin_seen) {
        s->fin_seen = true;
        s->fin_seq = seq + (uint32_t)seg->payload_len;
        deliver_contiguous(r, f, d);
    }
    /* The peer acknowledges bytes this side sent that were never captured:
     * they will not come again, so stop waiting for them. */
    struct tcp_stream *o = &f->s[1 - d];
    if ((seg->flags & NF_TCP_ACK) && o->synced && o->ooo && seq_diff(seg->ack, o->ooo->seq) > 0)
        flush_with_holes(r, f, (enum tcp_dir)(1 - d));
    if (f->s[0].closed && f->s[1].closed)
        flow_close(r, f, TCP_CLOSE_FIN, false);
    return PVTAP_OK;
}

void tcp_reasm_finish(struct tcp_reasm *r)
{
    while (r->lru_tail)
        flow_close(r, r->lru_tail, TCP_CLOSE_END, true);
}

const struct tcp_reasm_counts *tcp_reasm_counts(const struct tcp_reasm *r)
{
    return &r->counts;
}

size_t tcp_reasm_held_bytes(const struct tcp_reasm *r)
{
    return r->held_total;
}

size_t tcp_reasm_flow_count(const struct tcp_reasm *r)
{
    return r->n_flows;
}

void tcp_reasm_free(struct tcp_reasm *r)
{
    if (!r)
        return;
    while (r->lru_tail)
        flow_close(r, r->lru_tail, TCP_CLOSE_END, false);
    free(r->buckets);
    free(r);
}
