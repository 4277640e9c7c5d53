/* The `listen` source: receive-only Modbus RTU on a bus another master (the supervisor) polls. */
#include "sources/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sources/rs485_dir.h"
#include "sources/serial_config.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MODULE "listen"

/* ---- the port ------------------------------------------------------------ */

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
    default: return B0;
    }
}

int listen_port_open(const char *path, int baud, char parity)
{
    speed_t speed = baud_constant(baud);
    if (speed == B0)
        return PVTAP_EINVAL;
    /* Read-only: whatever happens later, this descriptor cannot transmit. */
    int fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return PVTAP_EIO;
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return PVTAP_EIO;
    }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CREAD | CLOCAL;
    if (parity == 'E')
        tio.c_cflag |= PARENB;
    else if (parity == 'O')
        tio.c_cflag |= PARENB | PARODD;
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    if (tcsetattr(fd, TCSANOW, &tio) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return PVTAP_EIO;
    }
    /* Bytes from before we listened have no times we can trust. */
    tcflush(fd, TCIFLUSH);
    /* RTS may drive the transceiver's driver-enable (rs485 = "rts" wiring):
     * keep it low so the adapter stays receiving. Where the kernel's RS485
     * mode owns RTS it only raises it around a write, which never comes. */
    struct rs485_port_facts facts;
    rs485_probe(fd, path, &facts);
    if (!facts.is_pty && !facts.kernel_enabled) {
        int rts = TIOCM_RTS;
        (void)ioctl(fd, TIOCMBIC, &rts); /* adapters without modem lines refuse: fine */
    }
    return fd;
}

int listen_latency_ms(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return -1;
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    char sys[PATH_MAX + 64];
    snprintf(sys, sizeof sys, "/sys/bus/usb-serial/devices/%s/latency_timer", base);
    FILE *f = fopen(sys, "r");
    if (!f)
        return -1;
    int ms = -1;
    if (fscanf(f, "%d", &ms) != 1)
        ms = -1;
    fclose(f);
    return ms;
}

/* ---- decoding ------------------------------------------------------------ */

int listen_decode(struct listen_decoder *d, const struct modbus_listen_event *ev,
                  struct listen_decoded *out)
{
    memset(out, 0, sizeof *out);
    if (ev->kind != MBL_RESPONSE || ev->exception || (ev->function != 3 && ev->function != 4) ||
        ev->n_regs != ev->count)
        return 0;
    /* FC 3 and 4 read the same registers on the WattNode. */
    out->rows = wattnode_decode(ev->regs, ev->n_regs, ev->start, &out->wn);
    if (out->rows == 0 && out->wn.out_of_range == 0)
        return 0;
    out->address = ev->address;
    out->start = ev->start;
    out->count = ev->count;
    size_t i = 0;
    while (i < d->n && d->dev[i].address != ev->address)
        i++;
    if (i == d->n && d->n < LISTEN_MAX_DEVICES) {
        d->dev[i].address = ev->address;
        d->dev[i].have_serial = false;
        d->n++;
    }
    if (i < d->n) {
        if (out->wn.present[WN_SERIAL]) {
            d->dev[i].have_serial = true;
            d->dev[i].serial = out->wn.value[WN_SERIAL];
        }
        if (d->dev[i].have_serial)
            snprintf(out->serial, sizeof out->serial, "%.0f", d->dev[i].serial);
    }
    return 1;
}

void listen_emit(const struct listen_decoded *dec, enum device_kind kind, const char *series,
                 int64_t time_s, const struct reading_sink *sink)
{
    size_t n;
    const struct wn_reg *map = wattnode_map(&n);
    struct reading r = {
        .source = "listen",
        .series = series,
        .kind = kind,
        .time = time_s,
        .clock = CLOCK_POLL,
    };
    /* The bus address, not the serial: the supervisor reads the serial
     * only now and then, and a device whose name changed after the first
     * scans would look like two meters to the engine (a lost interval). */
    snprintf(r.device, sizeof r.device, "wattnode@%u", (unsigned)dec->address);
    /* The rows a poll reports (never the resettable counters), totals only:
     * the reading model has no phases. */
    for (size_t i = 0; i < n; i++) {
        if (map[i].use != WN_USE_POLL || !map[i].q || map[i].phase != 0 ||
            !dec->wn.present[map[i].field])
            continue;
        r.q = map[i].q;
        r.value = dec->wn.value[map[i].field];
        reading_emit(sink, &r);
    }
}

