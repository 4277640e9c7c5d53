/* Capture writer: Ethernet/VLAN/IPv4/IPv6/TCP framing with real checksums and sequence numbers, pcap and pcapng. */
#include "capture_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site_model.h"
#include "site_supervisor.h"

enum {
    SNAPLEN = 262144,
    FRAME_MAX = 1600,
    RTT_US = 38000,         /* supervisor <-> collector round trip */
    SEG_GAP_US = 150,       /* between back-to-back segments */
    LOST_TIMEOUT_US = 30000000,
    BG_LINE_BYTES_PER_US = 12, /* ~100 Mbit/s: background never exceeds the link */
};

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PSH = 0x08, TH_ACK = 0x10 };

/* One TCP conversation's addressing and sequence state. */
struct tcp_flow {
    uint8_t cmac[6], smac[6];
    uint8_t cip[16], sip[16];
    bool v6;
    uint16_t cport, sport;
    uint32_t cseq, sseq; /* next sequence number each side sends */
    uint16_t cip_id, sip_id;
};

/* Background conversation: a scripted list of messages. */
enum bg_kind { BG_ARP, BG_DNS, BG_HTTP, BG_TLS, BG_BULK, BG_KINDS };
struct bg_msg {
    bool from_server;
    size_t len;
    char head[256]; /* literal start of the message, the rest is filler */
    size_t head_len;
    bool text_filler;
    bool tls;        /* TLS records of at most 16384 bytes */
};
struct bg_flow {
    enum bg_kind kind;
    int step;        /* 0,1,2: handshake; then messages; then close */
    struct tcp_flow f;
    struct bg_msg msgs[4];
    int n_msgs, msg;
    size_t off;      /* bytes of the current message sent */
    int unacked;     /* segments since the last ACK */
    bool need_ack;
    int close_step;
    uint32_t dns_id;
    char dns_name[64];
};

struct capture_writer {
    FILE *fp;
    bool to_stdout;
    struct capture_options o;
    uint64_t rng_sup, rng_bg;
    int64_t last_us;     /* timestamp of the last packet written */
    int64_t busy_until_us;
    bool write_error;
    /* supervisor connection */
    struct tcp_flow conn;
    bool conn_open;
    int conn_requests;
    uint16_t next_port;
    /* background */
    double debt_bytes;
    double bg_avg_len;
    struct bg_flow bg;
    bool bg_active;
    uint16_t bg_next_port;
    uint8_t frame[FRAME_MAX + 64];
    struct capture_stats st;
};

static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    return site_hash64(*s);
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

void capture_options_defaults(struct capture_options *o)
{
    memset(o, 0, sizeof(*o));
    o->keepalive = 1;
    o->chunk_bytes = 1024;
    o->seed = 1;
}

/* ---- file formats ---------------------------------------------------- */

static void put_u16le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    put_u16le(p, v & 0xffff);
    put_u16le(p + 2, v >> 16);
}

static void put_u16be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_u32be(uint8_t *p, uint32_t v)
{
    put_u16be(p, v >> 16);
    put_u16be(p + 2, v & 0xffff);
}

static void out_bytes(struct capture_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        w->write_error = true;
}

static void write_file_header(struct capture_writer *w)
{
    uint8_t h[48];
    if (!w->o.pcapng) {
        /* classic pcap, microsecond stamps, little-endian, LINKTYPE_ETHERNET */
        put_u32le(h, 0xa1b2c3d4);
        put_u16le(h + 4, 2);
        put_u16le(h + 6, 4);
        put_u32le(h + 8, 0);
        put_u32le(h + 12, 0);
        put_u32le(h + 16, SNAPLEN);
        put_u32le(h + 20, 1);
        out_bytes(w, h, 24);
        return;
    }
    /* pcapng: Section Header Block (no options), Interface Description Block
     * (Ethernet, default microsecond resolution) */
    put_u32le(h, 0x0A0D0D0A);
    put_u32le(h + 4, 28);
    put_u32le(h + 8, 0x1A2B3C4D);
    put_u16le(h + 12, 1);
    put_u16le(h + 14, 0);
    put_u32le(h + 16, 0xffffffff);
    put_u32le(h + 20, 0xffffffff); /* section length unknown */
    put_u32le(h + 24, 28);
    put_u32le(h + 28, 1);
    put_u32le(h + 32, 20);
    put_u16le(h + 36, 1);
    put_u16le(h + 38, 0);
    put_u32le(h + 40, SNAPLEN);
    put_u32le(h + 44, 20);
    out_bytes(w, h, 48);
}

