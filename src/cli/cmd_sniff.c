/* `pvtap sniff`: decode supervisor uploads live (-i) or from a capture (-r), print each record. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "proto/sniff_pipe.h"
#include "sources/sniff_capture.h"
#include "util/err.h"
#include "util/log.h"

int cmd_sniff_main(int argc, char **argv);

enum out_format { OUT_JSONL, OUT_TSV, OUT_NONE };

struct sniff_cli {
    enum out_format format;
    struct pvs_out line;
    const struct pvs_layout *layout;
    bool write_failed;
};

/* The one piece of global state: set by SIGINT/SIGTERM, polled between
 * capture timeouts (200 ms), so a live capture ends cleanly with its stats. */
static volatile sig_atomic_t g_stop;
static struct sniff_capture *g_cap; /* for pcap_breakloop(), made for signal handlers */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_cap)
        sniff_capture_break(g_cap);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pvtap sniff (-i IFACE | -r FILE) [-w OUT.pcap] [--format jsonl|tsv|none]\n"
            "                   [--stats] [-f FILTER] [--supervisor ADDR] [-s SNAPLEN]\n"
            "                   [-B BUFFER_MiB] [--no-progress]\n\n"
            "Decode the supervisor's uploads (POSTs to /Data/ and /Command/SMS2DataCollector.aspx)\n"
            "live from a mirror port or from a .pcap/.pcapng file and print each record.\n\n"
            "  -i, --interface IFACE  capture live (promiscuous; `any` works)\n"
            "  -r, --read FILE        read a capture file (pcap or pcapng; - for stdin)\n"
            "  -w, --write OUT        save the supervisor's raw packets to OUT (pcap)\n"
            "      --format F         jsonl (default): one JSON object per record;\n"
            "                         tsv: msg, time, then the raw fields, TAB-separated;\n"
            "                         none: decode only (with --stats, for benchmarks)\n"
            "      --stats            print counters to stderr at the end\n"
            "  -f, --filter EXPR      BPF filter (default: TCP port 80, also VLAN-tagged)\n"
            "      --supervisor ADDR  decode only this host's traffic (and notice TLS/other ports)\n"
            "  -s, --snaplen N        live snapshot length (default 65535)\n"
            "  -B, --buffer-MiB N     live kernel buffer (default 4)\n"
            "      --no-progress      no progress bar on a terminal\n"
            "  -h, --help             this text\n\n"
            "Each complete request's records print once, flushed per request; a TCP\n"
            "retransmission never prints twice, a request the supervisor re-sends prints again.\n"
            "Exit status: 0 ok, 1 runtime failure (unreadable or truncated capture), 2 usage.\n");
}

static void on_record(void *ctx, const struct sniff_request *req, const struct pvs_record *rec)
{
    struct sniff_cli *c = ctx;
    (void)req;
    if (c->format == OUT_NONE)
        return;
    pvs_out_reset(&c->line);
    if (c->format == OUT_JSONL)
        pvs_record_json(rec, c->layout, &c->line);
    else
        pvs_record_tsv(rec, &c->line);
    if (c->line.failed) {
        log_msg(LOGL_ERR, "sniff", "out of memory formatting a record (line %zu)", rec->line_no);
        return;
    }
    c->line.buf[c->line.len] = '\n';
    if (fwrite(c->line.buf, 1, c->line.len + 1, stdout) != c->line.len + 1)
        c->write_failed = true;
    c->line.buf[c->line.len] = '\0';
}

static void on_request_end(void *ctx, const struct sniff_request *req)
{
    struct sniff_cli *c = ctx;
    (void)req;
    /* Flushed per request: a live pipe sees each upload as it completes. */
    if (c->format != OUT_NONE && fflush(stdout) != 0)
        c->write_failed = true;
}

static void on_notice(void *ctx, enum sniff_notice n, const char *text)
{
    (void)ctx;
    log_msg(n == SNIFF_N_PROBLEM ? LOGL_NOTICE : LOGL_WARNING, "sniff", "%s", text);
}

static void progress(const struct sniff_capture *cap, bool done)
{
    int64_t off = done ? cap->file_size : sniff_capture_offset(cap);
    int pct = cap->file_size ? (int)(off * 100 / cap->file_size) : 0;
    if (pct > 100)
        pct = 100;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% %lld MB%s", bar, pct, (long long)(off >> 20), done ? "\n" : "");
}

