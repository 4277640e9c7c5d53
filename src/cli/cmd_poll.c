/* `pvtap poll`: read one WattNode or SunSpec inverter once (or --scan a bus) and print it. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/record_json.h"
#include "cli/poll_pvs_api.h"
#include "pvtap_build.h"
#include "util/err.h"
#include "util/log.h"
#include "util/timeutil.h"

#if PVTAP_HAVE_MODBUS
#include "proto/modbus_rtu.h"
#include "sources/serial_config.h"
#include "sources/sma_net.h"
#include "sources/sunspec.h"
#include "sources/wattnode.h"
#endif

#define CMD "poll"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvtap poll --device DEVICE (--port DEV | --host H [--tcp-port N])\n"
            "                  [--baud N] [--parity N|E|O] [--address N] [--scan [--scan-range A-B]]\n"
            "                  [--force] [--listen-s S] [--timeout-ms N] [--rs485 MODE]\n"
            "                  [--format json|table] [--stats]\n\n"
            "Reads one meter or inverter once and prints it.\n\n"
            "devices in this build:\n");
#if PVTAP_HAVE_MODBUS
    fprintf(out, "  wattnode   WattNode WNC meter, Modbus RTU (--port)\n"
                 "  sunspec    SunSpec inverter, Modbus RTU (--port) or TCP (--host)\n"
                 "  sma-net    SMA Sunny Boy inverters, SMA-Net/SMAData1 (--port; 1200 baud, "
                 "listen 5 s)\n");
#else
    fprintf(out, "  (none: this pvtap was built without libmodbus)\n");
#endif
    fprintf(out,
            "\noptions:\n"
            "  --port DEV        serial port of the RS-485 adapter\n"
            "  --host H          Modbus TCP host (sunspec); --tcp-port N, default 502\n"
            "  --baud N          default 9600;  --parity N|E|O, default N (8N1, as the WattNode)\n"
            "  --address N       Modbus address (TCP: unit id) 1..247, default 1\n"
            "  --scan            list the addresses that answer (default 1..247, or --scan-range)\n"
            "  --listen-s S      listen this long for another master first (default 2; 0 = don't)\n"
            "  --force           transmit even if another master was heard (two masters corrupt\n"
            "                    each other's frames: prefer `pvtap listen` on a supervisor's bus)\n"
            "  --timeout-ms N    response timeout (default 500; 100 per address when scanning)\n"
            "  --rs485 MODE      auto (default), kernel, rts or gpio:N\n"
            "  --format F        json (default) or table\n"
            "  --stats           print transactions, bytes on the wire and the cycle time to stderr\n\n"
            "Exit status: 0 ok, 1 no answer or another master heard, 2 usage error.\n");
    poll_pvs_api_usage(out);
}

#if PVTAP_HAVE_MODBUS

enum device_type { DEV_NONE, DEV_WATTNODE, DEV_SUNSPEC, DEV_SMANET };

struct poll_opts {
    enum device_type device;
    struct serial_config sc;
    bool scan;
    int scan_from, scan_to;
    bool timeout_given;
    bool baud_given, listen_given, address_given; /* sma-net has other defaults */
    bool table;
    bool stats;
};

