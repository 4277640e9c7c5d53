/* libmodbus links: open, RS-485 direction, listen-before-talk, classified reads, the port registry. */
#include "sources/modbus_link.h"

#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "proto/modbus_rtu.h"
#include "sources/rs485_dir.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#define MODULE "modbus"

struct modbus_link {
    struct serial_config sc;
    char name[300];
    modbus_t *ctx;
    bool broken; /* an I/O error: re-open before the next transaction */
    int retries; /* extra attempts after a timeout or a garbled reply */
    struct rs485_gpio gpio;
    pthread_mutex_t lock;
    struct modbus_link_stats stats;
};

/* ---- GPIO direction ------------------------------------------------------
 * libmodbus 3.1 calls a custom RTS function with the context only (no user
 * pointer), so the GPIO for a context is found in this small table. It is the
 * one piece of process-wide state here, locked, and used only with
 * rs485 = "gpio:N". */
enum { GPIO_SLOTS = 8 };
static struct {
    modbus_t *ctx;
    struct rs485_gpio *gpio;
} gpio_slots[GPIO_SLOTS];
static pthread_mutex_t gpio_slots_lock = PTHREAD_MUTEX_INITIALIZER;

static void gpio_rts(modbus_t *ctx, int on)
{
    pthread_mutex_lock(&gpio_slots_lock);
    for (size_t i = 0; i < GPIO_SLOTS; i++)
        if (gpio_slots[i].ctx == ctx)
            rs485_gpio_set(gpio_slots[i].gpio, on != 0);
    pthread_mutex_unlock(&gpio_slots_lock);
}

static int gpio_slot_set(modbus_t *ctx, struct rs485_gpio *g)
{
    int rc = PVTAP_ELIMIT;
    pthread_mutex_lock(&gpio_slots_lock);
    for (size_t i = 0; i < GPIO_SLOTS; i++)
        if (!gpio_slots[i].ctx) {
            gpio_slots[i].ctx = ctx;
            gpio_slots[i].gpio = g;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&gpio_slots_lock);
    return rc;
}

static void gpio_slot_clear(modbus_t *ctx)
{
    pthread_mutex_lock(&gpio_slots_lock);
    for (size_t i = 0; i < GPIO_SLOTS; i++)
        if (gpio_slots[i].ctx == ctx)
            gpio_slots[i].ctx = NULL;
    pthread_mutex_unlock(&gpio_slots_lock);
}