static void write_packet(struct capture_writer *w, int64_t t_us, const uint8_t *p, size_t len)
{
    uint8_t h[28];
    if (t_us < w->last_us)
        t_us = w->last_us; /* never go back in time */
    w->last_us = t_us;
    if (!w->o.pcapng) {
        put_u32le(h, (uint32_t)(t_us / 1000000));
        put_u32le(h + 4, (uint32_t)(t_us % 1000000));
        put_u32le(h + 8, (uint32_t)len);
        put_u32le(h + 12, (uint32_t)len);
        out_bytes(w, h, 16);
        out_bytes(w, p, len);
    } else {
        size_t pad = (4 - len % 4) % 4;
        uint32_t total = (uint32_t)(32 + len + pad);
        put_u32le(h, 6);
        put_u32le(h + 4, total);
        put_u32le(h + 8, 0);
        put_u32le(h + 12, (uint32_t)((uint64_t)t_us >> 32));
        put_u32le(h + 16, (uint32_t)((uint64_t)t_us & 0xffffffffu));
        put_u32le(h + 20, (uint32_t)len);
        put_u32le(h + 24, (uint32_t)len);
        out_bytes(w, h, 28);
        out_bytes(w, p, len);
        static const uint8_t zero[4] = {0};
        out_bytes(w, zero, pad);
        uint8_t t[4];
        put_u32le(t, total);
        out_bytes(w, t, 4);
    }
    w->st.packets++;
    w->st.bytes += len;
}

/* ---- framing ----------------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Ethernet (+ tags) header; returns its length. */
static size_t put_eth(const struct capture_writer *w, uint8_t *p, const uint8_t *dst, const uint8_t *src,
                      uint16_t ethertype)
{
    size_t n = 0;
    memcpy(p, dst, 6);
    memcpy(p + 6, src, 6);
    n = 12;
    if (w->o.svlan > 0) {
        put_u16be(p + n, 0x88a8);
        put_u16be(p + n + 2, (uint32_t)w->o.svlan & 0x0fff);
        n += 4;
    }
    if (w->o.vlan > 0) {
        put_u16be(p + n, 0x8100);
        put_u16be(p + n + 2, (uint32_t)w->o.vlan & 0x0fff);
        n += 4;
    }
    put_u16be(p + n, ethertype);
    return n + 2;
}

/* An IP packet carrying an L4 payload of proto (6 TCP, 17 UDP) whose header
 * and data are already at l4; fills the IP header and the L4 checksum. */
static size_t put_ip(uint8_t *ip, bool v6, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                     size_t l4_len, uint16_t id, uint8_t ttl, size_t csum_off)
{
    uint8_t *l4 = ip + (v6 ? 40 : 20);
    uint32_t sum = 0;
    if (v6) {
        put_u32be(ip, 0x60000000u);
        put_u16be(ip + 4, (uint32_t)l4_len);
        ip[6] = proto;
        ip[7] = ttl;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        sum = csum_add(sum, src, 16);
        sum = csum_add(sum, dst, 16);
        sum += (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
        sum += proto;
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        put_u16be(ip + 2, (uint32_t)(20 + l4_len));
        put_u16be(ip + 4, id);
        put_u16be(ip + 6, 0x4000); /* DF */
        ip[8] = ttl;
        ip[9] = proto;
        put_u16be(ip + 10, 0);
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        put_u16be(ip + 10, csum_fold(csum_add(0, ip, 20)));
        sum = csum_add(sum, src, 4);
        sum = csum_add(sum, dst, 4);
        sum += proto;
        sum += (uint32_t)l4_len;
    }
    put_u16be(l4 + csum_off, 0);
    uint16_t c = csum_fold(csum_add(sum, l4, l4_len));
    if (proto == 17 && c == 0)
        c = 0xffff; /* UDP: 0 means "no checksum" */
    put_u16be(l4 + csum_off, c);
    return (v6 ? 40 : 20) + l4_len;
}

/* One TCP segment of flow f; from_server picks the direction. payload may be
 * NULL (then plen bytes are already in place in the frame at the payload
 * offset). Returns the frame length. */
static size_t tcp_frame(struct capture_writer *w, struct tcp_flow *f, bool from_server, uint8_t flags,
                        uint32_t seq, uint32_t ack, const uint8_t *payload, size_t plen, bool mss_opt)
{
    uint8_t *p = w->frame;
    size_t eth = put_eth(w, p, from_server ? f->cmac : f->smac, from_server ? f->smac : f->cmac,
                         f->v6 ? 0x86dd : 0x0800);
    uint8_t *ip = p + eth;
    uint8_t *tcp = ip + (f->v6 ? 40 : 20);
    size_t thl = mss_opt ? 24 : 20;
    put_u16be(tcp, from_server ? f->sport : f->cport);
    put_u16be(tcp + 2, from_server ? f->cport : f->sport);
    put_u32be(tcp + 4, seq);
    put_u32be(tcp + 8, ack);
    tcp[12] = (uint8_t)((thl / 4) << 4);
    tcp[13] = flags;
    put_u16be(tcp + 14, from_server ? 28960 : 29200);
    put_u16be(tcp + 16, 0);
    put_u16be(tcp + 18, 0);
    if (mss_opt) {
        tcp[20] = 2;
        tcp[21] = 4;
        put_u16be(tcp + 22, f->v6 ? 1440 : 1460);
    }
    if (payload && plen)
        memmove(tcp + thl, payload, plen);
    uint16_t id = from_server ? f->sip_id++ : f->cip_id++;
    size_t iplen = put_ip(ip, f->v6, from_server ? f->sip : f->cip, from_server ? f->cip : f->sip, 6,
                          thl + plen, id, from_server ? 52 : 64, 16);
    return eth + iplen;
}

static size_t tcp_payload_offset(const struct capture_writer *w, const struct tcp_flow *f)
{
    size_t tags = (w->o.svlan > 0 ? 4 : 0) + (w->o.vlan > 0 ? 4 : 0);
    return 14 + tags + (f->v6 ? 40 : 20) + 20;
}

/* ---- background traffic ------------------------------------------------ */

static const uint8_t ROUTER_MAC[6] = {0x44, 0xd9, 0xe7, 0x12, 0x34, 0x56};
static const uint8_t ROUTER_IP[4] = {192, 168, 1, 1};
static const uint8_t SUP_MAC[6] = {0x00, 0x22, 0xf2, 0x0a, 0x1b, 0x2c};
static const uint8_t SUP_IP[4] = {192, 168, 1, 50};
static const uint8_t COLLECTOR_IP[4] = {204, 194, 111, 66};
static const uint8_t SUP_IP6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50};
static const uint8_t COLLECTOR_IP6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xc0, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x66};

