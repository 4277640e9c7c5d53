/* pvsim_rs485: virtual RS-485 devices (WattNode, SunSpec, SMA-Net inverter)
 * and a "bus" that plays another master polling a WattNode, on a pty pair. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modbus_rtu.h"
#include "modbus_sunspec.h"
#include "modbus_values.h"
#include "modbus_wattnode.h"
#include "pty_line.h"
#include "sma_device.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

enum device { DEV_WATTNODE, DEV_SUNSPEC, DEV_SMA, DEV_BUS };

struct kv {
    const char *key, *value;
};

struct opts {
    enum device dev;
    const char *link, *ready_file, *values_file, *truth;
    double duration_s;
    unsigned baud;
    char parity;
    unsigned batch_ms;
    long address;             /* -1: the device's default */
    double delay_ms;          /* -1: the device's default */
    double p_crc, p_timeout, p_garbage, p_slow, slow_ms;
    unsigned long long seed;
    int live;
    double period_ms;
    unsigned long cycles;
    long ghost;               /* bus: an address the master polls that never answers */
    unsigned tcp_port;
    struct kv *kv;            /* device value flags, applied in order */
    size_t nkv;
};

static void usage(FILE *f)
{
    fputs("usage: pvsim_rs485 --device wattnode|sunspec|sma-net|bus [options] [--KEY VALUE...]\n"
          "  line:    --link PATH  --ready-file F  --duration S  --baud N  --parity N|E|O  --batch-ms N\n"
          "  device:  --address N  --delay-ms MS  --values-file F  --live  --tcp-port N (sunspec, wattnode)\n"
          "  faults:  --crc-error P  --timeout P  --garbage P  --slow-ms MS [--slow P]  --seed N\n"
          "  bus:     --period-ms MS  --cycles N  --truth FILE  --ghost-address N\n"
          "  values (as flags or in --values-file, see the README, Virtual RS-485 devices):\n"
          "    wattnode: power-w energy-net-kwh import-kwh export-kwh resettable-net-kwh\n"
          "              resettable-import-kwh resettable-export-kwh voltage freq serial model version\n"
          "    sunspec:  power-w energy-kwh voltage freq dc-voltage temp status mn md sn vr\n"
          "              model base unit w-sf wh-sf unimpl\n"
          "    sma-net:  power-w energy-kwh voltage freq dc-voltage serial type status error\n"
          "              already-addressed hours-total hours-on\n",
          f);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    double v;
    if (values_double(s, &v) != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->baud = 0;
    o->parity = 'N';
    o->address = -1;
    o->delay_ms = -1;
    o->p_slow = 1.0;
    o->period_ms = 5000;
    o->ghost = -1;
    o->kv = calloc((size_t)argc, sizeof *o->kv);
    if (!o->kv) {
        fputs("pvsim_rs485: out of memory\n", stderr);
        return -1;
    }
    int have_dev = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--live") == 0) {
            o->live = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "pvsim_rs485: %s: expected --option VALUE\n", a);
            return -1;
        }
        const char *v = argv[++i];
        double d = 0;
        int bad = 0;
        if (strcmp(a, "--device") == 0) {
            have_dev = 1;
            if (strcmp(v, "wattnode") == 0)
                o->dev = DEV_WATTNODE;
            else if (strcmp(v, "sunspec") == 0)
                o->dev = DEV_SUNSPEC;
            else if (strcmp(v, "sma-net") == 0)
                o->dev = DEV_SMA;
            else if (strcmp(v, "bus") == 0)
                o->dev = DEV_BUS;
            else
                bad = 1;
        } else if (strcmp(a, "--link") == 0)
            o->link = v;
        else if (strcmp(a, "--ready-file") == 0)
            o->ready_file = v;
        else if (strcmp(a, "--values-file") == 0)
            o->values_file = v;
        else if (strcmp(a, "--truth") == 0)
            o->truth = v;
        else if (strcmp(a, "--duration") == 0)
            bad = parse_double(v, 0, 1e9, &o->duration_s);
        else if (strcmp(a, "--baud") == 0) {
            bad = parse_double(v, 1200, 115200, &d);
            o->baud = (unsigned)d;
        } else if (strcmp(a, "--parity") == 0) {
            o->parity = v[0];
            bad = v[1] != '\0' || (v[0] != 'N' && v[0] != 'E' && v[0] != 'O');
        } else if (strcmp(a, "--batch-ms") == 0) {
            bad = parse_double(v, 0, 1000, &d);
            o->batch_ms = (unsigned)d;
        } else if (strcmp(a, "--address") == 0) {
            bad = parse_double(v, 0, 65535, &d);
            o->address = (long)d;
        } else if (strcmp(a, "--delay-ms") == 0)
            bad = parse_double(v, 0, 10000, &o->delay_ms);
        else if (strcmp(a, "--crc-error") == 0 || strcmp(a, "--crc-errors") == 0)
            bad = parse_double(v, 0, 1, &o->p_crc);
        else if (strcmp(a, "--timeout") == 0)
            bad = parse_double(v, 0, 1, &o->p_timeout);
        else if (strcmp(a, "--garbage") == 0)
            bad = parse_double(v, 0, 1, &o->p_garbage);
        else if (strcmp(a, "--slow") == 0)
            bad = parse_double(v, 0, 1, &o->p_slow);
        else if (strcmp(a, "--slow-ms") == 0)
            bad = parse_double(v, 0, 60000, &o->slow_ms);
        else if (strcmp(a, "--seed") == 0) {
            unsigned long u;
            bad = values_u32(v, &u, 0xFFFFFFFFul);
            o->seed = u;
        } else if (strcmp(a, "--period-ms") == 0)
            bad = parse_double(v, 10, 3600000, &o->period_ms);
        else if (strcmp(a, "--cycles") == 0)
            bad = values_u32(v, &o->cycles, 0xFFFFFFFFul);
        else if (strcmp(a, "--ghost-address") == 0) {
            bad = parse_double(v, 1, 247, &d);
            o->ghost = (long)d;
        } else if (strcmp(a, "--tcp-port") == 0) {
            bad = parse_double(v, 1, 65535, &d);
            o->tcp_port = (unsigned)d;
        } else {
            /* a device value: checked by the device's setter */
            o->kv[o->nkv].key = a + 2;
            o->kv[o->nkv].value = v;
            o->nkv++;
        }
        if (bad) {
            fprintf(stderr, "pvsim_rs485: %s: bad value '%s'\n", a, v);
            return -1;
        }
    }
    if (!have_dev) {
        usage(stderr);
        return -1;
    }
    if (o->baud == 0)
        o->baud = o->dev == DEV_SMA ? 1200 : 9600;
    if (o->address < 0)
        o->address = o->dev == DEV_SUNSPEC ? 126 : 1;
    if (o->delay_ms < 0)
        o->delay_ms = o->dev == DEV_SMA ? 30 : o->dev == DEV_SUNSPEC ? 10 : 5;
    if (o->dev != DEV_SMA && (o->address < 1 || o->address > 247)) {
        fputs("pvsim_rs485: --address: Modbus addresses are 1..247\n", stderr);
        return -1;
    }
    return 0;
}

