/* SMA-Net port I/O (termios): open, RS-485 direction, listen-before-talk, requests, retries. */
#include "sources/sma_net_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sources/rs485_dir.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MODULE "sma-net"

struct smanet_link {
    struct serial_config sc;
    char name[300];
    int fd;
    int retries;
    enum rs485_action dir;
    struct rs485_gpio gpio;
    struct smanet_deframer df;
    uint8_t rx[256]; /* bytes read but not yet fed to the deframer */
    size_t rx_off, rx_len;
    struct smanet_link_stats stats;
};

static void set_error(struct smanet_link_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_error(struct smanet_link_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static speed_t baud_constant(int baud)
{
    switch (baud) {
    case 1200: return B1200;
    case 2400: return B2400;
    case 4800: return B4800;
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    }
    return 0;
}

int smanet_link_wire_ms(const struct smanet_link *l, size_t n)
{
    /* start + 8 data + stop, and a parity bit when there is one */
    int bits = l->sc.parity == 'N' ? 10 : 11;
    return (int)(((uint64_t)n * (uint64_t)bits * 1000u + (uint64_t)l->sc.baud - 1) /
                 (uint64_t)l->sc.baud);
}

int smanet_link_timeout_ms(const struct smanet_link *l)
{
    return l->sc.timeout_ms;
}

static int configure(struct smanet_link *l, struct smanet_link_error *err)
{
    struct termios tio;
    if (tcgetattr(l->fd, &tio) < 0) {
        set_error(err, PVTAP_EIO, "%s: not a serial port: %s", l->name, strerror(errno));
        return PVTAP_EIO;
    }
    cfmakeraw(&tio);
    speed_t sp = baud_constant(l->sc.baud);
    if (!sp) {
        set_error(err, PVTAP_EINVAL, "%s: unsupported baud rate %d", l->name, l->sc.baud);
        return PVTAP_EINVAL;
    }
    cfsetispeed(&tio, sp);
    cfsetospeed(&tio, sp);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | CSTOPB | PARENB | PARODD | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    if (l->sc.parity == 'E')
        tio.c_cflag |= PARENB;
    else if (l->sc.parity == 'O')
        tio.c_cflag |= PARENB | PARODD;
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (tcsetattr(l->fd, TCSANOW, &tio) < 0) {
        set_error(err, PVTAP_EIO, "%s: cannot configure: %s", l->name, strerror(errno));
        return PVTAP_EIO;
    }
    return 0;
}

static int apply_rs485(struct smanet_link *l, struct smanet_link_error *err)
{
    struct rs485_port_facts facts;
    rs485_probe(l->fd, l->sc.port, &facts);
    struct rs485_decision d = rs485_decide(l->sc.rs485, &facts);
    l->dir = d.action;
    switch (d.action) {
    case RS485_DO_NOTHING:
        log_msg(LOGL_DEBUG, MODULE, "%s: RS-485 direction: automatic (%s)", l->name, d.why);
        return 0;
    case RS485_DO_KERNEL:
        if (rs485_kernel_enable(l->fd) < 0) {
            set_error(err, PVTAP_EIO, "%s: cannot enable RS485 mode: %s", l->name,
                      strerror(errno));
            return PVTAP_EIO;
        }
        log_msg(LOGL_INFO, MODULE, "%s: RS-485 direction: kernel (%s)", l->name, d.why);
        return 0;
    case RS485_DO_RTS: {
        int bit = TIOCM_RTS; /* receive until we send */
        ioctl(l->fd, TIOCMBIC, &bit);
        return 0;
    }
    case RS485_DO_GPIO:
        if (rs485_gpio_open(&l->gpio, l->sc.rs485_gpio) < 0) {
            set_error(err, PVTAP_EIO, "%s: cannot use GPIO %d for RS-485 direction: %s",
                      l->name, l->sc.rs485_gpio, strerror(errno));
            return PVTAP_EIO;
        }
        return 0;
    case RS485_DO_REFUSE:
        break;
    }
    set_error(err, PVTAP_EINVAL, "%s: %s", l->name, d.why);
    return PVTAP_EINVAL;
}

/* Listen without transmitting: SMAData1 requests, several answers, or
 * sustained bytes that never form a frame mean another master. */
static int listen_before_talk(struct smanet_link *l, struct smanet_link_error *err)
{
    const struct serial_config *sc = &l->sc;
    if (sc->listen_s <= 0)
        return 0;
    /* Bytes the driver held before we opened (a late answer to an earlier
     * run) are not traffic now. */
    tcflush(l->fd, TCIFLUSH);
    struct smanet_deframer df;
    smanet_deframer_init(&df);
    size_t heard = 0, requests = 0, answers = 0;
    struct smanet_head last = {0};
    int64_t end = time_mono_ms() + (int64_t)(sc->listen_s * 1000.0);
    for (;;) {
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (p.revents & (POLLERR | POLLNVAL))) {
            set_error(err, PVTAP_EIO, "%s: cannot listen: %s", l->name, strerror(errno));
            return PVTAP_EIO;
        }
        if (r == 0)
            continue;
        uint8_t buf[256];
        ssize_t n = read(l->fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* A pty whose other side is not open yet hangs up: nobody talks. */
            struct timespec ts = {0, 20 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        heard += (size_t)n;
        size_t off = 0;
        while (off < (size_t)n) {
            size_t used = 0;
            struct smanet_packet pk;
            int rc = smanet_deframer_push(&df, buf + off, (size_t)n - off, &used, &pk);
            off += used;
            if (rc == 1) {
                last = pk.h;
                if (pk.h.ctrl & SMANET_CTRL_ANSWER)
                    answers++;
                else
                    requests++;
            }
        }
    }
    size_t frames = requests + answers;
    bool busy = requests > 0 || answers > 1 || (frames == 0 && heard >= 16);
    if (!busy) {
        if (heard)
            log_msg(LOGL_INFO, MODULE, "%s: %zu stray bytes while listening (line noise?)",
                    l->name, heard);
        return 0;
    }
    char what[200];
    if (frames)
        snprintf(what, sizeof what,
                 "heard %zu SMAData1 requests and %zu answers in %.1f s (last: command %u "
                 "from address %u to %u)",
                 requests, answers, sc->listen_s, last.cmd, last.src, last.dst);
    else
        snprintf(what, sizeof what,
                 "heard %zu bytes in %.1f s that are no SMA-Net frames at %d 8%c1 (a master at "
                 "another baud rate?)",
                 heard, sc->listen_s, sc->baud, sc->parity);
    if (sc->force) {
        log_msg(LOGL_WARNING, MODULE, "%s: %s; transmitting anyway (force)", l->name, what);
        return 0;
    }
    set_error(err, PVTAP_EBUSY,
              "another SMA-Net master is using %s: %s. Two masters on one bus corrupt each "
              "other's frames (a Sunny Boy Control, a Sunny WebBox or the supervisor may be "
              "polling the inverters). Remove it, or set force (--force) if you are sure "
              "nobody else is talking",
              l->name, what);
    return PVTAP_EBUSY;
}

int smanet_link_open(const struct serial_config *sc, struct smanet_link **out,
                     struct smanet_link_error *err)
{
    *out = NULL;
    struct smanet_link *l = calloc(1, sizeof *l);
    if (!l) {
        set_error(err, PVTAP_ENOMEM, "out of memory");
        return PVTAP_ENOMEM;
    }
    l->sc = *sc;
    l->retries = 2;
    l->gpio.value_fd = -1;
    smanet_deframer_init(&l->df);
    serial_config_describe(sc, l->name, sizeof l->name);
    l->fd = open(sc->port, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (l->fd < 0) {
        set_error(err, PVTAP_EIO, "%s: cannot open: %s", l->name, strerror(errno));
        free(l);
        return PVTAP_EIO;
    }
    int rc = configure(l, err);
    if (rc == 0)
        rc = apply_rs485(l, err);
    if (rc == 0)
        rc = listen_before_talk(l, err);
    if (rc < 0) {
        smanet_link_close(l);
        return rc;
    }
    *out = l;
    return 0;
}

void smanet_link_close(struct smanet_link *l)
{
    if (!l)
        return;
    rs485_gpio_close(&l->gpio);
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

const char *smanet_link_name(const struct smanet_link *l)
{
    return l->name;
}

void smanet_link_get_stats(const struct smanet_link *l, struct smanet_link_stats *out)
{
    *out = l->stats;
    out->fcs_errors = l->df.fcs_errors;
    out->bad_frames = l->df.runts + l->df.overruns + l->df.foreign;
}

void smanet_link_set_retries(struct smanet_link *l, int retries)
{
    l->retries = retries < 0 ? 0 : retries;
}

/* Drive the transmitter around a write where pvtap does it itself. */
static void direction(struct smanet_link *l, bool transmit)
{
    if (l->dir == RS485_DO_RTS) {
        int bit = TIOCM_RTS;
        ioctl(l->fd, transmit ? TIOCMBIS : TIOCMBIC, &bit);
    } else if (l->dir == RS485_DO_GPIO) {
        rs485_gpio_set(&l->gpio, transmit);
    }
}

static int write_all(struct smanet_link *l, const uint8_t *p, size_t n,
                     struct smanet_link_error *err)
{
    size_t off = 0;
    int64_t give_up = time_mono_ms() + 2000 + smanet_link_wire_ms(l, n);
    while (off < n) {
        ssize_t w = write(l->fd, p + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && time_mono_ms() < give_up) {
            struct pollfd pf = {.fd = l->fd, .events = POLLOUT};
            poll(&pf, 1, 50);
            continue;
        }
        set_error(err, PVTAP_EIO, "%s: write failed: %s (adapter unplugged?)", l->name,
                  w < 0 ? strerror(errno) : "no progress");
        return PVTAP_EIO;
    }
    return 0;
}

int smanet_link_send(struct smanet_link *l, uint16_t dst, bool broadcast, uint8_t count,
                     uint8_t cmd, const uint8_t *data, size_t len, struct smanet_link_error *err)
{
    if (cmd == SMANET_CMD_SET_DATA) {
        set_error(err, PVTAP_EINVAL, "SET_DATA is never sent: pvtap only reads");
        return PVTAP_EINVAL;
    }
    struct smanet_head h = {
        .src = SMANET_MASTER_ADDR,
        .dst = broadcast ? 0 : dst,
        .ctrl = broadcast ? SMANET_CTRL_GROUP : 0,
        .count = count,
        .cmd = cmd,
    };
    uint8_t wire[SMANET_MAX_WIRE];
    size_t n = 0;
    int rc = smanet_encode(&h, data, len, wire, sizeof wire, &n);
    if (rc < 0) {
        set_error(err, rc, "request too long (%zu bytes)", len);
        return rc;
    }
    /* Whatever arrived before this request cannot be its answer. */
    tcflush(l->fd, TCIFLUSH);
    l->rx_off = l->rx_len = 0;
    smanet_deframer_reset(&l->df);
    direction(l, true);
    rc = write_all(l, wire, n, err);
    /* Keep the driver on until the last stop bit has left. */
    if (rc == 0 && l->dir != RS485_DO_NOTHING)
        tcdrain(l->fd);
    direction(l, false);
    if (rc < 0)
        return rc;
    l->stats.requests++;
    l->stats.tx_bytes += n;
    return 0;
}

int smanet_link_recv(struct smanet_link *l, uint8_t cmd, int want_src, int timeout_ms,
                     struct smanet_packet *out, struct smanet_link_error *err)
{
    /* The answer must start within timeout_ms; a frame still arriving then
     * may go on as long as no gap exceeds byte_timeout_ms. */
    int64_t end = time_mono_ms() + timeout_ms;
    int64_t last_rx = 0;
    int broken = 0; /* the last broken frame's code */
    uint64_t fcs_before = l->df.fcs_errors;
    for (;;) {
        while (l->rx_off < l->rx_len) {
            size_t used = 0;
            struct smanet_packet pk;
            int rc = smanet_deframer_push(&l->df, l->rx + l->rx_off, l->rx_len - l->rx_off,
                                          &used, &pk);
            l->rx_off += used;
            if (rc == 1) {
                if ((pk.h.ctrl & SMANET_CTRL_ANSWER) && pk.h.cmd == cmd &&
                    pk.h.dst == SMANET_MASTER_ADDR && (want_src < 0 || pk.h.src == want_src)) {
                    l->stats.answers++;
                    *out = pk;
                    return 0;
                }
                l->stats.stray_packets++;
            } else if (rc < 0) {
                broken = rc;
            }
        }
        int64_t now = time_mono_ms();
        int64_t deadline = end;
        if (l->df.len > 0 && last_rx + l->sc.byte_timeout_ms > deadline)
            deadline = last_rx + l->sc.byte_timeout_ms;
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int64_t wait = deadline - now;
        int r = poll(&p, 1, (int)(wait > 1000 ? 1000 : wait));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (p.revents & (POLLERR | POLLNVAL))) {
            set_error(err, PVTAP_EIO, "%s: read failed: %s (adapter unplugged?)", l->name,
                      strerror(errno));
            return PVTAP_EIO;
        }
        if (r == 0)
            continue;
        ssize_t n = read(l->fd, l->rx, sizeof l->rx);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            if (p.revents & POLLHUP) { /* pty peer gone: as silent as a cut wire */
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            set_error(err, PVTAP_EIO, "%s: read failed: %s (adapter unplugged?)", l->name,
                      n < 0 ? strerror(errno) : "end of file");
            return PVTAP_EIO;
        }
        l->rx_off = 0;
        l->rx_len = (size_t)n;
        l->stats.rx_bytes += (size_t)n;
        last_rx = time_mono_ms();
    }
    if (broken == PVTAP_ECRC || l->df.fcs_errors > fcs_before) {
        set_error(err, PVTAP_ECRC,
                  "answer to command %u on %s failed its FCS (noise, missing termination, or "
                  "two masters)", cmd, l->name);
        return PVTAP_ECRC;
    }
    if (broken || l->df.len > 0) {
        l->stats.timeouts++;
        set_error(err, PVTAP_ECORRUPT, "a broken or partial answer to command %u on %s", cmd,
                  l->name);
        return PVTAP_ECORRUPT;
    }
    l->stats.timeouts++;
    if (want_src >= 0)
        set_error(err, PVTAP_ETIMEOUT,
                  "no answer from SMA-Net address %d on %s within %d ms: check A/B wiring, the "
                  "RS-485 piggyback and the baud rate",
                  want_src, l->name, timeout_ms);
    else
        set_error(err, PVTAP_ETIMEOUT,
                  "no SMA-Net device answered on %s within %d ms: check A/B wiring, the "
                  "RS-485 piggyback and the baud rate",
                  l->name, timeout_ms);
    return PVTAP_ETIMEOUT;
}

void smanet_xfer_init(struct smanet_xfer *x, uint16_t dst, uint8_t cmd, const uint8_t *data,
                      size_t len, size_t limit)
{
    memset(x, 0, sizeof *x);
    x->dst = dst;
    x->cmd = cmd;
    if (len > sizeof x->data)
        len = sizeof x->data;
    if (len)
        memcpy(x->data, data, len);
    x->len = len;
    smanet_reasm_init(&x->r, limit);
}

void smanet_xfer_free(struct smanet_xfer *x)
{
    smanet_reasm_free(&x->r);
}

int smanet_xfer_step(struct smanet_link *l, struct smanet_xfer *x, struct smanet_link_error *err)
{
    int rc = PVTAP_ETIMEOUT;
    for (int attempt = 0; attempt <= l->retries; attempt++) {
        if (attempt > 0) {
            l->stats.retries++;
            /* Let a late or garbled answer finish before asking again. */
            struct timespec ts = {0, (long)l->sc.byte_timeout_ms * 1000000L};
            nanosleep(&ts, NULL);
        }
        /* The first request carries the data; a follow-up is empty and
         * carries the counter last received (defractionizer.c). */
        if (!x->r.started)
            rc = smanet_link_send(l, x->dst, false, 0, x->cmd, x->data, x->len, err);
        else
            rc = smanet_link_send(l, x->dst, false, x->r.last, x->cmd, NULL, 0, err);
        if (rc < 0)
            return rc;
        struct smanet_packet pk;
        /* The answer's wire time grows with its length: budget a full packet. */
        int timeout = l->sc.timeout_ms + smanet_link_wire_ms(l, SMANET_MAX_WIRE / 2);
        rc = smanet_link_recv(l, x->cmd, x->dst, timeout, &pk, err);
        if (rc == PVTAP_EIO)
            return rc;
        if (rc < 0)
            continue;
        rc = smanet_reasm_add(&x->r, &pk);
        if (rc == PVTAP_ECORRUPT) {
            set_error(err, PVTAP_ECORRUPT,
                      "address %u on %s answered packet %u out of order (expected %u)",
                      pk.h.src, l->name, pk.h.count, (unsigned)(x->r.last - 1));
            continue;
        }
        if (rc < 0) {
            set_error(err, rc, "answer to command %u from address %u: %s", x->cmd, x->dst,
                      pvtap_strerror(rc));
            return rc;
        }
        x->packets++;
        return rc;
    }
    return rc;
}

int smanet_xfer_run(struct smanet_link *l, struct smanet_xfer *x, struct smanet_link_error *err)
{
    int rc;
    while ((rc = smanet_xfer_step(l, x, err)) == 1) {
    }
    return rc;
}