static void fill_random(uint64_t *rng, uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = rng_next(rng);
        memcpy(p + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = rng_next(rng);
        memcpy(p + i, &v, n - i);
    }
}

static void fill_text(uint64_t *rng, uint8_t *p, size_t n)
{
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod\n";
    size_t k = (size_t)(rng_next(rng) % (sizeof(words) - 1));
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)words[(k + i) % (sizeof(words) - 1)];
}

static void lan_host(struct capture_writer *w, uint8_t *mac, uint8_t *ip)
{
    unsigned h = 20 + (unsigned)(rng_next(&w->rng_bg) % 30);
    static const uint8_t base[6] = {0x3c, 0x22, 0xfb, 0x10, 0x20, 0x00};
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)h;
    ip[0] = 192;
    ip[1] = 168;
    ip[2] = 1;
    ip[3] = (uint8_t)h;
}

static void bg_msg_set(struct bg_msg *m, bool from_server, size_t len, const char *head, bool text)
{
    m->from_server = from_server;
    m->head_len = strlen(head);
    if (m->head_len > sizeof(m->head))
        m->head_len = sizeof(m->head);
    memcpy(m->head, head, m->head_len);
    m->len = len < m->head_len ? m->head_len : len;
    m->text_filler = text;
}

static void bg_new_flow(struct capture_writer *w)
{
    struct bg_flow *b = &w->bg;
    memset(b, 0, sizeof(*b));
    /* flows chosen by count; bulk transfers carry most bytes */
    double u = rng_unit(&w->rng_bg);
    b->kind = u < 0.15 ? BG_ARP : u < 0.45 ? BG_DNS : u < 0.65 ? BG_HTTP : u < 0.85 ? BG_TLS : BG_BULK;
    struct tcp_flow *f = &b->f;
    lan_host(w, f->cmac, f->cip);
    memcpy(f->smac, ROUTER_MAC, 6);
    uint32_t far = (uint32_t)rng_next(&w->rng_bg);
    f->sip[0] = (uint8_t)(23 + far % 180);
    f->sip[1] = (uint8_t)(far >> 8);
    f->sip[2] = (uint8_t)(far >> 16);
    f->sip[3] = (uint8_t)(1 + (far >> 24) % 254);
    f->cport = w->bg_next_port++;
    if (w->bg_next_port < 32768)
        w->bg_next_port = 32768;
    f->cseq = (uint32_t)rng_next(&w->rng_bg);
    f->sseq = (uint32_t)rng_next(&w->rng_bg);
    f->cip_id = (uint16_t)rng_next(&w->rng_bg);
    f->sip_id = (uint16_t)rng_next(&w->rng_bg);
    char head[256];
    uint64_t r = rng_next(&w->rng_bg);
    switch (b->kind) {
    case BG_ARP:
    case BG_DNS: {
        static const char *names[] = {"time.google.com", "api.weather.example", "cdn.example.net",
                                      "collector.sunpowermonitor.com", "updates.example.org"};
        snprintf(b->dns_name, sizeof(b->dns_name), "%s", names[r % 5]);
        b->dns_id = (uint32_t)(r >> 16) & 0xffff;
        break;
    }
    case BG_HTTP: {
        f->sport = 80;
        /* other HTTP, including POSTs the sniffer must ignore (other paths) */
        if (r % 3 == 0) {
            size_t blen = 200 + (size_t)(r >> 8) % 2000;
            snprintf(head, sizeof(head),
                     "POST /api/v1/telemetry HTTP/1.1\r\nHost: iot.example.com\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n{\"t\":",
                     blen);
            bg_msg_set(&b->msgs[0], false, strlen(head) - 5 + blen, head, true);
            bg_msg_set(&b->msgs[1], true, 0,
                       "HTTP/1.1 204 No Content\r\nServer: nginx\r\n\r\n", true);
        } else if (w->o.background_http_mb >= 2 && rng_next(&w->rng_bg) % 8 == 0) {
            /* a large download (software update, video): the sniffer must
             * skip it after its request line, not reassemble megabytes. The
             * extra draw happens only with the knob on: old captures stay
             * byte-identical. */
            size_t mb = (size_t)w->o.background_http_mb;
            size_t blen = 2000000 + (size_t)(rng_next(&w->rng_bg) % ((mb - 2) * 1000000 + 1));
            bg_msg_set(&b->msgs[0], false, 0,
                       "GET /downloads/update.bin HTTP/1.1\r\nHost: dl.example.com\r\nUser-Agent: "
                       "Wget/1.21\r\nAccept: */*\r\n\r\n",
                       true);
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                     "%zu\r\n\r\n",
                     blen);
            bg_msg_set(&b->msgs[1], true, strlen(head) + blen, head, false);
        } else {
            size_t blen = 500 + (size_t)(r >> 8) % 40000;
            bg_msg_set(&b->msgs[0], false, 0,
                       "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: "
                       "Mozilla/5.0\r\nAccept: */*\r\n\r\n",
                       true);
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n\r\n", blen);
            bg_msg_set(&b->msgs[1], true, strlen(head) + blen, head, true);
        }
        b->n_msgs = 2;
        break;
    }
    case BG_TLS: {
        f->sport = 443;
        /* TLS-like: application-data records with right lengths, opaque bytes inside */
        static const size_t lens[4] = {517, 4005, 0, 0};
        for (int i = 0; i < 4; i++) {
            b->msgs[i].tls = true;
            b->msgs[i].from_server = i & 1;
            b->msgs[i].len = lens[i];
        }
        b->msgs[2].len = 300 + (size_t)(r % 900);
        b->msgs[3].len = 1000 + (size_t)((r >> 12) % 60000);
        for (int i = 0; i < 4; i++)
            if (b->msgs[i].len % 16384 < 6)
                b->msgs[i].len += 6; /* no record shorter than its header */
        b->n_msgs = 4;
        break;
    }
    case BG_BULK:
    default:
        f->sport = (r & 1) ? 445 : 22;
        bg_msg_set(&b->msgs[0], false, 64, "", false);
        b->msgs[1].from_server = true;
        b->msgs[1].len = 20000 + (size_t)((r >> 8) % 600000);
        b->n_msgs = 2;
        break;
    }
}

