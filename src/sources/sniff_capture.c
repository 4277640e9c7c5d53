/* The pcap side of sniffing (live and offline), shared by the sniff source, replay and `pvtap sniff`. */
#include "sources/sniff_capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/log.h"

enum { CAPTURE_IOBUF_BYTES = 64 * 1024 };

void sniff_default_filter(const char *supervisor, uint16_t port, char *out, size_t out_size)
{
    char base[160];
    if (supervisor && *supervisor)
        snprintf(base, sizeof base, "host %s", supervisor);
    else
        snprintf(base, sizeof base, "tcp port %u", (unsigned)port);
    /* Each `vlan` moves the filter's offsets past one tag: the clause
     * matches untagged, 802.1Q and QinQ frames. */
    snprintf(out, out_size, "%s or (vlan and (%s or (vlan and %s)))", base, base, base);
}

static int apply_filter(struct sniff_capture *c, const struct sniff_capture_opts *o)
{
    char dflt[600];
    const char *text = o->filter;
    if (!text) {
        sniff_default_filter(o->supervisor, o->server_port ? o->server_port : 80, dflt,
                             sizeof dflt);
        text = dflt;
    }
    struct bpf_program prog;
    if (pcap_compile(c->pcap, &prog, text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        if (o->filter) {
            snprintf(c->err, sizeof c->err, "bad filter '%.300s': %.180s", text, pcap_geterr(c->pcap));
            return PVTAP_EINVAL;
        }
        /* Link types without VLAN tags (cooked, raw IP) reject `vlan`. */
        char simple[200];
        if (o->supervisor && *o->supervisor)
            snprintf(simple, sizeof simple, "host %s", o->supervisor);
        else
            snprintf(simple, sizeof simple, "tcp port %u",
                     (unsigned)(o->server_port ? o->server_port : 80));
        if (pcap_compile(c->pcap, &prog, simple, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            snprintf(c->err, sizeof c->err, "bad filter '%.200s': %.200s", simple, pcap_geterr(c->pcap));
            return PVTAP_EINVAL;
        }
    }
    int rc = pcap_setfilter(c->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(c->err, sizeof c->err, "cannot set filter: %s", pcap_geterr(c->pcap));
        return PVTAP_EIO;
    }
    return PVTAP_OK;
}

static int open_live(struct sniff_capture *c, const struct sniff_capture_opts *o)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    c->pcap = pcap_create(o->iface, eb);
    if (!c->pcap) {
        snprintf(c->err, sizeof c->err, "%s: %s", o->iface, eb);
        return PVTAP_EIO;
    }
    pcap_set_snaplen(c->pcap, o->snaplen > 0 ? o->snaplen : 65535);
    pcap_set_promisc(c->pcap, 1); /* a mirror port delivers other hosts' frames */
    pcap_set_timeout(c->pcap, 200);
    pcap_set_buffer_size(c->pcap, (o->buffer_MiB > 0 ? o->buffer_MiB : 4) * 1024 * 1024);
    int rc = pcap_activate(c->pcap);
    if (rc < 0) {
        snprintf(c->err, sizeof c->err, "%s: %s", o->iface, pcap_geterr(c->pcap));
        pcap_close(c->pcap);
        c->pcap = NULL;
        return PVTAP_EIO;
    }
    if (rc > 0)
        log_msg(LOGL_WARNING, "sniff", "%s: %s", o->iface, pcap_geterr(c->pcap));
    if (o->nonblock && pcap_setnonblock(c->pcap, 1, eb) != 0) {
        snprintf(c->err, sizeof c->err, "%s: %s", o->iface, eb);
        pcap_close(c->pcap);
        c->pcap = NULL;
        return PVTAP_EIO;
    }
    return PVTAP_OK;
}

static int open_file(struct sniff_capture *c, const struct sniff_capture_opts *o)
{
    char eb[PCAP_ERRBUF_SIZE] = "";
    struct stat sb;
    bool is_stdin = strcmp(o->file, "-") == 0;
    if (!is_stdin) {
        if (stat(o->file, &sb) != 0) {
            snprintf(c->err, sizeof c->err, "%s: %s", o->file, strerror(errno));
            return PVTAP_EIO;
        }
        c->file_size = (int64_t)sb.st_size;
    }
    if (is_stdin) {
        c->pcap = pcap_open_offline_with_tstamp_precision(o->file, PCAP_TSTAMP_PRECISION_MICRO, eb);
    } else {
        /* libpcap reads each packet through stdio: with the default 4 KiB
         * buffer that is a read() per few packets, a fifth of the run. */
        FILE *fp = fopen(o->file, "rb");
        if (!fp) {
            snprintf(c->err, sizeof c->err, "%s: %s", o->file, strerror(errno));
            return PVTAP_EIO;
        }
        c->iobuf = malloc(CAPTURE_IOBUF_BYTES);
        if (c->iobuf)
            setvbuf(fp, c->iobuf, _IOFBF, CAPTURE_IOBUF_BYTES);
        c->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_MICRO, eb);
        if (!c->pcap) {
            fclose(fp); /* pcap_open_offline does the same on failure */
            free(c->iobuf);
            c->iobuf = NULL;
        }
    }
    if (!c->pcap) {
        snprintf(c->err, sizeof c->err, "%s: %s", o->file, eb);
        /* libpcap says "unknown file format" / "truncated dump file" for non-captures. */
        return strstr(eb, "format") || strstr(eb, "truncated") || strstr(eb, "magic") ||
                       strstr(eb, "too short")
                   ? PVTAP_ECORRUPT
                   : PVTAP_EIO;
    }
    c->offline = true;
    return PVTAP_OK;
}