static void set_error(struct modbus_link_error *err, int code, int exception, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(struct modbus_link_error *err, int code, int exception, const char *fmt, ...)
{
    if (!err)
        return;
    err->code = code;
    err->exception = exception;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static void set_timeouts(modbus_t *ctx, int timeout_ms, int byte_timeout_ms)
{
    modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000);
    modbus_set_byte_timeout(ctx, (uint32_t)(byte_timeout_ms / 1000),
                            (uint32_t)(byte_timeout_ms % 1000) * 1000);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Listen without transmitting: valid frames mean another master owns the bus. */
static int listen_before_talk(struct modbus_link *l, struct modbus_link_error *err)
{
    const struct serial_config *sc = &l->sc;
    if (sc->listen_s <= 0)
        return 0;
    int fd = modbus_get_socket(l->ctx);
    enum { BUF = 8192, KEEP = MODBUS_RTU_MAX_FRAME };
    uint8_t *buf = malloc(BUF);
    if (!buf) {
        set_error(err, PVTAP_ENOMEM, 0, "out of memory");
        return PVTAP_ENOMEM;
    }
    /* Whatever sat in the driver's buffer before we opened (a late reply to a
     * previous run) is not traffic now. */
    tcflush(fd, TCIFLUSH);
    struct modbus_rtu_scan scan = {0};
    size_t have = 0, heard = 0;
    int64_t end = time_mono_ms() + (int64_t)(sc->listen_s * 1000.0);
    for (;;) {
        int64_t left = end - time_mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (p.revents & (POLLERR | POLLNVAL))) {
            set_error(err, PVTAP_EIO, 0, "%s: cannot listen: %s", l->name, strerror(errno));
            free(buf);
            return PVTAP_EIO;
        }
        if (r == 0)
            continue;
        ssize_t n = read(fd, buf + have, BUF - have);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            /* A pty whose other side is not open yet hangs up: nobody talks. */
            if (p.revents & POLLHUP) {
                sleep_ms(20);
                continue;
            }
            break;
        }
        have += (size_t)n;
        heard += (size_t)n;
        if (have == BUF) {
            /* Scan what we have and keep a tail that may hold a cut frame. */
            modbus_rtu_scan_bytes(buf, BUF - KEEP, &scan);
            memmove(buf, buf + BUF - KEEP, KEEP);
            have = KEEP;
        }
    }
    modbus_rtu_scan_bytes(buf, have, &scan);
    free(buf);
    size_t frames = scan.requests + scan.responses;
    /* A master always sends requests. A lone response is a late answer to
     * an earlier run of ours; a floating, unbiased line makes a byte or two of
     * noise; sustained bytes that never form a frame are a master at another
     * rate. */
    bool busy = scan.requests > 0 || scan.responses > 1 || scan.noise_bytes >= 16;
    if (!busy) {
        if (heard)
            log_msg(LOGL_INFO, MODULE, "%s: %zu stray bytes while listening (line noise?)",
                    l->name, heard);
        return 0;
    }
    char what[160];
    if (frames)
        snprintf(what, sizeof what,
                 "heard %zu Modbus requests and %zu responses in %.1f s (last: address %u, "
                 "function %u)",
                 scan.requests, scan.responses, sc->listen_s, scan.last_address,
                 scan.last_function);
    else
        snprintf(what, sizeof what,
                 "heard %zu bytes in %.1f s that are no Modbus frames at %d 8%c1 (a master at "
                 "another baud rate or parity?)",
                 scan.noise_bytes, sc->listen_s, sc->baud, sc->parity);
    if (sc->force) {
        log_msg(LOGL_WARNING, MODULE, "%s: %s; transmitting anyway (force)", l->name, what);
        return 0;
    }
    set_error(err, PVTAP_EBUSY, 0,
              "another Modbus master is using %s: %s. Two masters on one bus corrupt each "
              "other's frames (on SunPower sites the supervisor polls the meter). Read this bus "
              "listen-only instead (type = \"listen\" in the config, or pvtap listen --port %s), "
              "or set force (--force) if you are sure nobody else is polling",
              l->name, what, sc->port);
    return PVTAP_EBUSY;
}

static int apply_rs485(struct modbus_link *l, struct modbus_link_error *err)
{
    int fd = modbus_get_socket(l->ctx);
    struct rs485_port_facts facts;
    rs485_probe(fd, l->sc.port, &facts);
    struct rs485_decision d = rs485_decide(l->sc.rs485, &facts);
    switch (d.action) {
    case RS485_DO_NOTHING:
        log_msg(LOGL_DEBUG, MODULE, "%s: RS-485 direction: automatic (%s)", l->name, d.why);
        return 0;
    case RS485_DO_KERNEL:
        if (rs485_kernel_enable(fd) < 0) {
            set_error(err, PVTAP_EIO, 0, "%s: cannot enable RS485 mode: %s", l->name,
                      strerror(errno));
            return PVTAP_EIO;
        }
        log_msg(LOGL_INFO, MODULE, "%s: RS-485 direction: kernel (%s)", l->name, d.why);
        return 0;
    case RS485_DO_RTS:
        if (modbus_rtu_set_rts(l->ctx, MODBUS_RTU_RTS_UP) < 0) {
            set_error(err, PVTAP_EIO, 0, "%s: cannot drive RTS: %s", l->name,
                      modbus_strerror(errno));
            return PVTAP_EIO;
        }
        return 0;
    case RS485_DO_GPIO:
        if (rs485_gpio_open(&l->gpio, l->sc.rs485_gpio) < 0) {
            set_error(err, PVTAP_EIO, 0, "%s: cannot use GPIO %d for RS-485 direction: %s",
                      l->name, l->sc.rs485_gpio, strerror(errno));
            return PVTAP_EIO;
        }
        if (gpio_slot_set(l->ctx, &l->gpio) < 0 ||
            modbus_rtu_set_custom_rts(l->ctx, gpio_rts) < 0 ||
            modbus_rtu_set_rts(l->ctx, MODBUS_RTU_RTS_UP) < 0) {
            set_error(err, PVTAP_EIO, 0, "%s: cannot hook GPIO %d into the RTU backend",
                      l->name, l->sc.rs485_gpio);
            return PVTAP_EIO;
        }
        return 0;
    case RS485_DO_REFUSE:
        break;
    }
    set_error(err, PVTAP_EINVAL, 0, "%s: %s", l->name, d.why);
    return PVTAP_EINVAL;
}

