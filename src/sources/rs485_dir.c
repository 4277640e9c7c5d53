/* RS-485 direction control: decide (pure) how the transceiver is switched, then apply it. */
#include "sources/rs485_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/serial.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "util/err.h"

struct rs485_decision rs485_decide(enum rs485_mode mode, const struct rs485_port_facts *f)
{
    switch (mode) {
    case RS485_AUTO:
        if (f->is_pty)
            return (struct rs485_decision){RS485_DO_NOTHING, "a pseudo-terminal has no lines"};
        if (f->is_usb)
            return (struct rs485_decision){RS485_DO_NOTHING,
                                           "USB adapters switch direction in hardware"};
        if (f->kernel_enabled)
            return (struct rs485_decision){RS485_DO_NOTHING,
                                           "the UART is already in RS485 mode"};
        if (f->kernel_supported)
            return (struct rs485_decision){RS485_DO_KERNEL,
                                           "the UART driver drives DE from RTS (TIOCSRS485)"};
        return (struct rs485_decision){
            RS485_DO_NOTHING, "no RS485 support in the UART driver: assuming an "
                              "auto-direction transceiver (set rs485 = \"rts\" or \"gpio:N\" if not)"};
    case RS485_KERNEL:
        if (f->is_pty)
            return (struct rs485_decision){RS485_DO_REFUSE,
                                           "rs485 = \"kernel\" cannot work on a pseudo-terminal"};
        if (!f->kernel_supported)
            return (struct rs485_decision){
                RS485_DO_REFUSE,
                "rs485 = \"kernel\": the port's driver has no RS485 mode (TIOCGRS485 fails)"};
        if (f->kernel_enabled)
            return (struct rs485_decision){RS485_DO_NOTHING, "the UART is already in RS485 mode"};
        return (struct rs485_decision){RS485_DO_KERNEL, "rs485 = \"kernel\""};
    case RS485_RTS:
        if (f->is_pty)
            return (struct rs485_decision){RS485_DO_REFUSE,
                                           "rs485 = \"rts\" cannot work on a pseudo-terminal"};
        /* The driver already toggles RTS itself; toggling it again would fight it. */
        if (f->kernel_enabled)
            return (struct rs485_decision){RS485_DO_NOTHING,
                                           "the UART already drives RTS in RS485 mode"};
        return (struct rs485_decision){RS485_DO_RTS, "rs485 = \"rts\""};
    case RS485_GPIO:
        if (f->is_pty)
            return (struct rs485_decision){RS485_DO_REFUSE,
                                           "rs485 = \"gpio:N\" cannot work on a pseudo-terminal"};
        if (f->is_usb)
            return (struct rs485_decision){
                RS485_DO_REFUSE, "rs485 = \"gpio:N\" is for HATs on a UART, not a USB adapter"};
        return (struct rs485_decision){RS485_DO_GPIO, "rs485 = \"gpio:N\""};
    }
    return (struct rs485_decision){RS485_DO_REFUSE, "unknown rs485 setting"};
}

/* A USB serial device's sysfs node resolves to a path under a USB bus. */
static bool tty_is_usb(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    char sys[PATH_MAX + 32], dev[PATH_MAX];
    snprintf(sys, sizeof sys, "/sys/class/tty/%s/device", base);
    if (!realpath(sys, dev))
        return false;
    return strstr(dev, "/usb") != NULL;
}

void rs485_probe(int fd, const char *path, struct rs485_port_facts *out)
{
    memset(out, 0, sizeof *out);
    char name[PATH_MAX];
    /* ptsname_r works only on a pty master; ttyname tells the slave side. */
    if (ttyname_r(fd, name, sizeof name) == 0 && strncmp(name, "/dev/pts/", 9) == 0)
        out->is_pty = true;
    out->is_usb = !out->is_pty && tty_is_usb(path);
    struct serial_rs485 rs;
    memset(&rs, 0, sizeof rs);
    if (!out->is_pty && ioctl(fd, TIOCGRS485, &rs) == 0) {
        out->kernel_supported = true;
        out->kernel_enabled = (rs.flags & SER_RS485_ENABLED) != 0;
    }
}

int rs485_kernel_enable(int fd)
{
    struct serial_rs485 rs;
    memset(&rs, 0, sizeof rs);
    if (ioctl(fd, TIOCGRS485, &rs) < 0)
        return PVTAP_EIO;
    rs.flags |= SER_RS485_ENABLED | SER_RS485_RTS_ON_SEND;
    rs.flags &= ~(unsigned)SER_RS485_RTS_AFTER_SEND;
    if (ioctl(fd, TIOCSRS485, &rs) < 0)
        return PVTAP_EIO;
    return 0;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return PVTAP_EIO;
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    errno = saved;
    /* Exporting a pin that is already exported fails with EBUSY: fine. */
    return n == (ssize_t)strlen(text) || errno == EBUSY ? 0 : PVTAP_EIO;
}

int rs485_gpio_open(struct rs485_gpio *g, int number)
{
    g->number = number;
    g->value_fd = -1;
    char path[96], num[16];
    snprintf(num, sizeof num, "%d", number);
    snprintf(path, sizeof path, "/sys/class/gpio/gpio%d/value", number);
    if (access(path, F_OK) != 0 && write_file("/sys/class/gpio/export", num) < 0)
        return PVTAP_EIO;
    snprintf(path, sizeof path, "/sys/class/gpio/gpio%d/direction", number);
    /* "low" sets output and receive in one step, so the bus never sees a glitch. */
    if (write_file(path, "low") < 0)
        return PVTAP_EIO;
    snprintf(path, sizeof path, "/sys/class/gpio/gpio%d/value", number);
    g->value_fd = open(path, O_WRONLY | O_CLOEXEC);
    return g->value_fd < 0 ? PVTAP_EIO : 0;
}

void rs485_gpio_set(struct rs485_gpio *g, bool transmit)
{
    if (g->value_fd < 0)
        return;
    ssize_t r = pwrite(g->value_fd, transmit ? "1" : "0", 1, 0);
    (void)r; /* nothing better to do mid-frame; the poll will time out and say so */
}

void rs485_gpio_close(struct rs485_gpio *g)
{
    if (g->value_fd >= 0)
        close(g->value_fd);
    g->value_fd = -1;
}