int sniff_capture_open(struct sniff_capture *c, const struct sniff_capture_opts *o)
{
    memset(c, 0, sizeof *c);
    int rc = o->file ? open_file(c, o) : open_live(c, o);
    if (rc)
        return rc;
    int dlt = pcap_datalink(c->pcap);
    c->link = nf_link_from_dlt(dlt);
    if (c->link == NF_LINK_UNSUPPORTED) {
        const char *name = pcap_datalink_val_to_name(dlt);
        snprintf(c->err, sizeof c->err, "unsupported link type %d (%s)", dlt, name ? name : "?");
        sniff_capture_close(c);
        return PVTAP_EUNSUPPORTED;
    }
    /* Offline the pipe's own early reject is faster than interpreting BPF
     * in user space: filter only when asked. Live, the kernel filters. */
    if (!c->offline || o->filter) {
        rc = apply_filter(c, o);
        if (rc) {
            char keep[sizeof c->err];
            memcpy(keep, c->err, sizeof keep);
            sniff_capture_close(c);
            memcpy(c->err, keep, sizeof keep);
            return rc;
        }
    }
    return PVTAP_OK;
}

int sniff_capture_dump_to(struct sniff_capture *c, const char *path)
{
    c->dump = (struct pcap_dumper *)pcap_dump_open(c->pcap, path);
    if (!c->dump) {
        snprintf(c->err, sizeof c->err, "%s: %s", path, pcap_geterr(c->pcap));
        return PVTAP_EIO;
    }
    return PVTAP_OK;
}

long sniff_capture_run(struct sniff_capture *c, struct sniff_pipe *pipe, long max_packets)
{
    long n = 0;
    for (;;) {
        if (max_packets > 0 && n >= max_packets)
            return n;
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(c->pcap, &h, &data);
        if (rc == 1) {
            n++;
            int64_t ts_ms = (int64_t)h->ts.tv_sec * 1000 + h->ts.tv_usec / 1000;
            if (sniff_pipe_frame(pipe, c->link, ts_ms, data, h->caplen, h->len) && c->dump)
                pcap_dump((u_char *)c->dump, h, data);
            continue;
        }
        if (rc == 0)
            return n; /* live: the timeout passed, or nothing ready (non-blocking) */
        if (rc == PCAP_ERROR_BREAK)
            return c->offline ? PVTAP_ENOTFOUND : n;
        snprintf(c->err, sizeof c->err, "%s", pcap_geterr(c->pcap));
        return c->offline && strstr(c->err, "truncated") ? PVTAP_ETRUNC : PVTAP_EIO;
    }
}

