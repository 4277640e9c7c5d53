/* `pvtap doctor`: listens (never transmits) on the mirror port and the RS-485 ports, checks the
 * clock. */
#include "daemon/doctor.h"

#include "daemon/doctor_site.h"
#include "store/site_kind.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <unistd.h>

#include "proto/netframe.h"
#include "proto/sniff_pipe.h"
#include "sources/listen.h"
#include "sources/source.h"
#include "util/err.h"
#include "util/timeutil.h"

static void result(struct doctor_result *out, const char *check, enum doctor_level level,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void result(struct doctor_result *out, const char *check, enum doctor_level level,
                   const char *fmt, ...)
{
    snprintf(out->check, sizeof out->check, "%s", check);
    out->level = level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->verdict, sizeof out->verdict, fmt, ap);
    va_end(ap);
}

void doctor_mirror_verdict(const char *iface, double seconds, const struct mirror_counts *c,
                           struct doctor_result *out)
{
    char check[64];
    snprintf(check, sizeof check, "mirror port %s", iface);
    if (c->packets == 0)
        result(out, check, DOCTOR_FAIL,
               "no traffic at all on %s in %.0f s: is the Pi on port 5 of the DCSW-1005 and the "
               "supervisor on port 1? Is the cable in and the link up?",
               iface, seconds);
    else if (c->posts > 0)
        result(out, check, DOCTOR_OK, "%llu supervisor uploads with %llu records in %.0f s",
               (unsigned long long)c->posts, (unsigned long long)c->records, seconds);
    else if (c->tls_packets > 0 && c->http_packets == 0)
        result(out, check, DOCTOR_FAIL,
               "traffic on port 443 but none on port 80: the supervisor's uploads look "
               "encrypted (newer firmware); sniffing cannot read them: use the pvs-api source");
    else if (c->http_packets > 0)
        result(out, check, DOCTOR_WARN,
               "HTTP traffic seen but no complete supervisor upload in %.0f s: uploads come "
               "every 5 minutes; run longer (--seconds 330)",
               seconds);
    else
        result(out, check, DOCTOR_WARN,
               "%llu packets but no supervisor HTTP in %.0f s: is it the supervisor's port that "
               "is mirrored (port 1)? Uploads come every 5 minutes: try --seconds 330",
               (unsigned long long)c->packets, seconds);
}

void doctor_bus_verdict(const char *port, double seconds, size_t bytes,
                        const struct modbus_rtu_scan *scan, bool we_transmit,
                        struct doctor_result *out)
{
    char check[64];
    snprintf(check, sizeof check, "RS-485 %s", port);
    size_t frames = scan->requests + scan->responses;
    if (bytes == 0)
        result(out, check, we_transmit ? DOCTOR_OK : DOCTOR_WARN,
               we_transmit ? "bus quiet in %.0f s: no other master, pvtap may poll here"
                           : "no bus activity in %.0f s: is the adapter wired to the meter's "
                             "A-/B+/common? (on a SunPower site the supervisor polls every few "
                             "seconds)",
               seconds);
    else if (frames == 0)
        result(out, check, DOCTOR_FAIL,
               "%zu bytes but no valid Modbus frame in %.0f s: A and B swapped, or the baud "
               "rate/parity is wrong (the WattNode is 9600 8N1 by default)",
               bytes, seconds);
    else if (scan->requests > 0 && scan->responses == 0)
        result(out, check, DOCTOR_FAIL,
               "%zu requests but no replies in %.0f s: the meter does not answer: check its "
               "address DIP switches, its power and the A/B wires at the meter",
               scan->requests, seconds);
    else if (we_transmit && scan->requests > 0)
        result(out, check, DOCTOR_FAIL,
               "another master polls this bus (%zu requests, %zu replies in %.0f s): do not "
               "poll here, use { type = \"listen\"; } instead",
               scan->requests, scan->responses, seconds);
    else
        result(out, check, DOCTOR_OK,
               "%zu requests and %zu replies in %.0f s (last from address %u, function %u)%s",
               scan->requests, scan->responses, seconds, scan->last_address, scan->last_function,
               scan->requests ? ": another master polls; a listen source can read it" : "");
}

void doctor_latency_verdict(const char *port, int latency_ms, struct doctor_result *out)
{
    char check[64];
    snprintf(check, sizeof check, "latency timer %s", port);
    if (latency_ms < 0)
        result(out, check, DOCTOR_SKIP, "not an FTDI adapter (no latency_timer)");
    else if (latency_ms > 1)
        result(out, check, DOCTOR_WARN,
               "latency_timer is %d ms: bytes arrive in bursts and frame timing blurs; the udev "
               "rule sets it to 1 (is 60-pvtap.rules installed?)",
               latency_ms);
    else
        result(out, check, DOCTOR_OK, "latency_timer is %d ms", latency_ms);
}