static void disconnect(struct modbus_link *l)
{
    if (!l->ctx)
        return;
    gpio_slot_clear(l->ctx);
    rs485_gpio_close(&l->gpio);
    modbus_close(l->ctx);
    modbus_free(l->ctx);
    l->ctx = NULL;
}

static int connect_link(struct modbus_link *l, struct modbus_link_error *err)
{
    const struct serial_config *sc = &l->sc;
    if (sc->host[0]) {
        char service[16];
        snprintf(service, sizeof service, "%d", sc->tcp_port);
        l->ctx = modbus_new_tcp_pi(sc->host, service);
    } else {
        l->ctx = modbus_new_rtu(sc->port, sc->baud, sc->parity, 8, 1);
    }
    if (!l->ctx) {
        set_error(err, PVTAP_EINVAL, 0, "%s: %s", l->name, modbus_strerror(errno));
        return PVTAP_EINVAL;
    }
    set_timeouts(l->ctx, sc->timeout_ms, sc->byte_timeout_ms);
    modbus_set_error_recovery(l->ctx, MODBUS_ERROR_RECOVERY_NONE);
    if (modbus_connect(l->ctx) < 0) {
        int e = errno;
        set_error(err, PVTAP_EIO, 0, "%s: cannot open: %s", l->name, modbus_strerror(e));
        modbus_free(l->ctx);
        l->ctx = NULL;
        return PVTAP_EIO;
    }
    if (sc->host[0])
        return 0;
    int rc = apply_rs485(l, err);
    if (rc == 0)
        rc = listen_before_talk(l, err);
    if (rc < 0)
        disconnect(l);
    return rc;
}

