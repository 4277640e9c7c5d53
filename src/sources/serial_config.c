/* Validation of the serial-port keys every RS-485 source shares, with FILE:LINE errors. */
#include "sources/serial_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/url_redact.h"

void serial_config_defaults(struct serial_config *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->tcp_port = 502;
    sc->baud = 9600; /* the WattNode's default; 8N1, not Modbus's nominal 8E1 */
    sc->parity = 'N';
    sc->address = 1;
    sc->timeout_ms = 500;
    sc->byte_timeout_ms = 100;
    sc->rs485 = RS485_AUTO;
    sc->interval_s = 10;
    sc->listen_s = 2;
    sc->role = METER_ROLE_NET;
    sc->max_poll_gap_s = 60;
}

bool serial_baud_ok(long baud)
{
    static const long rates[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i] == baud)
            return true;
    return false;
}

int rs485_mode_parse(const char *s, enum rs485_mode *mode, int *gpio)
{
    if (strcmp(s, "auto") == 0)
        *mode = RS485_AUTO;
    else if (strcmp(s, "kernel") == 0)
        *mode = RS485_KERNEL;
    else if (strcmp(s, "rts") == 0)
        *mode = RS485_RTS;
    else if (strncmp(s, "gpio:", 5) == 0) {
        char *end = NULL;
        const char *num = s + 5;
        if (*num < '0' || *num > '9')
            return PVTAP_EINVAL;
        long n = strtol(num, &end, 10);
        if (*end != '\0' || n < 0 || n > 4095)
            return PVTAP_EINVAL;
        *mode = RS485_GPIO;
        *gpio = (int)n;
    } else {
        return PVTAP_EINVAL;
    }
    return 0;
}

void serial_config_describe(const struct serial_config *sc, char *out, size_t out_size)
{
    if (sc->host[0]) {
        char host[URL_SHOWN_SIZE];
        url_redact(sc->host, host, sizeof host); /* a "user:pw@host" by mistake */
        snprintf(out, out_size, "%s:%d", host, sc->tcp_port);
    } else
        snprintf(out, out_size, "%s at %d 8%c1", sc->port, sc->baud, sc->parity);
}

/* Keep the first error code but go on, so one run reports every problem. */
static void note(int *rc, int r)
{
    if (r < 0 && *rc == 0)
        *rc = r;
}

int serial_config_parse(struct serial_config *sc, const struct pvtap_env *env,
                        const config_setting_t *section, unsigned flags)
{
    static const char *const rtu_keys[] = {
        "type", "name", "series", "port", "baud", "parity", "address", "timeout_ms",
        "byte_timeout_ms", "rs485", "interval_s", "force", "listen_s", "max_poll_gap_s", NULL};
    const char *allowed[32];
    size_t n = 0;
    for (size_t i = 0; rtu_keys[i]; i++)
        allowed[n++] = rtu_keys[i];
    if (flags & SERIAL_CFG_TCP) {
        allowed[n++] = "host";
        allowed[n++] = "tcp_port";
        allowed[n++] = "unit";
    }
    if (flags & SERIAL_CFG_METER) {
        allowed[n++] = "role";
        allowed[n++] = "invert";
    }
    allowed[n] = NULL;

    int rc = 0;
    note(&rc, cfg_check_keys(section, allowed));

    bool has_port = config_setting_get_member(section, "port") != NULL;
    bool has_host = (flags & SERIAL_CFG_TCP) && config_setting_get_member(section, "host");
    if (has_port && has_host) {
        cfg_error(config_setting_get_member(section, "host"), NULL,
                  "give either port (Modbus RTU) or host (Modbus TCP), not both");
        note(&rc, PVTAP_ECONFIG);
    } else if (!has_port && !has_host) {
        cfg_error(section, "port",
                  (flags & SERIAL_CFG_TCP) ? "missing: a serial port or a host is needed"
                                           : "missing: the serial port is needed");
        note(&rc, PVTAP_ECONFIG);
    }
    if (has_port)
        note(&rc, cfg_port(env, section, "port", true, sc->port, sizeof sc->port));
    if (has_host) {
        note(&rc, cfg_string(section, "host", true, sc->host, sizeof sc->host));
        long long v = sc->tcp_port;
        note(&rc, cfg_int(section, "tcp_port", false, 1, 65535, &v));
        sc->tcp_port = (int)v;
    }

    long long v = sc->baud;
    int r = cfg_int(section, "baud", false, 1, 10000000, &v);
    if (r == 0 && !serial_baud_ok((long)v)) {
        cfg_error(config_setting_get_member(section, "baud"), NULL,
                  "%lld is not a standard rate (1200, 2400, 4800, 9600, 19200, 38400, 57600, "
                  "115200)", v);
        r = PVTAP_ECONFIG;
    }
    note(&rc, r);
    sc->baud = (int)v;

    static const char *const parities[] = {"N", "E", "O", NULL};
    int idx = sc->parity == 'E' ? 1 : sc->parity == 'O' ? 2 : 0;
    note(&rc, cfg_choice(section, "parity", false, parities, &idx));
    sc->parity = "NEO"[idx];

    /* Modbus TCP gateways call the address the unit identifier. */
    bool has_unit = (flags & SERIAL_CFG_TCP) && config_setting_get_member(section, "unit");
    if (has_unit && config_setting_get_member(section, "address")) {
        cfg_error(config_setting_get_member(section, "unit"), NULL,
                  "give either address or unit (the same thing), not both");
        note(&rc, PVTAP_ECONFIG);
    }
    v = sc->address;
    note(&rc, cfg_int(section, has_unit ? "unit" : "address", false, 1, 247, &v));
    sc->address = (int)v;

    v = sc->timeout_ms;
    note(&rc, cfg_int(section, "timeout_ms", false, 10, 60000, &v));
    sc->timeout_ms = (int)v;
    v = sc->byte_timeout_ms;
    note(&rc, cfg_int(section, "byte_timeout_ms", false, 1, 10000, &v));
    sc->byte_timeout_ms = (int)v;

    char mode[32] = "";
    r = cfg_string(section, "rs485", false, mode, sizeof mode);
    if (r == 0 && mode[0] && rs485_mode_parse(mode, &sc->rs485, &sc->rs485_gpio) < 0) {
        cfg_error(config_setting_get_member(section, "rs485"), NULL,
                  "\"%s\" is not one of auto, kernel, rts, gpio:N", mode);
        r = PVTAP_ECONFIG;
    }
    note(&rc, r);
    if (has_host && mode[0] && sc->rs485 != RS485_AUTO) {
        cfg_error(config_setting_get_member(section, "rs485"), NULL,
                  "applies to a serial port only, not to host");
        note(&rc, PVTAP_ECONFIG);
    }

    note(&rc, cfg_double(section, "interval_s", false, 1, 86400, &sc->interval_s));
    note(&rc, cfg_bool(section, "force", false, &sc->force));
    note(&rc, cfg_double(section, "listen_s", false, 0, 300, &sc->listen_s));
    note(&rc, cfg_double(section, "max_poll_gap_s", false, 1, 3600, &sc->max_poll_gap_s));
    if (flags & SERIAL_CFG_METER) {
        static const char *const roles[] = {"net", "production", "consumption", NULL};
        idx = (int)sc->role;
        note(&rc, cfg_choice(section, "role", false, roles, &idx));
        sc->role = (enum meter_role)idx;
        note(&rc, cfg_bool(section, "invert", false, &sc->invert));
    }
    return rc < 0 ? PVTAP_ECONFIG : 0;
}