void doctor_clock_verdict(bool synced, int64_t now_s, struct doctor_result *out)
{
    if (now_s < 1577836800)
        result(out, "clock", DOCTOR_FAIL,
               "the clock reads before 2020: no time yet (the Pi has no battery clock): check "
               "NTP (timedatectl)");
    else if (!synced)
        result(out, "clock", DOCTOR_WARN,
               "the kernel says the clock is not synchronised: check NTP (timedatectl); polled "
               "readings are stamped with it");
    else
        result(out, "clock", DOCTOR_OK, "synchronised");
}

/* ---- the listening parts ------------------------------------------------- */

struct mirror_ctx {
    struct mirror_counts c;
};

static void on_record(void *ctx, const struct sniff_request *req, const struct pvs_record *rec)
{
    (void)req;
    (void)rec;
    ((struct mirror_ctx *)ctx)->c.records++;
}

static void on_request_end(void *ctx, const struct sniff_request *req)
{
    (void)req;
    ((struct mirror_ctx *)ctx)->c.posts++;
}

struct mirror_pkt_ctx {
    struct mirror_ctx *mc;
    struct sniff_pipe *pipe;
    enum nf_link link;
};

static void mirror_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct mirror_pkt_ctx *c = (struct mirror_pkt_ctx *)user;
    c->mc->c.packets++;
    struct nf_segment seg;
    if (nf_decode(c->link, data, h->caplen, h->len, &seg) == 0) {
        if (seg.sport == 80 || seg.dport == 80)
            c->mc->c.http_packets++;
        if (seg.sport == 443 || seg.dport == 443)
            c->mc->c.tls_packets++;
    }
    sniff_pipe_frame(c->pipe, c->link, (int64_t)h->ts.tv_sec * 1000 + h->ts.tv_usec / 1000, data,
                     h->caplen, h->len);
}

static void listen_mirror(const char *iface, double seconds, struct doctor_result *out)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(iface, err);
    if (!p || pcap_set_promisc(p, 1) != 0 || pcap_set_timeout(p, 200) != 0 ||
        pcap_set_snaplen(p, 65535) != 0 || pcap_activate(p) < 0) {
        char check[64];
        snprintf(check, sizeof check, "mirror port %s", iface);
        result(out, check, DOCTOR_FAIL,
               "cannot capture on %s: %s (run as root, or with "
               "CAP_NET_RAW; does the interface exist?)",
               iface, p ? pcap_geterr(p) : err);
        if (p)
            pcap_close(p);
        return;
    }
    struct mirror_ctx mc;
    memset(&mc, 0, sizeof mc);
    struct sniff_pipe_config pc;
    sniff_pipe_config_default(&pc);
    struct sniff_pipe_ops ops = {on_record, on_request_end, NULL};
    struct sniff_pipe *pipe = NULL;
    if (sniff_pipe_new(&pc, &ops, &mc, &pipe) < 0) {
        pcap_close(p);
        result(out, "mirror port", DOCTOR_FAIL, "out of memory");
        return;
    }
    struct mirror_pkt_ctx pc2 = {&mc, pipe, nf_link_from_dlt(pcap_datalink(p))};
    /* Non-blocking with poll(): a blocking read may never return on an
     * idle link, and the check must end on time. */
    pcap_setnonblock(p, 1, err);
    int fd = pcap_get_selectable_fd(p);
    int64_t until = time_mono_ms() + (int64_t)(seconds * 1000);
    for (int64_t now = time_mono_ms(); now < until; now = time_mono_ms()) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t left = until - now;
        if (fd >= 0 && poll(&pfd, 1, left > 200 ? 200 : (int)left) <= 0)
            continue;
        if (pcap_dispatch(p, -1, mirror_packet, (u_char *)&pc2) < 0)
            break;
    }
    sniff_pipe_finish(pipe);
    sniff_pipe_free(pipe);
    pcap_close(p);
    doctor_mirror_verdict(iface, seconds, &mc.c, out);
}