/* Overwrite the record headers that fall in [off, off+n) of a TLS message of msg_len bytes. */
static void tls_headers(size_t msg_len, size_t off, uint8_t *p, size_t n)
{
    for (size_t r = off - off % 16384; r < off + n; r += 16384) {
        size_t body = msg_len - r - 5 < 16379 ? msg_len - r - 5 : 16379;
        uint8_t h[5] = {0x17, 0x03, 0x03, (uint8_t)(body >> 8), (uint8_t)body};
        for (size_t i = 0; i < 5; i++)
            if (r + i >= off && r + i < off + n)
                p[r + i - off] = h[i];
    }
}

/* ARP request or reply, DNS query or answer. */
static size_t bg_small(struct capture_writer *w)
{
    struct bg_flow *b = &w->bg;
    uint8_t *p = w->frame;
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (b->kind == BG_ARP) {
        bool reply = b->step == 1;
        size_t n = put_eth(w, p, reply ? b->f.cmac : bcast, reply ? ROUTER_MAC : b->f.cmac, 0x0806);
        uint8_t *a = p + n;
        put_u16be(a, 1);
        put_u16be(a + 2, 0x0800);
        a[4] = 6;
        a[5] = 4;
        put_u16be(a + 6, reply ? 2 : 1);
        memcpy(a + 8, reply ? ROUTER_MAC : b->f.cmac, 6);
        memcpy(a + 14, reply ? ROUTER_IP : b->f.cip, 4);
        if (reply)
            memcpy(a + 18, b->f.cmac, 6);
        else
            memset(a + 18, 0, 6);
        memcpy(a + 24, reply ? b->f.cip : ROUTER_IP, 4);
        n += 28;
        if (n < 60)
            memset(p + n, 0, 60 - n); /* pad to the Ethernet minimum */
        return n < 60 ? 60 : n;
    }
    /* DNS over UDP to the router */
    bool answer = b->step == 1;
    size_t eth = put_eth(w, p, answer ? b->f.cmac : ROUTER_MAC, answer ? ROUTER_MAC : b->f.cmac, 0x0800);
    uint8_t *ip = p + eth, *udp = ip + 20, *d = udp + 8;
    put_u16be(d, b->dns_id);
    put_u16be(d + 2, answer ? 0x8180 : 0x0100);
    put_u16be(d + 4, 1);
    put_u16be(d + 6, answer ? 1 : 0);
    put_u16be(d + 8, 0);
    put_u16be(d + 10, 0);
    size_t n = 12;
    const char *name = b->dns_name;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        d[n++] = (uint8_t)l;
        memcpy(d + n, name, l);
        n += l;
        name += l + (dot ? 1 : 0);
    }
    d[n++] = 0;
    put_u16be(d + n, 1);
    put_u16be(d + n + 2, 1);
    n += 4;
    if (answer) {
        put_u16be(d + n, 0xc00c);
        put_u16be(d + n + 2, 1);
        put_u16be(d + n + 4, 1);
        put_u32be(d + n + 6, 300);
        put_u16be(d + n + 10, 4);
        memcpy(d + n + 12, b->f.sip, 4);
        n += 16;
    }
    put_u16be(udp, answer ? 53 : b->f.cport);
    put_u16be(udp + 2, answer ? b->f.cport : 53);
    put_u16be(udp + 4, (uint32_t)(8 + n));
    return eth + put_ip(ip, false, answer ? ROUTER_IP : b->f.cip, answer ? b->f.cip : ROUTER_IP, 17, 8 + n,
                        answer ? b->f.sip_id++ : b->f.cip_id++, 64, 6);
}

