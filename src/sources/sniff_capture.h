/* libpcap around the sniff pipeline: open live/offline, filter, save, and records -> readings. */
#ifndef PVTAP_SOURCES_SNIFF_CAPTURE_H
#define PVTAP_SOURCES_SNIFF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/sniff_pipe.h"
#include "sources/reading.h"

struct pcap;
struct pcap_dumper;

struct sniff_capture_opts {
    const char *iface;      /* live capture, or NULL */
    const char *file;       /* offline .pcap/.pcapng, or NULL ("-" = stdin) */
    const char *filter;     /* BPF; NULL = sniff_default_filter() */
    const char *supervisor; /* address text, narrows the default filter; may be NULL */
    uint16_t server_port;   /* 80 */
    int snaplen;            /* live only */
    int buffer_MiB;         /* live kernel buffer */
    bool nonblock;          /* live: for the daemon's poll loop */
};

struct sniff_capture {
    struct pcap *pcap;
    struct pcap_dumper *dump;
    enum nf_link link;
    bool offline;
    int64_t file_size;      /* offline: bytes, for progress; 0 when unknown */
    char *iobuf;            /* offline: the file's stdio buffer (freed on close) */
    char err[512];          /* the last error, for the caller to print or log */
};

/* The default BPF filter: the server port, also inside one or two VLAN tags;
 * with a supervisor address, all of that host's traffic (so TLS or another
 * port is noticed). Writes into out. */
void sniff_default_filter(const char *supervisor, uint16_t port, char *out, size_t out_size);

/* Open and activate. Errors: PVTAP_EIO (cannot open: c->err says why),
 * PVTAP_ECORRUPT (the file is not a capture), PVTAP_EUNSUPPORTED (link
 * type), PVTAP_EINVAL (bad filter). */
int sniff_capture_open(struct sniff_capture *c, const struct sniff_capture_opts *o);
/* Save the frames the pipe calls relevant to path (pcap, same link type). */
int sniff_capture_dump_to(struct sniff_capture *c, const char *path);
/* Run up to max_packets (<= 0: until the end of a file or an error) through
 * the pipe. Returns packets read (>= 0), PVTAP_ENOTFOUND at the end of a
 * file, PVTAP_ETRUNC for a file cut mid-packet (c->err), PVTAP_EIO. */
long sniff_capture_run(struct sniff_capture *c, struct sniff_pipe *pipe, long max_packets);
/* Stop a blocking sniff_capture_run from a signal handler. */
void sniff_capture_break(struct sniff_capture *c);
/* Offline: bytes read so far (progress); live: 0. */
int64_t sniff_capture_offset(const struct sniff_capture *c);
/* Live: packets the kernel dropped (buffer full) and the interface dropped. */
int sniff_capture_drops(struct sniff_capture *c, uint64_t *kernel, uint64_t *iface);
int sniff_capture_fd(struct sniff_capture *c); /* live selectable fd, or -1 */
void sniff_capture_close(struct sniff_capture *c);

/* Records -> readings (the reading model of docs/design.md): 130 -> inverter,
 * 140 -> net meter ('c') or production meter ('p'); others none. Values only
 * for non-empty numeric fields; kW/kvar/kVA become W/var/VA. Returns the
 * number of readings emitted; *warned_meter is set when a meter with another
 * suffix was skipped (the caller logs once). */
size_t sniff_record_readings(const struct pvs_record *rec, const struct pvs_layout *layout,
                             const char *series, const struct reading_sink *sink,
                             bool *unknown_meter);

/* Stats as text, one "name value" per line (pvtap sniff --stats). */
void sniff_stats_print(const struct sniff_stats *st, uint64_t kernel_drops, uint64_t if_drops,
                       FILE *out);

#endif