/* The values a device holds and how to set them. */
struct model {
    enum device dev;
    struct wattnode wn;
    struct sunspec ss;
    struct sma_device sma;
};

static int model_set(void *ctx, const char *key, const char *value)
{
    struct model *m = ctx;
    switch (m->dev) {
    case DEV_WATTNODE:
    case DEV_BUS: return wattnode_set(&m->wn, key, value);
    case DEV_SUNSPEC: return sunspec_set(&m->ss, key, value);
    case DEV_SMA: return sma_device_set(&m->sma, key, value);
    }
    return -1;
}

static void model_finish(struct model *m)
{
    if (m->dev == DEV_SUNSPEC)
        sunspec_build(&m->ss);
    else if (m->dev == DEV_SMA)
        sma_device_finish(&m->sma);
    else
        wattnode_finish(&m->wn);
}

static void model_advance(struct model *m, double dt_s)
{
    if (m->dev == DEV_SUNSPEC) {
        sunspec_advance(&m->ss, dt_s);
        sunspec_build(&m->ss);
    } else if (m->dev == DEV_SMA) {
        sma_device_advance(&m->sma, dt_s);
    } else {
        wattnode_advance(&m->wn, dt_s);
    }
}

/* Flags, then the values file: the file wins, as it is what tests edit. */
static int model_load(struct model *m, const struct opts *o)
{
    for (size_t i = 0; i < o->nkv; i++) {
        if (model_set(m, o->kv[i].key, o->kv[i].value) != 0) {
            fprintf(stderr, "pvsim_rs485: --%s: unknown option or bad value '%s'\n", o->kv[i].key,
                    o->kv[i].value);
            return -1;
        }
    }
    if (o->values_file) {
        char err[300];
        if (values_load_file(o->values_file, model_set, m, err, sizeof err) != 0) {
            fprintf(stderr, "pvsim_rs485: %s\n", err);
            return -1;
        }
    }
    model_finish(m);
    return 0;
}