int modbus_link_open(const struct serial_config *sc, struct modbus_link **out,
                     struct modbus_link_error *err)
{
    *out = NULL;
    struct modbus_link *l = calloc(1, sizeof *l);
    if (!l) {
        set_error(err, PVTAP_ENOMEM, 0, "out of memory");
        return PVTAP_ENOMEM;
    }
    l->sc = *sc;
    l->retries = 1;
    l->gpio.value_fd = -1;
    serial_config_describe(sc, l->name, sizeof l->name);
    if (pthread_mutex_init(&l->lock, NULL) != 0) {
        free(l);
        set_error(err, PVTAP_ENOMEM, 0, "cannot create a mutex");
        return PVTAP_ENOMEM;
    }
    int rc = connect_link(l, err);
    if (rc < 0) {
        pthread_mutex_destroy(&l->lock);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void modbus_link_close(struct modbus_link *l)
{
    if (!l)
        return;
    disconnect(l);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

const char *modbus_link_name(const struct modbus_link *l)
{
    return l->name;
}

bool modbus_link_is_tcp(const struct modbus_link *l)
{
    return l->sc.host[0] != '\0';
}

void modbus_link_set_timeout_ms(struct modbus_link *l, int timeout_ms)
{
    pthread_mutex_lock(&l->lock);
    l->sc.timeout_ms = timeout_ms;
    if (l->ctx)
        set_timeouts(l->ctx, timeout_ms, l->sc.byte_timeout_ms);
    pthread_mutex_unlock(&l->lock);
}

void modbus_link_set_retries(struct modbus_link *l, int retries)
{
    pthread_mutex_lock(&l->lock);
    l->retries = retries;
    pthread_mutex_unlock(&l->lock);
}

void modbus_link_get_stats(struct modbus_link *l, struct modbus_link_stats *out)
{
    pthread_mutex_lock(&l->lock);
    *out = l->stats;
    pthread_mutex_unlock(&l->lock);
}

static const char *exception_name(int code)
{
    switch (code) {
    case 1: return "illegal function";
    case 2: return "illegal data address";
    case 3: return "illegal data value";
    case 4: return "server device failure";
    case 5: return "acknowledge";
    case 6: return "server device busy";
    case 10: return "gateway path unavailable";
    case 11: return "gateway target device failed to respond";
    }
    return "unknown exception";
}

/* Bytes of one read transaction on the wire: RTU frames, or TCP ADUs (7-byte MBAP header). */
static void count_bytes(struct modbus_link *l, size_t rsp_pdu_len, bool answered)
{
    size_t framing_rtu = 3, framing_tcp = 7; /* address + CRC, or the MBAP header */
    size_t framing = modbus_link_is_tcp(l) ? framing_tcp : framing_rtu;
    l->stats.tx_bytes += 5 + framing;
    if (answered)
        l->stats.rx_bytes += rsp_pdu_len + framing;
}

/* One attempt. Returns 0, or a PVTAP_E* with err filled. */
static int read_once(struct modbus_link *l, int address, uint16_t addr, uint16_t count,
                     uint16_t *out, struct modbus_link_error *err)
{
    l->stats.transactions++;
    modbus_set_slave(l->ctx, address);
    int n = modbus_read_registers(l->ctx, addr, count, out);
    if (n == (int)count) {
        count_bytes(l, 2 + 2 * (size_t)count, true);
        return 0;
    }
    int e = errno;
    const char *who = modbus_link_is_tcp(l) ? "unit" : "address";
    if (n >= 0) { /* libmodbus checks the count, but never trust a short answer */
        l->stats.bad_replies++;
        count_bytes(l, 2 + 2 * (size_t)n, true);
        set_error(err, PVTAP_ECORRUPT, 0, "%s %d on %s answered %d of %u registers", who,
                  address, l->name, n, count);
        return PVTAP_ECORRUPT;
    }
    if (e > MODBUS_ENOBASE && e < MODBUS_ENOBASE + 12) {
        int code = e - MODBUS_ENOBASE;
        l->stats.exceptions++;
        count_bytes(l, 2, true);
        set_error(err, PVTAP_ECORRUPT, code,
                  "%s %d on %s answered exception %d (%s) for registers %u..%u", who, address,
                  l->name, code, exception_name(code), addr, addr + count - 1u);
        return PVTAP_ECORRUPT;
    }
    count_bytes(l, 0, false);
    switch (e) {
    case ETIMEDOUT:
        l->stats.timeouts++;
        if (modbus_link_is_tcp(l))
            set_error(err, PVTAP_ETIMEOUT, 0, "no answer from unit %d at %s within %d ms",
                      address, l->name, l->sc.timeout_ms);
        else
            set_error(err, PVTAP_ETIMEOUT, 0,
                      "no answer from address %d on %s within %d ms: check A/B wiring, the "
                      "address DIP switches and the baud rate",
                      address, l->name, l->sc.timeout_ms);
        return PVTAP_ETIMEOUT;
    case EMBBADCRC:
        l->stats.crc_errors++;
        set_error(err, PVTAP_ECRC, 0,
                  "reply from address %d on %s failed its CRC (noise, missing termination, or "
                  "two masters)", address, l->name);
        return PVTAP_ECRC;
    case EMBBADSLAVE:
    case EMBBADDATA:
    case EMBBADEXC:
    case EMBUNKEXC:
    case EMBMDATA:
        l->stats.bad_replies++;
        set_error(err, PVTAP_ECORRUPT, 0, "bad reply to %s %d on %s: %s", who, address, l->name,
                  modbus_strerror(e));
        return PVTAP_ECORRUPT;
    default:
        l->stats.io_errors++;
        l->broken = true;
        set_error(err, PVTAP_EIO, 0, "%s: %s (adapter unplugged?)", l->name, modbus_strerror(e));
        return PVTAP_EIO;
    }
}

int modbus_link_read(struct modbus_link *l, int address, uint16_t addr, uint16_t count,
                     uint16_t *out, struct modbus_link_error *err)
{
    if (count == 0 || count > MODBUS_MAX_READ_REGS || address < 0 || address > 247) {
        set_error(err, PVTAP_EINVAL, 0, "bad read: %u registers from address %d", count,
                  address);
        return PVTAP_EINVAL;
    }
    struct modbus_link_error local;
    if (!err)
        err = &local;
    pthread_mutex_lock(&l->lock);
    int rc;
    if (l->broken || !l->ctx) {
        disconnect(l);
        l->stats.reconnects++;
        rc = connect_link(l, err);
        if (rc < 0) {
            l->broken = true;
            pthread_mutex_unlock(&l->lock);
            return rc;
        }
        l->broken = false;
    }
    rc = read_once(l, address, addr, count, out, err);
    for (int attempt = 0; attempt < l->retries && (rc == PVTAP_ETIMEOUT || rc == PVTAP_ECRC ||
                                                   (rc == PVTAP_ECORRUPT && !err->exception));
         attempt++) {
        /* Let a late or garbled reply finish arriving, drop it, try once more. */
        if (!modbus_link_is_tcp(l)) {
            sleep_ms(l->sc.byte_timeout_ms);
            modbus_flush(l->ctx);
        }
        rc = read_once(l, address, addr, count, out, err);
    }
    if (rc != 0 && rc != PVTAP_EIO && !modbus_link_is_tcp(l))
        modbus_flush(l->ctx);
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* ---- the port registry -------------------------------------------------- */

struct modbus_port_entry {
    struct modbus_port_entry *next;
    struct modbus_link *link;
    unsigned refs;
};

void modbus_ports_init(struct modbus_ports *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->head = NULL;
}

void modbus_ports_destroy(struct modbus_ports *r)
{
    while (r->head) {
        struct modbus_port_entry *e = r->head;
        r->head = e->next;
        modbus_link_close(e->link);
        free(e);
    }
    pthread_mutex_destroy(&r->lock);
}

static bool same_port(const struct serial_config *a, const struct serial_config *b)
{
    if (a->host[0] || b->host[0])
        return strcmp(a->host, b->host) == 0 && a->tcp_port == b->tcp_port && !a->port[0] &&
               !b->port[0];
    return strcmp(a->port, b->port) == 0;
}

int modbus_ports_acquire(struct modbus_ports *r, const struct serial_config *sc,
                         struct modbus_link **out, struct modbus_link_error *err)
{
    pthread_mutex_lock(&r->lock);
    for (struct modbus_port_entry *e = r->head; e; e = e->next) {
        const struct serial_config *o = &e->link->sc;
        if (!same_port(o, sc))
            continue;
        if (!sc->host[0] && (o->baud != sc->baud || o->parity != sc->parity)) {
            set_error(err, PVTAP_EINVAL, 0,
                      "%s is already open at %d 8%c1: every device on one bus must use the "
                      "same baud rate and parity",
                      sc->port, o->baud, o->parity);
            pthread_mutex_unlock(&r->lock);
            return PVTAP_EINVAL;
        }
        e->refs++;
        *out = e->link;
        pthread_mutex_unlock(&r->lock);
        return 0;
    }
    struct modbus_port_entry *e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&r->lock);
        set_error(err, PVTAP_ENOMEM, 0, "out of memory");
        return PVTAP_ENOMEM;
    }
    int rc = modbus_link_open(sc, &e->link, err);
    if (rc < 0) {
        free(e);
        pthread_mutex_unlock(&r->lock);
        return rc;
    }
    e->refs = 1;
    e->next = r->head;
    r->head = e;
    *out = e->link;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void modbus_ports_release(struct modbus_ports *r, struct modbus_link *l)
{
    pthread_mutex_lock(&r->lock);
    for (struct modbus_port_entry **p = &r->head; *p; p = &(*p)->next) {
        if ((*p)->link != l)
            continue;
        struct modbus_port_entry *e = *p;
        if (--e->refs == 0) {
            *p = e->next;
            modbus_link_close(e->link);
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&r->lock);
}