static int parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cmd_sniff_main(int argc, char **argv)
{
    enum { O_FORMAT = 256, O_STATS, O_SUPERVISOR, O_NO_PROGRESS };
    static const struct option longopts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"read", required_argument, NULL, 'r'},
        {"write", required_argument, NULL, 'w'},
        {"format", required_argument, NULL, O_FORMAT},
        {"stats", no_argument, NULL, O_STATS},
        {"filter", required_argument, NULL, 'f'},
        {"supervisor", required_argument, NULL, O_SUPERVISOR},
        {"snaplen", required_argument, NULL, 's'},
        {"buffer-MiB", required_argument, NULL, 'B'},
        {"no-progress", no_argument, NULL, O_NO_PROGRESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *iface = NULL, *file = NULL, *out = NULL, *filter = NULL, *supervisor = NULL;
    bool stats = false, no_progress = false;
    long snaplen = 65535, buffer_MiB = 4;
    struct sniff_cli cli = {.format = OUT_JSONL};
    int opt;
    while ((opt = getopt_long(argc, argv, "i:r:w:f:s:B:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'i': iface = optarg; break;
        case 'r': file = optarg; break;
        case 'w': out = optarg; break;
        case 'f': filter = optarg; break;
        case O_SUPERVISOR: supervisor = optarg; break;
        case O_STATS: stats = true; break;
        case O_NO_PROGRESS: no_progress = true; break;
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") == 0)
                cli.format = OUT_JSONL;
            else if (strcmp(optarg, "tsv") == 0)
                cli.format = OUT_TSV;
            else if (strcmp(optarg, "none") == 0)
                cli.format = OUT_NONE;
            else
                return cli_usage_error("sniff", "--format must be jsonl, tsv or none, not '%s'",
                                       optarg);
            break;
        case 's':
            if (parse_int(optarg, 64, 262144, &snaplen))
                return cli_usage_error("sniff", "-s: a snap length of 64..262144, not '%s'", optarg);
            break;
        case 'B':
            if (parse_int(optarg, 1, 1024, &buffer_MiB))
                return cli_usage_error("sniff", "-B: a buffer of 1..1024 MiB, not '%s'", optarg);
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default: return cli_usage_error("sniff", "unknown option");
        }
    }
    if (optind < argc)
        return cli_usage_error("sniff", "unexpected argument '%s'", argv[optind]);
    if (!iface == !file)
        return cli_usage_error("sniff", "give exactly one of -i IFACE or -r FILE");

    struct sniff_pipe_config cfg;
    sniff_pipe_config_default(&cfg);
    if (supervisor) {
        if (nf_addr_parse(supervisor, &cfg.supervisor) != PVTAP_OK)
            return cli_usage_error("sniff", "--supervisor: '%s' is not an IPv4 or IPv6 address",
                                   supervisor);
        cfg.have_supervisor = true;
    }
    struct sniff_pipe_ops ops = {on_record, on_request_end, on_notice};
    struct sniff_pipe *pipe;
    int rc = sniff_pipe_new(&cfg, &ops, &cli, &pipe);
    if (rc) {
        log_msg(LOGL_ERR, "sniff", "%s", pvtap_strerror(rc));
        return EXIT_RUNTIME;
    }
    cli.layout = &sniff_pipe_config(pipe)->layout;

    struct sniff_capture cap;
    struct sniff_capture_opts copts = {
        .iface = iface,
        .file = file,
        .filter = filter,
        .supervisor = supervisor,
        .server_port = cfg.server_port,
        .snaplen = (int)snaplen,
        .buffer_MiB = (int)buffer_MiB,
    };
    rc = sniff_capture_open(&cap, &copts);
    if (rc) {
        fprintf(stderr, "pvtap sniff: %s\n", cap.err);
        sniff_pipe_free(pipe);
        return rc == PVTAP_EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
    }
    if (out && sniff_capture_dump_to(&cap, out) != PVTAP_OK) {
        fprintf(stderr, "pvtap sniff: %s\n", cap.err);
        sniff_capture_close(&cap);
        sniff_pipe_free(pipe);
        return EXIT_RUNTIME;
    }
    /* Records are flushed per request, not per line. */
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);

    int status = EXIT_OK;
    if (file) {
        bool show = !no_progress && isatty(STDERR_FILENO) && cap.file_size >= (8 << 20);
        struct timespec last = {0, 0}, now;
        for (;;) {
            long n = sniff_capture_run(&cap, pipe, show ? 65536 : 0);
            if (n >= 0 && show) {
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec != last.tv_sec || now.tv_nsec - last.tv_nsec > 200000000) {
                    progress(&cap, false);
                    last = now;
                }
                continue;
            }
            if (show)
                progress(&cap, true);
            if (n == PVTAP_ETRUNC) {
                fprintf(stderr, "pvtap sniff: %s: %s (printed what it holds)\n", file, cap.err);
                status = EXIT_RUNTIME;
            } else if (n < 0 && n != PVTAP_ENOTFOUND) {
                fprintf(stderr, "pvtap sniff: %s: %s\n", file, cap.err);
                status = EXIT_RUNTIME;
            }
            break;
        }
    } else {
        struct sigaction sa;
        g_cap = &cap;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!g_stop) {
            long n = sniff_capture_run(&cap, pipe, 1024);
            if (n < 0) {
                fprintf(stderr, "pvtap sniff: %s: %s\n", iface, cap.err);
                status = EXIT_RUNTIME;
                break;
            }
            if (cli.write_failed)
                break;
        }
    }
    g_cap = NULL;
    sniff_pipe_finish(pipe);
    if (fflush(stdout) != 0 || cli.write_failed) {
        fprintf(stderr, "pvtap sniff: writing the records failed\n");
        status = EXIT_RUNTIME;
    }
    if (stats) {
        uint64_t kdrop = 0, ifdrop = 0;
        sniff_capture_drops(&cap, &kdrop, &ifdrop);
        sniff_stats_print(sniff_pipe_stats(pipe), kdrop, ifdrop, stderr);
    }
    sniff_capture_close(&cap);
    sniff_pipe_free(pipe);
    pvs_out_free(&cli.line);
    return status;
}