/* The next background packet into w->frame; returns its length. */
static size_t bg_next(struct capture_writer *w)
{
    struct bg_flow *b = &w->bg;
    if (!w->bg_active) {
        bg_new_flow(w);
        w->bg_active = true;
    }
    struct tcp_flow *f = &b->f;
    size_t len = 0;
    if (b->kind == BG_ARP || b->kind == BG_DNS) {
        len = bg_small(w);
        if (++b->step >= 2)
            w->bg_active = false;
        return len;
    }
    if (b->step == 0) {
        len = tcp_frame(w, f, false, TH_SYN, f->cseq++, 0, NULL, 0, true);
    } else if (b->step == 1) {
        len = tcp_frame(w, f, true, TH_SYN | TH_ACK, f->sseq++, f->cseq, NULL, 0, true);
    } else if (b->step == 2) {
        len = tcp_frame(w, f, false, TH_ACK, f->cseq, f->sseq, NULL, 0, false);
    } else if (b->msg < b->n_msgs) {
        struct bg_msg *m = &b->msgs[b->msg];
        if (b->need_ack) {
            /* the receiver ACKs every second segment and the end of a message */
            len = tcp_frame(w, f, !m->from_server, TH_ACK, m->from_server ? f->cseq : f->sseq,
                            m->from_server ? f->sseq : f->cseq, NULL, 0, false);
            b->need_ack = false;
            if (b->off == m->len) {
                b->msg++;
                b->off = 0;
            }
        } else {
            size_t seg = m->len - b->off;
            if (seg > 1448)
                seg = 1448;
            uint8_t *pl = w->frame + tcp_payload_offset(w, f);
            size_t h = 0;
            if (b->off < m->head_len) {
                h = m->head_len - b->off;
                if (h > seg)
                    h = seg;
                memcpy(pl, m->head + b->off, h);
            }
            if (m->text_filler)
                fill_text(&w->rng_bg, pl + h, seg - h);
            else
                fill_random(&w->rng_bg, pl + h, seg - h);
            if (m->tls)
                tls_headers(m->len, b->off, pl, seg);
            bool last = b->off + seg == m->len;
            uint8_t fl = TH_ACK | (last ? TH_PSH : 0);
            if (m->from_server) {
                len = tcp_frame(w, f, true, fl, f->sseq, f->cseq, NULL, seg, false);
                f->sseq += (uint32_t)seg;
            } else {
                len = tcp_frame(w, f, false, fl, f->cseq, f->sseq, NULL, seg, false);
                f->cseq += (uint32_t)seg;
            }
            b->off += seg;
            b->unacked++;
            if (last) {
                b->unacked = 0;
                bool reply_next = b->msg + 1 < b->n_msgs && b->msgs[b->msg + 1].from_server != m->from_server;
                if (reply_next) { /* the reply itself acknowledges the message */
                    b->msg++;
                    b->off = 0;
                } else {
                    b->need_ack = true;
                }
            } else if (b->unacked >= 2) {
                b->need_ack = true;
                b->unacked = 0;
            }
        }
        return len;
    } else {
        switch (b->close_step++) {
        case 0:
            len = tcp_frame(w, f, false, TH_FIN | TH_ACK, f->cseq++, f->sseq, NULL, 0, false);
            break;
        case 1:
            len = tcp_frame(w, f, true, TH_FIN | TH_ACK, f->sseq++, f->cseq, NULL, 0, false);
            break;
        default:
            len = tcp_frame(w, f, false, TH_ACK, f->cseq, f->sseq, NULL, 0, false);
            w->bg_active = false;
            break;
        }
        return len;
    }
    b->step++;
    return len;
}