/* Re-reads the values file when it changed, so a test can move values
 * while the device runs. */
static void model_reload(struct model *m, const struct opts *o, struct timespec *seen)
{
    struct stat st;
    if (!o->values_file || stat(o->values_file, &st) != 0)
        return;
    if (st.st_mtim.tv_sec == seen->tv_sec && st.st_mtim.tv_nsec == seen->tv_nsec)
        return;
    *seen = st.st_mtim;
    char err[300];
    if (values_load_file(o->values_file, model_set, m, err, sizeof err) != 0)
        fprintf(stderr, "pvsim_rs485: reload: %s\n", err);
    model_finish(m);
}

/* Random bytes for the garbage knob. */
static size_t garbage_bytes(struct pty_rng *r, uint8_t *out, size_t max)
{
    size_t n = 1 + (size_t)(pty_rng_next(r) % max);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)pty_rng_next(r);
    return n;
}

/* ---- Modbus devices (WattNode, SunSpec) ---- */

struct tcp_client {
    int fd;
    uint8_t buf[300];
    size_t n;
};

enum { MAX_TCP = 4 };

static int tcp_listen(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -1;
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 4) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* Serves whole MBAP ADUs buffered for one client; 0, or -1 to drop it. */
static int tcp_serve(struct tcp_client *c, const struct modbus_server *srv, unsigned unit)
{
    for (;;) {
        if (c->n < 7)
            return 0;
        size_t len = (size_t)(c->buf[4] << 8 | c->buf[5]);
        if (c->buf[2] != 0 || c->buf[3] != 0 || len < 2 || len > 254)
            return -1;
        if (c->n < 6 + len)
            return 0;
        uint8_t pdu[260], adu[270];
        size_t pn;
        if (c->buf[6] == unit || c->buf[6] == 0xFF) {
            pn = modbus_serve_pdu(srv, c->buf + 7, len - 1, pdu, sizeof pdu);
        } else {
            pdu[0] = (uint8_t)(c->buf[7] | 0x80);
            pdu[1] = MODBUS_EX_GATEWAY_NO_RESPONSE;
            pn = 2;
        }
        uint16_t tid = (uint16_t)(c->buf[0] << 8 | c->buf[1]);
        size_t an = modbus_tcp_frame(adu, sizeof adu, tid, c->buf[6], pdu, pn);
        if (an == 0 || write(c->fd, adu, an) != (ssize_t)an)
            return -1;
        memmove(c->buf, c->buf + 6 + len, c->n - (6 + len));
        c->n -= 6 + len;
    }
}

struct run {
    struct opts *o;
    struct model *m;
    struct pty_line line;
    struct pty_rng rng;
    uint64_t started_ns;
};

static int should_stop(const struct run *r)
{
    if (g_stop)
        return 1;
    return r->o->duration_s > 0 &&
           (double)(pty_now_ns() - r->started_ns) / 1e9 >= r->o->duration_s;
}

/* One RTU frame the device heard, ended by a 3.5-character silence. */
static void rtu_frame(struct run *r, const struct modbus_server *srv, uint16_t *crc_errors,
                      uint16_t *frame_errors, const uint8_t *f, size_t n, uint64_t last_ns)
{
    if (n < 4) {
        if (frame_errors)
            (*frame_errors)++;
        return;
    }
    if (!modbus_rtu_crc_ok(f, n)) {
        /* a real slave stays silent on a CRC error (and counts it) */
        if (crc_errors)
            (*crc_errors)++;
        return;
    }
    if (f[0] != (uint8_t)r->o->address)
        return; /* another slave's frame, or a broadcast (reads are never broadcast) */
    uint8_t pdu[260], adu[MODBUS_RTU_MAX + 16];
    size_t pn = modbus_serve_pdu(srv, f + 1, n - 3, pdu, sizeof pdu);
    if (pn == 0)
        return;
    if (pty_rng_chance(&r->rng, r->o->p_timeout))
        return;
    size_t an = 0;
    if (pty_rng_chance(&r->rng, r->o->p_garbage))
        an = garbage_bytes(&r->rng, adu, 6); /* noise as the driver turns on */
    size_t fn = modbus_rtu_frame(adu + an, sizeof adu - an, (uint8_t)r->o->address, pdu, pn);
    if (fn == 0)
        return;
    if (pty_rng_chance(&r->rng, r->o->p_crc))
        adu[an + fn - 1] ^= (uint8_t)(1u << (pty_rng_next(&r->rng) % 8));
    double delay = r->o->delay_ms;
    if (r->o->slow_ms > 0 && pty_rng_chance(&r->rng, r->o->p_slow))
        delay += r->o->slow_ms;
    uint64_t at = last_ns + (uint64_t)(delay * 1e6);
    uint64_t t35_end = last_ns + pty_line_t35_ns(&r->line);
    if (at < t35_end)
        at = t35_end;
    pty_sleep_until(at);
    pty_line_send(&r->line, adu, an + fn, 0);
}