static int parse_args(int argc, char **argv, struct poll_opts *o)
{
    enum { O_PORT = 256, O_HOST, O_TCP_PORT, O_BAUD, O_PARITY, O_ADDRESS, O_SCAN, O_SCAN_RANGE,
           O_FORCE, O_FORMAT, O_TIMEOUT, O_LISTEN, O_RS485, O_STATS, O_DEVICE, O_URL, O_HELP };
    static const struct option longopts[] = {
        {"device", required_argument, NULL, O_DEVICE},
        {"port", required_argument, NULL, O_PORT},
        {"host", required_argument, NULL, O_HOST},
        {"tcp-port", required_argument, NULL, O_TCP_PORT},
        {"url", required_argument, NULL, O_URL},
        {"baud", required_argument, NULL, O_BAUD},
        {"parity", required_argument, NULL, O_PARITY},
        {"address", required_argument, NULL, O_ADDRESS},
        {"scan", no_argument, NULL, O_SCAN},
        {"scan-range", required_argument, NULL, O_SCAN_RANGE},
        {"force", no_argument, NULL, O_FORCE},
        {"format", required_argument, NULL, O_FORMAT},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"listen-s", required_argument, NULL, O_LISTEN},
        {"rs485", required_argument, NULL, O_RS485},
        {"stats", no_argument, NULL, O_STATS},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    serial_config_defaults(&o->sc);
    o->scan_from = 1;
    o->scan_to = 247;
    bool have_tcp_port = false;
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case O_HELP:
            usage(stdout);
            return 1;
        case O_DEVICE:
            if (strcmp(optarg, "wattnode") == 0)
                o->device = DEV_WATTNODE;
            else if (strcmp(optarg, "sunspec") == 0)
                o->device = DEV_SUNSPEC;
            else if (strcmp(optarg, "sma-net") == 0)
                o->device = DEV_SMANET;
            else if (strcmp(optarg, "pvs-api") == 0)
                return cli_usage_error(CMD, "--device %s is not in this build", optarg);
            else
                return cli_usage_error(CMD, "unknown --device '%s' (wattnode, sunspec or sma-net)",
                                       optarg);
            break;
        case O_PORT:
            if (strlen(optarg) >= sizeof o->sc.port)
                return cli_usage_error(CMD, "--port is too long");
            snprintf(o->sc.port, sizeof o->sc.port, "%s", optarg);
            break;
        case O_HOST:
            if (strlen(optarg) >= sizeof o->sc.host || !optarg[0])
                return cli_usage_error(CMD, "--host needs a host name or address");
            snprintf(o->sc.host, sizeof o->sc.host, "%s", optarg);
            break;
        case O_TCP_PORT:
            if (!cli_parse_long(optarg, 1, 65535, &v))
                return cli_usage_error(CMD, "--tcp-port must be 1..65535, not '%s'", optarg);
            o->sc.tcp_port = (int)v;
            have_tcp_port = true;
            break;
        case O_URL:
            return cli_usage_error(CMD, "--url is for --device pvs-api, not in this build");
        case O_BAUD:
            if (!cli_parse_long(optarg, 1, 10000000, &v) || !serial_baud_ok(v))
                return cli_usage_error(CMD,
                                       "--baud must be 1200, 2400, 4800, 9600, 19200, 38400, "
                                       "57600 or 115200, not '%s'", optarg);
            o->sc.baud = (int)v;
            o->baud_given = true;
            break;
        case O_PARITY:
            if (strlen(optarg) != 1 || !strchr("NEOneo", optarg[0]))
                return cli_usage_error(CMD, "--parity must be N, E or O, not '%s'", optarg);
            o->sc.parity = (char)(optarg[0] & ~0x20); /* upper case */
            break;
        case O_ADDRESS:
            if (!cli_parse_long(optarg, 1, 247, &v))
                return cli_usage_error(CMD, "--address must be 1..247, not '%s'", optarg);
            o->sc.address = (int)v;
            o->address_given = true;
            break;
        case O_SCAN:
            o->scan = true;
            break;
        case O_SCAN_RANGE: {
            char a[16], *dash;
            long lo, hi;
            snprintf(a, sizeof a, "%s", optarg);
            dash = strchr(a, '-');
            if (!dash)
                return cli_usage_error(CMD, "--scan-range is FROM-TO, e.g. 1-10");
            *dash = '\0';
            if (!cli_parse_long(a, 1, 247, &lo) || !cli_parse_long(dash + 1, 1, 247, &hi) || lo > hi)
                return cli_usage_error(CMD, "--scan-range must be FROM-TO within 1..247");
            o->scan_from = (int)lo;
            o->scan_to = (int)hi;
            break;
        }
        case O_FORCE:
            o->sc.force = true;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "json") == 0)
                o->table = false;
            else if (strcmp(optarg, "table") == 0)
                o->table = true;
            else
                return cli_usage_error(CMD, "--format must be json or table, not '%s'", optarg);
            break;
        case O_TIMEOUT:
            if (!cli_parse_long(optarg, 10, 60000, &v))
                return cli_usage_error(CMD, "--timeout-ms must be 10..60000, not '%s'", optarg);
            o->sc.timeout_ms = (int)v;
            o->timeout_given = true;
            break;
        case O_LISTEN: {
            double d;
            if (!cli_parse_double(optarg, 0, 300, &d))
                return cli_usage_error(CMD, "--listen-s must be 0..300 seconds, not '%s'",
                                       optarg);
            o->sc.listen_s = d;
            o->listen_given = true;
            break;
        }
        case O_RS485:
            if (rs485_mode_parse(optarg, &o->sc.rs485, &o->sc.rs485_gpio) < 0)
                return cli_usage_error(CMD, "--rs485 must be auto, kernel, rts or gpio:N");
            break;
        case O_STATS:
            o->stats = true;
            break;
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (o->device == DEV_NONE)
        return cli_usage_error(CMD, "--device is needed (wattnode, sunspec or sma-net)");
    if (o->sc.port[0] && o->sc.host[0])
        return cli_usage_error(CMD, "give --port or --host, not both");
    if (!o->sc.port[0] && !o->sc.host[0])
        return cli_usage_error(CMD, "--port DEV (or --host H for sunspec) is needed");
    if (o->sc.host[0] && o->device != DEV_SUNSPEC)
        return cli_usage_error(CMD, "--host is for --device sunspec (Modbus TCP)");
    if (have_tcp_port && !o->sc.host[0])
        return cli_usage_error(CMD, "--tcp-port goes with --host");
    if (o->device == DEV_SMANET) {
        if (o->address_given)
            return cli_usage_error(CMD, "--device sma-net finds its inverters by discovery: "
                                        "no --address");
        /* SMA-Net's own defaults where the command line gave none. */
        struct serial_config d;
        sma_net_serial_defaults(&d);
        if (!o->baud_given)
            o->sc.baud = d.baud;
        if (!o->listen_given)
            o->sc.listen_s = d.listen_s;
        if (!o->timeout_given)
            o->sc.timeout_ms = d.timeout_ms;
        o->sc.byte_timeout_ms = d.byte_timeout_ms;
    }
    return 0;
}