/* Reads the port for seconds without ever writing, and scans what it heard. */
static void listen_bus(const char *port, long baud, char parity, bool we_transmit, double seconds,
                       struct doctor_result *out)
{
    /* The listen source's own opener: read-only, raw, RTS kept low. */
    int fd = listen_port_open(port, (int)baud, parity);
    if (fd < 0) {
        char check[64];
        snprintf(check, sizeof check, "RS-485 %s", port);
        result(out, check, DOCTOR_FAIL,
               "cannot open %s at %ld baud: %s (adapter unplugged? in "
               "group dialout?)",
               port, baud, strerror(errno));
        return;
    }
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    int64_t until = time_mono_ms() + (int64_t)(seconds * 1000);
    while (buf && time_mono_ms() < until) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        if (n == cap)
            break; /* plenty to judge by */
        ssize_t r = read(fd, buf + n, cap - n);
        if (r > 0)
            n += (size_t)r;
        else if (r < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    close(fd);
    struct modbus_rtu_scan scan;
    memset(&scan, 0, sizeof scan);
    if (buf)
        modbus_rtu_scan_bytes(buf, n, &scan);
    free(buf);
    doctor_bus_verdict(port, seconds, n, &scan, we_transmit, out);
}

enum doctor_level doctor_run(const struct pvtap_config *cfg, double seconds,
                             void (*report)(void *ctx, const struct doctor_result *r), void *ctx)
{
    enum doctor_level worst = DOCTOR_OK;
    struct doctor_result r;
#define REPORT()                                                                                   \
    do {                                                                                           \
        report(ctx, &r);                                                                           \
        if (r.level != DOCTOR_SKIP && r.level > worst)                                             \
            worst = r.level;                                                                       \
    } while (0)
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    doctor_clock_verdict(state != TIME_ERROR, time_now_s(), &r);
    REPORT();
    /* How the meters are read: the kind in force and where it came from. */
    struct store *st = NULL;
    struct site_kind kind;
    if (store_open(cfg->store_path, NULL, STORE_RDONLY, &st) < 0)
        st = NULL;
    site_kind_resolve(&cfg->env.site, st, &kind);
    result(&r, "site", DOCTOR_OK,
           "consumption meter read as %s (%s), production: %s; a meter reading 0 kWh and 0 W "
           "is shown by `pvtap status` (consumption CTs not installed or not wired / "
           "production CTs not installed)",
           site_kind_consumption_name(kind.consumption_meter), kind.origin,
           site_kind_production_name(kind.production));
    REPORT();
    /* Does the last day of records look like that kind? */
    static struct doctor_site_day days[4];
    int n_days = st ? doctor_site_days(st, days, 4) : 0;
    if (st)
        store_close(st);
    for (int i = 0; i < n_days; i++) {
        struct doctor_result hints[3];
        size_t n = doctor_site_hints(&days[i], kind.consumption_meter, hints, 3);
        for (size_t j = 0; j < n; j++) {
            r = hints[j];
            REPORT();
        }
    }
    /* The mirror: the sniff sources' interfaces, else the board's. */
    bool any_mirror = false;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct source *s = &cfg->sources[i];
        if (strcmp(s->ops->name, "sniff") != 0 || s->finite)
            continue;
        const config_setting_t *list = config_lookup(&cfg->lc, "sources");
        const config_setting_t *sec = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        const char *iface = NULL;
        if (!sec || !config_setting_lookup_string(sec, "interface", &iface))
            iface = cfg->env.board.mirror;
        if (iface && iface[0]) {
            listen_mirror(iface, seconds, &r);
            REPORT();
            any_mirror = true;
        }
    }
    if (!any_mirror && cfg->env.board.mirror[0]) {
        listen_mirror(cfg->env.board.mirror, seconds, &r);
        REPORT();
    }
    /* Every serial port once, in the settings of its first source. */
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const struct source *s = &cfg->sources[i];
        if (!s->port[0])
            continue;
        bool seen = false, transmits = false;
        for (size_t j = 0; j < cfg->n_sources; j++) {
            if (strcmp(cfg->sources[j].port, s->port) != 0)
                continue;
            if (j < i)
                seen = true;
            transmits |= cfg->sources[j].transmits != 0;
        }
        if (seen)
            continue;
        const config_setting_t *list = config_lookup(&cfg->lc, "sources");
        const config_setting_t *sec = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        /* The source's create() validated baud: this read prints nothing. */
        long long baud = strcmp(s->ops->name, "sma-net") == 0 ? 1200 : 9600;
        const char *parity = NULL;
        if (sec)
            cfg_int(sec, "baud", false, 1, 10000000, &baud);
        if (!sec || !config_setting_lookup_string(sec, "parity", &parity))
            parity = "N";
        if (strcmp(s->ops->name, "sma-net") == 0) {
            /* SMA-Net is not Modbus: the byte scan below would misjudge it. */
            result(&r, "RS-485", DOCTOR_SKIP, "%s carries SMA-Net: checked by the source itself",
                   s->port);
        } else
            listen_bus(s->port, (long)baud, parity[0], transmits, seconds, &r);
        REPORT();
        doctor_latency_verdict(s->port, listen_latency_ms(s->port), &r);
        REPORT();
    }
#undef REPORT
    return worst;
}