static int run_modbus_device(struct run *r)
{
    struct model *m = r->m;
    struct modbus_server srv;
    uint16_t *crc_errors = NULL, *frame_errors = NULL, *overruns = NULL;
    if (m->dev == DEV_SUNSPEC) {
        srv.read = sunspec_read_reg;
        srv.ctx = &m->ss;
    } else {
        srv.read = wattnode_read_reg;
        srv.ctx = &m->wn;
        crc_errors = &m->wn.crc_errors;
        frame_errors = &m->wn.frame_errors;
        overruns = &m->wn.overruns;
    }
    int lsock = -1;
    struct tcp_client clients[MAX_TCP];
    for (size_t i = 0; i < MAX_TCP; i++)
        clients[i].fd = -1;
    if (r->o->tcp_port) {
        lsock = tcp_listen(r->o->tcp_port);
        if (lsock < 0) {
            fprintf(stderr, "pvsim_rs485: 127.0.0.1:%u: %s\n", r->o->tcp_port, strerror(errno));
            return 1;
        }
    }
    uint8_t rx[MODBUS_RTU_MAX];
    size_t rn = 0;
    int overrun = 0;
    uint64_t last_ns = 0, live_ns = pty_now_ns();
    struct timespec seen = {0, 0};
    model_reload(m, r->o, &seen);
    uint64_t t35 = pty_line_t35_ns(&r->line);
    while (!should_stop(r)) {
        struct pollfd pf[2 + MAX_TCP];
        size_t np = 0;
        pf[np++] = (struct pollfd){.fd = r->line.master, .events = POLLIN};
        if (lsock >= 0)
            pf[np++] = (struct pollfd){.fd = lsock, .events = POLLIN};
        for (size_t i = 0; i < MAX_TCP; i++)
            if (clients[i].fd >= 0)
                pf[np++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
        int timeout_ms = 100;
        if (rn > 0) {
            uint64_t now = pty_now_ns(), due = last_ns + t35;
            timeout_ms = now >= due ? 0 : (int)((due - now) / 1000000u) + 1;
        }
        int pr = poll(pf, (nfds_t)np, timeout_ms);
        if (pr < 0 && errno != EINTR) {
            perror("pvsim_rs485: poll");
            break;
        }
        if (r->o->live) {
            uint64_t now = pty_now_ns();
            model_advance(m, (double)(now - live_ns) / 1e9);
            live_ns = now;
        }
        model_reload(m, r->o, &seen);
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            uint8_t tmp[256];
            long got = pty_line_read(&r->line, tmp, sizeof tmp);
            if (got > 0) {
                size_t take = (size_t)got;
                if (rn + take > sizeof rx) {
                    take = sizeof rx - rn;
                    overrun = 1;
                }
                memcpy(rx + rn, tmp, take);
                rn += take;
                last_ns = pty_now_ns();
            }
        }
        if (rn > 0 && pty_now_ns() >= last_ns + t35) {
            if (overrun) {
                if (overruns)
                    (*overruns)++;
            } else {
                rtu_frame(r, &srv, crc_errors, frame_errors, rx, rn, last_ns);
            }
            rn = 0;
            overrun = 0;
        }
        for (size_t k = (lsock >= 0 ? 2 : 1); pr > 0 && k < np; k++) {
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            for (size_t i = 0; i < MAX_TCP; i++) {
                struct tcp_client *c = &clients[i];
                if (c->fd != pf[k].fd)
                    continue;
                ssize_t got = read(c->fd, c->buf + c->n, sizeof c->buf - c->n);
                if (got <= 0 || (c->n += (size_t)got, tcp_serve(c, &srv, (unsigned)r->o->address) != 0)) {
                    close(c->fd);
                    c->fd = -1;
                    c->n = 0;
                }
            }
        }
        if (lsock >= 0 && pr > 0 && (pf[1].revents & POLLIN)) {
            int fd = accept(lsock, NULL, NULL);
            for (size_t i = 0; fd >= 0 && i < MAX_TCP; i++) {
                if (clients[i].fd < 0) {
                    clients[i].fd = fd;
                    clients[i].n = 0;
                    fd = -1;
                }
            }
            if (fd >= 0)
                close(fd); /* full: like a device with few sockets */
        }
    }
    for (size_t i = 0; i < MAX_TCP; i++)
        if (clients[i].fd >= 0)
            close(clients[i].fd);
    if (lsock >= 0)
        close(lsock);
    return 0;
}