/* ---- the source backend -------------------------------------------------- */

enum { LISTEN_TICK_MS = 200, LISTEN_QUIET_S = 60 };

struct listen_priv {
    char port[256];
    int baud;
    char parity;
    int address; /* 0: every address; else only this meter's readings */
    enum meter_role role;
    int fd;
    struct modbus_listen bus;
    struct listen_decoder dec;
    struct modbus_listen_event ev;
    struct listen_decoded out;
    int64_t last_frame_ms, opened_ms;
    bool heard;
    struct complaint quiet;
};

static int ls_create(struct source *src, const config_setting_t *section)
{
    static const char *const keys[] = {SOURCE_COMMON_KEYS, "port", "baud", "parity", "address",
                                       "role", "max_poll_gap_s", NULL};
    struct listen_priv *p = calloc(1, sizeof *p);
    if (!p)
        return PVTAP_ENOMEM;
    p->fd = -1;
    p->baud = 9600; /* the WattNode's default, 8N1 */
    p->parity = 'N';
    int rc = 0;
    if (cfg_check_keys(section, keys) < 0)
        rc = PVTAP_ECONFIG;
    if (cfg_port(src->env, section, "port", true, p->port, sizeof p->port) < 0)
        rc = PVTAP_ECONFIG;
    long long v = p->baud;
    int r = cfg_int(section, "baud", false, 1, 10000000, &v);
    if (r == 0 && !serial_baud_ok((long)v)) {
        cfg_error(config_setting_get_member(section, "baud"), NULL,
                  "%lld is not a standard rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, "
                  "115200)", v);
        r = PVTAP_ECONFIG;
    }
    if (r < 0)
        rc = PVTAP_ECONFIG;
    p->baud = (int)v;
    static const char *const parities[] = {"N", "E", "O", NULL};
    int idx = 0;
    if (cfg_choice(section, "parity", false, parities, &idx) < 0)
        rc = PVTAP_ECONFIG;
    p->parity = "NEO"[idx];
    v = 0;
    if (config_setting_get_member(section, "address") &&
        cfg_int(section, "address", false, 1, 247, &v) < 0)
        rc = PVTAP_ECONFIG;
    p->address = (int)v;
    static const char *const roles[] = {"net", "production", "consumption", NULL};
    idx = 0;
    if (cfg_choice(section, "role", false, roles, &idx) < 0)
        rc = PVTAP_ECONFIG;
    p->role = (enum meter_role)idx;
    /* The engine's boundary interpolation, as for the poll sources. */
    double gap_s = 0;
    if (config_setting_get_member(section, "max_poll_gap_s") &&
        cfg_double(section, "max_poll_gap_s", false, 1, 3600, &gap_s) < 0)
        rc = PVTAP_ECONFIG;
    src->max_poll_gap_s = (int)gap_s;
    if (rc < 0) {
        free(p);
        return PVTAP_ECONFIG;
    }
    snprintf(src->port, sizeof src->port, "%s", p->port);
    src->transmits = 0; /* the config refuses a transmitting source on this port */
    src->priv = p;
    return 0;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int ls_open(struct source *src)
{
    struct listen_priv *p = src->priv;
    int fd = listen_port_open(p->port, p->baud, p->parity);
    if (fd < 0) {
        log_msg(LOGL_ERR, MODULE, "%s: cannot open to listen: %s", p->port, strerror(errno));
        return fd;
    }
    p->fd = fd;
    int lat = listen_latency_ms(p->port);
    if (lat > 1)
        log_msg(LOGL_WARNING, MODULE,
                "%s: the adapter's latency timer is %d ms: frames still split by content, but "
                "set it to 1 (the shipped udev rule does)", p->port, lat);
    modbus_listen_init(&p->bus, p->baud, p->parity, lat > 0 ? (int64_t)lat * 1000 : 0);
    p->opened_ms = p->last_frame_ms = time_mono_ms();
    p->heard = false;
    log_msg(LOGL_INFO, MODULE, "listening on %s at %d 8%c1 (receive only)", p->port, p->baud,
            p->parity);
    return 0;
}

static int ls_fd(struct source *src, int64_t *next_due_ms)
{
    struct listen_priv *p = src->priv;
    /* A tick gives up on a cut frame and notices a silent bus. */
    *next_due_ms = time_mono_ms() + LISTEN_TICK_MS;
    return p->fd;
}

static void handle_event(struct source *src, struct listen_priv *p, const struct reading_sink *sink)
{
    const struct modbus_listen_event *ev = &p->ev;
    p->last_frame_ms = time_mono_ms();
    if (!p->heard) {
        p->heard = true;
        log_msg(LOGL_INFO, MODULE, "%s: hearing Modbus traffic", p->port);
    }
    complain_clear(&p->quiet, MODULE, "%s: Modbus traffic again", p->port);
    if (ev->kind != MBL_RESPONSE || (p->address && ev->address != p->address))
        return;
    if (!listen_decode(&p->dec, ev, &p->out))
        return;
    if (p->out.wn.out_of_range)
        log_msg(LOGL_DEBUG, MODULE, "address %u: %u values outside their sanity range dropped",
                (unsigned)ev->address, p->out.wn.out_of_range);
    /* The response's wall-clock time: its last byte, on the monotonic clock. */
    int64_t t = time_now_s() - (mono_us() - ev->t_us) / 1000000;
    listen_emit(&p->out, meter_role_kind(p->role), src->series, t, sink);
}

static int ls_step(struct source *src, const struct reading_sink *sink)
{
    struct listen_priv *p = src->priv;
    if (p->fd < 0)
        return PVTAP_EIO;
    int got = 0;
    /* Bounded, so one busy port cannot starve the loop. */
    for (int round = 0; round < 16; round++) {
        uint8_t buf[512];
        ssize_t n = read(p->fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            log_msg(LOGL_ERR, MODULE, "%s: read: %s", p->port, strerror(errno));
            return PVTAP_EIO;
        }
        if (n == 0)
            break;
        got = 1;
        int64_t t = mono_us();
        size_t off = 0;
        while (off < (size_t)n) {
            off += modbus_listen_feed(&p->bus, buf + off, (size_t)n - off, t);
            while (modbus_listen_next(&p->bus, &p->ev) == 1)
                handle_event(src, p, sink);
        }
    }
    modbus_listen_tick(&p->bus, mono_us());
    while (modbus_listen_next(&p->bus, &p->ev) == 1)
        handle_event(src, p, sink);
    int64_t now = time_mono_ms();
    if (now - p->last_frame_ms > LISTEN_QUIET_S * 1000)
        complain(&p->quiet, time_now_s(), LOGL_WARNING, MODULE,
                 "%s: no Modbus frame heard for %lld s (wiring A/B, baud rate, is the other "
                 "master polling?)", p->port, (long long)((now - p->last_frame_ms) / 1000));
    return got ? 0 : PVTAP_EAGAIN;
}

static void ls_close(struct source *src)
{
    struct listen_priv *p = src->priv;
    if (!p || p->fd < 0)
        return;
    const struct modbus_listen_stats *s = &p->bus.stats;
    log_msg(LOGL_INFO, MODULE,
            "%s closed: %llu frames (%llu requests, %llu responses), %llu CRC errors, "
            "%llu unanswered, %llu noise bytes", p->port, (unsigned long long)s->frames,
            (unsigned long long)s->requests, (unsigned long long)s->responses,
            (unsigned long long)s->crc_errors, (unsigned long long)s->unanswered,
            (unsigned long long)s->noise_bytes);
    close(p->fd);
    p->fd = -1;
}

static void ls_destroy(struct source *src)
{
    ls_close(src);
    free(src->priv);
    src->priv = NULL;
}

const struct source_ops listen_source_ops = {
    .name = "listen",
    .default_series = "listen",
    .blocking = false, /* never waits: the loop polls the port's fd */
    .create = ls_create,
    .open = ls_open,
    .fd = ls_fd,
    .step = ls_step,
    .close = ls_close,
    .destroy = ls_destroy,
};