/* Write the background owed before a supervisor packet at until_us, spread
 * evenly over the idle time since the last packet. */
static void bg_pay(struct capture_writer *w, int64_t until_us)
{
    if (w->o.background <= 0 || w->debt_bytes < 60)
        return;
    int64_t gap = until_us - w->last_us;
    if (gap < 2)
        return;
    double budget = w->debt_bytes;
    double cap = (double)gap * BG_LINE_BYTES_PER_US;
    if (budget > cap)
        budget = cap;
    double n_est = budget / w->bg_avg_len;
    if (n_est < 1)
        n_est = 1;
    double step = (double)gap / (n_est + 1.0);
    if (step < 1)
        step = 1;
    double t = (double)w->last_us + step;
    double paid = 0;
    while (paid < budget && t < (double)until_us) {
        size_t len = bg_next(w);
        write_packet(w, (int64_t)t, w->frame, len);
        paid += (double)len;
        w->bg_avg_len = 0.99 * w->bg_avg_len + 0.01 * (double)len;
        t += step;
    }
    w->debt_bytes -= paid;
}

/* ---- the supervisor's connection --------------------------------------- */

static void sup_packet(struct capture_writer *w, int64_t t_us, size_t len)
{
    /* the frame is built before the background runs: keep it aside */
    uint8_t keep[FRAME_MAX + 64];
    memcpy(keep, w->frame, len);
    bg_pay(w, t_us);
    write_packet(w, t_us, keep, len);
    w->st.sup_packets++;
    w->st.sup_bytes += len;
    if (w->o.background > 0)
        w->debt_bytes += (double)len * w->o.background / (1.0 - w->o.background);
}

struct capture_writer *capture_open(const char *path, const struct capture_options *o)
{
    struct capture_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->o = *o;
    if (w->o.keepalive < 1)
        w->o.keepalive = 1;
    if (w->o.segment_bytes <= 0)
        w->o.segment_bytes = w->o.ipv6 ? 1440 : 1460;
    if (w->o.segment_bytes > 1460)
        w->o.segment_bytes = 1460;
    if (w->o.chunk_bytes < 1)
        w->o.chunk_bytes = 1024;
    if (w->o.background > 0.999)
        w->o.background = 0.999;
    w->rng_sup = site_hash64(o->seed ^ 0x434150ull);
    w->rng_bg = site_hash64(o->seed ^ 0x4247ull);
    w->bg_avg_len = 900;
    w->next_port = (uint16_t)(40000 + rng_next(&w->rng_sup) % 20000);
    w->bg_next_port = (uint16_t)(33000 + rng_next(&w->rng_bg) % 20000);
    if (strcmp(path, "-") == 0) {
        w->fp = stdout;
        w->to_stdout = true;
    } else {
        w->fp = fopen(path, "wb");
    }
    if (!w->fp) {
        int e = errno;
        free(w);
        errno = e;
        return NULL;
    }
    setvbuf(w->fp, NULL, _IOFBF, 1 << 20);
    write_file_header(w);
    return w;
}

