/* `pvtap listen`: receive-only RS-485, print the readings another master's Modbus polls carry. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/record_json.h"
#include "proto/modbus_listen.h"
#include "proto/wattnode_map.h"
#include "sources/listen.h"
#include "sources/serial_config.h"
#include "util/err.h"
#include "util/timeutil.h"

#define CMD "listen"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvtap listen --port DEV [--baud N] [--parity N|E|O] [--address N]\n"
            "                    [--stats] [--format jsonl|table] [--duration S]\n\n"
            "Listens to an RS-485 bus that another master (the supervisor) polls, without\n"
            "ever transmitting, and prints one reading per response it overhears, decoded\n"
            "through the WattNode register map (the keys of `pvtap poll`, with \"time\").\n\n"
            "options:\n"
            "  --port DEV        serial port of the RS-485 adapter (opened read-only)\n"
            "  --baud N          default 9600;  --parity N|E|O, default N (8N1, as the WattNode)\n"
            "  --address N       print only this device's responses (default: every address)\n"
            "  --format F        jsonl (default) or table\n"
            "  --stats           on exit, print to stderr what the other master polls (address,\n"
            "                    function, registers, period, seen, answered, errors) and the\n"
            "                    frame counters\n"
            "  --duration S      stop after S seconds (default: until SIGINT/SIGTERM)\n\n"
            "Exit status: 0 ok, 1 the port cannot be opened or read, 2 usage error.\n");
}

struct listen_opts {
    char port[256];
    int baud;
    char parity;
    int address;
    bool table;
    bool stats;
    double duration_s;
};

/* 0 to run, 1 after --help, 2 on a usage error. */
static int parse_args(int argc, char **argv, struct listen_opts *o)
{
    enum { O_PORT = 256, O_BAUD, O_PARITY, O_ADDRESS, O_FORMAT, O_STATS, O_DURATION, O_HELP };
    static const struct option longopts[] = {
        {"port", required_argument, NULL, O_PORT},
        {"baud", required_argument, NULL, O_BAUD},
        {"parity", required_argument, NULL, O_PARITY},
        {"address", required_argument, NULL, O_ADDRESS},
        {"format", required_argument, NULL, O_FORMAT},
        {"stats", no_argument, NULL, O_STATS},
        {"duration", required_argument, NULL, O_DURATION},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->baud = 9600;
    o->parity = 'N';
    int c;
    long v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
        case O_HELP:
            usage(stdout);
            return 1;
        case O_PORT:
            if (!optarg[0] || strlen(optarg) >= sizeof o->port)
                return cli_usage_error(CMD, "--port needs a serial device");
            snprintf(o->port, sizeof o->port, "%s", optarg);
            break;
        case O_BAUD:
            if (!cli_parse_long(optarg, 1, 10000000, &v) || !serial_baud_ok(v))
                return cli_usage_error(CMD,
                                       "--baud must be 1200, 2400, 4800, 9600, 19200, 38400, "
                                       "57600 or 115200, not '%s'", optarg);
            o->baud = (int)v;
            break;
        case O_PARITY:
            if (strlen(optarg) != 1 || !strchr("NEOneo", optarg[0]))
                return cli_usage_error(CMD, "--parity must be N, E or O, not '%s'", optarg);
            o->parity = (char)(optarg[0] & ~0x20); /* upper case */
            break;
        case O_ADDRESS:
            if (!cli_parse_long(optarg, 1, 247, &v))
                return cli_usage_error(CMD, "--address must be 1..247, not '%s'", optarg);
            o->address = (int)v;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") == 0)
                o->table = false;
            else if (strcmp(optarg, "table") == 0)
                o->table = true;
            else
                return cli_usage_error(CMD, "--format must be jsonl or table, not '%s'", optarg);
            break;
        case O_STATS:
            o->stats = true;
            break;
        case O_DURATION: {
            double d;
            if (!cli_parse_double(optarg, 0, 1e7, &d) || d == 0)
                return cli_usage_error(CMD, "--duration must be a number of seconds > 0, not "
                                            "'%s'", optarg);
            o->duration_s = d;
            break;
        }
        default:
            return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
    if (!o->port[0])
        return cli_usage_error(CMD, "--port DEV is needed");
    return 0;
}

/* ---- output -------------------------------------------------------------- */

/* "EnergySum..Freq": the map's names for the registers of a read, so a user
 * sees what the other master's poll makes available. */
static void describe_regs(uint16_t start, uint16_t count, char *out, size_t size)
{
    size_t n;
    const struct wn_reg *map = wattnode_map(&n);
    const char *first = NULL, *last = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t a = wn_wire_addr(map[i].doc_reg);
        if (a >= start && a + wn_reg_width(&map[i]) <= (size_t)start + count) {
            if (!first)
                first = map[i].name;
            last = map[i].name;
        }
    }
    if (!first)
        snprintf(out, size, "-");
    else if (first == last)
        snprintf(out, size, "WattNode %s", first);
    else
        snprintf(out, size, "WattNode %s..%s", first, last);
}

