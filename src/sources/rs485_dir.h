/* RS-485 transmit direction: the one decision (config + port facts -> action) and applying it. */
#ifndef PVTAP_SOURCES_RS485_DIR_H
#define PVTAP_SOURCES_RS485_DIR_H

#include <stdbool.h>

#include "sources/serial_config.h"

/* What pvtap found out about a port (rs485_probe()). */
struct rs485_port_facts {
    bool is_pty;           /* a pseudo-terminal (tests, socat): no lines to drive */
    bool is_usb;           /* a USB adapter: FTDI/CH340/CP210x switch direction in hardware */
    bool kernel_supported; /* TIOCGRS485 works: the UART driver can drive DE itself */
    bool kernel_enabled;   /* ... and RS485 mode is already on (device tree, udev) */
};

enum rs485_action {
    RS485_DO_NOTHING = 0, /* the hardware switches direction itself */
    RS485_DO_KERNEL,      /* TIOCSRS485 with SER_RS485_ENABLED | RTS_ON_SEND */
    RS485_DO_RTS,         /* libmodbus raises RTS around each request */
    RS485_DO_GPIO,        /* pvtap raises a GPIO around each request */
    RS485_DO_REFUSE,      /* the setting cannot work on this port: an error */
};

struct rs485_decision {
    enum rs485_action action;
    const char *why; /* static text for the log or the error */
};

/* Pure: no I/O. auto: nothing on a pty, a USB adapter or a UART already in
 * RS485 mode; kernel mode on a UART that supports it; nothing (with a
 * warning-worthy why) otherwise. An explicit kernel/rts/gpio setting is
 * honoured where it can work and refused where it cannot (a pty has no
 * RS485 mode, RTS or GPIO; kernel needs TIOCGRS485 support). */
struct rs485_decision rs485_decide(enum rs485_mode mode, const struct rs485_port_facts *facts);

/* Find the facts for an open serial port fd named path. Never fails: what
 * it cannot find out stays false. */
void rs485_probe(int fd, const char *path, struct rs485_port_facts *out);

/* Turn the UART driver's RS485 mode on. PVTAP_EIO (errno kept) on failure. */
int rs485_kernel_enable(int fd);

/* A GPIO driving the transceiver's DE/RE pins through sysfs
 * (/sys/class/gpio/gpioN/value). */
struct rs485_gpio {
    int number;
    int value_fd; /* -1 when closed */
};
/* Export and set the pin as an output, low (receive). PVTAP_EIO on failure. */
int rs485_gpio_open(struct rs485_gpio *g, int number);
void rs485_gpio_set(struct rs485_gpio *g, bool transmit);
void rs485_gpio_close(struct rs485_gpio *g);

#endif