static void conn_open(struct capture_writer *w, int64_t *t)
{
    struct tcp_flow *f = &w->conn;
    memset(f, 0, sizeof(*f));
    memcpy(f->cmac, SUP_MAC, 6);
    memcpy(f->smac, ROUTER_MAC, 6);
    f->v6 = w->o.ipv6;
    memcpy(f->cip, f->v6 ? SUP_IP6 : SUP_IP, f->v6 ? 16 : 4);
    memcpy(f->sip, f->v6 ? COLLECTOR_IP6 : COLLECTOR_IP, f->v6 ? 16 : 4);
    f->cport = w->next_port++;
    if (w->next_port < 32768)
        w->next_port = 40000;
    f->sport = 80;
    f->cseq = (uint32_t)rng_next(&w->rng_sup);
    f->sseq = (uint32_t)rng_next(&w->rng_sup);
    f->cip_id = (uint16_t)rng_next(&w->rng_sup);
    f->sip_id = (uint16_t)rng_next(&w->rng_sup);
    sup_packet(w, *t, tcp_frame(w, f, false, TH_SYN, f->cseq++, 0, NULL, 0, true));
    *t += RTT_US;
    sup_packet(w, *t, tcp_frame(w, f, true, TH_SYN | TH_ACK, f->sseq++, f->cseq, NULL, 0, true));
    *t += 60;
    sup_packet(w, *t, tcp_frame(w, f, false, TH_ACK, f->cseq, f->sseq, NULL, 0, false));
    *t += 200;
    w->conn_open = true;
    w->conn_requests = 0;
}

static void conn_close(struct capture_writer *w, int64_t *t)
{
    struct tcp_flow *f = &w->conn;
    sup_packet(w, *t, tcp_frame(w, f, false, TH_FIN | TH_ACK, f->cseq++, f->sseq, NULL, 0, false));
    *t += RTT_US;
    sup_packet(w, *t, tcp_frame(w, f, true, TH_FIN | TH_ACK, f->sseq++, f->cseq, NULL, 0, false));
    *t += 60;
    sup_packet(w, *t, tcp_frame(w, f, false, TH_ACK, f->cseq, f->sseq, NULL, 0, false));
    w->conn_open = false;
}

struct seg {
    size_t off, len;
};