/* ---- output -------------------------------------------------------------- */

static cJSON *sunspec_record(int address, int64_t t, const struct sunspec_dev *d,
                             const struct sunspec_inverter *inv)
{
    cJSON *obj = record_json_new("sunspec", address, t);
    if (!obj)
        return NULL;
    bool ok = true;
    if (d->has_common && d->common.serial[0])
        ok = cJSON_AddStringToObject(obj, "serial", d->common.serial) != NULL;
    if (ok && d->has_common && d->common.model[0])
        ok = cJSON_AddStringToObject(obj, "model", d->common.model) != NULL;
    ok = ok && record_json_number(obj, "power_W", inv->has_power_W, inv->power_W);
    ok = ok && record_json_number(obj, "energy_lifetime_kWh", inv->has_energy_kWh, inv->energy_kWh);
    ok = ok && record_json_number(obj, "voltage_V", inv->has_voltage_V, inv->voltage_V);
    ok = ok && record_json_number(obj, "current_A", inv->has_current_A, inv->current_A);
    ok = ok && record_json_number(obj, "frequency_Hz", inv->has_frequency_Hz, inv->frequency_Hz);
    ok = ok && record_json_number(obj, "dc_power_W", inv->has_dc_power_W, inv->dc_power_W);
    ok = ok && record_json_number(obj, "dc_voltage_V", inv->has_dc_voltage_V, inv->dc_voltage_V);
    ok = ok && record_json_number(obj, "dc_current_A", inv->has_dc_current_A, inv->dc_current_A);
    ok = ok && record_json_number(obj, "temperature_C", inv->has_temperature_C, inv->temperature_C);
    ok = ok && record_json_number(obj, "status", inv->has_status, inv->status);
    if (ok && inv->has_status && sunspec_state_name(inv->status))
        ok = cJSON_AddStringToObject(obj, "status_text", sunspec_state_name(inv->status)) != NULL;
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void print_stats(struct modbus_link *l, const char *what, int64_t cycle_ms,
                        const struct modbus_link_stats *before)
{
    struct modbus_link_stats s;
    modbus_link_get_stats(l, &s);
    fprintf(stderr,
            "poll cycle (%s): %llu transactions, %llu bytes sent, %llu bytes received, %lld ms; "
            "timeouts %llu, crc errors %llu, exceptions %llu, bad replies %llu\n",
            what, (unsigned long long)(s.transactions - before->transactions),
            (unsigned long long)(s.tx_bytes - before->tx_bytes),
            (unsigned long long)(s.rx_bytes - before->rx_bytes), (long long)cycle_ms,
            (unsigned long long)s.timeouts, (unsigned long long)s.crc_errors,
            (unsigned long long)s.exceptions, (unsigned long long)s.bad_replies);
}

static int fail(const struct modbus_link_error *err)
{
    fprintf(stderr, "pvtap poll: %s\n", err->text[0] ? err->text : pvtap_strerror(err->code));
    return EXIT_RUNTIME;
}

static int poll_once(const struct poll_opts *o, struct modbus_link *l)
{
    struct modbus_link_error err = {0};
    struct modbus_link_stats before;
    int address = o->sc.address;
    cJSON *obj = NULL;
    if (o->device == DEV_WATTNODE) {
        struct wn_values id, v;
        int rc = wattnode_read(l, address, WN_USE_IDENTITY, &id, &err);
        /* A meter that refuses the identity block still has readings. */
        if (rc < 0 && !err.exception)
            return fail(&err);
        modbus_link_get_stats(l, &before);
        int64_t t0 = time_mono_ms(), t = time_now_s();
        rc = wattnode_read(l, address, WN_USE_POLL, &v, &err);
        int64_t cycle = time_mono_ms() - t0;
        if (rc < 0)
            return fail(&err);
        if (o->stats)
            print_stats(l, "wattnode", cycle, &before);
        if (v.out_of_range)
            log_msg(LOGL_WARNING, "poll", "%u values outside their sanity range dropped",
                    v.out_of_range);
        {
            char serial[24] = "";
            if (id.present[WN_SERIAL])
                snprintf(serial, sizeof serial, "%.0f", id.value[WN_SERIAL]);
            obj = record_json_wattnode(address, t, serial, &v);
        }
    } else {
        struct sunspec_dev d;
        struct sunspec_inverter inv;
        int rc = sunspec_discover(l, address, &d, &err);
        if (rc < 0)
            return fail(&err);
        modbus_link_get_stats(l, &before);
        int64_t t0 = time_mono_ms(), t = time_now_s();
        rc = sunspec_read_inverter(l, address, &d, &inv, &err);
        int64_t cycle = time_mono_ms() - t0;
        if (rc < 0)
            return fail(&err);
        if (o->stats)
            print_stats(l, "sunspec", cycle, &before);
        if (inv.out_of_range)
            log_msg(LOGL_WARNING, "poll", "%u values outside their sanity range dropped",
                    inv.out_of_range);
        obj = sunspec_record(address, t, &d, &inv);
    }
    if (!obj) {
        fprintf(stderr, "pvtap poll: out of memory\n");
        return EXIT_RUNTIME;
    }
    record_json_print(obj, o->table);
    cJSON_Delete(obj);
    return EXIT_OK;
}

/* Ask every address for something small: a WattNode's identity block, or
 * the SunSpec marker. Any answer, an exception included, means a device. */
static int scan(const struct poll_opts *o, struct modbus_link *l)
{
    modbus_link_set_retries(l, 0);
    if (!o->timeout_given)
        modbus_link_set_timeout_ms(l, 100);
    int found = 0;
    for (int a = o->scan_from; a <= o->scan_to; a++) {
        struct modbus_link_error err = {0};
        uint16_t regs[8];
        int rc;
        cJSON *obj = cJSON_CreateObject();
        if (!obj || !cJSON_AddStringToObject(obj, "device", o->device == DEV_WATTNODE
                                                                 ? "wattnode"
                                                                 : "sunspec") ||
            !cJSON_AddNumberToObject(obj, "address", a)) {
            cJSON_Delete(obj);
            fprintf(stderr, "pvtap poll: out of memory\n");
            return EXIT_RUNTIME;
        }
        bool ok = true;
        if (o->device == DEV_WATTNODE) {
            rc = modbus_link_read(l, a, wn_wire_addr(1701), 8, regs, &err);
            if (rc == 0) {
                struct wn_values id = {0};
                wattnode_decode(regs, 8, wn_wire_addr(1701), &id);
                char serial[24];
                snprintf(serial, sizeof serial, "%.0f", id.value[WN_SERIAL]);
                ok = id.present[WN_SERIAL] && cJSON_AddStringToObject(obj, "serial", serial);
                ok = ok && cJSON_AddNumberToObject(obj, "model", id.value[WN_MODEL]);
            }
        } else {
            rc = modbus_link_read(l, a, sunspec_base_candidates[0], 2, regs, &err);
            if (rc == 0)
                ok = cJSON_AddBoolToObject(obj, "sunspec",
                                           regs[0] == 0x5375 && regs[1] == 0x6E53) != NULL;
        }
        if (rc == PVTAP_ECORRUPT && err.exception)
            ok = cJSON_AddNumberToObject(obj, "exception", err.exception) != NULL;
        else if (rc == PVTAP_EIO) {
            cJSON_Delete(obj);
            return fail(&err);
        }
        if ((rc == 0 || err.exception) && ok) {
            found++;
            record_json_print(obj, o->table);
            fflush(stdout);
        }
        cJSON_Delete(obj);
    }
    if (!found) {
        fprintf(stderr,
                "pvtap poll: no device answered at addresses %d..%d on %s: check A/B wiring "
                "and the baud rate\n",
                o->scan_from, o->scan_to, modbus_link_name(l));
        return EXIT_RUNTIME;
    }
    return EXIT_OK;
}

/* ---- sma-net ------------------------------------------------------------- */

/* The README's inverter keys of `pvtap poll`: the keys the inverter has,
 * in the documented order; then the extra SMA channels (hours, error). */
static cJSON *sma_net_record(const struct sma_net_device *d)
{
    cJSON *obj = record_json_new("sma-net", d->addr, d->time_s);
    if (!obj)
        return NULL;
    char serial[16];
    sma_net_device_name(d, serial, sizeof serial);
    bool ok = cJSON_AddStringToObject(obj, "serial", serial) != NULL;
    if (ok && d->type[0])
        ok = cJSON_AddStringToObject(obj, "model", d->type) != NULL;
    size_t n;
    const struct sma_net_key *k = sma_net_keys(&n);
    double v, u, a;
    const char *text;
    for (size_t i = 0; i < n && ok; i++) {
        if (strcmp(k[i].key, "status") == 0 || k[i].q == 0)
            continue; /* status and the extras come after the inverter keys */
        if (strcmp(k[i].key, "dc_voltage_V") == 0 && sma_net_value(d, "Upv-Ist", &u, NULL) &&
            sma_net_value(d, "Ipv", &a, NULL))
            ok = cJSON_AddNumberToObject(obj, "dc_power_W", u * a) != NULL; /* derived */
        if (ok && sma_net_value(d, k[i].channel, &v, NULL))
            ok = cJSON_AddNumberToObject(obj, k[i].key, v) != NULL;
    }
    if (ok && sma_net_value(d, "Status", &v, &text)) {
        ok = cJSON_AddNumberToObject(obj, "status", v) != NULL;
        if (ok && text && text[0])
            ok = cJSON_AddStringToObject(obj, "status_text", text) != NULL;
    }
    for (size_t i = 0; i < n && ok; i++) {
        if (k[i].q != 0 || !sma_net_value(d, k[i].channel, &v, &text))
            continue;
        ok = cJSON_AddNumberToObject(obj, k[i].key, v) != NULL;
        if (ok && text && text[0]) {
            char key[40];
            snprintf(key, sizeof key, "%s_text", k[i].key);
            ok = cJSON_AddStringToObject(obj, key, text) != NULL;
        }
    }
    if (!ok) {
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static int sma_fail(const struct smanet_link_error *err)
{
    fprintf(stderr, "pvtap poll: %s\n", err->text[0] ? err->text : pvtap_strerror(err->code));
    return EXIT_RUNTIME;
}

static int sma_net_poll(const struct poll_opts *o)
{
    struct smanet_link *l = NULL;
    struct smanet_link_error err = {0};
    int rc = smanet_link_open(&o->sc, &l, &err);
    if (rc < 0) {
        fprintf(stderr, "pvtap poll: %s\n", err.text);
        return rc == PVTAP_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    struct sma_net_session s;
    sma_net_session_init(&s, l, NULL); /* one shot: no channel-list cache */
    int ret = EXIT_OK;
    int64_t t0 = time_mono_ms();
    rc = sma_net_discover(&s, &err);
    if (rc < 0) {
        ret = sma_fail(&err);
        goto out;
    }
    if (o->scan) {
        for (size_t i = 0; i < s.n_dev; i++) {
            const struct sma_net_device *d = &s.dev[i];
            cJSON *obj = cJSON_CreateObject();
            char serial[16];
            sma_net_device_name(d, serial, sizeof serial);
            if (!obj || !cJSON_AddStringToObject(obj, "device", "sma-net") ||
                !cJSON_AddNumberToObject(obj, "address", d->addr) ||
                !cJSON_AddStringToObject(obj, "serial", serial) ||
                !cJSON_AddStringToObject(obj, "model", d->type) ||
                (d->unusable && !cJSON_AddBoolToObject(obj, "usable", false))) {
                cJSON_Delete(obj);
                fprintf(stderr, "pvtap poll: out of memory\n");
                ret = EXIT_RUNTIME;
                goto out;
            }
            record_json_print(obj, o->table);
            cJSON_Delete(obj);
        }
        goto out;
    }
    while ((rc = sma_net_channels_step(&s, &err)) == 1) {
    }
    if (rc < 0) {
        ret = sma_fail(&err);
        goto out;
    }
    struct smanet_link_stats before;
    smanet_link_get_stats(l, &before);
    int64_t t1 = time_mono_ms();
    size_t bad = 0;
    rc = sma_net_read_values(&s, &bad, &err);
    if (rc < 0) {
        ret = sma_fail(&err);
        goto out;
    }
    if (o->stats) {
        struct smanet_link_stats st;
        smanet_link_get_stats(l, &st);
        fprintf(stderr,
                "poll cycle (sma-net): %llu requests, %llu bytes sent, %llu bytes received, "
                "%lld ms (discovery and channel lists: %lld ms); timeouts %llu, retries %llu, "
                "fcs errors %llu, bad frames %llu\n",
                (unsigned long long)(st.requests - before.requests),
                (unsigned long long)(st.tx_bytes - before.tx_bytes),
                (unsigned long long)(st.rx_bytes - before.rx_bytes),
                (long long)(time_mono_ms() - t1), (long long)(t1 - t0),
                (unsigned long long)(st.timeouts - before.timeouts),
                (unsigned long long)(st.retries - before.retries),
                (unsigned long long)(st.fcs_errors - before.fcs_errors),
                (unsigned long long)(st.bad_frames - before.bad_frames));
    }
    for (size_t i = 0; i < s.n_dev; i++) {
        const struct sma_net_device *d = &s.dev[i];
        if (!d->have_values)
            continue;
        cJSON *obj = sma_net_record(d);
        if (!obj) {
            fprintf(stderr, "pvtap poll: out of memory\n");
            ret = EXIT_RUNTIME;
            goto out;
        }
        record_json_print(obj, o->table);
        cJSON_Delete(obj);
    }
    if (bad)
        fprintf(stderr, "pvtap poll: %zu of the inverters found did not answer: %s\n", bad,
                err.text);
out:
    fflush(stdout);
    sma_net_session_free(&s);
    smanet_link_close(l);
    return ret;
}

int cmd_poll_main(int argc, char **argv)
{
    if (poll_pvs_api_wanted(argc, argv))
        return poll_pvs_api_main(argc, argv);
    struct poll_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc == 1)
        return EXIT_OK; /* --help */
    if (rc != 0)
        return rc;
    if (o.device == DEV_SMANET)
        return sma_net_poll(&o);
    struct modbus_link *l = NULL;
    struct modbus_link_error err = {0};
    rc = modbus_link_open(&o.sc, &l, &err);
    if (rc < 0) {
        fprintf(stderr, "pvtap poll: %s\n", err.text);
        return rc == PVTAP_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    rc = o.scan ? scan(&o, l) : poll_once(&o, l);
    modbus_link_close(l);
    return rc;
}

#else /* !PVTAP_HAVE_MODBUS */

int cmd_poll_main(int argc, char **argv)
{
    if (poll_pvs_api_wanted(argc, argv))
        return poll_pvs_api_main(argc, argv);
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
    return cli_usage_error(CMD, "no device works in this build (built without libmodbus)");
}

#endif