void sniff_capture_break(struct sniff_capture *c)
{
    if (c->pcap)
        pcap_breakloop(c->pcap);
}

int64_t sniff_capture_offset(const struct sniff_capture *c)
{
    if (!c->offline || !c->pcap)
        return 0;
    FILE *f = pcap_file(c->pcap);
    if (!f)
        return 0;
    off_t o = ftello(f);
    return o < 0 ? 0 : (int64_t)o;
}

int sniff_capture_drops(struct sniff_capture *c, uint64_t *kernel, uint64_t *iface)
{
    *kernel = *iface = 0;
    if (c->offline || !c->pcap)
        return PVTAP_OK;
    struct pcap_stat ps;
    if (pcap_stats(c->pcap, &ps) != 0)
        return PVTAP_EIO;
    *kernel = ps.ps_drop;
    *iface = ps.ps_ifdrop;
    return PVTAP_OK;
}

int sniff_capture_fd(struct sniff_capture *c)
{
    return c->pcap && !c->offline ? pcap_get_selectable_fd(c->pcap) : -1;
}

void sniff_capture_close(struct sniff_capture *c)
{
    if (c->dump) {
        pcap_dump_close((pcap_dumper_t *)c->dump);
        c->dump = NULL;
    }
    if (c->pcap) {
        pcap_close(c->pcap);
        c->pcap = NULL;
    }
    free(c->iobuf); /* after pcap_close: the FILE used it to the end */
    c->iobuf = NULL;
}

static void emit_q(const struct reading_sink *sink, struct reading *r, const struct pvs_record *rec,
                   const struct pvs_layout *l, enum pvs_key key, enum quantity q, double scale,
                   size_t *n)
{
    double v;
    if (pvs_field_number(rec, l, key, &v) != PVTAP_OK)
        return;
    r->q = q;
    r->value = v * scale;
    reading_emit(sink, r);
    (*n)++;
}