/* The request's bytes (headers and body, chunked if asked). Caller frees. */
static uint8_t *build_request(const struct capture_writer *w, const char *path, const char *body, size_t blen,
                              size_t *out_len)
{
    size_t chunk = (size_t)w->o.chunk_bytes;
    size_t n_chunks = w->o.chunked ? (blen + chunk - 1) / chunk : 0;
    size_t cap = 512 + blen + n_chunks * 16;
    uint8_t *b = malloc(cap);
    if (!b)
        return NULL;
    int n;
    if (w->o.chunked)
        n = snprintf((char *)b, cap,
                     "POST %s HTTP/1.1\r\nHost: collector.sunpowermonitor.com\r\nContent-Type: text/plain\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n",
                     path);
    else
        n = snprintf((char *)b, cap,
                     "POST %s HTTP/1.1\r\nHost: collector.sunpowermonitor.com\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, blen);
    size_t len = (size_t)n;
    if (!w->o.chunked) {
        memcpy(b + len, body, blen);
        len += blen;
    } else {
        for (size_t off = 0; off < blen; off += chunk) {
            size_t c = blen - off < chunk ? blen - off : chunk;
            len += (size_t)snprintf((char *)b + len, cap - len, "%zx\r\n", c);
            memcpy(b + len, body + off, c);
            len += c;
            memcpy(b + len, "\r\n", 2);
            len += 2;
        }
        memcpy(b + len, "0\r\n\r\n", 5);
        len += 5;
    }
    *out_len = len;
    return b;
}

int capture_request(struct capture_writer *w, int64_t start_us, const char *path, const char *body,
                    size_t body_len, bool lost_reply)
{
    size_t req_len;
    uint8_t *req = build_request(w, path, body, body_len, &req_len);
    if (!req)
        return -ENOMEM;
    int64_t t = start_us;
    if (t < w->busy_until_us)
        t = w->busy_until_us;
    if (w->conn_open && w->conn_requests >= w->o.keepalive) {
        int64_t tc = w->busy_until_us;
        conn_close(w, &tc);
    }
    if (!w->conn_open)
        conn_open(w, &t);
    struct tcp_flow *f = &w->conn;
    uint32_t isn = f->cseq;
    size_t mss = (size_t)w->o.segment_bytes;
    size_t n_seg = (req_len + mss - 1) / mss;
    /* send order: originals (some adjacent pairs swapped), with whole and
     * straddling retransmissions slipped in after the next segment */
    struct seg *order = malloc((3 * n_seg + 2) * sizeof(*order));
    bool *got = calloc(n_seg + 1, sizeof(*got));
    if (!order || !got) {
        free(order);
        free(got);
        free(req);
        return -ENOMEM;
    }
    size_t *orig = malloc((n_seg + 1) * sizeof(*orig));
    if (!orig) {
        free(order);
        free(got);
        free(req);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_seg; i++)
        orig[i] = i;
    for (size_t i = 0; i + 1 < n_seg; i++) {
        if (rng_unit(&w->rng_sup) < w->o.reorder) {
            size_t tmp = orig[i];
            orig[i] = orig[i + 1];
            orig[i + 1] = tmp;
            i++;
        }
    }
    size_t n_order = 0;
    struct seg pending_rtx[2];
    size_t n_pending = 0;
    for (size_t k = 0; k < n_seg; k++) {
        size_t i = orig[k];
        struct seg s = {i * mss, (i + 1) * mss <= req_len ? mss : req_len - i * mss};
        order[n_order++] = s;
        for (size_t j = 0; j < n_pending; j++)
            order[n_order++] = pending_rtx[j];
        n_pending = 0;
        if (rng_unit(&w->rng_sup) < w->o.dup)
            pending_rtx[n_pending++] = s;
        if (i + 1 < n_seg && rng_unit(&w->rng_sup) < w->o.overlap) {
            size_t next_len = (i + 2) * mss <= req_len ? mss : req_len - (i + 1) * mss;
            size_t a = s.off + s.len / 2, e = (i + 1) * mss + (next_len + 1) / 2;
            pending_rtx[n_pending++] = (struct seg){a, e - a};
        }
    }
    for (size_t j = 0; j < n_pending; j++)
        order[n_order++] = pending_rtx[j];
    free(orig);
    /* the collector ACKs the contiguous prefix every second segment */
    size_t acked_segs = 0;
    int since_ack = 0;
    for (size_t k = 0; k < n_order; k++) {
        struct seg s = order[k];
        bool last_byte = s.off + s.len == req_len;
        uint8_t *pl = w->frame + tcp_payload_offset(w, f);
        memcpy(pl, req + s.off, s.len);
        size_t len = tcp_frame(w, f, false, TH_ACK | (last_byte ? TH_PSH : 0), isn + (uint32_t)s.off, f->sseq,
                               NULL, s.len, false);
        sup_packet(w, t, len);
        t += SEG_GAP_US;
        if (s.off % mss == 0 && (s.len == mss || last_byte))
            got[s.off / mss] = true;
        while (acked_segs < n_seg && got[acked_segs])
            acked_segs++;
        if (++since_ack >= 2 || k + 1 == n_order) {
            uint32_t ack = isn + (uint32_t)(acked_segs * mss < req_len ? acked_segs * mss : req_len);
            sup_packet(w, t + RTT_US / 4, tcp_frame(w, f, true, TH_ACK, f->sseq, ack, NULL, 0, false));
            t += RTT_US / 4 + 20;
            since_ack = 0;
        }
    }
    f->cseq = isn + (uint32_t)req_len;
    free(order);
    free(got);
    free(req);
    w->st.requests++;
    w->conn_requests++;
    if (lost_reply) {
        /* no answer: the supervisor gives up, closes, and will send again */
        t += LOST_TIMEOUT_US;
        conn_close(w, &t);
    } else {
        char reply[200];
        char stamp[16];
        int64_t now_s = (t + RTT_US) / 1000000;
        sim_format_compact(stamp, sizeof(stamp), now_s);
        int rn = snprintf(reply, sizeof(reply),
                          "HTTP/1.1 200 OK\r\nCache-Control: private\r\nContent-Type: text/plain; "
                          "charset=utf-8\r\nServer: Microsoft-IIS/8.5\r\nContent-Length: 19\r\n\r\n1002\t%s",
                          stamp);
        t += RTT_US;
        uint8_t *pl = w->frame + tcp_payload_offset(w, f);
        memcpy(pl, reply, (size_t)rn);
        sup_packet(w, t, tcp_frame(w, f, true, TH_PSH | TH_ACK, f->sseq, f->cseq, NULL, (size_t)rn, false));
        f->sseq += (uint32_t)rn;
        t += 300;
        sup_packet(w, t, tcp_frame(w, f, false, TH_ACK, f->cseq, f->sseq, NULL, 0, false));
        t += 1000;
        if (w->conn_requests >= w->o.keepalive)
            conn_close(w, &t);
    }
    w->busy_until_us = t + 1000;
    return w->write_error ? -EIO : 0;
}

int capture_close(struct capture_writer *w, int64_t end_us, struct capture_stats *st)
{
    if (w->conn_open) {
        int64_t t = w->busy_until_us;
        conn_close(w, &t);
    }
    /* the background owed after the last supervisor packet, up to the end */
    if (w->o.background > 0) {
        if (end_us <= w->last_us)
            end_us = w->last_us + 1000000;
        bg_pay(w, end_us);
    }
    if (fflush(w->fp) != 0)
        w->write_error = true;
    int rc = w->write_error ? -EIO : 0;
    if (!w->to_stdout && fclose(w->fp) != 0)
        rc = -EIO;
    if (st)
        *st = w->st;
    free(w);
    return rc;
}
