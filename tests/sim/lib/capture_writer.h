/* Writes the supervisor's HTTP uploads (and background traffic) as a pcap or pcapng capture, packet by packet. */
#ifndef PVSIM_CAPTURE_WRITER_H
#define PVSIM_CAPTURE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct capture_options {
    bool pcapng;           /* pcapng instead of classic pcap */
    int segment_bytes;     /* TCP payload per segment (the MSS); 0: 1460 (IPv4) / 1440 (IPv6) */
    double reorder;        /* probability two adjacent segments swap */
    double dup;            /* probability a segment is retransmitted whole */
    double overlap;        /* probability a retransmission straddles two segments */
    int keepalive;         /* requests per TCP connection (>= 1) */
    bool chunked;          /* Transfer-Encoding: chunked instead of Content-Length */
    int chunk_bytes;       /* chunk size for chunked bodies */
    int vlan;              /* 802.1Q VLAN id; 0: untagged */
    int svlan;             /* outer 802.1ad S-VLAN id (QinQ); 0: none */
    bool ipv6;             /* the supervisor talks IPv6 */
    double background;     /* share of the capture's bytes that is other traffic, 0 .. 0.999 */
    int background_http_mb; /* >= 2: one HTTP GET in 8 downloads 2..this many MB; 0: none */
    uint64_t seed;
};

void capture_options_defaults(struct capture_options *o);

struct capture_writer;

/* Opens path for writing ("-" is stdout). Caller closes with capture_close(). NULL on error (errno). */
struct capture_writer *capture_open(const char *path, const struct capture_options *o);

/* One POST of `body` to `path` starting no earlier than start_us (UTC
 * microseconds; later when the previous exchange is still going on). A lost
 * reply: the collector ACKs the body but never answers; the supervisor gives
 * up after 30 s. Returns 0, or negative on a write error. */
int capture_request(struct capture_writer *w, int64_t start_us, const char *path, const char *body,
                    size_t body_len, bool lost_reply);

/* Counters for the summary line (bytes are frame bytes). */
struct capture_stats {
    uint64_t packets, bytes, sup_packets, sup_bytes, requests;
};

/* Closes any open connection, fills the background up to end_us, flushes and
 * frees; st (may be NULL) receives the totals. Returns 0, or negative when a
 * write failed. */
int capture_close(struct capture_writer *w, int64_t end_us, struct capture_stats *st);

#endif