size_t sniff_record_readings(const struct pvs_record *rec, const struct pvs_layout *l,
                             const char *series, const struct reading_sink *sink,
                             bool *unknown_meter)
{
    if ((rec->msg != 130 && rec->msg != 140) || !rec->has_time)
        return 0;
    const struct pvs_span *serial = pvs_field(rec, l, PVS_SERIAL);
    if (!serial || serial->len >= sizeof(((struct reading *)0)->device))
        return 0;
    struct reading r;
    memset(&r, 0, sizeof r);
    r.source = "sniff";
    r.series = series;
    memcpy(r.device, serial->p, serial->len);
    r.device[serial->len] = '\0';
    r.time = rec->time_s;
    r.clock = CLOCK_RECORD;
    r.msg = rec->msg;
    size_t n = 0;
    if (rec->msg == 130) {
        r.kind = DEVICE_INVERTER;
        emit_q(sink, &r, rec, l, PVS_ENERGY_LIFETIME_KWH, Q_ENERGY_LIFETIME_KWH, 1, &n);
        emit_q(sink, &r, rec, l, PVS_POWER_KW, Q_POWER_W, 1000, &n);
        emit_q(sink, &r, rec, l, PVS_VOLTAGE_V, Q_VOLTAGE_V, 1, &n);
        emit_q(sink, &r, rec, l, PVS_CURRENT_A, Q_CURRENT_A, 1, &n);
        emit_q(sink, &r, rec, l, PVS_DC_POWER_KW, Q_DC_POWER_W, 1000, &n);
        emit_q(sink, &r, rec, l, PVS_DC_VOLTAGE_V, Q_DC_VOLTAGE_V, 1, &n);
        emit_q(sink, &r, rec, l, PVS_DC_CURRENT_A, Q_DC_CURRENT_A, 1, &n);
        emit_q(sink, &r, rec, l, PVS_TEMPERATURE_C, Q_TEMPERATURE_C, 1, &n);
        emit_q(sink, &r, rec, l, PVS_FREQUENCY_HZ, Q_FREQUENCY_HZ, 1, &n);
        emit_q(sink, &r, rec, l, PVS_STATUS, Q_STATUS, 1, &n);
        return n;
    }
    /* Meters: the serial's last character says which (docs/protocol.md section 1). */
    char suffix = r.device[serial->len - 1];
    if (suffix == 'c') {
        r.kind = DEVICE_NET_METER;
    } else if (suffix == 'p') {
        r.kind = DEVICE_PRODUCTION_METER;
    } else {
        if (unknown_meter)
            *unknown_meter = true;
        return 0;
    }
    emit_q(sink, &r, rec, l, PVS_ENERGY_NET_LIFETIME_KWH, Q_ENERGY_NET_LIFETIME_KWH, 1, &n);
    emit_q(sink, &r, rec, l, PVS_POWER_KW, Q_POWER_W, 1000, &n);
    emit_q(sink, &r, rec, l, PVS_REACTIVE_KVAR, Q_REACTIVE_VAR, 1000, &n);
    emit_q(sink, &r, rec, l, PVS_APPARENT_KVA, Q_APPARENT_VA, 1000, &n);
    emit_q(sink, &r, rec, l, PVS_POWER_FACTOR, Q_POWER_FACTOR, 1, &n);
    emit_q(sink, &r, rec, l, PVS_FREQUENCY_HZ, Q_FREQUENCY_HZ, 1, &n);
    emit_q(sink, &r, rec, l, PVS_STATUS, Q_STATUS, 1, &n);
    return n;
}

void sniff_stats_print(const struct sniff_stats *st, uint64_t kernel_drops, uint64_t if_drops,
                       FILE *out)
{
#define S(name, v) fprintf(out, "%-22s %llu\n", name, (unsigned long long)(v))
    S("packets", st->packets);
    S("bytes", st->bytes);
    S("tcp_segments", st->tcp);
    S("supervisor_segments", st->relevant);
    S("connections", st->connections);
    S("connections_skipped", st->skipped);
    S("requests", st->requests);
    S("requests_other", st->requests_other);
    S("replies", st->replies);
    S("requests_acked", st->acked);
    S("requests_unacked", st->unacked);
    S("requests_rejected", st->rejected);
    S("requests_resent", st->resent);
    S("requests_lost", st->requests_lost);
    S("records", st->records);
    for (size_t i = 0; i < SNIFF_MSG_KINDS && st->by_msg[i].n; i++) {
        char name[32];
        snprintf(name, sizeof name, "records_%d", st->by_msg[i].msg);
        S(name, st->by_msg[i].n);
    }
    if (st->by_msg_other)
        S("records_other_kinds", st->by_msg_other);
    S("bad_lines", st->bad_lines);
    S("bad_times", st->bad_times);
    S("holes", st->holes);
    S("hole_bytes", st->hole_bytes);
    S("retransmissions", st->retransmitted);
    S("out_of_order", st->out_of_order);
    S("midstream_starts", st->midstream);
    S("http_problems", st->http_problems);
    S("limit_connections", st->limit_flows);
    S("limit_flow_bytes", st->limit_flow_bytes);
    S("limit_total_bytes", st->limit_total_bytes);
    S("limit_header", st->limit_header);
    S("limit_body", st->limit_body);
    S("limit_body_budget", st->limit_budget);
    S("idle_closed", st->idle_closed);
    S("not_tcp", st->not_tcp);
    S("ip_fragments", st->fragments);
    S("truncated_frames", st->truncated);
    S("corrupt_frames", st->corrupt);
    S("opaque_supervisor", st->opaque);
    S("kernel_drops", kernel_drops);
    S("interface_drops", if_drops);
#undef S
}