/* ---- bus mode: another master (the supervisor) polling the WattNode ---- */

struct bus_req {
    uint8_t unit;
    uint16_t reg;             /* documented register */
    uint16_t count;
};

/* Sends one request and, if the meter hears it, its response; returns 1 when
 * the response reached the wire intact. */
static int bus_transaction(struct run *r, const struct modbus_server *srv, const struct bus_req *q,
                           uint64_t *t_free)
{
    uint8_t pdu[260], req[16], resp[MODBUS_RTU_MAX];
    modbus_read_request_pdu(pdu, MODBUS_FC_READ_HOLDING, (uint16_t)(q->reg - 1), q->count);
    size_t qn = modbus_rtu_frame(req, sizeof req, q->unit, pdu, 5);
    int req_bad = pty_rng_chance(&r->rng, r->o->p_crc);
    if (req_bad)
        req[qn - 1] ^= (uint8_t)(1u << (pty_rng_next(&r->rng) % 8));
    uint64_t end = pty_line_send(&r->line, req, qn, *t_free);
    const uint64_t master_timeout = 150000000u; /* the supervisor gives up after this */
    if (req_bad || q->unit != (uint8_t)r->o->address) {
        if (req_bad && q->unit == (uint8_t)r->o->address)
            r->m->wn.crc_errors++;
        *t_free = end + master_timeout;
        return 0;
    }
    size_t pn = modbus_serve_pdu(srv, pdu, 5, pdu + 5, sizeof pdu - 5);
    size_t rn = modbus_rtu_frame(resp, sizeof resp, q->unit, pdu + 5, pn);
    int resp_bad = pty_rng_chance(&r->rng, r->o->p_crc);
    if (resp_bad)
        resp[rn - 1 - (pty_rng_next(&r->rng) % 2)] ^= (uint8_t)(1u << (pty_rng_next(&r->rng) % 8));
    /* the meter answers >= 5 ms after the request, with a little jitter */
    uint64_t delay = (uint64_t)(r->o->delay_ms * 1e6) + pty_rng_next(&r->rng) % 3000000u;
    if (r->o->slow_ms > 0 && pty_rng_chance(&r->rng, r->o->p_slow))
        delay += (uint64_t)(r->o->slow_ms * 1e6);
    uint64_t t35 = pty_line_t35_ns(&r->line);
    if (delay < t35)
        delay = t35;
    *t_free = pty_line_send(&r->line, resp, rn, end + delay);
    return !resp_bad;
}

