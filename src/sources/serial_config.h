/* Typed settings every RS-485 source shares (wattnode, sunspec, sma-net, listen). */
#ifndef PVTAP_SOURCES_SERIAL_CONFIG_H
#define PVTAP_SOURCES_SERIAL_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "sources/reading.h"
#include "util/config.h"

/* How the RS-485 transceiver's driver is switched on to transmit. */
enum rs485_mode {
    RS485_AUTO = 0, /* decide from the port (rs485_dir.h) */
    RS485_KERNEL,   /* the UART driver's RS485 mode (TIOCSRS485) */
    RS485_RTS,      /* RTS raised by pvtap around each frame */
    RS485_GPIO,     /* a GPIO raised by pvtap around each frame (HATs) */
};

/* consumption: CTs around the whole house (gross), whatever site.consumption_meter says */
enum meter_role { METER_ROLE_NET = 0, METER_ROLE_PRODUCTION, METER_ROLE_CONSUMPTION };

/* The reading kind of a meter in that role. */
static inline enum device_kind meter_role_kind(enum meter_role role)
{
    return role == METER_ROLE_PRODUCTION    ? DEVICE_PRODUCTION_METER
           : role == METER_ROLE_CONSUMPTION ? DEVICE_CONSUMPTION_METER
                                            : DEVICE_NET_METER;
}

struct serial_config {
    char port[256];       /* device path ("@meter" resolved), "" for Modbus TCP */
    char host[256];       /* Modbus TCP host, "" for RTU */
    int tcp_port;         /* 502 */
    int baud;             /* 9600 */
    char parity;          /* 'N', 'E' or 'O'; 8 data bits; 1 stop bit (2 with no parity is not offered) */
    int address;          /* Modbus unit 1..247 */
    int timeout_ms;       /* response timeout, 500 */
    int byte_timeout_ms;  /* gap allowed inside one reply, 100 (FTDI batching needs > 16) */
    enum rs485_mode rs485;
    int rs485_gpio;       /* sysfs GPIO number for RS485_GPIO */
    double interval_s;    /* poll interval, 10 */
    bool force;           /* transmit even when another master was heard */
    double listen_s;      /* listen before the first transmission, 2 */
    enum meter_role role; /* meters only: net (default), production or consumption */
    bool invert;          /* meters only: CT orientation reversed */
    double max_poll_gap_s; /* 60: for the engine's boundary interpolation */
};

/* Which keys a backend accepts beyond the common RTU ones. */
enum {
    SERIAL_CFG_TCP = 1u << 0,   /* host, tcp_port, unit; port becomes optional */
    SERIAL_CFG_METER = 1u << 1, /* role, invert */
};

void serial_config_defaults(struct serial_config *sc);

/* Validate and read a source section (the keys of the README's config):
 * every problem printed as FILE:LINE: key: what; PVTAP_ECONFIG if any. Unknown
 * keys are errors. env may be NULL (then "@role" ports are errors). */
int serial_config_parse(struct serial_config *sc, const struct pvtap_env *env,
                        const config_setting_t *section, unsigned flags);

/* "auto", "kernel", "rts", "gpio:17" -> mode (+ *gpio). PVTAP_EINVAL otherwise. */
int rs485_mode_parse(const char *s, enum rs485_mode *mode, int *gpio);

/* Standard rates 1200..115200; false for anything else. */
bool serial_baud_ok(long baud);

/* "/dev/ttyUSB0 at 9600 8N1" or "192.0.2.10:502" into out. */
void serial_config_describe(const struct serial_config *sc, char *out, size_t out_size);

#endif
