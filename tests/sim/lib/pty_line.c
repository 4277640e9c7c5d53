/* A pty pair made to look like an RS-485 line for the simulator's devices. */
/* posix_openpt, grantpt, unlockpt (XSI) and ptsname_r (GNU) */
#define _GNU_SOURCE
#include "pty_line.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static speed_t baud_to_speed(unsigned baud)
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
    default: return 0;
    }
}

uint64_t pty_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void pty_sleep_until(uint64_t t_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000u),
                          .tv_nsec = (long)(t_ns % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        /* a signal only sets a flag the caller checks after the frame */
    }
}

int pty_line_open(struct pty_line *l, const char *link_path, unsigned baud, char parity,
                  unsigned batch_ms)
{
    memset(l, 0, sizeof *l);
    l->master = -1;
    l->slave_keep = -1;
    speed_t speed = baud_to_speed(baud);
    if (speed == 0 || (parity != 'N' && parity != 'E' && parity != 'O'))
        return -EINVAL;
    l->baud = baud;
    l->bits_per_char = parity == 'N' ? 10 : 11;
    l->batch_ms = batch_ms;

    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0)
        return -errno;
    int err = 0;
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, l->slave_path, sizeof l->slave_path) != 0) {
        err = -errno;
        goto fail;
    }
    /* On Linux the termios of a pty master's ioctls act on the slave: this
     * is what makes the slave raw (no echo, no CR/LF mangling) before any
     * client opens it. */
    struct termios tio;
    if (tcgetattr(m, &tio) != 0) {
        err = -errno;
        goto fail;
    }
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    if (parity != 'N') {
        tio.c_cflag |= PARENB;
        if (parity == 'O')
            tio.c_cflag |= PARODD;
    }
    cfsetispeed(&tio, speed);
    cfsetospeed(&tio, speed);
    if (tcsetattr(m, TCSANOW, &tio) != 0) {
        err = -errno;
        goto fail;
    }
    int fl = fcntl(m, F_GETFL);
    if (fl < 0 || fcntl(m, F_SETFL, fl | O_NONBLOCK) != 0) {
        err = -errno;
        goto fail;
    }
    l->slave_keep = open(l->slave_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (l->slave_keep < 0) {
        err = -errno;
        goto fail;
    }
    l->master = m;
    if (link_path) {
        struct stat st;
        /* Replace a stale symlink from an earlier run, never a real file. */
        if (lstat(link_path, &st) == 0) {
            if (!S_ISLNK(st.st_mode)) {
                err = -EEXIST;
                goto fail_open;
            }
            unlink(link_path);
        }
        if (symlink(l->slave_path, link_path) != 0) {
            err = -errno;
            goto fail_open;
        }
        l->link_path = strdup(link_path);
        if (!l->link_path) {
            unlink(link_path);
            err = -ENOMEM;
            goto fail_open;
        }
    }
    return 0;
fail_open:
    close(l->slave_keep);
    l->slave_keep = -1;
    l->master = -1;
fail:
    close(m);
    return err;
}

int pty_line_write_ready_file(const struct pty_line *l, const char *path)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int e = -errno;
        free(tmp);
        return e;
    }
    int ok = fprintf(f, "%s\n", l->slave_path) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno ? -errno : -EIO;
        unlink(tmp);
        free(tmp);
        return e;
    }
    free(tmp);
    return 0;
}

void pty_line_close(struct pty_line *l)
{
    if (l->link_path) {
        unlink(l->link_path);
        free(l->link_path);
        l->link_path = NULL;
    }
    if (l->slave_keep >= 0)
        close(l->slave_keep);
    if (l->master >= 0)
        close(l->master);
    l->slave_keep = l->master = -1;
}

uint64_t pty_line_char_ns(const struct pty_line *l)
{
    return (uint64_t)l->bits_per_char * 1000000000u / l->baud;
}

uint64_t pty_line_t35_ns(const struct pty_line *l)
{
    if (l->baud > 19200)
        return 1750000u;
    return pty_line_char_ns(l) * 7 / 2;
}

static void write_now(struct pty_line *l, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(l->master, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        /* EAGAIN: the reader's queue is full (nobody reads); EIO: no reader. */
        l->bytes_dropped += n;
        return;
    }
}

uint64_t pty_line_send(struct pty_line *l, const uint8_t *p, size_t n, uint64_t start_ns)
{
    uint64_t t0 = start_ns ? start_ns : pty_now_ns();
    uint64_t ch = pty_line_char_ns(l);
    uint64_t end = t0 + ch * n;
    if (n == 0)
        return t0;
    if (l->batch_ms == 0) {
        for (size_t i = 0; i < n; i++) {
            pty_sleep_until(t0 + ch * (i + 1));
            write_now(l, p + i, 1);
        }
        return end;
    }
    /* FTDI-like: the adapter hands the host whatever arrived at each
     * latency-timer tick (ticks run from the frame's first byte). */
    uint64_t tick = (uint64_t)l->batch_ms * 1000000u;
    size_t sent = 0;
    for (uint64_t t = t0 + tick; sent < n; t += tick) {
        size_t upto = (size_t)((t - t0) / ch);
        if (upto > n)
            upto = n;
        if (upto > sent) {
            pty_sleep_until(t);
            write_now(l, p + sent, upto - sent);
            sent = upto;
        }
    }
    return end;
}

long pty_line_read(struct pty_line *l, uint8_t *buf, size_t cap)
{
    ssize_t r = read(l->master, buf, cap);
    if (r >= 0)
        return (long)r;
    if (errno == EAGAIN || errno == EINTR || errno == EIO)
        return 0; /* EIO: no client has the slave open right now */
    return -errno;
}

void pty_rng_seed(struct pty_rng *r, uint64_t seed)
{
    r->state = seed;
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, and every seed is good. */
uint64_t pty_rng_next(struct pty_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

double pty_rng_unit(struct pty_rng *r)
{
    return (double)(pty_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int pty_rng_chance(struct pty_rng *r, double p)
{
    if (p <= 0.0)
        return 0;
    return pty_rng_unit(r) < p;
}