static int run_bus(struct run *r)
{
    FILE *truth = NULL;
    if (r->o->truth) {
        truth = fopen(r->o->truth, "w");
        if (!truth) {
            fprintf(stderr, "pvsim_rs485: %s: %s\n", r->o->truth, strerror(errno));
            return 1;
        }
    }
    struct modbus_server srv = {.read = wattnode_read_reg, .ctx = &r->m->wn};
    uint8_t unit = (uint8_t)r->o->address;
    uint64_t t35 = pty_line_t35_ns(&r->line);
    uint64_t period = (uint64_t)(r->o->period_ms * 1e6);
    /* The first scan comes one period after the line is ready, so a
     * listener that opens the pty on the ready file misses nothing. */
    uint64_t live_ns = pty_now_ns(), next = live_ns + period;
    struct timespec seen = {0, 0};
    for (unsigned long cycle = 0; !should_stop(r) && (r->o->cycles == 0 || cycle < r->o->cycles);
         cycle++) {
        pty_sleep_until(next);
        uint64_t now = pty_now_ns();
        next += period;
        if (next < now)
            next = now;
        if (r->o->live) {
            wattnode_advance(&r->m->wn, (double)(now - live_ns) / 1e9);
            live_ns = now;
        }
        model_reload(r->m, r->o, &seen);
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        /* What a supervisor plausibly asks each scan: the basic block, the
         * export counters, and now and then the identity and error counters. */
        struct bus_req reqs[4];
        size_t nq = 0;
        if (r->o->ghost > 0)
            reqs[nq++] = (struct bus_req){(uint8_t)r->o->ghost, 1001, 34};
        size_t i_basic = nq;
        reqs[nq++] = (struct bus_req){unit, 1001, 34};
        size_t i_neg = nq;
        reqs[nq++] = (struct bus_req){unit, 1113, 4};
        if (cycle % 12 == 0)
            reqs[nq++] = (struct bus_req){unit, 1701, 15};
        uint64_t t_free = now;
        int ok_basic = 0, ok_neg = 0;
        for (size_t i = 0; i < nq; i++) {
            int ok = bus_transaction(r, &srv, &reqs[i], &t_free);
            if (i == i_basic)
                ok_basic = ok;
            if (i == i_neg)
                ok_neg = ok;
            if (pty_rng_chance(&r->rng, r->o->p_garbage)) {
                uint8_t g[8];
                size_t gn = garbage_bytes(&r->rng, g, sizeof g);
                t_free = pty_line_send(&r->line, g, gn, t_free + t35 + 1000000u);
            }
            /* the master's think time before its next request: well over 3.5 chars */
            t_free += t35 + 20000000u + pty_rng_next(&r->rng) % 30000000u;
        }
        if (truth) {
            wattnode_truth_json(&r->m->wn, truth, unit, (long long)wall.tv_sec,
                                ok_basic && ok_neg ? NULL : "\"sim_fault\":true");
            fputc('\n', truth);
            fflush(truth);
        }
        pty_sleep_until(t_free);
    }
    if (truth)
        fclose(truth);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0) {
        free(o.kv);
        return 2;
    }
    struct model *m = calloc(1, sizeof *m);
    if (!m) {
        free(o.kv);
        fputs("pvsim_rs485: out of memory\n", stderr);
        return 1;
    }
    m->dev = o.dev;
    wattnode_init(&m->wn);
    sunspec_init(&m->ss);
    sma_device_init(&m->sma);
    if (o.dev == DEV_SUNSPEC)
        m->ss.unit = (uint16_t)o.address;
    if (model_load(m, &o) != 0) {
        free(m);
        free(o.kv);
        return 2;
    }
    if (o.dev == DEV_SUNSPEC && m->ss.unit != (uint16_t)o.address)
        o.address = m->ss.unit;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct run r = {.o = &o, .m = m, .started_ns = pty_now_ns()};
    pty_rng_seed(&r.rng, o.seed);
    int rc = pty_line_open(&r.line, o.link, o.baud, o.parity, o.batch_ms);
    if (rc != 0) {
        fprintf(stderr, "pvsim_rs485: pty: %s\n", strerror(-rc));
        free(m);
        free(o.kv);
        return 1;
    }
    if (o.ready_file && (rc = pty_line_write_ready_file(&r.line, o.ready_file)) != 0) {
        fprintf(stderr, "pvsim_rs485: %s: %s\n", o.ready_file, strerror(-rc));
        pty_line_close(&r.line);
        free(m);
        free(o.kv);
        return 1;
    }
    switch (o.dev) {
    case DEV_WATTNODE:
    case DEV_SUNSPEC: rc = run_modbus_device(&r); break;
    case DEV_BUS: rc = run_bus(&r); break;
    case DEV_SMA: rc = sma_device_run(&m->sma, &r.line, &r.rng, &(struct sma_faults){
                                          .p_crc = o.p_crc, .p_timeout = o.p_timeout,
                                          .p_garbage = o.p_garbage, .p_slow = o.p_slow,
                                          .slow_ms = o.slow_ms, .delay_ms = o.delay_ms,
                                          .live = o.live, .duration_s = o.duration_s},
                                      &g_stop);
        break;
    }
    pty_line_close(&r.line);
    free(m);
    free(o.kv);
    return rc;
}