static void print_stats(const struct modbus_listen *bus)
{
    size_t n;
    const struct modbus_listen_poll *polls = modbus_listen_polls(bus, &n);
    fprintf(stderr, "what the other master polls:\n");
    fprintf(stderr, "%7s %3s %9s %5s %9s %6s %8s %6s %6s  %s\n", "address", "fc", "registers",
            "count", "period_s", "seen", "answered", "exc", "errors", "holds");
    for (size_t i = 0; i < n; i++) {
        const struct modbus_listen_poll *p = &polls[i];
        char regs[16] = "-", what[96] = "-";
        if (p->function >= 1 && p->function <= 4) {
            /* Documented (1-based) register numbers, as the device manuals write them. */
            snprintf(regs, sizeof regs, "%u", (unsigned)p->start + 1);
            if (p->function == 3 || p->function == 4)
                describe_regs(p->start, p->count, what, sizeof what);
        }
        fprintf(stderr, "%7u %3u %9s %5u %9.3f %6llu %8llu %6llu %6llu  %s\n",
                (unsigned)p->address, (unsigned)p->function, regs, (unsigned)p->count,
                (double)modbus_listen_poll_period_us(p) / 1e6, (unsigned long long)p->seen,
                (unsigned long long)p->answered, (unsigned long long)p->exceptions,
                (unsigned long long)p->unanswered, what);
    }
    const struct modbus_listen_stats *s = &bus->stats;
    fprintf(stderr,
            "bytes %llu, frames %llu (requests %llu, responses %llu), crc errors %llu, "
            "unanswered %llu, stray responses %llu, noise bytes %llu\n",
            (unsigned long long)s->bytes, (unsigned long long)s->frames,
            (unsigned long long)s->requests, (unsigned long long)s->responses,
            (unsigned long long)s->crc_errors, (unsigned long long)s->unanswered,
            (unsigned long long)s->stray_responses, (unsigned long long)s->noise_bytes);
}

/* ---- the loop ------------------------------------------------------------ */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct run {
    const struct listen_opts *o;
    struct modbus_listen *bus;
    struct listen_decoder dec;
    struct modbus_listen_event ev;
    struct listen_decoded out;
};

static int drain(struct run *r)
{
    while (modbus_listen_next(r->bus, &r->ev) == 1) {
        const struct modbus_listen_event *ev = &r->ev;
        if (ev->kind != MBL_RESPONSE || (r->o->address && ev->address != r->o->address))
            continue;
        if (!listen_decode(&r->dec, ev, &r->out))
            continue;
        if (r->out.rows == 0)
            continue; /* every value failed its sanity range: nothing to print */
        /* The wall-clock time of the response's last byte. */
        int64_t t = time_now_s() - (mono_us() - ev->t_us) / 1000000;
        cJSON *obj = record_json_wattnode(r->out.address, t, r->out.serial, &r->out.wn);
        if (!obj)
            return PVTAP_ENOMEM;
        record_json_print(obj, r->o->table);
        cJSON_Delete(obj);
    }
    return 0;
}

int cmd_listen_main(int argc, char **argv)
{
    struct listen_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc == 1)
        return EXIT_OK;
    if (rc != 0)
        return EXIT_USAGE;

    int fd = listen_port_open(o.port, o.baud, o.parity);
    if (fd < 0) {
        fprintf(stderr, "pvtap listen: cannot open %s: %s\n", o.port,
                fd == PVTAP_EIO ? strerror(errno) : pvtap_strerror(fd));
        return EXIT_RUNTIME;
    }
    int lat = listen_latency_ms(o.port);
    if (lat > 1)
        fprintf(stderr,
                "pvtap listen: warning: %s's latency timer is %d ms (bytes arrive in bursts); "
                "frames are still split by content, but set it to 1: "
                "echo 1 > /sys/bus/usb-serial/devices/<ttyUSBn>/latency_timer "
                "(the shipped udev rule does it)\n", o.port, lat);

    struct modbus_listen *bus = malloc(sizeof *bus);
    if (!bus) {
        close(fd);
        fprintf(stderr, "pvtap listen: out of memory\n");
        return EXIT_RUNTIME;
    }
    modbus_listen_init(bus, o.baud, o.parity, lat > 0 ? (int64_t)lat * 1000 : 0);
    struct run r = {.o = &o, .bus = bus};

    g_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns on a signal */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int64_t end_us = o.duration_s > 0 ? mono_us() + (int64_t)(o.duration_s * 1e6) : INT64_MAX;
    int status = EXIT_OK;
    while (!g_stop) {
        int64_t now = mono_us();
        if (now >= end_us)
            break;
        int64_t wait_ms = (end_us - now) / 1000 + 1;
        if (wait_ms > 200)
            wait_ms = 200; /* the tick that gives up on a cut frame */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)wait_ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "pvtap listen: poll: %s\n", strerror(errno));
            status = EXIT_RUNTIME;
            break;
        }
        if (n > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP))) {
            uint8_t buf[512];
            ssize_t got = read(fd, buf, sizeof buf);
            if (got < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "pvtap listen: read %s: %s\n", o.port, strerror(errno));
                status = EXIT_RUNTIME;
                break;
            }
            int64_t t = mono_us();
            for (size_t off = 0; got > 0 && off < (size_t)got;) {
                off += modbus_listen_feed(bus, buf + off, (size_t)got - off, t);
                if (drain(&r) < 0) {
                    status = EXIT_RUNTIME;
                    break;
                }
            }
            if (got == 0 && (pfd.revents & POLLHUP))
                usleep(10000); /* a pty without a master: no busy loop */
        }
        modbus_listen_tick(bus, mono_us());
        if (drain(&r) < 0) {
            status = EXIT_RUNTIME;
            break;
        }
    }
    modbus_listen_finish(bus);
    if (drain(&r) < 0)
        status = EXIT_RUNTIME;
    if (o.stats)
        print_stats(bus);
    free(bus);
    close(fd);
    return status;
}
